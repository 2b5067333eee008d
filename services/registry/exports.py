"""The paged RPC exports other services rebuild their projections from (a mixin of
RegistryService): people, memberships, learning activities, the unit tree, the association's
bodies and the recorded group titles.

Each says what the events said (``person_registered``, ``membership_changed``,
``learning_activity_recorded``, ``unit_changed``, ``association_body_changed``,
``group_titles_recorded``), so a projection rebuilt from the exports equals one kept live.
"""
from datetime import date

from cdht.broker import rpc
from services.registry import domain
from services.registry.handlers import audit_rpc

EXPORT_MAX = 5000


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


def _day(value):
    return value and value.isoformat()


class StructureExports:

    def _export(self, kind, after_id, limit, item):
        """One page of the export ``kind`` (store.exports) after ``after_id``; each item gets
        its row's unit_code and unit_path. Call again with ``after_id=next_after`` until it
        is None."""
        limit = int(limit)
        if not 1 <= limit <= EXPORT_MAX:
            raise ValueError(f"limit must be between 1 and {EXPORT_MAX}")
        with self.store.read() as store:
            rows = store.export_rows(kind, after_id, limit)
            parents = store.unit_parents()
        paths, items = {}, []
        for row in rows:
            if row.unit_code not in paths:
                paths[row.unit_code] = domain.unit_path(parents, row.unit_code)
            items.append(item(row) | {"unit_code": row.unit_code,
                                      "unit_path": paths[row.unit_code]})
        return {"items": items,
                "next_after": str(rows[-1].id) if len(rows) == limit else None}

    @rpc
    def export_people(self, after_id=None, limit=EXPORT_MAX):
        """One page of every registered person's countable facts, ordered by id, for
        rebuilding projections: call again with ``after_id=next_after`` until it is None.
        Keyset paging keeps each page one index range scan, however deep the caller is."""
        page = self._export("people", after_id, limit, lambda row: {
            "person_id": str(row.id), "target_group": row.target_group,
            "roles": list(row.roles), "birth_year": row.birth_date.year,
            "registered_at": row.created_at.isoformat()})
        audit_rpc(self.store, self.rpc_caller, "export_people",
                  [item["person_id"] for item in page["items"]],
                  ["birth_date", "roles", "target_group", "unit_code"])
        return page

    @rpc
    def export_memberships(self, after_id=None, limit=EXPORT_MAX):
        """One page of every group membership (current and past), ordered by id, for rebuilding
        projections: the group's kind, level and place, the person, the period. Same paging
        as ``export_people``."""
        return self._export("memberships", after_id, limit, lambda row: {
            "membership_id": str(row.id), "person_id": str(row.person_id),
            "group_id": str(row.group_id), "group_kind": row.kind, "group_level": row.level,
            "role": row.role, "joined_on": row.joined_on.isoformat(),
            "left_on": _day(row.left_on)})

    @rpc
    def export_activities(self, after_id=None, limit=EXPORT_MAX):
        """One page of every learning activity, ordered by id, placed at its person's unit:
        what the learning_activity_recorded events said. Same paging as ``export_people``."""
        return self._export("activities", after_id, limit, lambda row: {
            "activity_id": str(row.id), "person_id": str(row.person_id), "kind": row.kind,
            "started_on": row.started_on.isoformat(), "ended_on": _day(row.ended_on),
            "hours": row.hours})

    @rpc
    def export_units(self):
        """Every unit, current and closed (a province has a few hundred: one call), in code
        order, with today's path, name and kind."""
        with self.store.read() as store:
            units = store.all_units()
            parents = {u.code: u.parent_code for u in units}
            today = date.today()
            return [unit_entry(u, parents, today) for u in units]

    @rpc
    def export_association_bodies(self, after_id=None, limit=EXPORT_MAX):
        """One page of the association's live bodies, ordered by id; same paging as
        ``export_people``."""
        return self._export("bodies", after_id, limit, lambda row: {
            "body_id": str(row.id), "kind": row.kind, "body_name": row.name,
            "parent_id": row.parent_id and str(row.parent_id)})

    @rpc
    def export_group_titles(self, after_id=None, limit=EXPORT_MAX):
        """One page of the recorded group titles (withdrawn ones left out), ordered by id,
        placed at their group's unit; same paging as ``export_people``."""
        return self._export("titles", after_id, limit, lambda row: {
            "title_id": str(row.id), "group_id": str(row.group_id), "group_kind": row.kind,
            "year": row.year, "decision_number": row.decision_number,
            "decision_date": row.decision_date.isoformat(), "issued_by": row.issued_by})
