"""Separation of duties (duties.py) as a rule and in the handlers, on the in-memory store:
nobody makes themselves an official or a learning unit's head, staff do not appoint
officials to a body they created, and a refusal writes nothing."""
import uuid
from datetime import date

import pytest
from nameko.testing.services import worker_factory

from cdht.auth import Caller
from cdht.web import ApiError
from services.registry import duties
from services.registry.models import AssociationBody, AssociationMember, Membership, Unit
from services.registry.service import RegistryService
from tests.unit.registry.fake_store import FakeStore, FakeStores
from tests.unit.registry.test_handlers import STAFF_LX, group, person, request


@pytest.fixture
def store():
    """A province AG with the ward AG.LX."""
    store = FakeStore()
    store.add(Unit(code="AG", name="An Giang", kind="province"))
    store.add(Unit(code="AG.LX", name="Long Xuyên", kind="ward", parent_code="AG"))
    return store


def caller(role="commune_staff", subject=None):
    return Caller(subject=str(subject or uuid.uuid4()), role=role, unit_code="AG.LX")


# -- the rule ------------------------------------------------------------------------------------
def test_a_deciding_position_for_oneself_is_refused_whoever_asks():
    for role in ("commune_staff", "province_staff", "admin"):
        me = caller(role)
        refusal = duties.appointment_refusal(me, me.person_id, "association", "official")
        assert refusal.code == "self_appointment" and refusal.field == "person_id"
        assert duties.appointment_refusal(me, me.person_id, "learning_unit", "head").code \
            == "self_appointment"


def test_positions_that_neither_review_nor_decide_are_anyones_to_take():
    me = caller()
    assert duties.appointment_refusal(me, me.person_id, "association", "member") is None
    assert duties.appointment_refusal(me, me.person_id, "family", "head") is None
    assert duties.appointment_refusal(me, me.person_id, "learning_unit", "member") is None


def test_staff_do_not_staff_a_body_they_created_but_an_admin_sets_up_the_structure():
    staff, other = caller(), uuid.uuid4()
    assert duties.appointment_refusal(staff, other, "association", "official",
                                      staff.subject).code == "own_body"
    assert duties.appointment_refusal(staff, other, "association", "official",
                                      "someone-else") is None
    assert duties.appointment_refusal(staff, other, "association", "official", None) is None
    assert duties.appointment_refusal(staff, other, "association", "member",
                                      staff.subject) is None
    admin = caller("admin", subject="ops")
    assert duties.appointment_refusal(admin, other, "association", "official", "ops") is None


@pytest.mark.parametrize("value, on", [(None, True), (True, True), ("true", True),
                                       (False, False), ("false", False), (" OFF ", False),
                                       ("0", False)])
def test_the_setting_is_on_unless_turned_off(value, on):
    config = {} if value is None else {"SEPARATION_OF_DUTIES": value}
    assert duties.enabled(config) is on


# -- the handlers ----------------------------------------------------------------------------------
def registry_with(store, **config):
    return worker_factory(RegistryService, store=FakeStores(store), config=config)


def body(store, created_by):
    row = AssociationBody(id=uuid.uuid4(), kind="commune_association", name="Hội Khuyến học",
                          unit_code="AG.LX", created_by=created_by)
    store.add(row)
    return row


def position_body(who, where, role="official"):
    return {"person_id": str(who.id), "body_id": str(where.id), "role": role,
            "joined_on": "2024-01-01"}


def refused(call, code):
    with pytest.raises(ApiError) as refusal:
        call()
    assert refusal.value.status == 403 and refusal.value.errors["code"] == code
    return refusal.value


def test_staff_making_themselves_an_official_is_refused_and_nothing_is_written(store):
    me, association = person(store), body(store, "province-ops")
    registry = registry_with(store)
    error = refused(lambda: registry.create_position(request(
        "POST", "/association/members", position_body(me, association), subject=me.id)),
        "self_appointment")
    assert "person_id" in error.errors
    assert store.all(AssociationMember) == [] and store.events == [] and me.roles == []


def test_staff_appointing_an_official_to_the_body_they_created_is_refused(store):
    creator, official = uuid.uuid4(), person(store)
    registry = registry_with(store)
    registry.create_body(request("POST", "/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": "AG.LX"},
        subject=creator))
    [created] = store.all(AssociationBody)
    assert created.created_by == str(creator)
    store.events.clear()
    refused(lambda: registry.create_position(request(
        "POST", "/association/members", position_body(official, created), subject=creator)),
        "own_body")
    assert store.all(AssociationMember) == [] and store.events == []


def test_making_oneself_an_official_by_a_change_of_role_is_refused(store):
    me, association = person(store), body(store, "province-ops")
    position = AssociationMember(id=uuid.uuid4(), person_id=me.id, body_id=association.id,
                                 role="member", joined_on=date(2024, 1, 1))
    store.add(position)
    registry = registry_with(store)
    refused(lambda: registry.update_position(request(
        "PATCH", f"/association/members/{position.id}", {"role": "official"}, subject=me.id),
        position.id), "self_appointment")
    assert position.role == "member"


def test_nobody_makes_themselves_head_of_a_learning_unit(store):
    me = person(store)
    agency = group(store, "learning_unit", level="commune")
    registry = registry_with(store)
    refused(lambda: registry.create_membership(request("POST", "/memberships", {
        "person_id": str(me.id), "group_id": str(agency.id), "role": "head",
        "joined_on": "2024-01-01"}, subject=me.id)), "self_appointment")
    assert store.all(Membership) == [] and store.events == []
    status, _ = registry.create_membership(request("POST", "/memberships", {
        "person_id": str(me.id), "group_id": str(agency.id), "role": "member",
        "joined_on": "2024-01-01"}, subject=me.id))
    assert status == 201


def test_with_the_setting_off_the_old_behaviour_holds(store):
    me = person(store)
    agency = group(store, "learning_unit", level="commune")
    registry = registry_with(store, SEPARATION_OF_DUTIES=False)
    status, created = registry.create_membership(request("POST", "/memberships", {
        "person_id": str(me.id), "group_id": str(agency.id), "role": "head",
        "joined_on": "2024-01-01"}, who=STAFF_LX, subject=me.id))
    assert status == 201 and created["role"] == "head"
