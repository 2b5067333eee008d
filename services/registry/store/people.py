"""People's queries: lists, the national ID's uniqueness, what their positions grant, the
positions a removal ends, and the personal data audit."""
from sqlalchemy import select, update

from services.registry import domain
from services.registry.models import AssociationMember, Membership, Person, PersonalDataAudit


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
        if "adult" in query:
            stmt = stmt.where(Person.birth_date <= adult_born_by if query["adult"]
                              else Person.birth_date > adult_born_by)
        return self.page(stmt, query, (Person.full_name, Person.id))

    def national_id_taken(self, national_id, but=None):
        """Whether someone (other than ``but``) holds this national ID, removed people too."""
        stmt = select(Person.id).where(Person.national_id == national_id)
        if but is not None:
            stmt = stmt.where(Person.id != but)
        return self.session.scalar(stmt) is not None

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
        stmt = select(PersonalDataAudit)
        for key in ("person_id", "actor", "action", "import_id"):
            if key in query:
                stmt = stmt.where(getattr(PersonalDataAudit, key) == query[key])
        if "since" in query:
            stmt = stmt.where(PersonalDataAudit.at >= query["since"])
        if "until" in query:
            stmt = stmt.where(PersonalDataAudit.at < query["until"])
        return self.page(stmt, query, (PersonalDataAudit.at.desc(), PersonalDataAudit.id.desc()))
