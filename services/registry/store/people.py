"""People's queries: lists, the national ID's uniqueness, what their positions grant, the
positions a removal ends, and the personal data audit."""
from sqlalchemy import or_, select, update

from services.registry import domain
from services.registry.audit_chain import COLUMNS
from services.registry.models import (
    AssociationMember, Membership, Person, PersonalDataAudit, PersonalDataAuditHead,
)


class PeopleQueries:

    def list_people(self, query, scope, adult_born_by=None):
        """People by the query's filters; ``adult_born_by``: the latest birth date of an adult
        (needed with ``adult`` in the query)."""
        stmt = select(Person).where(Person.deleted_at.is_(None))
        if scope.own:
            stmt = stmt.where(Person.id == scope.person_id)
        else:
            stmt = self.within(stmt, Person.unit_code, scope)
        if "unit_code" in query:
            stmt = stmt.where(self.in_units(Person.unit_code, query["unit_code"],
                                            query["subtree"]))
        if "target_group" in query:
            stmt = stmt.where(Person.target_group == query["target_group"])
        if "role" in query:
            stmt = stmt.where(Person.roles.any(query["role"]))
        if "q" in query:
            stmt = stmt.where(Person.name_folded.contains(domain.fold(query["q"]),
                                                          autoescape=True))
        if "national_id" in query:
            stmt = stmt.where(Person.national_id == query["national_id"])
        if "adult" in query:
            stmt = stmt.where(Person.birth_date <= adult_born_by if query["adult"]
                              else Person.birth_date > adult_born_by)
        return self.page(stmt, query, (Person.full_name, Person.id))

    def national_id_taken(self, national_id, but=None):
        """Whether someone (other than ``but``) holds this national ID, removed people too."""
        return self.national_id_holder(national_id, but=but) is not None

    def national_id_holder(self, national_id, but=None):
        """(id, unit_code) of the person (other than ``but``, removed or not) who holds this
        national ID, or None."""
        stmt = select(Person.id, Person.unit_code).where(Person.national_id == national_id)
        if but is not None:
            stmt = stmt.where(Person.id != but)
        return self.session.execute(stmt).first()

    def open_positions(self, person_id):
        """The person's open positions as domain.granted_roles takes them: ("association",
        role) and ("group", kind)."""
        positions = [("association", role) for role in self.session.scalars(
            select(AssociationMember.role).where(AssociationMember.person_id == person_id,
                                                 AssociationMember.left_on.is_(None),
                                                 AssociationMember.deleted_at.is_(None)))]
        positions += [("group", kind) for kind in self.session.scalars(
            select(Membership.group_kind).where(Membership.person_id == person_id,
                                                Membership.left_on.is_(None),
                                                Membership.deleted_at.is_(None)))]
        return positions

    def open_memberships(self, person_id):
        return self.session.scalars(select(Membership).where(
            Membership.person_id == person_id, Membership.left_on.is_(None),
            Membership.deleted_at.is_(None))).all()

    def end_positions(self, person_id, on, now):
        """End every open association position of the person on ``on``."""
        self.session.execute(update(AssociationMember).where(
            AssociationMember.person_id == person_id, AssociationMember.left_on.is_(None),
            AssociationMember.deleted_at.is_(None)).values(left_on=on, updated_at=now)
            .execution_options(synchronize_session=False))

    def list_audit(self, query):
        """A page of the audit; ``person_id`` finds the rows naming the person alone or among
        many (a page read, an import chunk, a merge)."""
        stmt = select(PersonalDataAudit)
        for key in ("actor", "action", "import_id"):
            if key in query:
                stmt = stmt.where(getattr(PersonalDataAudit, key) == query[key])
        if "person_id" in query:
            stmt = stmt.where(or_(
                PersonalDataAudit.person_id == query["person_id"],
                PersonalDataAudit.person_ids.contains([query["person_id"]])))
        if "since" in query:
            stmt = stmt.where(PersonalDataAudit.at >= query["since"])
        if "until" in query:
            stmt = stmt.where(PersonalDataAudit.at < query["until"])
        return self.page(stmt, query, (PersonalDataAudit.at.desc(), PersonalDataAudit.id.desc()))

    def audit_chain(self, batch=5000):
        """Every row of the audit as the hash chain covers it (audit_chain.COLUMNS and the
        hashes), in id order, streamed; then the chain's head (or None): for verifying."""
        columns = [getattr(PersonalDataAudit, c) for c in (*COLUMNS, "prev_hash", "hash")]
        stmt = (select(*columns).order_by(PersonalDataAudit.id)
                .execution_options(yield_per=batch))
        for row in self.session.execute(stmt):
            yield row._asdict()

    def audit_head(self):
        head = self.session.get(PersonalDataAuditHead, True)
        return head and {"last_id": head.last_id, "hash": head.hash}
