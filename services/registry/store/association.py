"""The association's queries: bodies, officials' and members' positions."""
from sqlalchemy import or_, select

from services.registry.models import AssociationBody, AssociationMember, Person


class AssociationQueries:

    def list_bodies(self, query, scope):
        stmt = self.within(select(AssociationBody).where(AssociationBody.deleted_at.is_(None)),
                           AssociationBody.unit_code, scope)
        if "unit_code" in query:
            stmt = stmt.where(self.in_units(AssociationBody.unit_code, query["unit_code"],
                                            query["subtree"]))
        for key in ("kind", "parent_id"):
            if key in query:
                stmt = stmt.where(getattr(AssociationBody, key) == query[key])
        return self.page(stmt, query, (AssociationBody.name, AssociationBody.id))

    def body_busy(self, body_id):
        """What keeps a body from being deleted: names of the kinds, [] when nothing."""
        return [what for what, stmt in (
            ("bodies", select(AssociationBody.id).where(
                AssociationBody.parent_id == body_id, AssociationBody.deleted_at.is_(None))),
            ("officials or members", select(AssociationMember.id).where(
                AssociationMember.body_id == body_id, AssociationMember.left_on.is_(None),
                AssociationMember.deleted_at.is_(None))),
        ) if self.session.scalar(stmt.limit(1)) is not None]

    def body_ids_in(self, codes):
        """The live bodies of the units ``codes`` (read before a merge moves them)."""
        return list(self.session.scalars(select(AssociationBody.id).where(
            AssociationBody.unit_code.in_(codes), AssociationBody.deleted_at.is_(None))
            .order_by(AssociationBody.id)))

    def commune_association_at(self, unit_code):
        """The live commune-level association body recorded at ``unit_code`` (the oldest if
        there are several), or None."""
        return self.session.scalar(select(AssociationBody).where(
            AssociationBody.unit_code == unit_code, AssociationBody.kind == "commune_association",
            AssociationBody.deleted_at.is_(None))
            .order_by(AssociationBody.created_at, AssociationBody.id).limit(1))

    def bodies(self, body_ids):
        """The bodies ``body_ids`` as the database has them now (after a bulk move), by id."""
        return self.session.scalars(select(AssociationBody).where(
            AssociationBody.id.in_(body_ids)).order_by(AssociationBody.id).execution_options(
            populate_existing=True)).all()

    # -- positions -----------------------------------------------------------------------------
    def position_periods(self, person_id, body_id):
        """(joined_on, left_on) of the person's positions in the body, current and past."""
        return self.session.execute(select(
            AssociationMember.joined_on, AssociationMember.left_on).where(
            AssociationMember.person_id == person_id, AssociationMember.body_id == body_id,
            AssociationMember.deleted_at.is_(None))).all()

    def list_positions(self, query, scope):
        stmt = self.owned_or_within(
            select(AssociationMember).where(AssociationMember.deleted_at.is_(None)), scope,
            AssociationMember.person_id, AssociationMember.body_id, AssociationBody)
        return self.tenures(AssociationMember, stmt, query, ("person_id", "body_id", "role"))

    def person_positions(self, person_id):
        """(position, body) pairs of the person, current and past, oldest first."""
        return self.held_by(AssociationMember, AssociationBody, AssociationMember.body_id,
                            person_id)

    def officials_at(self, unit_code, on):
        """Person ids of the current officials of the live bodies at ``unit_code`` (not of
        its sub-units), in id order."""
        return [str(pid) for pid in self.session.scalars(
            select(AssociationMember.person_id).distinct()
            .join(AssociationBody, AssociationBody.id == AssociationMember.body_id)
            .join(Person, Person.id == AssociationMember.person_id)
            .where(AssociationBody.unit_code == unit_code,
                   AssociationBody.deleted_at.is_(None),
                   AssociationMember.role == "official",
                   AssociationMember.deleted_at.is_(None),
                   AssociationMember.joined_on <= on,
                   or_(AssociationMember.left_on.is_(None), AssociationMember.left_on > on),
                   Person.deleted_at.is_(None))
            .order_by(AssociationMember.person_id))]
