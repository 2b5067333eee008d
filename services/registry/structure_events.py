"""The events that tell other services the names and shape of the unit tree and of the
association's bodies (``unit_changed``, ``association_body_changed``), so that figures show
names rather than codes and the association's own counts need no RPC.

Each is staged in the caller's transaction (outbox) through its ``store`` by a one-line call
from the handler that made the change. ``unit_path`` is always today's path of the unit, the
unit last.
"""
from datetime import date

UNIT_FIELDS = ("name", "kind", "parent_code", "valid_from", "valid_to")


def unit_state(unit):
    """What unit_changed tells of a unit: compare before and after a PATCH."""
    return {f: getattr(unit, f) for f in UNIT_FIELDS}


def unit_change_kind(before, after):
    """None when nothing consumers see changed; ``closed`` when the PATCH gave the unit a
    (new) last day; otherwise ``updated``."""
    if before == after:
        return None
    if after["valid_to"] is not None and after["valid_to"] != before["valid_to"]:
        return "closed"
    return "updated"


def unit_changed(store, unit, change, valid_to=None):
    """Stage one unit_changed for ``unit`` (flushed: its parent is read from the database)."""
    store.flush()
    store.stage("unit_changed", {
        "unit_code": unit.code, "unit_path": store.unit_path(unit.code),
        "unit_name": unit.name, "kind": unit.kind, "change": change,
        "valid_from": unit.valid_from, "valid_to": valid_to or unit.valid_to,
    })


def unit_updated(store, unit, before, reparented):
    """After a PATCH: unit_changed when consumers see a change (``before``: unit_state), and
    ``updated`` for every unit below one moved under another parent (their paths changed)."""
    change = unit_change_kind(before, unit_state(unit))
    if change:
        unit_changed(store, unit, change)
    if reparented:
        for below in store.units_below(unit.code):
            unit_changed(store, below, "updated")


def unit_deleted(store, unit):
    """A unit deleted as a mistake is closed the day it is deleted (unless it had closed
    already): export_units says the same."""
    last_day = unit.valid_to or (unit.deleted_at.date() if unit.deleted_at else date.today())
    unit_changed(store, unit, "closed", valid_to=last_day)


def merged(store, codes, body_ids):
    """After a merge: every unit merged away is closed (its valid_to is the day before the
    merge), and every body it moved (``body_ids``, read before) is ``updated``."""
    for unit in store.units(codes):
        unit_changed(store, unit, "closed")
    if body_ids:
        store.flush()
        for body in store.bodies(body_ids):
            body_changed(store, body, "updated")


def body_changed(store, body, change):
    """Stage one association_body_changed for ``body``."""
    store.stage("association_body_changed", {
        "body_id": body.id, "kind": body.kind, "body_name": body.name,
        "parent_id": body.parent_id, "change": change, "unit_code": body.unit_code,
        "unit_path": store.unit_path(body.unit_code),
    })


def body_state(body):
    return (body.name, body.parent_id)


def body_updated(store, body, before):
    """After a PATCH: ``updated`` when its name or parent changed (``before``: body_state)."""
    if body_state(body) != before:
        body_changed(store, body, "updated")
