"""RPC exports of the unit tree, the association's bodies and the recorded group titles, for
the other services' rebuilds (a mixin of RegistryService, beside ``export_people``).

Each says what the events said (``unit_changed``, ``association_body_changed``,
``group_titles_recorded``), so a projection rebuilt from the exports equals one kept live.
"""
from datetime import date

from sqlalchemy import select

from cdht.broker import rpc
from services.registry import domain
from services.registry.models import AssociationBody, Group, GroupTitle, Unit

EXPORT_MAX = 5000  # as export_people


def unit_entry(unit, parents, today):
    """One unit as export_units gives it: a unit deleted as a mistake is closed on the day
    it was deleted, as its unit_changed event said."""
    valid_to = unit.valid_to
    if unit.deleted_at is not None and valid_to is None:
        valid_to = unit.deleted_at.date()
    return {"unit_code": unit.code, "unit_path": domain.unit_path(parents, unit.code),
            "unit_name": unit.name, "kind": unit.kind,
            "valid_from": unit.valid_from and unit.valid_from.isoformat(),
            "valid_to": valid_to and valid_to.isoformat(),
            "closed": unit.deleted_at is not None or (valid_to is not None and valid_to < today)}


class StructureExports:

    @rpc
    def export_units(self):
        """Every unit, current and closed (a province has a few hundred: one call), in code
        order, with today's path, name and kind."""
        with self.db.read() as session:
            units = session.scalars(select(Unit).order_by(Unit.code)).all()
            parents = {u.code: u.parent_code for u in units}
            today = date.today()
            return [unit_entry(u, parents, today) for u in units]

    @rpc
    def export_association_bodies(self, after_id=None, limit=EXPORT_MAX):
        """One page of the association's live bodies, ordered by id; same paging as
        ``export_people``."""
        stmt = (select(AssociationBody.id, AssociationBody.kind, AssociationBody.name,
                       AssociationBody.parent_id, AssociationBody.unit_code)
                .where(AssociationBody.deleted_at.is_(None)))
        return self._export(stmt, AssociationBody.id, after_id, limit, lambda row: {
            "body_id": str(row.id), "kind": row.kind, "body_name": row.name,
            "parent_id": row.parent_id and str(row.parent_id)})

    @rpc
    def export_group_titles(self, after_id=None, limit=EXPORT_MAX):
        """One page of the recorded group titles (withdrawn ones left out), ordered by id,
        placed at their group's unit; same paging as ``export_people``."""
        stmt = (select(GroupTitle.id, GroupTitle.group_id, Group.kind, GroupTitle.year,
                       GroupTitle.decision_number, GroupTitle.decision_date,
                       GroupTitle.issued_by, Group.unit_code)
                .join(Group, Group.id == GroupTitle.group_id)
                .where(GroupTitle.withdrawn_at.is_(None)))
        return self._export(stmt, GroupTitle.id, after_id, limit, lambda row: {
            "title_id": str(row.id), "group_id": str(row.group_id), "group_kind": row.kind,
            "year": row.year, "decision_number": row.decision_number,
            "decision_date": row.decision_date.isoformat(), "issued_by": row.issued_by})
