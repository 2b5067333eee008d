"""The registry's HTTP handlers on an in-memory store (fake_store.FakeStore): scope checks,
rules, what is written and which events are staged, without PostgreSQL or RabbitMQ. The
same handlers against the real store are tested in tests/integration/registry."""
import inspect
import uuid
from datetime import date, timedelta

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cdht.auth import Caller
from cdht.web import ApiError
from services.registry.domain import national_id_for
from services.registry.models import (
    Group, Membership, Person, PersonalDataAudit, Unit, UnitChange,
)
from services.registry.service import RegistryService
from services.registry.store import Store
from tests.unit.registry.fake_store import FakeStore, FakeStores

TODAY = date.today()
STAFF_LX = ("commune_staff", "AG.LX")
STAFF_MB = ("commune_staff", "AG.MB")
ADMIN = ("admin", None)


def request(method, path, body=None, *, who=STAFF_LX, subject=None, query=None):
    role, unit = who
    environ = EnvironBuilder(method=method, path=path, json=body,
                             query_string=query).get_environ()
    req = Request(environ)
    req.caller = Caller(subject=str(subject or uuid.uuid4()), role=role, unit_code=unit)
    return req


@pytest.fixture
def store():
    """A province AG with the ward AG.LX and the commune AG.MB."""
    store = FakeStore()
    store.add(Unit(code="AG", name="An Giang", kind="province"))
    store.add(Unit(code="AG.LX", name="Long Xuyên", kind="ward", parent_code="AG"))
    store.add(Unit(code="AG.MB", name="Mỹ Bình", kind="commune", parent_code="AG"))
    return store


@pytest.fixture
def registry(store):
    return worker_factory(RegistryService, store=FakeStores(store), config={})


_serials = iter(range(1, 10**6))


def person(store, unit="AG.LX", **fields):
    row = Person(id=uuid.uuid4(), national_id=national_id_for(89, date(1990, 5, 1), "male",
                                                              next(_serials)),
                 full_name="Nguyễn Văn An", gender="male", birth_date=date(1990, 5, 1),
                 unit_code=unit, target_group="resident", roles=[], language="vi")
    for key, value in fields.items():
        setattr(row, key, value)
    store.add(row)
    return row


def group(store, kind="family", unit="AG.LX", level=None):
    row = Group(id=uuid.uuid4(), kind=kind, unit_code=unit, name=f"{kind} {unit}", level=level)
    store.add(row)
    return row


def member(store, who, of, joined_on=date(2024, 1, 1)):
    row = Membership(id=uuid.uuid4(), person_id=who.id, group_id=of.id, group_kind=of.kind,
                     role="member", joined_on=joined_on)
    store.add(row)
    return row


def new_person_body(unit="AG.LX", serial=900001):
    return {"national_id": national_id_for(89, date(1990, 5, 1), "male", serial),
            "full_name": "  Trần   Thị Bình ", "gender": "male", "birth_date": "1990-05-01",
            "unit_code": unit, "target_group": "resident"}


# -- people --------------------------------------------------------------------------------------
def test_registering_a_person_writes_the_audit_and_stages_person_registered(registry, store):
    status, body = registry.register_person(request("POST", "/people", new_person_body()))
    assert status == 201 and body["full_name"] == "Trần Thị Bình" and body["is_adult"]
    [created] = store.all(Person)
    assert store.event_types() == ["person_registered"]
    assert store.staged("person_registered")[0] | {"person_id": None} == {
        "person_id": None, "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"],
        "target_group": "resident", "roles": [], "birth_year": 1990}
    [audit] = store.all(PersonalDataAudit)
    assert (audit.action, audit.person_id, audit.actor_role) == (
        "create", created.id, "commune_staff")
    assert "national_id" in audit.fields and created.national_id not in audit.fields


def test_a_person_outside_the_callers_subtree_is_refused_and_nothing_is_written(registry,
                                                                                store):
    with pytest.raises(ApiError) as refused:
        registry.register_person(request("POST", "/people", new_person_body(), who=STAFF_MB))
    assert refused.value.status == 403
    assert store.all(Person) == [] and store.events == [] and store.all(PersonalDataAudit) == []


def test_a_national_id_already_registered_is_a_409(registry, store):
    body = new_person_body()
    person(store, national_id=body["national_id"])
    with pytest.raises(ApiError) as refused:
        registry.register_person(request("POST", "/people", body))
    assert refused.value.status == 409 and "national_id" in refused.value.errors
    assert store.events == []


def test_a_unit_closed_by_a_merge_names_its_successor(registry, store):
    store.row(Unit, "AG.MB").valid_to = TODAY - timedelta(days=3)
    store.add(UnitChange(id=uuid.uuid4(), kind="merge", effective_on=TODAY - timedelta(days=2),
                         from_codes=["AG.MB"], to_codes=["AG.LX"]))
    with pytest.raises(ApiError) as refused:
        registry.register_person(request("POST", "/people", new_person_body("AG.MB"),
                                         who=ADMIN))
    assert refused.value.status == 422
    assert "merged into AG.LX" in refused.value.errors["unit_code"][0]


def test_a_move_with_another_change_stages_the_update_at_the_old_place_then_the_move(
        registry, store):
    someone = person(store)
    body = registry.update_person(request("PATCH", f"/people/{someone.id}", {
        "unit_code": "AG.MB", "target_group": "worker"}, who=("province_staff", "AG")),
        someone.id)
    assert body["unit_code"] == "AG.MB"
    assert store.event_types() == ["person_updated", "person_moved"]
    updated, moved = store.staged("person_updated")[0], store.staged("person_moved")[0]
    assert (updated["unit_path"], updated["changed"]) == (["AG", "AG.LX"], ["target_group"])
    assert updated["previous"]["target_group"] == "resident"
    assert (moved["unit_path"], moved["from_unit_path"]) == (["AG", "AG.MB"], ["AG", "AG.LX"])
    [audit] = store.all(PersonalDataAudit)
    assert audit.fields == ["target_group", "unit_code"]


def test_commune_staff_cannot_move_a_person_out_of_their_commune(registry, store):
    someone = person(store)
    with pytest.raises(ApiError) as refused:
        registry.update_person(request("PATCH", f"/people/{someone.id}",
                                       {"unit_code": "AG.MB"}), someone.id)
    assert refused.value.status == 403 and "the new unit" in refused.value.message
    assert store.row(Person, someone.id).unit_code == "AG.LX"
    assert store.events == [] and store.all(PersonalDataAudit) == []


def test_a_patch_that_changes_nothing_stages_nothing(registry, store):
    someone = person(store)
    registry.update_person(request("PATCH", f"/people/{someone.id}",
                                   {"full_name": "Nguyễn  Văn An"}), someone.id)
    assert store.events == [] and store.all(PersonalDataAudit) == []


def test_a_citizen_reads_their_own_record_only(registry, store):
    me, other = person(store), person(store)
    citizen = ("citizen", "AG.LX")
    assert registry.get_person(request("GET", "/", who=citizen, subject=me.id), me.id)["id"] \
        == str(me.id)
    with pytest.raises(ApiError) as refused:
        registry.get_person(request("GET", "/", who=citizen, subject=me.id), other.id)
    assert refused.value.status == 403


def test_removing_a_person_ends_their_memberships_with_left_events(registry, store):
    someone = person(store)
    membership = member(store, someone, group(store))
    today = date.today()  # not the module's: a run may cross midnight
    body = registry.remove_person(request("DELETE", f"/people/{someone.id}",
                                          query={"reason": "moved away"}), someone.id)
    assert body["id"] == str(someone.id)
    assert membership.left_on == today and store.row(Person, someone.id).deleted_at
    assert store.event_types() == ["membership_changed", "person_removed"]
    assert store.staged("membership_changed")[0]["change"] == "left"
    assert store.staged("person_removed")[0]["reason"] == "moved away"


# -- units ---------------------------------------------------------------------------------------
def test_a_unit_with_open_units_under_it_is_not_merged_away(registry, store):
    store.add(Unit(code="AG.H1", name="Châu Thành", kind="district", parent_code="AG"))
    store.add(Unit(code="AG.H1.X", name="Xã X", kind="commune", parent_code="AG.H1"))
    with pytest.raises(ApiError) as refused:
        registry.merge_units(request("POST", "/units/merge", {
            "from_codes": ["AG.H1"], "into": "AG.LX",
            "effective_on": TODAY.isoformat()}, who=ADMIN))
    assert refused.value.status == 422
    assert "still has units under it" in refused.value.errors["from_codes"][0]
    assert store.row(Unit, "AG.H1").valid_to is None and store.events == []


def test_a_merge_closes_the_old_units_and_moves_their_people(registry, store):
    someone = person(store, unit="AG.MB")
    status, body = registry.merge_units(request("POST", "/units/merge", {
        "from_codes": ["AG.LX", "AG.MB"],
        "into": {"code": "AG.001", "name": "Long Xuyên", "kind": "ward", "parent_code": "AG"},
        "effective_on": TODAY.isoformat()}, who=("province_staff", "AG")))
    assert status == 201 and body["people_moved"] == 1
    assert store.row(Person, someone.id).unit_code == "AG.001"
    assert store.row(Unit, "AG.MB").valid_to == TODAY - timedelta(days=1)
    assert store.event_types() == ["unit_changed", "units_merged", "unit_changed",
                                   "unit_changed"]
    merged = store.staged("units_merged")[0]
    assert merged["from_unit_paths"] == [["AG", "AG.LX"], ["AG", "AG.MB"]]
    assert [e["change"] for e in store.staged("unit_changed")] == ["created", "closed",
                                                                    "closed"]
    [change] = store.all(UnitChange)
    assert change.to_codes == ["AG.001"] and change.people_moved == 1


# -- groups and memberships ----------------------------------------------------------------------
def test_a_second_open_family_is_a_409(registry, store):
    someone = person(store)
    member(store, someone, group(store))
    other_family = group(store)
    with pytest.raises(ApiError) as refused:
        registry.create_membership(request("POST", "/memberships", {
            "person_id": str(someone.id), "group_id": str(other_family.id)}))
    assert refused.value.status == 409
    assert len(store.all(Membership)) == 1 and store.events == []


def test_joining_a_learning_unit_makes_the_person_its_staff(registry, store):
    someone = person(store)
    agency = group(store, kind="learning_unit", level="commune")
    status, _ = registry.create_membership(request("POST", "/memberships", {
        "person_id": str(someone.id), "group_id": str(agency.id)}))
    assert status == 201 and someone.roles == ["unit_staff"]
    assert store.event_types() == ["membership_changed", "person_updated"]
    updated = store.staged("person_updated")[0]
    assert (updated["roles"], updated["previous"]["roles"]) == (["unit_staff"], [])


def test_a_group_of_another_commune_is_out_of_reach(registry, store):
    someone, elsewhere = person(store), group(store, unit="AG.MB")
    with pytest.raises(ApiError) as refused:
        registry.create_membership(request("POST", "/memberships", {
            "person_id": str(someone.id), "group_id": str(elsewhere.id)}))
    assert refused.value.status == 403 and store.all(Membership) == []


def test_a_group_with_current_members_is_not_deleted(registry, store):
    family = group(store)
    member(store, person(store), family)
    with pytest.raises(ApiError) as refused:
        registry.delete_group(request("DELETE", f"/groups/{family.id}"), family.id)
    assert refused.value.status == 409 and store.row(Group, family.id).deleted_at is None


# -- the fake itself -----------------------------------------------------------------------------
def test_the_fake_store_has_the_real_stores_methods_and_signatures():
    helpers = {"all", "event_types", "staged"}
    for name, method in inspect.getmembers(FakeStore, inspect.isfunction):
        if name.startswith("_") or name in helpers:
            continue
        real = getattr(Store, name, None)
        assert real is not None, f"Store has no {name}"
        assert inspect.signature(method) == inspect.signature(real), name
