"""The security matrix: role × a representative endpoint of each service × a target
in the caller's own unit or in another × either kind of token (the operator's, the OpenID
provider's) → the status expected; lists show only the caller's
subtree; a missing, expired, badly signed or unknown-role token is a 401 everywhere but the
open routes. Runs against the four services as real processes (conftest.py)."""
import collections
import itertools
import time

import jwt
import pytest

from tests.security.conftest import (
    ROLES, SCORES, UNITS, XAPI, caller_token, other_unit, person_body,
)
from tests.support import TEST_SIGNING_KEY, token

ADMIN = {"admin"}
PROVINCE = {"admin", "province_staff"}
STAFF = {"admin", "province_staff", "commune_staff"}
REVIEWERS = STAFF | {"reviewer"}
EVERYONE = set(ROLES) - {"learning_platform"}  # every person's role: not a machine client's
_years = itertools.count(2031)  # new unit codes
# a year of its own for each new assessment of a person: 2031 up to the last year a route
# takes (2100), counted per person, so that the matrix's many cases do not run out of years
_years_of = collections.defaultdict(lambda: itertools.count(2031))


def _year(person_id):
    return next(_years_of[str(person_id)])


CLOSABLE_YEAR = 2024  # over, and nothing reviewed in it: closing decides nothing here


# Each case: service, method, path and body for a target unit, the status of success, the
# roles the route admits, and whether a citizen reaches the target as their own record.
def _person(w, unit, role):
    return w.people[unit]["id"]


CASES = {
    "registry: read a person": dict(
        service="registry", method="GET", ok=200, roles=EVERYONE, own_record=True,
        path=lambda w, unit, role: f"/people/{_person(w, unit, role)}"),
    "registry: change a person": dict(
        service="registry", method="PATCH", ok=200, roles=STAFF,
        path=lambda w, unit, role: f"/people/{_person(w, unit, role)}",
        body=lambda w, unit, role: {"ethnicity": "Kinh"}),
    "registry: register a person": dict(
        service="registry", method="POST", ok=201, roles=STAFF,
        path=lambda w, unit, role: "/people", body=lambda w, unit, role: person_body(unit)),
    "registry: read a group": dict(
        service="registry", method="GET", ok=200, roles=REVIEWERS,
        path=lambda w, unit, role: f"/groups/{w.groups[unit]['id']}"),
    "registry: read a unit": dict(  # a citizen's "own record" here: their own unit
        service="registry", method="GET", ok=200, roles=EVERYONE, own_record=True,
        path=lambda w, unit, role: f"/units/{unit}"),
    "registry: create a unit": dict(
        service="registry", method="POST", ok=201, roles=PROVINCE,
        path=lambda w, unit, role: "/units",
        body=lambda w, unit, role: {"code": f"{unit.split('.')[0]}.N{next(_years)}",
                                    "name": "Xã mới", "kind": "commune",
                                    "parent_code": unit.split(".")[0]}),
    "registry: read the audit log": dict(
        service="registry", method="GET", ok=200, roles=ADMIN, scoped=False,
        path=lambda w, unit, role: "/audit"),
    "assessment: read an assessment": dict(
        service="assessment", method="GET", ok=200, roles=EVERYONE, own_record=True,
        path=lambda w, unit, role: f"/assessments/{w.assessments[unit]['assessment_id']}"),
    "assessment: submit a self-assessment": dict(
        service="assessment", method="POST", ok=201,
        roles={"admin", "province_staff", "commune_staff", "citizen"}, own_record=True,
        path=lambda w, unit, role: "/assessments",
        body=lambda w, unit, role: {"person_id": _person(w, unit, role),
                                    "year": _year(_person(w, unit, role)), "scores": SCORES}),
    "assessment: review": dict(
        service="assessment", method="POST", ok=200, roles=REVIEWERS,
        path=lambda w, unit, role: f"/assessments/{fresh_assessment(w, unit)}/review",
        body=lambda w, unit, role: {"action": "accept"} | (
            {"reviewer_id": w.officials[unit]["id"]} if role == "admin" else {})),
    "assessment: close a year": dict(
        service="assessment", method="POST", ok=202, roles=STAFF,
        path=lambda w, unit, role: f"/years/{CLOSABLE_YEAR}/close",
        body=lambda w, unit, role: {"unit_code": unit}),
    "assessment: a title's credential": dict(
        service="assessment", method="GET", ok=200, roles=EVERYONE, own_record=True,
        path=lambda w, unit, role: f"/recognitions/{titled(w, unit)}/credential"),
    "assessment: rotate an issuer's key": dict(
        service="assessment", method="POST", ok=201, roles=PROVINCE,
        path=lambda w, unit, role: f"/issuers/{issuing(w, unit)}/keys"),
    "reporting: a unit's progress": dict(
        service="reporting", method="GET", ok=200, roles=REVIEWERS,
        path=lambda w, unit, role: f"/units/{unit}/progress?year=2025"),
    "reporting: the national overview": dict(  # the whole deployment: no unit to be in
        service="reporting", method="GET", ok=200, roles=ADMIN, scoped=False,
        path=lambda w, unit, role: "/national?year=2025"),
    "reporting: the annual report export": dict(
        service="reporting", method="GET", ok=200, roles=REVIEWERS,
        path=lambda w, unit, role: f"/units/{unit}/report.csv?year=2025"),
    "registry: read an xAPI statement": dict(  # the platform: its own, wherever the learner
        service="registry", method="GET", ok=200, platform_reads=True, headers=XAPI,
        roles={"admin", "province_staff", "learning_platform"},
        path=lambda w, unit, role: f"/xapi/statements?statementId={w.statements[unit]}"),
    "notifications: a person's preferences": dict(
        service="notifications", method="GET", ok=200,
        roles={"admin", "province_staff", "commune_staff", "citizen"}, own_record=True,
        path=lambda w, unit, role: f"/preferences/{_person(w, unit, role)}"),
    "notifications: a delivery": dict(  # to the unit's official: not a citizen's own
        service="notifications", method="GET", ok=200, roles=EVERYONE,
        path=lambda w, unit, role: f"/deliveries/{w.deliveries[unit]['id']}"),
}


def fresh_assessment(world, unit):
    """A new submitted assessment of the unit's citizen (a year of its own), to review."""
    response = world.admin.call("POST", "assessment", "/assessments", {
        "person_id": world.people[unit]["id"], "year": _year(world.people[unit]["id"]),
        "scores": SCORES})
    assert response.status_code == 201, response.text
    return response.json()["assessment_id"]


def titled(world, unit):
    """A new title of the unit's citizen (a year of its own), decided by its official."""
    official = world.officials[unit]["id"]
    assessment_id = fresh_assessment(world, unit)
    for step, body in (("review", {"action": "accept", "reviewer_id": official}),
                       ("decision", {"decision": "recognise", "decided_by": official})):
        response = world.admin.call("POST", "assessment",
                                    f"/assessments/{assessment_id}/{step}", body)
        assert response.status_code == 200, response.text
    return response.json()["recognition_id"]


def issuing(world, unit):
    """The unit's association as an issuer: it has signed a credential."""
    response = world.admin.call("GET", "assessment",
                                f"/recognitions/{titled(world, unit)}/credential")
    assert response.status_code == 200, response.text
    return unit


def expected(case, role, target):
    if role not in case["roles"]:
        return 403
    if role == "admin" or not case.get("scoped", True):
        return case["ok"]
    if role == "learning_platform" and case.get("platform_reads"):
        return case["ok"]
    if role == "citizen" and not case.get("own_record"):
        return 403  # inside the citizen's unit, but not their own record
    return case["ok"] if target == "own" else 403


@pytest.mark.parametrize("kind", ["operator", "provider"])
@pytest.mark.parametrize("target", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_matrix(secured, as_role, name, role, target, kind):
    """``kind``: the token minted by the operator's tooling, or the province's OpenID
    provider's access token after a real sign-in: the same answers."""
    case = CASES[name]
    unit = "AG.LX" if target == "own" else other_unit(role)
    path = case["path"](secured, unit, role)
    body = case["body"](secured, unit, role) if "body" in case else None
    response = as_role(role, kind).call(case["method"], case["service"], path, body,
                                        headers=case.get("headers", {}))
    want = expected(case, role, target)
    assert response.status_code == want, (name, role, target, response.text)
    if want == 403:
        assert "error" in response.json()


# -- lists keep to the caller's subtree -----------------------------------------------------------
VISIBLE = {"admin": {"AG.LX", "AG.MB", "KG.RG"}, "province_staff": {"AG.LX", "AG.MB"},
           "commune_staff": {"AG.LX"}, "reviewer": {"AG.LX"}, "citizen": {"AG.LX"}}


def _units_seen(items, key="unit_code"):
    return {item[key] for item in items if item[key] in UNITS}


@pytest.mark.parametrize("kind", ["operator", "provider"])
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_the_callers_subtree(secured, as_role, role, kind):
    client = as_role(role, kind)
    if role == "learning_platform":  # a machine client lists nothing
        for service, path in (("registry", "/people"), ("registry", "/groups"),
                              ("assessment", "/assessments"), ("reporting", "/units"),
                              ("notifications", "/deliveries"),
                              ("registry", "/learning-accounts/unlinked")):
            assert client.call("GET", service, path).status_code == 403, (service, path)
        return
    people = client.call("GET", "registry", "/people", params={"limit": 500}).json()["items"]
    assert _units_seen(people) == VISIBLE[role]
    if role == "citizen":
        assert [p["id"] for p in people] == [secured.people["AG.LX"]["id"]]
    assessments = client.call("GET", "assessment", "/assessments",
                              params={"limit": 500}).json()["items"]
    assert _units_seen(assessments) == VISIBLE[role]
    if role == "citizen":
        assert {a["person_id"] for a in assessments} == {secured.people["AG.LX"]["id"]}
        assert client.call("GET", "registry", "/groups").status_code == 403
        assert client.call("GET", "reporting", "/units").status_code == 403
        return
    groups = client.call("GET", "registry", "/groups", params={"limit": 500}).json()["items"]
    assert _units_seen(groups) == VISIBLE[role]
    units = client.call("GET", "reporting", "/units").json()["items"]
    assert {u["unit_code"] for u in units if u["unit_code"] in UNITS} == VISIBLE[role]
    deliveries = client.call("GET", "notifications", "/deliveries",
                             params={"limit": 500}).json()["items"]
    seen = {unit for unit in UNITS for d in deliveries
            if d["id"] == secured.deliveries[unit]["id"]}
    assert seen == VISIBLE[role]


@pytest.mark.parametrize("role", ["province_staff", "commune_staff", "reviewer"])
def test_a_list_filtered_by_unit_keeps_to_the_callers_subtree(secured, as_role, role):
    """The unit filter inside the caller's scope (two subtree queries in one statement: a
    500 before), and outside it: nothing."""
    client = as_role(role)
    for unit, seen in (("AG.LX", {"AG.LX"}), (other_unit(role), set())):
        for path in ("/people", "/groups"):
            listed = client.call("GET", "registry", path, params={"unit_code": unit})
            assert listed.status_code == 200, (path, unit, listed.text)
            assert _units_seen(listed.json()["items"]) == seen, (path, unit)


def test_a_citizen_sees_only_their_own_deliveries(secured, as_role):
    deliveries = as_role("citizen").call("GET", "notifications", "/deliveries").json()
    assert all(d["person_id"] == secured.people["AG.LX"]["id"] for d in deliveries["items"])


def test_acting_for_someone_else_is_refused_but_for_an_admin(secured, as_role):
    """An actor id in the body must be the token's subject (only an admin names another)."""
    assessment = secured.admin.call("POST", "assessment", "/assessments", {
        "person_id": secured.people["AG.LX"]["id"], "year": _year(secured.people["AG.LX"]["id"]),
        "scores": SCORES}).json()
    path = f"/assessments/{assessment['assessment_id']}/review"
    impostor = as_role("reviewer").call("POST", "assessment", path, {
        "action": "accept", "reviewer_id": secured.officials["AG"]["id"]})
    assert impostor.status_code == 403 and "reviewer_id" in impostor.json()["error"]
    itself = as_role("reviewer").call("POST", "assessment", path, {
        "action": "accept", "reviewer_id": secured.reviewer["id"]})
    assert itself.status_code == 200, itself.text
    assert itself.json()["reviewed_by"] == secured.reviewer["id"]


# -- tokens ------------------------------------------------------------------------------------
PROTECTED = {"registry": "/people", "assessment": "/assessments",
             "reporting": "/units/AG/progress?year=2025", "notifications": "/deliveries"}


def _signed(claims):
    """Claims signed with the tests' key, as cdht token would (iss, aud, jti, nbf added)."""
    from cdht.auth import load_signing_key
    key = load_signing_key(TEST_SIGNING_KEY)
    claims = {"iss": "cdht", "aud": "cdht", "jti": "matrix", "nbf": claims["iat"]} | claims
    return jwt.encode(claims, key.key, algorithm="EdDSA", headers={"kid": key.kid})


def _bad_tokens(world):
    from cdht.auth import generate_signing_key
    now = int(time.time())
    return {
        "missing": None,
        "garbage": "not-a-token",
        "expired": _signed({"sub": "ops", "role": "admin", "unit": None,
                            "iat": now - 7200, "exp": now - 3600}),
        "wrong signature": token(generate_signing_key(kid="cdht-tests")),
        "unknown role": _signed({"sub": "ops", "role": "superuser", "unit": "AG",
                                 "iat": now, "exp": now + 600}),
    }


@pytest.mark.parametrize("kind", ["missing", "garbage", "expired", "wrong signature",
                                  "unknown role"])
@pytest.mark.parametrize("service", list(PROTECTED))
def test_a_bad_token_is_a_401(secured, service, kind):
    from tests.security.conftest import Client
    bad = _bad_tokens(secured)[kind]
    client = Client(secured.system, {"Authorization": f"Bearer {bad}"} if bad else {})
    response = client.call("GET", service, PROTECTED[service])
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()
    # the same call with a good token passes: the 401 came from the token alone
    good = Client(secured.system, {"Authorization": f"Bearer {caller_token(secured, 'admin')}"})
    assert good.call("GET", service, PROTECTED[service]).status_code == 200


@pytest.mark.parametrize("service", list(PROTECTED))
def test_open_routes_need_no_token(secured, service):
    from tests.security.conftest import Client
    anonymous = Client(secured.system, {})
    for path in ("/health", "/docs", "/openapi.json"):
        assert anonymous.call("GET", service, path).status_code == 200, (service, path)
    document = anonymous.call("GET", service, "/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all(op.get("security") == [] or "401" in op["responses"] for op in operations)
