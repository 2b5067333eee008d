"""Scope follows the person: a delivery is placed, for who may read it, where what it is about
is now. When the registry moves a person (person_moved, an import's moved rows) or a unit
(units_merged, or unit_changed for a unit placed under another parent), the deliveries
concerned get ``scope_path`` in their context, in the caller's transaction. Their ``unit_path``
stays as the event said it: a message sent again still names, and is signed by, the
association that decided.

- A person's own deliveries about themselves (a title, a refusal) follow the person. A copy
  told to an official stays the official's unit's: it is what that unit was told.
- Deliveries placed in a unit, or under it, follow the unit (the new unit's, after a merger).
"""
import json

from sqlalchemy import String, cast, or_, select, text
from sqlalchemy.dialects.postgresql import array

from services.notifications.models import Delivery

SCOPE_KEY = "scope_path"

_SET_SCOPE = text(f"""
    UPDATE deliveries AS d SET context = d.context || jsonb_build_object('{SCOPE_KEY}', u.path)
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS u(id uuid, path jsonb)
    WHERE d.id = u.id
""")


def place_of(context):
    """The unit path a delivery concerns, for scope: where its subject is now (after a move),
    else the event's unit_path, else the province of a weekly summary; () when it names none
    (a digest)."""
    context = context or {}
    for key in (SCOPE_KEY, "unit_path"):
        if isinstance(context.get(key), list):
            return context[key]
    if context.get("province"):
        return [context["province"]]
    return ()


def placed_in(code):
    """place_of's rule as a condition on deliveries: in the subtree of the unit ``code``."""
    context = Delivery.context
    return (context[SCOPE_KEY].contains([code])
            | (context[SCOPE_KEY].is_(None) & context["unit_path"].contains([code]))
            | (context[SCOPE_KEY].is_(None) & (context["province"].astext == code)))


def rehomed(path, places):
    """``path`` with the part down to a moved unit replaced by that unit's path now
    (``places``: {code: path}); None when it does not change."""
    for i, code in enumerate(path):
        if code in places:
            new = list(places[code]) + list(path[i + 1:])
            return None if new == list(path) else new
    return None


def move_people(session, people):
    """Each of ``people`` (person_id, unit_path: where they are now; the last of a person
    wins): their own deliveries about themselves are placed there. How many moved."""
    where = {str(p["person_id"]): list(p["unit_path"]) for p in people}
    if not where:
        return 0
    rows = session.execute(select(Delivery.id, Delivery.person_id, Delivery.context).where(
        Delivery.person_id.in_(sorted(where)),
        Delivery.context["person_id"].astext == cast(Delivery.person_id, String)))
    return _set_scope(session, {
        row.id: where[str(row.person_id)] for row in rows
        if place_of(row.context) and list(place_of(row.context)) != where[str(row.person_id)]})


def move_units(session, places):
    """The deliveries placed in a unit of ``places`` ({code: its path now}) or under it are
    placed there. How many moved."""
    if not places:
        return 0
    codes = array(sorted(places))
    context = Delivery.context
    rows = session.execute(select(Delivery.id, Delivery.context).where(or_(
        context[SCOPE_KEY].has_any(codes), context["unit_path"].has_any(codes),
        context["province"].astext.in_(sorted(places)))))
    moved = {}
    for row in rows:
        new = rehomed(place_of(row.context), places)
        if new is not None:
            moved[row.id] = new
    return _set_scope(session, moved)


def _set_scope(session, paths):
    if paths:
        session.execute(_SET_SCOPE, {"rows": json.dumps(
            [{"id": str(i), "path": paths[i]} for i in sorted(paths, key=str)])})
    return len(paths)
