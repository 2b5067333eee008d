"""What the registry's HTTP handlers share: query strings and rule failures as clear 4xx,
rows found or refused, the caller's scope (cdht.auth: every read, list and write stays in
the caller's unit subtree), a person's countable facts, the personal data audit, and the
roles that follow a person's positions.

Every function takes a ``store`` (services.registry.store, or a fake of it in unit tests):
no SQL here.
"""
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone

from marshmallow import ValidationError

from cdht.web import ApiError, Forbidden, NotFound, caller_of, correlation_id, require_scope
from services.registry import domain
from services.registry.models import Group, PersonalDataAudit, Unit
from services.registry.store import Scope


def now():
    return datetime.now(timezone.utc)


def query_of(request, schema):
    """Load the query string with ``schema``; unknown or malformed parameters are a 400."""
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid query", exc.messages) from None


def invalid(errors, status=400):
    return ApiError(status, "invalid input", errors)


@contextmanager
def rules(nest=None):
    """Domain rule failures (and the store's unique-index conflicts) become a 400 (Invalid)
    or 409 (Conflict) with field messages, nested under ``nest`` when the rule checked a
    nested object."""
    try:
        yield
    except domain.Invalid as exc:
        raise invalid({nest: exc.errors} if nest else exc.errors, exc.status) from None


# -- rows ---------------------------------------------------------------------------------------
def found(store, model, ident, what, *, lock=None):
    """A row that exists and is not deleted, or a 404."""
    row = store.row(model, ident, lock=lock)
    if row is None or row.deleted_at is not None:
        raise NotFound(what)
    return row


def live(store, model, ident, field, what, *, lock=None):
    """A row that exists and is not deleted, or a 400 naming ``field``. Lock with "share" a
    row the new row will point to, so a concurrent merge or delete is seen, not raced."""
    row = store.row(model, ident, lock=lock)
    if row is None or row.deleted_at is not None:
        raise invalid({field: [f"unknown {what}"]})
    return row


def with_person(store, model, ident, what):
    """A membership or position and its person, both locked, the person first (the order
    every change of a person's memberships takes, so two changes never deadlock); 404 if
    it is gone."""
    row, person = store.lock_with_person(model, ident)
    if row is None:
        raise NotFound(what)
    return row, person


def known_unit(store, code):
    """A list filtered by an unknown unit is a 400, not an empty page."""
    if store.row(Unit, code) is None:
        raise ApiError(400, "invalid query", {"unit_code": ["unknown unit"]})


def open_unit(store, code, field="unit_code", on=None):
    """A unit people and groups can be placed in today: it exists and is valid (share-locked
    and read after any merge in flight, so nobody lands in a unit closed meanwhile)."""
    unit = live(store, Unit, code, field, "unit", lock="share")
    on = on or date.today()
    if not domain.valid_on(unit.valid_from, unit.valid_to, on):
        successor = store.successor_of(code)
        message = f"the unit is not valid on {on.isoformat()}"
        if successor:
            message += f"; it was merged into {', '.join(successor)}"
        raise invalid({field: [message]})
    return unit


# -- scope ----------------------------------------------------------------------------------------
def subject_id(caller):
    """The token's subject as a person id (citizens, staff), or None (an operator's name)."""
    try:
        return uuid.UUID(str(caller.subject))
    except ValueError:
        return None


def scope_of(request):
    """What the caller may list: everything (an admin), their unit's subtree, or (a citizen)
    their own records."""
    caller = caller_of(request)
    if caller.is_admin:
        return Scope()
    if caller.is_citizen:
        return Scope(within=caller.unit_code, own=True, person_id=subject_id(caller))
    return Scope(within=caller.unit_code)


def unit_in_scope(request, store, code, what="the unit"):
    """403 unless the unit ``code`` is in the caller's subtree (an unknown unit is left to
    the checks that say so with a 400)."""
    if caller_of(request).is_admin:
        return
    path = store.unit_path(code) if code else []
    if code and not path:
        return
    require_scope(request, path, what)


def person_in_scope(request, store, person):
    """A citizen reaches only their own record; staff the people of their subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person.id != subject_id(caller):
            raise Forbidden("a citizen may only see their own records")
        return
    unit_in_scope(request, store, person.unit_code, "the person")


def membership_in_scope(request, store, membership):
    """A citizen: their own memberships; staff: those of groups in their subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if membership.person_id != subject_id(caller):
            raise Forbidden("a citizen may only see their own records")
        return
    unit_in_scope(request, store, store.row(Group, membership.group_id).unit_code, "the group")


# -- people ---------------------------------------------------------------------------------------
PERSON_FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone",
                 "email", "language", "unit_code", "target_group", "roles")


def state(person):
    return {f: (list(getattr(person, f)) if f == "roles" else getattr(person, f))
            for f in PERSON_FIELDS}


def countable(person):
    return {"target_group": person.target_group, "roles": list(person.roles),
            "birth_year": person.birth_date.year}


def facts(store, person, path=None):
    """What other services count about a person (events, profile, export): no PII."""
    return {"person_id": person.id, "unit_code": person.unit_code,
            "unit_path": path or store.unit_path(person.unit_code), **countable(person)}


def audit(store, request, action, person_id, fields, *, people=1):
    """One row of the personal data audit, in the caller's transaction: names of the fields
    changed, never their values."""
    caller = caller_of(request)
    store.add(PersonalDataAudit(
        actor=caller.subject, actor_role=caller.role, action=action, person_id=person_id,
        fields=sorted(fields), people=people, correlation_id=correlation_id(request)))


def granted(store, person_id):
    """Roles the person's open positions grant (association posts, learning-unit staff)."""
    return domain.granted_roles(store.open_positions(person_id))


def sync_roles(store, person, granted_before):
    """Roles follow positions: person_updated when they changed."""
    roles = domain.roles_after(person.roles, granted_before, granted(store, person.id))
    if set(roles) == set(person.roles):
        return
    previous = countable(person)
    person.roles, person.updated_at = roles, now()
    store.stage("person_updated", facts(store, person) | {
        "previous": previous, "changed": ["roles"]})


def membership_event(store, membership, group, change, effective_on):
    store.stage("membership_changed", {
        "membership_id": membership.id, "person_id": membership.person_id,
        "group_id": group.id, "group_kind": group.kind, "change": change,
        "effective_on": effective_on, "unit_code": group.unit_code,
        "unit_path": store.unit_path(group.unit_code),
    })
