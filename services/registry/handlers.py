"""What the registry's HTTP handlers share: rule failures as clear 4xx, rows found or
refused, the caller's scope (cdht.auth: every read, list and write stays in the caller's unit
subtree), a person's countable facts, the personal data audit, and the roles that follow a
person's positions.

Every function takes a ``store`` (services.registry.store, or a fake of it in unit tests):
no SQL here. The last ones are what the handlers of every resource do: read one row, list a
page, change one row, in the caller's scope.
"""
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from urllib.parse import unquote

from cdht import observability
from cdht.web import (
    UNPROCESSABLE, ApiError, Forbidden, NotFound, caller_of, correlation_id, require_scope,
)
from services.registry import domain, duties
from services.registry.models import Group, PersonalDataAudit, Unit
from services.registry.store import Scope


def now():
    return datetime.now(timezone.utc)


def invalid(errors, status=UNPROCESSABLE):
    return ApiError(status, "invalid input", errors)


@contextmanager
def rules(nest=None):
    """Domain rule failures (and the store's unique-index conflicts) become a 422 (Invalid)
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
    """A row that exists and is not deleted, or a 422 naming ``field``. Lock with "share" a
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
    """A list filtered by an unknown unit is a 422, not an empty page."""
    if store.row(Unit, code) is None:
        raise ApiError(UNPROCESSABLE, "invalid query", {"unit_code": ["unknown unit"]})


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
def scope_of(request):
    """What the caller may list: everything (an admin), their unit's subtree, or (a citizen)
    their own records."""
    caller = caller_of(request)
    if caller.is_admin:
        return Scope()
    if caller.is_citizen:
        return Scope(within=caller.unit_code, own=True, person_id=caller.person_id)
    return Scope(within=caller.unit_code)


def unit_in_scope(request, store, code, what="the unit"):
    """403 unless the unit ``code`` is in the caller's subtree (an unknown unit is left to
    the checks that say so with a 422). The unit's path when it was read (None for an
    admin), for the caller to use again."""
    if caller_of(request).is_admin:
        return None
    path = store.unit_path(code) if code else []
    if code and not path:
        return path
    require_scope(request, path, what)
    return path


def in_unit(what):
    """The scope check of rows placed in a unit (``row.unit_code``: groups, association
    bodies), named ``what`` in a 403."""
    return lambda request, store, row: unit_in_scope(request, store, row.unit_code, what)


def _own_or_in_unit(request, store, person_id, unit_code, what):
    """A citizen reaches only their own records; staff those placed in their subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person_id != caller.person_id:
            raise Forbidden("a citizen may only see their own records")
        return
    unit_in_scope(request, store, unit_code, what)


def person_in_scope(request, store, person):
    """A citizen: their own record; staff: the people of their subtree."""
    _own_or_in_unit(request, store, person.id, person.unit_code, "the person")


def membership_in_scope(request, store, membership):
    """A citizen: their own memberships; staff: those of groups in their subtree."""
    _own_or_in_unit(request, store, membership.person_id,
                    store.row(Group, membership.group_id).unit_code, "the group")


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


READS = ("read", "list", "export", "contact", "certificate")
READ_IDS_CAP = 1000
"""A read of many people names at most this many of them in its audit row (and counts all);
a change names every person it changed."""


def purpose_of(request):
    """Why personal data was read or changed: the route, and the caller's X-Purpose if given
    (percent-encoded UTF-8, as a header carries Vietnamese)."""
    given = " ".join(unquote(request.headers.get("X-Purpose", "")).split())
    route = f"{request.method} {request.path}"
    return (f"{route}: {given}" if given else route)[:200]


def audit_row(actor, role, action, *, person_id=None, fields=(), people=1, person_ids=None,
              correlation=None, purpose=None, import_id=None):
    """One row of the personal data audit (the database chains it as it is inserted)."""
    if person_ids is not None:
        person_ids = [uuid.UUID(str(i)) for i in person_ids]
        person_ids = person_ids[:READ_IDS_CAP] if action in READS else person_ids
    return PersonalDataAudit(
        actor=actor[:200], actor_role=role[:20], action=action, person_id=person_id,
        import_id=import_id, fields=sorted(fields), people=people,
        person_ids=person_ids,
        correlation_id=correlation, purpose=purpose and purpose[:200])


def audit(store, request, action, person_id, fields, *, people=1, person_ids=None):
    """One row of the personal data audit, in the caller's transaction: names of the fields
    changed, never their values; ``person_ids`` when it changed many people."""
    caller = caller_of(request)
    store.add(audit_row(caller.subject, caller.role, action, person_id=person_id,
                        fields=fields, people=people, person_ids=person_ids,
                        correlation=correlation_id(request), purpose=purpose_of(request)))


def audit_read(stores, request, action, shown):
    """A read of people's records (``shown``: the records as answered) leaves one row, in a
    transaction of its own, once the read is done: the person for one, the ids (up to
    READ_IDS_CAP) and how many for a page; which personal fields it showed. Nothing shown,
    nothing written."""
    if not shown:
        return
    fields = sorted({k for item in shown for k in item if k in PERSON_FIELDS})
    ids = [uuid.UUID(str(item["id"])) for item in shown]
    with stores.transaction() as store:
        audit(store, request, action, ids[0] if action == "read" else None, fields,
              people=len(ids), person_ids=None if action == "read" else ids)


ONE_PERSON_RPCS = {"contact": "contact", "certificate_holder": "certificate"}
"""The RPCs about one person, and the audit action each is recorded as."""


def audit_rpc(stores, caller, method, person_ids, fields, people=None):
    """An RPC that answered personal data (``method``: one of ONE_PERSON_RPCS, or an
    export) leaves one row: the calling service as the actor, the RPC as the purpose."""
    if person_ids:
        with stores.transaction() as store:
            audit_rpc_in(store, caller, method, person_ids, fields, people)


def audit_rpc_in(store, caller, method, person_ids, fields, people=None):
    """``audit_rpc`` in the caller's transaction: the RPC that reads and answers in one
    transaction commits its audit row with it."""
    ids = [uuid.UUID(str(i)) for i in person_ids]
    if not ids:
        return
    action = ONE_PERSON_RPCS.get(method, "export")
    one = method in ONE_PERSON_RPCS
    store.add(audit_row(
        f"service:{caller}", "service", action,
        person_id=ids[0] if one else None, fields=fields,
        people=len(ids) if people is None else people,
        person_ids=None if one else ids,
        correlation=observability.current_correlation_id(), purpose=f"rpc {method}"))


def audited_page(stores, request, page, action="list"):
    """A page of people, its read audited (``audit_read``)."""
    audit_read(stores, request, action, page["items"])
    return page


def granted(store, person_id):
    """Roles the person's open positions grant (association posts, learning-unit staff)."""
    return domain.granted_roles(store.open_positions(person_id))


def sync_roles(store, person, granted_before, request):
    """Roles follow positions: person_updated and an audit row ('roles') when they changed."""
    roles = domain.roles_after(person.roles, granted_before, granted(store, person.id))
    if set(roles) == set(person.roles):
        return
    previous = countable(person)
    person.roles, person.updated_at = roles, now()
    audit(store, request, "roles", person.id, ["roles"])
    store.stage("person_updated", facts(store, person) | {
        "previous": previous, "changed": ["roles"]})


def check_duties(config, request, person_id, where, role, body_created_by=None):
    """A 403 with its code (duties.py) when the caller would give ``person_id`` a position
    that reviews or decides against the separation of duties; nothing is written yet."""
    if not duties.enabled(config):
        return
    refusal = duties.appointment_refusal(caller_of(request), person_id, where, role,
                                         body_created_by)
    if refusal:
        raise ApiError(403, refusal.message, {refusal.field: [refusal.message],
                                              "code": refusal.code})


def membership_event(store, membership, group, change, effective_on):
    store.stage("membership_changed", {
        "membership_id": membership.id, "person_id": membership.person_id,
        "group_id": group.id, "group_kind": group.kind, "change": change,
        "effective_on": effective_on, "unit_code": group.unit_code,
        "unit_path": store.unit_path(group.unit_code),
    })


# -- what the handlers of every resource do -----------------------------------------------------
@dataclass(frozen=True)
class Resource:
    """How the handlers find a resource's rows: its model, its name in a 404, the check
    ``in_scope(request, store, row)`` that refuses (403) a row outside the caller's scope,
    and the store's query of a page of them (``lister``). It is the ``rows`` of the
    resource's generated routes (cdht.resources): ``one`` reads a row, ``page`` lists."""
    model: type
    what: str
    in_scope: Callable
    lister: str | None = None
    audited: bool = False
    """A read of one row is a read of personal data (``audit_read``)."""

    def one(self, service, request, view, **path):
        """GET one row (the last path parameter is its id), shown by ``view(store, row)``."""
        *_, ident = path.values()
        with reading(service.store, request, self, ident) as (store, row):
            shown = view(store, row)
        if self.audited:
            audit_read(service.store, request, "read", [shown])
        return shown

    def page(self, service, request, query, view):
        return list_page(service.store, request, query, self.lister, view)


@contextmanager
def reading(stores, request, resource, ident):
    """GET one row: in a read, the row (a 404 unless it exists and is not deleted), in the
    caller's scope."""
    with stores.read() as store:
        row = found(store, resource.model, ident, resource.what)
        resource.in_scope(request, store, row)
        yield store, row


@contextmanager
def changing(stores, request, resource, ident):
    """PATCH or DELETE one row: in one transaction, the row locked for update (a 404 if it
    is gone), in the caller's scope; the rules' failures are 4xx (``rules``)."""
    with rules(), stores.transaction() as store:
        row = found(store, resource.model, ident, resource.what, lock="update")
        resource.in_scope(request, store, row)
        yield store, row


@contextmanager
def changing_tenure(stores, request, resource, ident):
    """PATCH or DELETE a membership or position: as ``changing``, the person locked first
    (``with_person``); once the change is made, the person's roles follow it
    (``sync_roles``)."""
    with rules(), stores.transaction() as store:
        row, person = with_person(store, resource.model, ident, resource.what)
        resource.in_scope(request, store, row)
        granted_before = granted(store, person.id)
        yield store, row
        store.flush()
        sync_roles(store, person, granted_before, request)


def patch(row, data):
    """Set the fields given, and when the row changed."""
    for key, value in data.items():
        setattr(row, key, value)
    row.updated_at = now()


def check_end(tenure, left_on, what):
    """A membership or position ends once, and not before it began."""
    if tenure.left_on is not None:
        raise invalid({"left_on": [
            f"the {what} already ended on {tenure.left_on.isoformat()}"]}, 409)
    domain.check_period(tenure.joined_on, left_on)


def list_page(stores, request, query, lister, view, **options):
    """GET a list: one page of ``store.<lister>`` for the query (``query_of``; filtering by
    an unknown unit is a 422) in the caller's scope, its rows shown by ``view(store, rows)``."""
    with stores.read() as store:
        if "unit_code" in query:
            known_unit(store, query["unit_code"])
        items, page = getattr(store, lister)(query, scope_of(request), **options)
        return page | {"items": view(store, items)}


def dumped(schema):
    """The view of a list whose rows ``schema`` shows as they are."""
    return lambda store, rows: schema(many=True).dump(rows)


def shown(schema):
    """The view of one row ``schema`` shows as it is."""
    return lambda store, row: schema().dump(row)
