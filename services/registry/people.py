"""People over HTTP (a mixin of RegistryService): register, list, read, change, remove, and
the personal data audit. Every change leaves an audit row (field names, never values) and the
events that let other services count the person, in the same transaction. Each response shows
what the caller's role may see of the person (disclosure.PERSON_VIEW)."""
import uuid
from datetime import date

from cdht.auth import ADMIN, EVERYONE, STAFF, in_scope
from cdht.resources import Routes
from cdht.web import api, caller_of, json_response, load_json, query_of
from services.registry import domain
from services.registry.disclosure import NATIONAL_ID_REFUSALS, visible
from services.registry.handlers import (
    PERSON_FIELDS, Resource, audit, audited_page, changing, countable, facts, invalid, list_page,
    membership_event, now, open_unit, patch, person_in_scope, rules, state, unit_in_scope,
)
from services.registry.models import Group, Person
from services.registry.schemas import (
    AuditEntrySchema, AuditQuery, NewPersonSchema, PeopleQuery, PersonPatchSchema,
    PersonSchema, RemovalQuery, page_of,
)


PERSON = Resource(Person, "person", person_in_scope, audited=True)
PEOPLE = Routes("/people", "/people/<uuid:person_id>", PersonSchema, rows=PERSON)

UNAVAILABLE = "national_id_unavailable"
"""The code of a national ID held outside the caller's scope: the same answer whichever unit
holds it, naming neither the unit nor the person."""


class HeldElsewhere(Exception):
    """The national ID belongs to a person outside the caller's subtree."""

    def __init__(self, person_id):
        super().__init__("national ID held outside the caller's scope")
        self.person_id = person_id


def _unique_national_id(request, store, national_id, but=None):
    """409 naming the person when the ID is held in the caller's scope; HeldElsewhere when it
    is held outside it (the handler answers that without a trace of where)."""
    holder = store.national_id_holder(national_id, but=but)
    if holder is None:
        return
    if in_scope(caller_of(request), store.unit_path(holder.unit_code)):
        raise invalid({"national_id": ["a person with this national ID exists"],
                       "person_id": [str(holder.id)], "code": "national_id_taken"}, 409)
    raise HeldElsewhere(holder.id)


def _refusals_exhausted(request):
    """A 429 (with Retry-After) for a caller refused too often this hour, whatever the ID."""
    wait = NATIONAL_ID_REFUSALS.retry_after(caller_of(request).subject)
    if not wait:
        return None
    return json_response({"error": "too many national IDs refused; try again later",
                          "errors": {"code": "national_id_refusals_exhausted"}}, 429,
                         headers={"Retry-After": str(wait)})


class PeopleEndpoints:
    @PEOPLE.reads(EVERYONE, "Read a person")
    def get_person(self, request, person_id):
        return PERSON.one(self, request, lambda store, row: self._person(request, row),
                          person_id=person_id)

    def _adult_age(self):
        return int(self.config.get("ADULT_AGE", domain.ADULT_AGE))

    def _person(self, request, person, reference=None):
        """The person as the caller's role may see them (whether adult today depends on the
        service's ADULT_AGE)."""
        adult = domain.is_adult(person.birth_date, reference or date.today(), self._adult_age())
        return visible(PersonSchema().dump(person) | {"is_adult": adult},
                       caller_of(request).role)

    def _refuse_held_elsewhere(self, request, held):
        """The generic 409 of a national ID held outside the caller's scope, counted against
        the caller's limit and left in the personal data audit (the holder, no value)."""
        NATIONAL_ID_REFUSALS.record(caller_of(request).subject)
        with self.store.transaction() as store:
            audit(store, request, "refused", held.person_id, ["national_id"], people=0)
        raise invalid({"national_id": ["this national ID cannot be registered by you"],
                       "code": UNAVAILABLE}, 409) from None

    @PEOPLE.create(STAFF, "Register a person", body=NewPersonSchema, errors=(409, 429))
    def register_person(self, request):
        data = load_json(request, NewPersonSchema())
        data["full_name"] = domain.normalise_name(data["full_name"])
        exhausted = _refusals_exhausted(request)
        if exhausted is not None:
            return exhausted
        try:
            with rules():
                domain.check_new_person(data["national_id"], data["birth_date"],
                                        data["gender"])
                with self.store.transaction() as store:
                    open_unit(store, data["unit_code"])
                    path = unit_in_scope(request, store, data["unit_code"])
                    _unique_national_id(request, store, data["national_id"])
                    person = Person(id=uuid.uuid4(), **data)
                    store.add(person)
                    store.flush()
                    audit(store, request, "create", person.id,
                          [f for f in PERSON_FIELDS if data.get(f) not in (None, [], "")])
                    store.stage("person_registered", facts(store, person, path))
        except HeldElsewhere as held:
            self._refuse_held_elsewhere(request, held)
        return 201, self._person(request, person)

    @PEOPLE.lists(EVERYONE, "List people", query=PeopleQuery)
    def list_people(self, request):
        query = query_of(request, PeopleQuery())
        reference = query.get("reference_date") or date.today()
        return audited_page(self.store, request, list_page(
            self.store, request, query, "list_people",
            lambda store, items: [self._person(request, p, reference) for p in items],
            adult_born_by=domain.latest_adult_birth_date(reference, self._adult_age())))

    @PEOPLE.update(STAFF, "Change a person (a new unit is a move)", body=PersonPatchSchema,
                   errors=(409, 429))
    def update_person(self, request, person_id):
        data = load_json(request, PersonPatchSchema())
        if "full_name" in data:
            data["full_name"] = domain.normalise_name(data["full_name"])
        if "national_id" in data:
            exhausted = _refusals_exhausted(request)
            if exhausted is not None:
                return exhausted
        try:
            return self._update_person(request, person_id, data)
        except HeldElsewhere as held:
            self._refuse_held_elsewhere(request, held)

    def _update_person(self, request, person_id, data):
        with changing(self.store, request, PERSON, person_id) as (store, person):
            before = state(person)
            changed = domain.changed_fields(before, before | data)
            if not changed:
                return self._person(request, person)
            domain.check_person_change(before, {k: data[k] for k in changed})
            if "unit_code" in changed:
                open_unit(store, data["unit_code"])
                unit_in_scope(request, store, data["unit_code"], "the new unit")
            audit(store, request, "update", person.id, changed)
            if "national_id" in changed:
                _unique_national_id(request, store, data["national_id"], but=person.id)
            old_path, previous = store.unit_path(person.unit_code), countable(person)
            patch(person, {key: data[key] for key in changed})
            store.flush()
            for event in domain.person_events(changed):
                if event == "person_updated":  # at the old place, if it also moved
                    store.stage(event, facts(store, person, old_path) | {
                        "unit_code": before["unit_code"], "previous": previous,
                        "changed": [c for c in changed if c != "unit_code"]})
                else:
                    store.stage(event, facts(store, person) | {"from_unit_path": old_path})
            return self._person(request, person)

    @PEOPLE.delete(STAFF, "Remove a person (soft)", query=RemovalQuery)
    def remove_person(self, request, person_id):
        """Soft delete: the person's open memberships and positions end today, announced,
        so that no group keeps counting someone who is gone."""
        query = query_of(request, RemovalQuery())
        today = date.today()
        with changing(self.store, request, PERSON, person_id) as (store, person):
            audit(store, request, "delete", person.id, [])
            for membership in store.open_memberships(person.id):
                membership.left_on, membership.updated_at = today, now()
                membership_event(store, membership, store.row(Group, membership.group_id),
                                 "left", today)
            store.end_positions(person.id, today, now())
            person.deleted_at = person.updated_at = now()
            store.stage("person_removed", facts(store, person) | {"reason": query["reason"]})
            return self._person(request, person)

    # -- the personal data audit ----------------------------------------------------------------
    @api("GET", "/audit",
         roles=ADMIN,
         summary="Who read or changed which personal data, when, why (admins only)",
         query=AuditQuery,
         response=page_of(AuditEntrySchema),
         tag="audit",
         description="One row per read of people's records and per change (the names of "
                     "the fields, never their values; an import, a page or a merge names "
                     "its people in person_ids); newest first. Append-only and "
                     "hash-chained: cdht audit-verify checks it.")
    def list_audit(self, request):
        query = query_of(request, AuditQuery())
        with self.store.read() as store:
            items, page = store.list_audit(query)
            return page | {"items": AuditEntrySchema(many=True).dump(items)}

