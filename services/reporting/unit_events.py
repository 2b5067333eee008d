"""Units' names and the association's bodies, kept from the registry's events so that every
read shows names, not codes, and the association's own figures (commune associations,
branches, learning boards) count like any other: along the unit tree, O(depth) an event.
"""
from sqlalchemy import text

from cdht.consumer import handle_event
from cdht.inbox import first_delivery
from services.reporting import domain, projection as proj

_SAVE_UNIT = text("""
    INSERT INTO unit_names (unit_code, unit_name, kind, valid_from, valid_to, closed)
    VALUES (:code, :name, :kind, :valid_from, :valid_to, :closed)
    ON CONFLICT (unit_code) DO UPDATE SET unit_name = EXCLUDED.unit_name,
        kind = EXCLUDED.kind, valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,
        closed = EXCLUDED.closed
""")

_SAVE_BODY = text("""
    INSERT INTO association_bodies (body_id, kind, body_name, unit_code, parent_id, removed)
    VALUES (:id, :kind, :name, :unit, :parent, :removed)
    ON CONFLICT (body_id) DO UPDATE SET kind = EXCLUDED.kind, body_name = EXCLUDED.body_name,
        unit_code = EXCLUDED.unit_code, parent_id = EXCLUDED.parent_id,
        removed = EXCLUDED.removed
""")


def save_units(session, units):
    """Store ``units`` (unit_changed data or export_units items) by code."""
    for u in sorted(units, key=lambda u: u["unit_code"]):
        session.execute(_SAVE_UNIT, {
            "code": u["unit_code"], "name": u["unit_name"], "kind": u["kind"],
            "valid_from": u.get("valid_from"), "valid_to": u.get("valid_to"),
            "closed": bool(u.get("closed")) or u.get("change") == "closed"})


def names_of(session, codes):
    """``{code: {"unit_name", "kind", "closed"}}`` of the units known by name."""
    return {c: {"unit_name": n, "kind": k, "closed": closed} for c, n, k, closed in
            session.execute(text("SELECT unit_code, unit_name, kind, closed FROM unit_names "
                                 "WHERE unit_code = ANY(:codes)"), {"codes": list(codes)})}


class UnitEvents:
    """Mixed into ReportingService: its handlers of the registry's unit events."""

    @handle_event("registry", "unit_changed")
    def on_unit_changed(self, event):
        """A unit created, renamed or re-placed, or closed: its name and kind kept (a merge's
        counters move with units_merged)."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"]])
            save_units(session, [data])
            proj.record_applied(session, event.occurred_at)

    @handle_event("registry", "association_body_changed")
    def on_association_body_changed(self, event):
        """A commune association, branch or learning board created, moved or removed: it
        counts at the unit it serves, and no longer where it was."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"]])
            old = session.execute(text(
                "SELECT kind, unit_code, removed FROM association_bodies WHERE body_id = :id "
                "FOR UPDATE"), {"id": str(data["body_id"])}).first()
            removed = data["change"] == "removed"
            session.execute(_SAVE_BODY, {
                "id": str(data["body_id"]), "kind": data["kind"], "name": data["body_name"],
                "unit": data["unit_code"], "parent": data["parent_id"] and str(data["parent_id"]),
                "removed": removed})
            codes = [data["unit_code"]] + ([old.unit_code] if old else [])
            placed = proj.placements(session, codes)
            deltas = {}
            if old is not None:
                domain.change_deltas(placed[old.unit_code][1],
                                     domain.body_tallies(old.kind, old.removed), None, None,
                                     deltas)
            domain.change_deltas(None, None, placed[data["unit_code"]][1],
                                 domain.body_tallies(data["kind"], removed), deltas)
            self._finish(session, event, deltas,
                         domain.report_day(event.occurred_at))
