"""People over HTTP (a mixin of RegistryService): register, list, read, change, remove, and
the personal data audit. Every change leaves an audit row (field names, never values) and the
events that let other services count the person, in the same transaction."""
import uuid
from datetime import date

from cdht.auth import ADMIN, EVERYONE, STAFF
from cdht.resources import Routes
from cdht.web import api, load_json, query_of
from services.registry import domain
from services.registry.handlers import (
    PERSON_FIELDS, Resource, audit, changing, countable, facts, invalid, list_page,
    membership_event, now, open_unit, patch, person_in_scope, rules, state, unit_in_scope,
)
from services.registry.models import Group, Person
from services.registry.schemas import (
    AuditEntrySchema, AuditQuery, NewPersonSchema, PeopleQuery, PersonPatchSchema,
    PersonSchema, RemovalQuery, page_of,
)


PERSON = Resource(Person, "person", person_in_scope)
PEOPLE = Routes("/people", "/people/<uuid:person_id>", PersonSchema, rows=PERSON)


def _unique_national_id(store, national_id, but=None):
    if store.national_id_taken(national_id, but=but):
        raise invalid({"national_id": ["a person with this national ID exists"]}, 409)


class PeopleEndpoints:
    get_person = PEOPLE.read(EVERYONE, "Read a person", view="_shown")

    def _adult_age(self):
        return int(self.config.get("ADULT_AGE", domain.ADULT_AGE))

    def _person(self, person, reference=None):
        adult = domain.is_adult(person.birth_date, reference or date.today(), self._adult_age())
        return PersonSchema().dump(person) | {"is_adult": adult}

    def _shown(self, store, person):
        """A person read (whether adult today depends on the service's ADULT_AGE)."""
        return self._person(person)

    @PEOPLE.create(STAFF, "Register a person", body=NewPersonSchema, errors=(409,))
    def register_person(self, request):
        data = load_json(request, NewPersonSchema())
        data["full_name"] = domain.normalise_name(data["full_name"])
        with rules():
            domain.check_new_person(data["national_id"], data["birth_date"], data["gender"])
            with self.store.transaction() as store:
                open_unit(store, data["unit_code"])
                unit_in_scope(request, store, data["unit_code"])
                _unique_national_id(store, data["national_id"])
                person = Person(id=uuid.uuid4(), **data)
                store.add(person)
                store.flush()
                audit(store, request, "create", person.id,
                      [f for f in PERSON_FIELDS if data.get(f) not in (None, [], "")])
                store.stage("person_registered", facts(store, person))
        return 201, self._person(person)

    @PEOPLE.lists(EVERYONE, "List people", query=PeopleQuery)
    def list_people(self, request):
        query = query_of(request, PeopleQuery())
        reference = query.get("reference_date") or date.today()
        return list_page(
            self.store, request, query, "list_people",
            lambda store, items: [self._person(p, reference) for p in items],
            adult_born_by=domain.latest_adult_birth_date(reference, self._adult_age()))

    @PEOPLE.update(STAFF, "Change a person (a new unit is a move)", body=PersonPatchSchema,
                   errors=(409,))
    def update_person(self, request, person_id):
        data = load_json(request, PersonPatchSchema())
        if "full_name" in data:
            data["full_name"] = domain.normalise_name(data["full_name"])
        with changing(self.store, request, PERSON, person_id) as (store, person):
            before = state(person)
            changed = domain.changed_fields(before, before | data)
            if not changed:
                return self._person(person)
            domain.check_person_change(before, {k: data[k] for k in changed})
            if "unit_code" in changed:
                open_unit(store, data["unit_code"])
                unit_in_scope(request, store, data["unit_code"], "the new unit")
            audit(store, request, "update", person.id, changed)
            if "national_id" in changed:
                _unique_national_id(store, data["national_id"], but=person.id)
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
            return self._person(person)

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
            return self._person(person)

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
        query = query_of(request, AuditQuery())
        with self.store.read() as store:
            items, page = store.list_audit(query)
            return page | {"items": AuditEntrySchema(many=True).dump(items)}

