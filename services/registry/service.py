"""The registry service: units, people, groups, the association and learning activities over
HTTP; profiles, contacts, memberships and a paged export over RPC.

Each change and the events announcing it are committed together (outbox). Every rule lives in
domain.py; this module reads, checks through the domain, writes, and maps failures to 4xx.
"""
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from cdht.auth import ADMIN, EVERYONE, PROVINCE, REVIEWERS, STAFF
from cdht.broker import rpc  # nameko's, surviving a broker restart
from cdht.db import Database
from cdht.outbox import add_event
from cdht.web import (
    ApiError, Forbidden, NotFound, Observed, api, caller_of, correlation_id, load_json,
    require_scope,
)
from services.registry import domain, exports, group_titles, structure_events as announce
from services.registry.import_api import ImportEndpoints
from services.registry.models import (
    AssociationBody, AssociationMember, Group, LearningActivity, Membership, Person,
    PersonalDataAudit, Unit, UnitChange,
)
from services.registry.schemas import (
    ActivityPatchSchema, ActivityQuery, ActivitySchema, AuditEntrySchema, AuditQuery,
    BodyPatchSchema, BodyQuery, BodySchema,
    GroupPatchSchema, GroupQuery, GroupSchema, MembershipPatchSchema, MembershipQuery,
    MembershipSchema, MergeResultSchema, MergeSchema, NewActivitySchema, NewBodySchema,
    NewGroupSchema, NewMembershipSchema, NewMergedUnitSchema, NewPersonSchema,
    NewPositionSchema, PeopleQuery, PersonFactsSchema, PersonPatchSchema, PersonSchema,
    PositionPatchSchema, PositionQuery, PositionSchema, RemovalQuery, UnitChangeSchema,
    UnitDetailSchema, UnitPatchSchema, UnitQuery, UnitSchema, page_of,
)

EXPORT_MAX = 5000


# -- small helpers ------------------------------------------------------------------------------
def _now():
    return datetime.now(timezone.utc)


def _query(request, schema):
    """Load the query string with ``schema``; unknown or malformed parameters are a 400."""
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid query", exc.messages) from None


def _invalid(errors, status=400):
    return ApiError(status, "invalid input", errors)


@contextmanager
def _rules(nest=None):
    """Domain rule failures become a 400 (Invalid) or 409 (Conflict) with field messages,
    nested under ``nest`` when the rule checked a nested object."""
    try:
        yield
    except domain.Invalid as exc:
        raise _invalid({nest: exc.errors} if nest else exc.errors, exc.status) from None


# Unique indexes that back a rule the service checks first: a concurrent writer that slips
# between the check and the insert still gets the same clear 409.
_UNIQUE = {
    "people_national_id_key": ("national_id", "a person with this national ID exists"),
    "units_pkey": ("code", "a unit with this code exists"),
    "uq_memberships_one_open_family": ("person_id", "already belongs to a family"),
    "uq_association_members_open": ("person_id", "already holds a position in this body"),
    "uq_groups_kind_code": ("code", "a group of this kind with this code exists"),
}


@contextmanager
def _conflicts():
    try:
        yield
    except IntegrityError as exc:
        name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if name not in _UNIQUE:
            raise
        field, message = _UNIQUE[name]
        raise _invalid({field: [message]}, 409) from None


def _page(session, stmt, query, order_by):
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = session.scalars(stmt.order_by(*order_by).limit(query["limit"])
                            .offset(query["offset"])).all()
    return items, {"total": total, "limit": query["limit"], "offset": query["offset"]}


SHARE = {"read": True}  # SELECT ... FOR SHARE: waits for a merge or delete of the row


def _live(session, model, ident, field, what, *, lock=False):
    """A row that exists and is not deleted, or a 400 naming ``field``. Lock with SHARE a row
    that the new row will point to, so a concurrent merge or delete is seen, not raced."""
    row = session.get(model, ident, with_for_update=lock) if ident is not None else None
    if row is None or row.deleted_at is not None:
        raise _invalid({field: [f"unknown {what}"]})
    return row


def _found(session, model, ident, what, *, lock=False):
    """A row that exists and is not deleted, or a 404."""
    row = session.get(model, ident, with_for_update=lock)
    if row is None or row.deleted_at is not None:
        raise NotFound(what)
    return row


# -- the unit tree ------------------------------------------------------------------------------
_unit_path = announce.unit_path


def _subtree(code):
    """A SELECT of ``code`` and every unit below it, for ``IN (...)`` filters."""
    tree = select(Unit.code).where(Unit.code == code).cte("subtree", recursive=True)
    tree = tree.union(select(Unit.code).where(Unit.parent_code == tree.c.code))
    return select(tree.c.code)


def _unit_filter(session, column, code, subtree):
    if session.get(Unit, code) is None:
        raise ApiError(400, "invalid query", {"unit_code": ["unknown unit"]})
    return column.in_(_subtree(code)) if subtree else column == code


def _open_unit(session, code, field="unit_code", on=None):
    """A unit people and groups can be placed in today: it exists and is valid (share-locked
    and read after any merge in flight, so nobody lands in a unit closed meanwhile)."""
    unit = _live(session, Unit, code, field, "unit", lock=SHARE)
    on = on or date.today()
    if not domain.valid_on(unit.valid_from, unit.valid_to, on):
        successor = session.scalar(select(UnitChange.to_codes).where(
            UnitChange.from_codes.any(code)).order_by(UnitChange.effective_on.desc()))
        message = f"the unit is not valid on {on.isoformat()}"
        if successor:
            message += f"; it was merged into {', '.join(successor)}"
        raise _invalid({field: [message]})
    return unit


def _unit_detail(session, unit):
    changes = session.scalars(select(UnitChange).where(or_(
        UnitChange.from_codes.any(unit.code), UnitChange.to_codes.any(unit.code)))
        .order_by(UnitChange.effective_on, UnitChange.created_at)).all()
    dump = UnitChangeSchema(many=True).dump
    return UnitSchema().dump(unit) | {
        "path": _unit_path(session, unit.code),
        "merged_from": dump([c for c in changes if unit.code in c.to_codes]),
        "merged_into": dump([c for c in changes if unit.code in c.from_codes]),
    }


# -- scope (cdht.auth): every read, list and write stays in the caller's unit subtree -----------
def _subject_id(caller):
    """The token's subject as a person id (citizens, staff), or None (an operator's name)."""
    try:
        return uuid.UUID(str(caller.subject))
    except ValueError:
        return None


def _scoped(request, column):
    """A condition keeping rows whose unit ``column`` is in the caller's subtree (None for
    an admin: no condition)."""
    caller = caller_of(request)
    if caller.is_admin:
        return None
    return column.in_(_subtree(caller.unit_code))


def _where_scoped(stmt, request, column):
    condition = _scoped(request, column)
    return stmt if condition is None else stmt.where(condition)


def _unit_in_scope(request, session, code, what="the unit"):
    """403 unless the unit ``code`` is in the caller's subtree (an unknown unit is left to
    the checks that say so with a 400)."""
    caller = caller_of(request)
    if caller.is_admin:
        return
    path = _unit_path(session, code) if code else []
    if code and not path:
        return
    require_scope(request, path, what)


def _person_in_scope(request, session, person):
    """A citizen reaches only their own record; staff the people of their subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person.id != _subject_id(caller):
            raise Forbidden("a citizen may only see their own records")
        return
    _unit_in_scope(request, session, person.unit_code, "the person")


def _no_citizen(request):
    if caller_of(request).is_citizen:
        raise Forbidden("a citizen may only see their own records")


def _audit(session, request, action, person_id, fields, *, people=1, import_id=None,
           corr=None):
    """One row of the personal data audit, in the caller's transaction: names of the fields
    changed, never their values."""
    caller = caller_of(request)
    session.add(PersonalDataAudit(
        actor=caller.subject, actor_role=caller.role, action=action, person_id=person_id,
        import_id=import_id, fields=sorted(fields), people=people,
        correlation_id=corr or correlation_id(request)))


# -- people ---------------------------------------------------------------------------------
_PERSON_FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone",
                  "email", "language", "unit_code", "target_group", "roles")


def _state(person):
    return {f: (list(getattr(person, f)) if f == "roles" else getattr(person, f))
            for f in _PERSON_FIELDS}


def _countable(person):
    return {"target_group": person.target_group, "roles": list(person.roles),
            "birth_year": person.birth_date.year}


def _facts(session, person, path=None):
    """What other services count about a person (events, profile, export): no PII."""
    return {"person_id": person.id, "unit_code": person.unit_code,
            "unit_path": path or _unit_path(session, person.unit_code), **_countable(person)}


def _taken_national_id(session, national_id, but=None):
    stmt = select(Person.id).where(Person.national_id == national_id)
    if but is not None:
        stmt = stmt.where(Person.id != but)
    if session.scalar(stmt):
        raise _invalid({"national_id": ["a person with this national ID exists"]}, 409)


def _granted(session, person_id):
    """Roles the person's open positions grant (association posts, learning-unit staff)."""
    positions = [("association", role) for role in session.scalars(
        select(AssociationMember.role).where(AssociationMember.person_id == person_id,
                                             AssociationMember.left_on.is_(None),
                                             AssociationMember.deleted_at.is_(None)))]
    positions += [("group", kind) for kind in session.scalars(
        select(Membership.group_kind).where(Membership.person_id == person_id,
                                            Membership.left_on.is_(None),
                                            Membership.deleted_at.is_(None)))]
    return domain.granted_roles(positions)


def _membership_event(session, membership, group, change, effective_on, corr, producer):
    add_event(session, "membership_changed", {
        "membership_id": membership.id, "person_id": membership.person_id,
        "group_id": group.id, "group_kind": group.kind, "change": change,
        "effective_on": effective_on, "unit_code": group.unit_code,
        "unit_path": _unit_path(session, group.unit_code),
    }, producer=producer, correlation_id=corr)


def _activity_event(session, activity, person, corr, producer):
    add_event(session, "learning_activity_recorded", {
        "activity_id": activity.id, "person_id": person.id, "kind": activity.kind,
        "started_on": activity.started_on, "ended_on": activity.ended_on,
        "hours": activity.hours, "unit_code": person.unit_code,
        "unit_path": _unit_path(session, person.unit_code),
    }, producer=producer, correlation_id=corr)


def _with_person(session, model, ident, what):
    """A membership or position and its person, both locked, the person first: the order
    every change of a person's memberships takes, so two changes never deadlock."""
    row = _found(session, model, ident, what)
    person = session.get(Person, row.person_id, with_for_update=True)
    session.refresh(row, with_for_update=True)
    if row.deleted_at is not None:
        raise NotFound(what)
    return row, person


def _body_ancestors(session, body):
    seen, node = [], body
    while node is not None and len(seen) < 16:
        seen.append(node.id)
        node = session.get(AssociationBody, node.parent_id) if node.parent_id else None
    return seen


class RegistryService(group_titles.TitleEndpoints, exports.StructureExports, ImportEndpoints,
                      Observed):
    """The province's people, groups, association and units: who is counted toward every
    target of the Learning Citizen programme."""
    name = "registry"
    db = Database(relay=True)
    config = Config()
    api_schemas = (NewMergedUnitSchema, PersonFactsSchema)  # referenced from descriptions only

    def _adult_age(self):
        return int(self.config.get("ADULT_AGE", domain.ADULT_AGE))

    def _person(self, person, reference=None):
        adult = domain.is_adult(person.birth_date, reference or date.today(), self._adult_age())
        return PersonSchema().dump(person) | {"is_adult": adult}

    # -- documentation ------------------------------------------------------------------------

    # -- units ----------------------------------------------------------------------------------
    @api("POST", "/units",
         roles=PROVINCE,
         summary="Create a unit",
         body=UnitSchema,
         response=UnitSchema,
         status=201,
         errors=(409,))
    def create_unit(self, request):
        data = load_json(request, UnitSchema())
        with _conflicts(), self.db.transaction() as session:
            if session.get(Unit, data["code"]):
                raise _invalid({"code": ["a unit with this code exists"]}, 409)
            parent = (session.get(Unit, data["parent_code"]) if data["parent_code"] else None)
            known = not data["parent_code"] or (parent is not None and parent.deleted_at is None)
            if not data["parent_code"] and not caller_of(request).is_admin:
                raise Forbidden("only an admin creates a province (a unit without a parent)")
            _unit_in_scope(request, session, data["parent_code"], "the parent unit")
            with _rules():
                domain.check_unit(data["kind"], parent.kind if parent else None,
                                  data["valid_from"], data["valid_to"], parent_known=known)
            session.add(unit := Unit(**data))
            announce.unit_changed(session, unit, "created", self.name, correlation_id(request))
        return 201, UnitSchema().dump(data)

    @api("GET", "/units",
         roles=REVIEWERS,
         summary="List units (valid on a day with as_of)",
         query=UnitQuery,
         response=page_of(UnitSchema))
    def list_units(self, request):
        query = _query(request, UnitQuery())
        stmt = select(Unit).where(Unit.deleted_at.is_(None))
        if "as_of" in query:
            day = query["as_of"]
            stmt = stmt.where(or_(Unit.valid_from.is_(None), Unit.valid_from <= day),
                              or_(Unit.valid_to.is_(None), Unit.valid_to >= day))
        if "parent_code" in query:
            stmt = stmt.where(Unit.parent_code == query["parent_code"])
        if "kind" in query:
            stmt = stmt.where(Unit.kind == query["kind"])
        if "q" in query:
            stmt = stmt.where(or_(Unit.name.icontains(query["q"], autoescape=True),
                                  Unit.code.icontains(query["q"], autoescape=True)))
        stmt = _where_scoped(stmt, request, Unit.code)
        with self.db.read() as session:
            items, page = _page(session, stmt, query, (Unit.code,))
            return page | {"items": UnitSchema(many=True).dump(items)}

    @api("GET", "/units/<string:code>",
         roles=REVIEWERS,
         summary="Read a unit, its path and its merge history",
         response=UnitDetailSchema)
    def get_unit(self, request, code):
        with self.db.read() as session:
            unit = _found(session, Unit, code, "unit")
            _unit_in_scope(request, session, unit.code)
            return _unit_detail(session, unit)

    @api("PATCH", "/units/<string:code>",
         roles=PROVINCE,
         summary="Change a unit",
         body=UnitPatchSchema,
         response=UnitDetailSchema,
         errors=(409,))
    def update_unit(self, request, code):
        data = load_json(request, UnitPatchSchema())
        with self.db.transaction() as session:
            unit = _found(session, Unit, code, "unit", lock=True)
            _unit_in_scope(request, session, unit.code)
            if data.get("parent_code"):
                _unit_in_scope(request, session, data["parent_code"], "the new parent unit")
            merged = {f: getattr(unit, f) for f in ("kind", "parent_code", "valid_from",
                                                   "valid_to")} | data
            parent = session.get(Unit, merged["parent_code"]) if merged["parent_code"] else None
            known = not merged["parent_code"] or (parent is not None and
                                                  parent.deleted_at is None)
            reparented = data.get("parent_code", unit.parent_code) != unit.parent_code
            with _rules():
                domain.check_unit(merged["kind"], parent.kind if parent else None,
                                  merged["valid_from"], merged["valid_to"], parent_known=known)
                domain.check_children(merged["kind"], session.scalars(select(Unit.kind).where(
                    Unit.parent_code == code, Unit.deleted_at.is_(None))))
                if reparented:
                    parents = dict(session.execute(select(Unit.code, Unit.parent_code)).all())
                    domain.check_reparent(code, data["parent_code"], parents)
            closed = merged["valid_to"] is not None and merged["valid_to"] < date.today()
            if (reparented or closed) and session.scalar(select(Person.id).where(
                    Person.unit_code.in_(_subtree(code)), Person.deleted_at.is_(None)).limit(1)):
                # every person below would change unit_path, or count in a closed unit:
                # that is a merge (one event for all), not an edit
                field = "parent_code" if reparented else "valid_to"
                raise _invalid({field: ["people are registered under this unit; "
                                        "use POST /units/merge"]}, 409)
            before = announce.unit_state(unit)
            for key, value in data.items():
                setattr(unit, key, value)
            unit.updated_at = _now()
            announce.unit_updated(session, unit, before, reparented, self.name,
                                  correlation_id(request))
            session.flush()
            return _unit_detail(session, unit)

    @api("DELETE", "/units/<string:code>",
         roles=PROVINCE,
         summary="Delete a unit entered by mistake (soft)",
         response=UnitSchema,
         errors=(409,))
    def delete_unit(self, request, code):
        with self.db.transaction() as session:
            unit = _found(session, Unit, code, "unit", lock=True)
            _unit_in_scope(request, session, unit.code)
            in_use = [what for what, stmt in (
                ("units", select(Unit.code).where(Unit.parent_code == code,
                                                  Unit.deleted_at.is_(None))),
                ("people", select(Person.id).where(Person.unit_code == code,
                                                   Person.deleted_at.is_(None))),
                ("groups", select(Group.id).where(Group.unit_code == code,
                                                  Group.deleted_at.is_(None))),
                ("association bodies", select(AssociationBody.id).where(
                    AssociationBody.unit_code == code, AssociationBody.deleted_at.is_(None))),
            ) if session.scalar(stmt.limit(1)) is not None]
            if in_use:
                raise _invalid({"code": ["still has " + ", ".join(in_use) + " under it"]}, 409)
            unit.deleted_at = _now()
            announce.unit_deleted(session, unit, self.name, correlation_id(request))
            return UnitSchema().dump(unit)

    @api("POST", "/units/merge",
         roles=PROVINCE,
         summary="Merge units into one, moving their people and groups",
         body=MergeSchema,
         response=MergeResultSchema,
         status=201,
         errors=(409,),
         description="One transaction: creates or uses the target, closes the old units the "
                     "day before effective_on, moves people, groups and association bodies, "
                     "records the history and publishes units_merged.")
    def merge_units(self, request):
        data = load_json(request, MergeSchema())
        into, effective_on = data["into"], data["effective_on"]
        from_codes = data["from_codes"]
        with _conflicts(), self.db.transaction() as session:
            for code in from_codes:
                _unit_in_scope(request, session, code, f"unit {code}")
            _unit_in_scope(request, session, into["parent_code"] if into["new"] else into["code"],
                           "the unit merged into")
            if into["new"] and not into["parent_code"] and not caller_of(request).is_admin:
                raise Forbidden("only an admin creates a province (a unit without a parent)")
            rows = session.scalars(select(Unit).where(Unit.code.in_(from_codes),
                                                      Unit.deleted_at.is_(None))
                                   .with_for_update()).all()
            by_code = {u.code: u for u in rows}
            with_children = set(session.scalars(select(Unit.parent_code).where(
                Unit.parent_code.in_(from_codes), Unit.deleted_at.is_(None),
                or_(Unit.valid_to.is_(None), Unit.valid_to >= effective_on))))
            from_units = {c: None if c not in by_code else {
                "valid_from": by_code[c].valid_from, "valid_to": by_code[c].valid_to,
                "open_children": c in with_children} for c in from_codes}
            existing = session.get(Unit, into["code"], with_for_update=True)
            if existing is not None and existing.deleted_at is not None:
                existing = None
            if into["new"]:
                target = {"code": into["code"], "valid_from": effective_on, "valid_to": None}
            else:
                target = existing and {"code": existing.code, "valid_from": existing.valid_from,
                                       "valid_to": existing.valid_to}
            with _rules():
                domain.check_merge(from_units, target, effective_on, target_is_new=into["new"])
            if into["new"]:
                if session.get(Unit, into["code"]) is not None:
                    raise _invalid({"into": {"code": ["a unit with this code exists"]}}, 409)
                parent = session.get(Unit, into["parent_code"]) if into["parent_code"] else None
                with _rules(nest="into"):
                    domain.check_unit(into["kind"], parent.kind if parent else None,
                                      parent_known=not into["parent_code"] or (
                                          parent is not None and parent.deleted_at is None))
                session.add(new := Unit(code=into["code"], name=into["name"], kind=into["kind"],
                                        parent_code=into["parent_code"], valid_from=effective_on))
                announce.unit_changed(session, new, "created", self.name, correlation_id(request))
            code, now = into["code"], _now()
            from_paths = [_unit_path(session, c) for c in from_codes]
            for unit in rows:
                unit.valid_to = domain.closing_date(effective_on)
                unit.updated_at = now
            moved, body_ids = {}, announce.body_ids_in(session, from_codes)
            for model, key in ((Person, "people"), (Group, "groups"),
                               (AssociationBody, "bodies")):
                moved[key] = session.execute(
                    update(model).where(model.unit_code.in_(from_codes),
                                        model.deleted_at.is_(None))
                    .values(unit_code=code, updated_at=now)
                    .execution_options(synchronize_session=False)).rowcount
            envelope = add_event(session, "units_merged", {
                "unit_code": code, "unit_path": _unit_path(session, code),
                "from_unit_paths": from_paths, "effective_on": effective_on,
                "people_moved": moved["people"],
            }, producer=self.name, correlation_id=correlation_id(request))
            announce.merged(session, [u.code for u in rows], body_ids, self.name,
                            correlation_id(request))
            if moved["people"]:
                _audit(session, request, "update", None, ["unit_code"], people=moved["people"])
            change = UnitChange(id=envelope.event_id, kind="merge", effective_on=effective_on,
                                from_codes=from_codes, to_codes=[code], note=data["note"],
                                people_moved=moved["people"], created_at=now)
            session.add(change)
            session.flush()
            result = {"change": UnitChangeSchema().dump(change),
                      "unit": UnitSchema().dump(session.get(Unit, code)),
                      "people_moved": moved["people"], "groups_moved": moved["groups"],
                      "bodies_moved": moved["bodies"]}
        return 201, result

    # -- people ---------------------------------------------------------------------------------
    @api("POST", "/people",
         roles=STAFF,
         summary="Register a person",
         body=NewPersonSchema,
         response=PersonSchema,
         status=201,
         errors=(409,))
    def register_person(self, request):
        data = load_json(request, NewPersonSchema())
        data["full_name"] = domain.normalise_name(data["full_name"])
        with _rules():
            domain.check_new_person(data["national_id"], data["birth_date"], data["gender"])
        with _conflicts(), self.db.transaction() as session:
            _open_unit(session, data["unit_code"])
            _unit_in_scope(request, session, data["unit_code"])
            _taken_national_id(session, data["national_id"])
            person = Person(id=uuid.uuid4(), **data)
            session.add(person)
            session.flush()
            _audit(session, request, "create", person.id,
                   [f for f in _PERSON_FIELDS if data.get(f) not in (None, [], "")])
            add_event(session, "person_registered", _facts(session, person),
                      producer=self.name, correlation_id=correlation_id(request))
        return 201, self._person(person)

    @api("GET", "/people",
         roles=EVERYONE,
         summary="List people",
         query=PeopleQuery,
         response=page_of(PersonSchema))
    def list_people(self, request):
        query = _query(request, PeopleQuery())
        reference = query.get("reference_date") or date.today()
        stmt = select(Person).where(Person.deleted_at.is_(None))
        if caller_of(request).is_citizen:
            stmt = stmt.where(Person.id == _subject_id(caller_of(request)))
        else:
            stmt = _where_scoped(stmt, request, Person.unit_code)
        with self.db.read() as session:
            if "unit_code" in query:
                stmt = stmt.where(_unit_filter(session, Person.unit_code, query["unit_code"],
                                               query["subtree"]))
            if "target_group" in query:
                stmt = stmt.where(Person.target_group == query["target_group"])
            if "role" in query:
                stmt = stmt.where(Person.roles.any(query["role"]))
            if "q" in query:
                stmt = stmt.where(Person.name_folded.contains(domain.fold(query["q"]),
                                                              autoescape=True))
            if "adult" in query:
                bound = domain.latest_adult_birth_date(reference, self._adult_age())
                stmt = stmt.where(Person.birth_date <= bound if query["adult"]
                                  else Person.birth_date > bound)
            items, page = _page(session, stmt, query, (Person.full_name, Person.id))
            return page | {"items": [self._person(p, reference) for p in items]}

    @api("GET", "/people/<uuid:person_id>",
         roles=EVERYONE,
         summary="Read a person",
         response=PersonSchema)
    def get_person(self, request, person_id):
        with self.db.read() as session:
            person = _found(session, Person, person_id, "person")
            _person_in_scope(request, session, person)
            return self._person(person)

    @api("PATCH", "/people/<uuid:person_id>",
         roles=STAFF,
         summary="Change a person (a new unit is a move)",
         body=PersonPatchSchema,
         response=PersonSchema,
         errors=(409,))
    def update_person(self, request, person_id):
        data = load_json(request, PersonPatchSchema())
        if "full_name" in data:
            data["full_name"] = domain.normalise_name(data["full_name"])
        with _conflicts(), self.db.transaction() as session:
            person = _found(session, Person, person_id, "person", lock=True)
            _person_in_scope(request, session, person)
            before = _state(person)
            changed = domain.changed_fields(before, before | data)
            if not changed:
                return self._person(person)
            with _rules():
                domain.check_person_change(before, {k: data[k] for k in changed})
            if "unit_code" in changed:
                _open_unit(session, data["unit_code"])
                _unit_in_scope(request, session, data["unit_code"], "the new unit")
            _audit(session, request, "update", person.id, changed)
            if "national_id" in changed:
                _taken_national_id(session, data["national_id"], but=person.id)
            old_path, previous = _unit_path(session, person.unit_code), _countable(person)
            for key in changed:
                setattr(person, key, data[key])
            person.updated_at = _now()
            session.flush()
            corr = correlation_id(request)
            for event in domain.person_events(changed):
                if event == "person_updated":  # at the old place, if it also moved
                    add_event(session, event, _facts(session, person, old_path) | {
                        "unit_code": before["unit_code"], "previous": previous,
                        "changed": [c for c in changed if c != "unit_code"],
                    }, producer=self.name, correlation_id=corr)
                else:
                    add_event(session, event, _facts(session, person) | {
                        "from_unit_path": old_path}, producer=self.name, correlation_id=corr)
            return self._person(person)

    @api("DELETE", "/people/<uuid:person_id>",
         roles=STAFF,
         summary="Remove a person (soft)",
         query=RemovalQuery,
         response=PersonSchema)
    def remove_person(self, request, person_id):
        """Soft delete: the person's open memberships and positions end today, announced,
        so that no group keeps counting someone who is gone."""
        query = _query(request, RemovalQuery())
        corr, today = correlation_id(request), date.today()
        with self.db.transaction() as session:
            person = _found(session, Person, person_id, "person", lock=True)
            _person_in_scope(request, session, person)
            _audit(session, request, "delete", person.id, [], corr=corr)
            for membership in session.scalars(select(Membership).where(
                    Membership.person_id == person.id, Membership.left_on.is_(None),
                    Membership.deleted_at.is_(None))).all():
                membership.left_on, membership.updated_at = today, _now()
                _membership_event(session, membership, session.get(Group, membership.group_id),
                                  "left", today, corr, self.name)
            session.execute(update(AssociationMember).where(
                AssociationMember.person_id == person.id, AssociationMember.left_on.is_(None),
                AssociationMember.deleted_at.is_(None)).values(left_on=today, updated_at=_now())
                .execution_options(synchronize_session=False))
            person.deleted_at = person.updated_at = _now()
            add_event(session, "person_removed", _facts(session, person) | {
                "reason": query["reason"]}, producer=self.name, correlation_id=corr)
            return self._person(person)

    def _sync_roles(self, session, person, granted_before, corr):
        """Roles follow positions: publish person_updated when they changed."""
        roles = domain.roles_after(person.roles, granted_before, _granted(session, person.id))
        if set(roles) == set(person.roles):
            return
        previous = _countable(person)
        person.roles, person.updated_at = roles, _now()
        add_event(session, "person_updated", _facts(session, person) | {
            "previous": previous, "changed": ["roles"]}, producer=self.name,
            correlation_id=corr)

    @staticmethod
    def _membership_in_scope(request, session, membership):
        """A citizen: their own memberships; staff: those of groups in their subtree."""
        caller = caller_of(request)
        if caller.is_citizen:
            if membership.person_id != _subject_id(caller):
                raise Forbidden("a citizen may only see their own records")
            return
        _unit_in_scope(request, session, session.get(Group, membership.group_id).unit_code,
                       "the group")

    @staticmethod
    def _position_in_scope(request, session, position):
        _unit_in_scope(request, session,
                       session.get(AssociationBody, position.body_id).unit_code,
                       "the association body")

    # -- groups -----------------------------------------------------------------------------------
    def _groups(self, session, groups):
        ids = [g.id for g in groups]
        counts = dict(session.execute(select(Membership.group_id, func.count()).where(
            Membership.group_id.in_(ids), Membership.left_on.is_(None),
            Membership.deleted_at.is_(None)).group_by(Membership.group_id)).all()) if ids else {}
        return [GroupSchema().dump(g) | {"members": counts.get(g.id, 0)} for g in groups]

    @api("POST", "/groups",
         roles=STAFF,
         summary="Create a family, clan, community or learning unit",
         body=NewGroupSchema,
         response=GroupSchema,
         status=201,
         errors=(409,))
    def create_group(self, request):
        data = load_json(request, NewGroupSchema())
        with _rules():
            domain.check_group(data["kind"], data["level"])
        with _conflicts(), self.db.transaction() as session:
            _open_unit(session, data["unit_code"])
            _unit_in_scope(request, session, data["unit_code"])
            group = Group(id=uuid.uuid4(), **data)
            session.add(group)
            session.flush()
            return 201, self._groups(session, [group])[0]

    @api("GET", "/groups",
         roles=REVIEWERS,
         summary="List groups",
         query=GroupQuery,
         response=page_of(GroupSchema))
    def list_groups(self, request):
        query = _query(request, GroupQuery())
        stmt = _where_scoped(select(Group).where(Group.deleted_at.is_(None)), request,
                             Group.unit_code)
        with self.db.read() as session:
            if "unit_code" in query:
                stmt = stmt.where(_unit_filter(session, Group.unit_code, query["unit_code"],
                                               query["subtree"]))
            for key in ("kind", "level"):
                if key in query:
                    stmt = stmt.where(getattr(Group, key) == query[key])
            if "q" in query:
                stmt = stmt.where(Group.name.icontains(query["q"], autoescape=True))
            items, page = _page(session, stmt, query, (Group.name, Group.id))
            return page | {"items": self._groups(session, items)}

    @api("GET", "/groups/<uuid:group_id>",
         roles=REVIEWERS,
         summary="Read a group",
         response=GroupSchema)
    def get_group(self, request, group_id):
        with self.db.read() as session:
            group = _found(session, Group, group_id, "group")
            _unit_in_scope(request, session, group.unit_code, "the group")
            return self._groups(session, [group])[0]

    @api("PATCH", "/groups/<uuid:group_id>",
         roles=STAFF,
         summary="Change a group",
         body=GroupPatchSchema,
         response=GroupSchema,
         errors=(409,))
    def update_group(self, request, group_id):
        data = load_json(request, GroupPatchSchema())
        with _conflicts(), self.db.transaction() as session:
            group = _found(session, Group, group_id, "group", lock=True)
            _unit_in_scope(request, session, group.unit_code, "the group")
            with _rules():
                domain.check_group(group.kind, data.get("level", group.level))
            for key, value in data.items():
                setattr(group, key, value)
            group.updated_at = _now()
            session.flush()
            return self._groups(session, [group])[0]

    @api("DELETE", "/groups/<uuid:group_id>",
         roles=STAFF,
         summary="Delete a group without current members (soft)",
         response=GroupSchema,
         errors=(409,))
    def delete_group(self, request, group_id):
        with self.db.transaction() as session:
            group = _found(session, Group, group_id, "group", lock=True)
            _unit_in_scope(request, session, group.unit_code, "the group")
            if session.scalar(select(Membership.id).where(
                    Membership.group_id == group.id, Membership.left_on.is_(None),
                    Membership.deleted_at.is_(None)).limit(1)):
                raise _invalid({"group_id": ["the group has current members: end their "
                                             "memberships first"]}, 409)
            group.deleted_at = _now()
            return self._groups(session, [group])[0]

    # -- memberships --------------------------------------------------------------------------
    @api("POST", "/memberships",
         roles=STAFF,
         summary="Put a person into a group",
         body=NewMembershipSchema,
         response=MembershipSchema,
         status=201,
         errors=(409,))
    def create_membership(self, request):
        data = load_json(request, NewMembershipSchema())
        corr = correlation_id(request)
        with _conflicts(), self.db.transaction() as session:
            # the person's row lock serialises every change of their memberships
            person = _live(session, Person, data["person_id"], "person_id", "person", lock=True)
            group = _live(session, Group, data["group_id"], "group_id", "group", lock=SHARE)
            _person_in_scope(request, session, person)
            _unit_in_scope(request, session, group.unit_code, "the group")
            joined, left = data["joined_on"], data["left_on"]
            with _rules():
                domain.check_period(joined, left)
                others = session.execute(select(
                    Membership.group_id, Membership.group_kind, Membership.joined_on,
                    Membership.left_on).where(Membership.person_id == person.id,
                                              Membership.deleted_at.is_(None))).all()
                domain.check_not_twice([(o.joined_on, o.left_on) for o in others
                                        if o.group_id == group.id], joined, left,
                                       "group_id", "a member of this group")
                if group.kind == "family":
                    domain.check_single_family([(o.joined_on, o.left_on) for o in others
                                                if o.group_kind == "family"], joined, left)
            granted = _granted(session, person.id)
            membership = Membership(id=uuid.uuid4(), person_id=person.id, group_id=group.id,
                                    group_kind=group.kind, role=data["role"],
                                    joined_on=joined, left_on=left)
            session.add(membership)
            session.flush()
            _membership_event(session, membership, group, "joined", joined, corr, self.name)
            if left is not None:
                _membership_event(session, membership, group, "left", left, corr, self.name)
            self._sync_roles(session, person, granted, corr)
            return 201, MembershipSchema().dump(membership)

    @api("GET", "/memberships",
         roles=EVERYONE,
         summary="List memberships",
         query=MembershipQuery,
         response=page_of(MembershipSchema))
    def list_memberships(self, request):
        query = _query(request, MembershipQuery())
        stmt = select(Membership).where(Membership.deleted_at.is_(None))
        caller = caller_of(request)
        if caller.is_citizen:
            stmt = stmt.where(Membership.person_id == _subject_id(caller))
        elif not caller.is_admin:
            stmt = stmt.where(Membership.group_id.in_(select(Group.id).where(
                _scoped(request, Group.unit_code))))
        for key in ("person_id", "group_id", "group_kind"):
            if key in query:
                stmt = stmt.where(getattr(Membership, key) == query[key])
        if "current" in query:
            stmt = stmt.where(Membership.left_on.is_(None) if query["current"]
                              else Membership.left_on.is_not(None))
        with self.db.read() as session:
            items, page = _page(session, stmt, query, (Membership.joined_on, Membership.id))
            return page | {"items": MembershipSchema(many=True).dump(items)}

    @api("GET", "/memberships/<uuid:membership_id>",
         roles=EVERYONE,
         summary="Read a membership",
         response=MembershipSchema)
    def get_membership(self, request, membership_id):
        with self.db.read() as session:
            membership = _found(session, Membership, membership_id, "membership")
            self._membership_in_scope(request, session, membership)
            return MembershipSchema().dump(membership)

    @api("PATCH", "/memberships/<uuid:membership_id>",
         roles=STAFF,
         summary="Change a role or end a membership",
         body=MembershipPatchSchema,
         response=MembershipSchema,
         errors=(409,))
    def update_membership(self, request, membership_id):
        data = load_json(request, MembershipPatchSchema())
        corr = correlation_id(request)
        with self.db.transaction() as session:
            membership, person = _with_person(session, Membership, membership_id, "membership")
            self._membership_in_scope(request, session, membership)
            group = session.get(Group, membership.group_id)
            granted = _granted(session, person.id)
            if "left_on" in data:
                if membership.left_on is not None:
                    raise _invalid({"left_on": [
                        f"the membership already ended on {membership.left_on.isoformat()}"]},
                        409)
                with _rules():
                    domain.check_period(membership.joined_on, data["left_on"])
                membership.left_on = data["left_on"]
                _membership_event(session, membership, group, "left", data["left_on"], corr,
                                  self.name)
            if "role" in data:
                membership.role = data["role"]
            membership.updated_at = _now()
            session.flush()
            self._sync_roles(session, person, granted, corr)
            return MembershipSchema().dump(membership)

    @api("DELETE", "/memberships/<uuid:membership_id>",
         roles=STAFF,
         summary="Delete a membership entered by mistake (soft)",
         response=MembershipSchema)
    def delete_membership(self, request, membership_id):
        """A membership entered by mistake: if it was open, a "left" event effective on the
        day it began takes it out of every count, as if it had never been."""
        corr = correlation_id(request)
        with self.db.transaction() as session:
            membership, person = _with_person(session, Membership, membership_id, "membership")
            self._membership_in_scope(request, session, membership)
            granted = _granted(session, person.id)
            if membership.left_on is None:
                _membership_event(session, membership, session.get(Group, membership.group_id),
                                  "left", membership.joined_on, corr, self.name)
            membership.deleted_at = membership.updated_at = _now()
            session.flush()
            self._sync_roles(session, person, granted, corr)
            return MembershipSchema().dump(membership)

    # -- the association ----------------------------------------------------------------------
    def _check_body_parent(self, session, kind, unit_code, parent_id, body_id=None):
        parent = session.get(AssociationBody, parent_id) if parent_id else None
        known = parent_id is None or (parent is not None and parent.deleted_at is None)
        above = parent is None or parent.unit_code in _unit_path(session, unit_code)
        with _rules():
            domain.check_body(kind, parent.kind if parent else None, parent_known=known,
                              parent_above=above)
        if body_id is not None and parent is not None and \
                body_id in _body_ancestors(session, parent):
            raise _invalid({"parent_id": ["would make the body its own ancestor"]})

    @api("POST", "/association/bodies",
         roles=STAFF,
         summary="Create an association body",
         body=NewBodySchema,
         response=BodySchema,
         status=201)
    def create_body(self, request):
        data = load_json(request, NewBodySchema())
        with self.db.transaction() as session:
            _open_unit(session, data["unit_code"])
            _unit_in_scope(request, session, data["unit_code"])
            self._check_body_parent(session, data["kind"], data["unit_code"], data["parent_id"])
            body = AssociationBody(id=uuid.uuid4(), **data)
            session.add(body)
            session.flush()
            announce.body_changed(session, body, "created", self.name, correlation_id(request))
            return 201, BodySchema().dump(body)

    @api("GET", "/association/bodies",
         roles=REVIEWERS,
         summary="List association bodies",
         query=BodyQuery,
         response=page_of(BodySchema))
    def list_bodies(self, request):
        query = _query(request, BodyQuery())
        stmt = _where_scoped(select(AssociationBody).where(AssociationBody.deleted_at.is_(None)),
                             request, AssociationBody.unit_code)
        with self.db.read() as session:
            if "unit_code" in query:
                stmt = stmt.where(_unit_filter(session, AssociationBody.unit_code,
                                               query["unit_code"], query["subtree"]))
            for key in ("kind", "parent_id"):
                if key in query:
                    stmt = stmt.where(getattr(AssociationBody, key) == query[key])
            items, page = _page(session, stmt, query, (AssociationBody.name, AssociationBody.id))
            return page | {"items": BodySchema(many=True).dump(items)}

    @api("GET", "/association/bodies/<uuid:body_id>",
         roles=REVIEWERS,
         summary="Read an association body",
         response=BodySchema)
    def get_body(self, request, body_id):
        with self.db.read() as session:
            body = _found(session, AssociationBody, body_id, "association body")
            _unit_in_scope(request, session, body.unit_code, "the association body")
            return BodySchema().dump(body)

    @api("PATCH", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Change an association body",
         body=BodyPatchSchema,
         response=BodySchema)
    def update_body(self, request, body_id):
        data = load_json(request, BodyPatchSchema())
        with self.db.transaction() as session:
            body = _found(session, AssociationBody, body_id, "association body", lock=True)
            _unit_in_scope(request, session, body.unit_code, "the association body")
            if "parent_id" in data:
                self._check_body_parent(session, body.kind, body.unit_code, data["parent_id"],
                                        body_id=body.id)
            before = announce.body_state(body)
            for key, value in data.items():
                setattr(body, key, value)
            body.updated_at = _now()
            session.flush()
            announce.body_updated(session, body, before, self.name, correlation_id(request))
            return BodySchema().dump(body)

    @api("DELETE", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Delete an empty association body (soft)",
         response=BodySchema,
         errors=(409,))
    def delete_body(self, request, body_id):
        with self.db.transaction() as session:
            body = _found(session, AssociationBody, body_id, "association body", lock=True)
            _unit_in_scope(request, session, body.unit_code, "the association body")
            busy = [what for what, stmt in (
                ("bodies", select(AssociationBody.id).where(
                    AssociationBody.parent_id == body.id, AssociationBody.deleted_at.is_(None))),
                ("officials or members", select(AssociationMember.id).where(
                    AssociationMember.body_id == body.id, AssociationMember.left_on.is_(None),
                    AssociationMember.deleted_at.is_(None))),
            ) if session.scalar(stmt.limit(1)) is not None]
            if busy:
                raise _invalid({"body_id": ["still has current " + " and ".join(busy)]}, 409)
            body.deleted_at = _now()
            announce.body_changed(session, body, "removed", self.name, correlation_id(request))
            return BodySchema().dump(body)

    @api("POST", "/association/members",
         roles=STAFF,
         summary="Make a person an official or member of a body",
         body=NewPositionSchema,
         response=PositionSchema,
         status=201,
         errors=(409,))
    def create_position(self, request):
        data = load_json(request, NewPositionSchema())
        corr = correlation_id(request)
        with _conflicts(), self.db.transaction() as session:
            person = _live(session, Person, data["person_id"], "person_id", "person", lock=True)
            body = _live(session, AssociationBody, data["body_id"], "body_id",
                         "association body", lock=SHARE)
            _person_in_scope(request, session, person)
            _unit_in_scope(request, session, body.unit_code, "the association body")
            with _rules():
                domain.check_period(data["joined_on"], data["left_on"])
                domain.check_not_twice(session.execute(select(
                    AssociationMember.joined_on, AssociationMember.left_on).where(
                    AssociationMember.person_id == person.id,
                    AssociationMember.body_id == body.id,
                    AssociationMember.deleted_at.is_(None))).all(),
                    data["joined_on"], data["left_on"], "person_id", "in this body")
            granted = _granted(session, person.id)
            position = AssociationMember(id=uuid.uuid4(), **data)
            session.add(position)
            session.flush()
            self._sync_roles(session, person, granted, corr)
            return 201, PositionSchema().dump(position)

    @api("GET", "/association/members",
         roles=REVIEWERS,
         summary="List officials and members",
         query=PositionQuery,
         response=page_of(PositionSchema))
    def list_positions(self, request):
        query = _query(request, PositionQuery())
        stmt = select(AssociationMember).where(AssociationMember.deleted_at.is_(None))
        if not caller_of(request).is_admin:
            stmt = stmt.where(AssociationMember.body_id.in_(select(AssociationBody.id).where(
                _scoped(request, AssociationBody.unit_code))))
        for key in ("person_id", "body_id", "role"):
            if key in query:
                stmt = stmt.where(getattr(AssociationMember, key) == query[key])
        if "current" in query:
            stmt = stmt.where(AssociationMember.left_on.is_(None) if query["current"]
                              else AssociationMember.left_on.is_not(None))
        with self.db.read() as session:
            items, page = _page(session, stmt, query, (AssociationMember.joined_on,
                                                       AssociationMember.id))
            return page | {"items": PositionSchema(many=True).dump(items)}

    @api("GET", "/association/members/<uuid:position_id>",
         roles=REVIEWERS,
         summary="Read an official's or member's "
                 "position",
         response=PositionSchema)
    def get_position(self, request, position_id):
        with self.db.read() as session:
            position = _found(session, AssociationMember, position_id, "position")
            self._position_in_scope(request, session, position)
            return PositionSchema().dump(position)

    @api("PATCH", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Change a role or end a position",
         body=PositionPatchSchema,
         response=PositionSchema,
         errors=(409,))
    def update_position(self, request, position_id):
        data = load_json(request, PositionPatchSchema())
        corr = correlation_id(request)
        with self.db.transaction() as session:
            position, person = _with_person(session, AssociationMember, position_id, "position")
            self._position_in_scope(request, session, position)
            granted = _granted(session, person.id)
            if "left_on" in data:
                if position.left_on is not None:
                    raise _invalid({"left_on": [
                        f"the position already ended on {position.left_on.isoformat()}"]}, 409)
                with _rules():
                    domain.check_period(position.joined_on, data["left_on"])
            for key, value in data.items():
                setattr(position, key, value)
            position.updated_at = _now()
            session.flush()
            self._sync_roles(session, person, granted, corr)
            return PositionSchema().dump(position)

    @api("DELETE", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Delete a position entered by mistake (soft)",
         response=PositionSchema)
    def delete_position(self, request, position_id):
        corr = correlation_id(request)
        with self.db.transaction() as session:
            position, person = _with_person(session, AssociationMember, position_id, "position")
            self._position_in_scope(request, session, position)
            granted = _granted(session, person.id)
            position.deleted_at = position.updated_at = _now()
            session.flush()
            self._sync_roles(session, person, granted, corr)
            return PositionSchema().dump(position)

    # -- learning activities ------------------------------------------------------------------
    @api("POST", "/learning-activities",
         roles=STAFF,
         summary="Record a learning activity",
         body=NewActivitySchema,
         response=ActivitySchema,
         status=201)
    def record_activity(self, request):
        data = load_json(request, NewActivitySchema())
        with _rules():
            domain.check_activity(data["started_on"], data["ended_on"], data["hours"])
        with self.db.transaction() as session:
            person = _live(session, Person, data["person_id"], "person_id", "person",
                           lock=SHARE)
            _person_in_scope(request, session, person)
            activity = LearningActivity(id=uuid.uuid4(), **data)
            session.add(activity)
            session.flush()
            _activity_event(session, activity, person, correlation_id(request), self.name)
            return 201, ActivitySchema().dump(activity)

    @api("GET", "/learning-activities",
         roles=EVERYONE,
         summary="List learning activities",
         query=ActivityQuery,
         response=page_of(ActivitySchema))
    def list_activities(self, request):
        query = _query(request, ActivityQuery())
        stmt = select(LearningActivity).where(LearningActivity.deleted_at.is_(None))
        caller = caller_of(request)
        if caller.is_citizen:
            stmt = stmt.where(LearningActivity.person_id == _subject_id(caller))
        elif not caller.is_admin:
            stmt = stmt.where(LearningActivity.person_id.in_(select(Person.id).where(
                _scoped(request, Person.unit_code))))
        with self.db.read() as session:
            for key in ("person_id", "kind"):
                if key in query:
                    stmt = stmt.where(getattr(LearningActivity, key) == query[key])
            if "unit_code" in query:
                stmt = stmt.where(LearningActivity.person_id.in_(select(Person.id).where(
                    _unit_filter(session, Person.unit_code, query["unit_code"], True))))
            if "started_from" in query:
                stmt = stmt.where(LearningActivity.started_on >= query["started_from"])
            if "started_to" in query:
                stmt = stmt.where(LearningActivity.started_on <= query["started_to"])
            items, page = _page(session, stmt, query, (LearningActivity.started_on,
                                                       LearningActivity.id))
            return page | {"items": ActivitySchema(many=True).dump(items)}

    @api("GET", "/learning-activities/<uuid:activity_id>",
         roles=EVERYONE,
         summary="Read a learning activity",
         response=ActivitySchema)
    def get_activity(self, request, activity_id):
        with self.db.read() as session:
            activity = _found(session, LearningActivity, activity_id, "learning activity")
            _person_in_scope(request, session, session.get(Person, activity.person_id))
            return ActivitySchema().dump(activity)

    @api("PATCH", "/learning-activities/<uuid:activity_id>",
         roles=STAFF,
         summary="Change a learning activity",
         body=ActivityPatchSchema,
         response=ActivitySchema)
    def update_activity(self, request, activity_id):
        """A change of what counts (kind, dates, hours) is published again as
        learning_activity_recorded with the same activity_id: consumers keep the latest."""
        data = load_json(request, ActivityPatchSchema())
        with self.db.transaction() as session:
            activity = _found(session, LearningActivity, activity_id, "learning activity",
                              lock=True)
            _person_in_scope(request, session, session.get(Person, activity.person_id))
            counted = ("kind", "started_on", "ended_on", "hours")
            before = {k: getattr(activity, k) for k in counted}
            merged = before | {k: v for k, v in data.items() if k in counted}
            with _rules():
                domain.check_activity(merged["started_on"], merged["ended_on"], merged["hours"])
            for key, value in data.items():
                setattr(activity, key, value)
            activity.updated_at = _now()
            session.flush()
            if merged != before:
                _activity_event(session, activity, session.get(Person, activity.person_id),
                                correlation_id(request), self.name)
            return ActivitySchema().dump(activity)

    @api("DELETE", "/learning-activities/<uuid:activity_id>",
         roles=STAFF,
         summary="Delete a learning activity entered by mistake (soft)",
         response=ActivitySchema)
    def delete_activity(self, request, activity_id):
        with self.db.transaction() as session:
            activity = _found(session, LearningActivity, activity_id, "learning activity",
                              lock=True)
            _person_in_scope(request, session, session.get(Person, activity.person_id))
            activity.deleted_at = activity.updated_at = _now()
            return ActivitySchema().dump(activity)

    # -- the personal data audit ----------------------------------------------------------------
    @api("GET", "/audit",
         roles=ADMIN,
         summary="Who changed which personal data, when (admins only)",
         query=AuditQuery,
         response=page_of(AuditEntrySchema),
         tag="audit",
         description="One row per change of a person's record (the names of the fields "
                     "changed, never their values) and one per import; newest first.")
    def list_audit(self, request):
        query = _query(request, AuditQuery())
        stmt = select(PersonalDataAudit)
        for key in ("person_id", "actor", "action", "import_id"):
            if key in query:
                stmt = stmt.where(getattr(PersonalDataAudit, key) == query[key])
        if "since" in query:
            stmt = stmt.where(PersonalDataAudit.at >= query["since"])
        if "until" in query:
            stmt = stmt.where(PersonalDataAudit.at < query["until"])
        with self.db.read() as session:
            items, page = _page(session, stmt, query, (PersonalDataAudit.at.desc(),
                                                       PersonalDataAudit.id.desc()))
            return page | {"items": AuditEntrySchema(many=True).dump(items)}

    # -- RPC for the other services -----------------------------------------------------------
    @rpc
    def profile(self, person_id):
        """What assessment needs to place a person: unit, path, group, birth year. No PII."""
        with self.db.read() as session:
            person = session.get(Person, uuid.UUID(str(person_id)))
            if person is None or person.deleted_at:
                return None
            return PersonFactsSchema().dump(_facts(session, person))

    @rpc
    def contact(self, person_id):
        """Contact details, asked at the moment a notification is sent (never in events)."""
        with self.db.read() as session:
            person = session.get(Person, uuid.UUID(str(person_id)))
            if person is None or person.deleted_at:
                return None
            return {"person_id": str(person.id), "full_name": person.full_name,
                    "email": person.email, "phone": person.phone, "language": person.language}

    @rpc
    def memberships(self, person_id):
        """A person's groups and association positions, current and past (dates as ISO
        strings); None for an unknown or removed person."""
        with self.db.read() as session:
            person = session.get(Person, uuid.UUID(str(person_id)))
            if person is None or person.deleted_at:
                return None
            groups = session.execute(select(Membership, Group).join(
                Group, Group.id == Membership.group_id).where(
                Membership.person_id == person.id, Membership.deleted_at.is_(None))
                .order_by(Membership.joined_on, Membership.id)).all()
            positions = session.execute(select(AssociationMember, AssociationBody).join(
                AssociationBody, AssociationBody.id == AssociationMember.body_id).where(
                AssociationMember.person_id == person.id,
                AssociationMember.deleted_at.is_(None))
                .order_by(AssociationMember.joined_on, AssociationMember.id)).all()

            def period(row):
                return {"joined_on": row.joined_on.isoformat(),
                        "left_on": row.left_on and row.left_on.isoformat(),
                        "current": row.left_on is None}
            return {
                "person_id": str(person.id),
                "groups": [{"membership_id": str(m.id), "group_id": str(g.id),
                            "group_kind": g.kind, "group_name": g.name, "level": g.level,
                            "unit_code": g.unit_code, "role": m.role, **period(m)}
                           for m, g in groups],
                "association": [{"position_id": str(p.id), "body_id": str(b.id),
                                 "body_kind": b.kind, "body_name": b.name,
                                 "unit_code": b.unit_code, "role": p.role, **period(p)}
                                for p, b in positions],
            }

    @rpc
    def export_people(self, after_id=None, limit=EXPORT_MAX):
        """One page of every registered person's countable facts, ordered by id, for
        rebuilding projections: call again with ``after_id=next_after`` until it is None.
        Keyset paging keeps each page one index range scan, however deep the caller is."""
        stmt = (select(Person.id, Person.unit_code, Person.target_group, Person.roles,
                       Person.birth_date, Person.created_at)
                .where(Person.deleted_at.is_(None)))
        return self._export(stmt, Person.id, after_id, limit, lambda row: {
            "person_id": str(row.id), "target_group": row.target_group,
            "roles": list(row.roles), "birth_year": row.birth_date.year,
            "registered_at": row.created_at.isoformat()})

    @rpc
    def association_officials(self, unit_code):
        """Who to tell about a unit's work (a self-assessment to review, a target reached):
        the person ids of the current officials of the association's bodies at ``unit_code``
        (not of its sub-units), in a stable order. Contact details: ask ``contact``."""
        today = date.today()
        with self.db.read() as session:
            return [str(pid) for pid in session.scalars(
                select(AssociationMember.person_id).distinct()
                .join(AssociationBody, AssociationBody.id == AssociationMember.body_id)
                .join(Person, Person.id == AssociationMember.person_id)
                .where(AssociationBody.unit_code == unit_code,
                       AssociationBody.deleted_at.is_(None),
                       AssociationMember.role == "official",
                       AssociationMember.deleted_at.is_(None),
                       AssociationMember.joined_on <= today,
                       or_(AssociationMember.left_on.is_(None),
                           AssociationMember.left_on > today),
                       Person.deleted_at.is_(None))
                .order_by(AssociationMember.person_id))]

    @rpc
    def export_memberships(self, after_id=None, limit=EXPORT_MAX):
        """One page of every group membership (current and past), ordered by id, for rebuilding
        projections: the group's kind, level and place, the person, the period. Same paging
        as ``export_people``."""
        stmt = (select(Membership.id, Membership.person_id, Membership.group_id,
                       Membership.role, Membership.joined_on, Membership.left_on, Group.kind,
                       Group.level, Group.unit_code)
                .join(Group, Group.id == Membership.group_id)
                .join(Person, Person.id == Membership.person_id)
                .where(Membership.deleted_at.is_(None), Group.deleted_at.is_(None),
                       Person.deleted_at.is_(None)))
        return self._export(stmt, Membership.id, after_id, limit, lambda row: {
            "membership_id": str(row.id), "person_id": str(row.person_id),
            "group_id": str(row.group_id), "group_kind": row.kind, "group_level": row.level,
            "role": row.role, "joined_on": row.joined_on.isoformat(),
            "left_on": row.left_on and row.left_on.isoformat()})

    @rpc
    def export_activities(self, after_id=None, limit=EXPORT_MAX):
        """One page of every learning activity, ordered by id, placed at its person's unit:
        what the learning_activity_recorded events said. Same paging as ``export_people``."""
        stmt = (select(LearningActivity.id, LearningActivity.person_id, LearningActivity.kind,
                       LearningActivity.started_on, LearningActivity.ended_on,
                       LearningActivity.hours, Person.unit_code)
                .join(Person, Person.id == LearningActivity.person_id)
                .where(LearningActivity.deleted_at.is_(None), Person.deleted_at.is_(None)))
        return self._export(stmt, LearningActivity.id, after_id, limit, lambda row: {
            "activity_id": str(row.id), "person_id": str(row.person_id), "kind": row.kind,
            "started_on": row.started_on.isoformat(),
            "ended_on": row.ended_on and row.ended_on.isoformat(), "hours": row.hours})

    def _export(self, stmt, key, after_id, limit, item):
        """Keyset paging over ``stmt`` (whose rows have ``id`` and ``unit_code``) by ``key``;
        each item gets its row's unit_code and unit_path."""
        limit = int(limit)
        if not 1 <= limit <= EXPORT_MAX:
            raise ValueError(f"limit must be between 1 and {EXPORT_MAX}")
        stmt = stmt.order_by(key).limit(limit)
        if after_id is not None:
            stmt = stmt.where(key > uuid.UUID(str(after_id)))
        with self.db.read() as session:
            rows = session.execute(stmt).all()
            parents = dict(session.execute(select(Unit.code, Unit.parent_code)).all())
        paths = {}
        items = []
        for row in rows:
            if row.unit_code not in paths:
                paths[row.unit_code] = domain.unit_path(parents, row.unit_code)
            items.append(item(row) | {"unit_code": row.unit_code,
                                      "unit_path": paths[row.unit_code]})
        return {"items": items,
                "next_after": str(rows[-1].id) if len(rows) == limit else None}


# `nameko run services.registry.service` runs every class of this module that has entrypoints:
# the import mixin must not stay a module attribute, or it is started as a second "service".
del ImportEndpoints
