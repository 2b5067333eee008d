"""The events that tell other services the names and shape of the unit tree and of the
association's bodies (``unit_changed``, ``association_body_changed``), so that figures show
names rather than codes and the association's own counts need no RPC.

Each is staged in the caller's transaction (outbox) by a one-line call from the handler that
made the change. ``unit_path`` is always today's path of the unit, the unit last.
"""
from datetime import date

from sqlalchemy import select, text

from cdht.outbox import add_event
from services.registry.models import AssociationBody, Unit

_PATH_SQL = text("""
    WITH RECURSIVE up(code, parent_code, depth) AS (
        SELECT code, parent_code, 0 FROM units WHERE code = :code
        UNION ALL
        SELECT u.code, u.parent_code, up.depth + 1 FROM units u JOIN up ON u.code = up.parent_code
        WHERE up.depth < 16)
    SELECT code FROM up ORDER BY depth DESC""")

UNIT_FIELDS = ("name", "kind", "parent_code", "valid_from", "valid_to")


def unit_path(session, code):
    """Codes from the province down to ``code`` (one recursive query)."""
    return list(session.scalars(_PATH_SQL, {"code": code}))


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


def unit_changed(session, unit, change, producer, correlation_id, valid_to=None):
    """Stage one unit_changed for ``unit`` (flushed: its parent is read from the database)."""
    session.flush()
    add_event(session, "unit_changed", {
        "unit_code": unit.code, "unit_path": unit_path(session, unit.code),
        "unit_name": unit.name, "kind": unit.kind, "change": change,
        "valid_from": unit.valid_from, "valid_to": valid_to or unit.valid_to,
    }, producer=producer, correlation_id=correlation_id)


def unit_updated(session, unit, before, reparented, producer, correlation_id):
    """After a PATCH: unit_changed when consumers see a change (``before``: unit_state), and
    ``updated`` for every unit below one moved under another parent (their paths changed)."""
    change = unit_change_kind(before, unit_state(unit))
    if change:
        unit_changed(session, unit, change, producer, correlation_id)
    if reparented:
        descendants_moved(session, unit.code, producer, correlation_id)


def descendants_moved(session, code, producer, correlation_id):
    """A unit moved under another parent: every unit below it has a new path (``updated``)."""
    below = text("""
        WITH RECURSIVE down(code, depth) AS (
            SELECT code, 0 FROM units WHERE parent_code = :code
            UNION ALL
            SELECT u.code, down.depth + 1 FROM units u JOIN down ON u.parent_code = down.code
            WHERE down.depth < 16)
        SELECT code FROM down ORDER BY code""")
    codes = list(session.scalars(below, {"code": code}))
    for unit in session.scalars(select(Unit).where(Unit.code.in_(codes))
                                .order_by(Unit.code)).all():
        unit_changed(session, unit, "updated", producer, correlation_id)


def unit_deleted(session, unit, producer, correlation_id):
    """A unit deleted as a mistake is closed the day it is deleted (unless it had closed
    already): export_units says the same."""
    last_day = unit.valid_to or (unit.deleted_at.date() if unit.deleted_at else date.today())
    unit_changed(session, unit, "closed", producer, correlation_id, valid_to=last_day)


def merged(session, codes, body_ids, producer, correlation_id):
    """After a merge: every unit merged away is closed (its valid_to is the day before the
    merge), and every body it moved (``body_ids``, read before) is ``updated``."""
    for unit in session.scalars(select(Unit).where(Unit.code.in_(codes))
                                .order_by(Unit.code)).all():
        unit_changed(session, unit, "closed", producer, correlation_id)
    bodies_moved(session, body_ids, producer, correlation_id)


def body_changed(session, body, change, producer, correlation_id):
    """Stage one association_body_changed for ``body``."""
    add_event(session, "association_body_changed", {
        "body_id": body.id, "kind": body.kind, "body_name": body.name,
        "parent_id": body.parent_id, "change": change, "unit_code": body.unit_code,
        "unit_path": unit_path(session, body.unit_code),
    }, producer=producer, correlation_id=correlation_id)


def body_ids_in(session, codes):
    """The live bodies of the units ``codes`` (read before a merge moves them)."""
    return list(session.scalars(select(AssociationBody.id).where(
        AssociationBody.unit_code.in_(codes), AssociationBody.deleted_at.is_(None))
        .order_by(AssociationBody.id)))


def body_state(body):
    return (body.name, body.parent_id)


def body_updated(session, body, before, producer, correlation_id):
    """After a PATCH: ``updated`` when its name or parent changed (``before``: body_state)."""
    if body_state(body) != before:
        body_changed(session, body, "updated", producer, correlation_id)


def bodies_moved(session, body_ids, producer, correlation_id):
    """A merge moved these bodies to the new unit: each is ``updated`` (its new place)."""
    if not body_ids:
        return
    session.flush()
    for body in session.scalars(select(AssociationBody).where(
            AssociationBody.id.in_(body_ids)).order_by(AssociationBody.id).execution_options(
            populate_existing=True)).all():
        body_changed(session, body, "updated", producer, correlation_id)
