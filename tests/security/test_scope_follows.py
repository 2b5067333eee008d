"""Scope follows the person: the security matrix's person-scoped routes after the registry
moves the AG.LX citizen to AG.MB (PATCH /people), then after AG.LX and AG.MB merge into a new
ward AG.LM. The old unit's staff and reviewers get 403, the new unit's the route's success.
Its own system (conftest.py's world), since moving and merging change that world."""
import time
from types import SimpleNamespace

import pytest

from tests.security.conftest import SCORES, Client
from tests.support import token, wait_for

ROLES = ("commune_staff", "reviewer")
STAFF = {"commune_staff"}


def ok(response, status):
    assert response.status_code == status, (response.request.method, response.url,
                                            response.text)
    return response.json()


def settle(check, timeout=20):
    """Wait for ``check`` to hold, without failing: the test that follows says what is wrong
    when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.3)


def staff(world, role, unit, subject_unit):
    """A caller of ``unit`` acting as the official of ``subject_unit`` (its association)."""
    bearer = token(role=role, unit_code=unit, subject=world.officials[subject_unit]["id"])
    return Client(world.system, {"Authorization": f"Bearer {bearer}"})


@pytest.fixture(scope="module")
def moved(secured):
    """The AG.LX citizen, titled for 2025 by AG.LX and with two submissions open, moves to
    AG.MB: what the routes below reach."""
    w, admin = secured, secured.admin
    person, official = w.people["AG.LX"]["id"], w.officials["AG.LX"]["id"]
    decided = w.assessments["AG.LX"]["assessment_id"]
    ok(admin.call("POST", "assessment", f"/assessments/{decided}/review",
                  {"action": "accept", "reviewer_id": official}), 200)
    title = ok(admin.call("POST", "assessment", f"/assessments/{decided}/decision",
                          {"decision": "recognise", "decided_by": official}), 200)
    opened = {role: ok(admin.call("POST", "assessment", "/assessments", {
        "person_id": person, "year": year, "scores": SCORES}), 201)["assessment_id"]
        for role, year in zip(ROLES, (2026, 2027))}

    def own_delivery():
        items = admin.call("GET", "notifications", "/deliveries", params={
            "person_id": person}).json()["items"]
        return items[0]["id"] if items else None
    delivery = wait_for(own_delivery, timeout=30, message="the citizen's congratulations")

    ok(admin.call("PATCH", "registry", f"/people/{person}", {"unit_code": "AG.MB"}), 200)
    new = staff(w, "commune_staff", "AG.MB", "AG.MB")
    settle(lambda: admin.call("GET", "assessment", f"/assessments/{decided}")
           .json()["unit_code"] == "AG.MB"
           and new.call("GET", "notifications", f"/deliveries/{delivery}").status_code == 200)
    return SimpleNamespace(person=person, decided=decided, opened=opened, delivery=delivery,
                           title=title["recognition_id"])


# name: (service, method, path, body, success, roles that may call the route at all)
AFTER_MOVE = {
    "assessment: read the person's decided assessment": (
        "assessment", "GET", lambda m, role: f"/assessments/{m.decided}", None, 200, ROLES),
    "assessment: read the person's open assessment": (
        "assessment", "GET", lambda m, role: f"/assessments/{m.opened[role]}", None, 200,
        ROLES),
    "assessment: review the person's open submission": (
        "assessment", "POST", lambda m, role: f"/assessments/{m.opened[role]}/review",
        {"action": "accept"}, 200, ROLES),
    "assessment: read the person's title": (
        "assessment", "GET", lambda m, role: f"/recognitions/{m.title}", None, 200, ROLES),
    "assessment: list the person's assessments": (
        "assessment", "GET", lambda m, role: f"/assessments?person_id={m.person}", None,
        "listed", ROLES),
    "notifications: the person's own delivery": (
        "notifications", "GET", lambda m, role: f"/deliveries/{m.delivery}", None, 200, ROLES),
    "notifications: the person's preferences": (
        "notifications", "GET", lambda m, role: f"/preferences/{m.person}", None, 200, STAFF),
}
SIDES = {"old": "AG.LX", "new": "AG.MB"}


def outcome(response, success):
    """The status, or for a list whether it showed anything (scope filters a list)."""
    if success == "listed":
        return "listed" if response.status_code == 200 and response.json()["total"] else 0
    return response.status_code


@pytest.mark.parametrize("side", list(SIDES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(AFTER_MOVE))
def test_after_a_move_the_new_unit_reaches_the_person(secured, moved, name, role, side):
    service, method, path, body, success, roles = AFTER_MOVE[name]
    unit = SIDES[side]
    response = staff(secured, role, unit, unit).call(method, service, path(moved, role), body)
    want = success if side == "new" and role in roles else (0 if success == "listed" else 403)
    assert outcome(response, success) == want, (name, role, side, response.text)


def test_after_a_move_only_the_new_unit_revokes_the_title(secured, moved):
    path, body = f"/recognitions/{moved.title}/revoke", {"reason": "hồ sơ khai sai"}
    old = staff(secured, "commune_staff", "AG.LX", "AG.LX")
    assert old.call("POST", "assessment", path, body).status_code == 403
    new = staff(secured, "commune_staff", "AG.MB", "AG.MB")
    revoked = ok(new.call("POST", "assessment", path, body), 200)
    assert revoked["unit_code"] == "AG.MB" and revoked["revoked_at"]


@pytest.fixture(scope="module")
def merged(secured, moved):
    """AG.LX and AG.MB merge into a new ward AG.LM (the 1 July 2025 reorganisation)."""
    admin = secured.admin
    ok(admin.call("POST", "registry", "/units/merge", {
        "from_codes": ["AG.LX", "AG.MB"], "effective_on": "2025-07-01",
        "into": {"code": "AG.LM", "name": "Phường Long Mỹ", "kind": "ward",
                 "parent_code": "AG"}}), 201)
    new = staff(secured, "commune_staff", "AG.LM", "AG.MB")
    delivery = secured.deliveries["AG.MB"]["id"]
    settle(lambda: admin.call("GET", "assessment",
                              f"/assessments/{secured.assessments['AG.MB']['assessment_id']}")
           .json()["unit_code"] == "AG.LM"
           and new.call("GET", "notifications", f"/deliveries/{delivery}").status_code == 200)
    return moved


AFTER_MERGE = {
    "assessment: read an assessment of the merged commune": (
        "assessment", "GET", lambda w, m: f"/assessments/{w.assessments['AG.MB']['assessment_id']}",
        ROLES),
    "assessment: read the moved person's assessment": (
        "assessment", "GET", lambda w, m: f"/assessments/{m.decided}", ROLES),
    "assessment: read a title": (
        "assessment", "GET", lambda w, m: f"/recognitions/{m.title}", ROLES),
    "notifications: a delivery to the merged commune's official": (
        "notifications", "GET", lambda w, m: f"/deliveries/{w.deliveries['AG.MB']['id']}",
        ROLES),
    "notifications: the moved person's own delivery": (
        "notifications", "GET", lambda w, m: f"/deliveries/{m.delivery}", ROLES),
    "notifications: a person's preferences": (
        "notifications", "GET", lambda w, m: f"/preferences/{w.people['AG.MB']['id']}", STAFF),
}


@pytest.mark.parametrize("side", ["old", "new"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(AFTER_MERGE))
def test_after_a_merger_the_new_unit_reaches_its_people(secured, merged, name, role, side):
    service, method, path, roles = AFTER_MERGE[name]
    unit = "AG.LM" if side == "new" else "AG.MB"
    response = staff(secured, role, unit, "AG.MB").call(method, service,
                                                        path(secured, merged))
    want = 200 if side == "new" and role in roles else 403
    assert response.status_code == want, (name, role, side, response.text)


def test_after_a_merger_the_new_units_lists_hold_its_people(secured, merged):
    new = staff(secured, "commune_staff", "AG.LM", "AG.MB")
    listed = new.call("GET", "assessment", "/assessments", params={"limit": 500}).json()
    assert {a["person_id"] for a in listed["items"]} >= {
        secured.people["AG.MB"]["id"], merged.person}
    assert {a["unit_code"] for a in listed["items"]} == {"AG.LM"}
