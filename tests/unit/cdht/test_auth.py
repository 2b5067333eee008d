"""cdht.auth: tokens, roles, scope and the permission table, without a service."""
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace

import jwt
import pytest

from cdht import auth
from cdht.auth import Caller, TokenError, in_scope, mint_token, verify_token
from cdht.config import ROOT

SECRET = "unit-test-signing-key-0123456789abcdef"
NOW = 1_800_000_000


def test_a_token_names_its_caller():
    token = mint_token(SECRET, subject="p-1", role="commune_staff", unit_code="AG.LX",
                       ttl_seconds=60, now=NOW)
    assert verify_token(SECRET, token, now=NOW + 59) == Caller("p-1", "commune_staff", "AG.LX")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims == {"sub": "p-1", "role": "commune_staff", "unit": "AG.LX", "iat": NOW,
                      "exp": NOW + 60}


def test_an_admin_needs_no_unit():
    token = mint_token(SECRET, subject="ops", role="admin", unit_code=None, now=NOW)
    caller = verify_token(SECRET, token, now=NOW)
    assert caller.is_admin and caller.unit_code is None


def test_expired_token_is_refused():
    token = mint_token(SECRET, subject="p", role="citizen", unit_code="AG", ttl_seconds=10,
                       now=NOW)
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, token, now=NOW + 10)


def test_wrong_signature_is_refused():
    token = mint_token("another-signing-key-0123456789abcdef", subject="p", role="admin",
                       unit_code=None)
    with pytest.raises(TokenError, match="signature"):
        verify_token(SECRET, token)


def test_a_token_with_alg_none_is_refused():
    forged = jwt.encode({"sub": "p", "role": "admin", "iat": NOW, "exp": NOW + 60}, key=None,
                        algorithm="none")
    with pytest.raises(TokenError):
        verify_token(SECRET, forged, now=NOW)


@pytest.mark.parametrize("claims, message", [
    ({"sub": "p", "role": "superuser", "unit": "AG"}, "unknown role"),
    ({"sub": "p", "role": "commune_staff"}, "no unit"),
    ({"role": "admin"}, "'sub'"),
    ({"sub": "p", "unit": "AG"}, "'role'"),
])
def test_bad_claims_are_refused(claims, message):
    token = jwt.encode(claims | {"iat": NOW, "exp": NOW + 60}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match=message):
        verify_token(SECRET, token, now=NOW)


@pytest.mark.parametrize("token", ["", None, "not-a-jwt", "a.b.c"])
def test_missing_or_malformed_token_is_refused(token):
    with pytest.raises(TokenError):
        verify_token(SECRET, token)


@pytest.mark.parametrize("header, ok", [
    ("Bearer abc", True), ("bearer abc", True), ("Basic abc", False), ("Bearer", False),
    ("", False), (None, False)])
def test_bearer_header(header, ok):
    if ok:
        assert auth.bearer_token(header) == "abc"
    else:
        with pytest.raises(TokenError):
            auth.bearer_token(header)


@pytest.mark.parametrize("secret", ["", None, "   ", "short", "a" * 64, "ab" * 32,
                                    "0123456" * 5])
def test_weak_or_missing_secret_is_refused(secret):
    with pytest.raises(ValueError, match="AUTH_SECRET"):
        auth.check_secret(secret)
    with pytest.raises(ValueError):
        mint_token(secret, subject="p", role="admin", unit_code=None)


def test_minting_checks_its_arguments():
    with pytest.raises(ValueError, match="unknown role"):
        mint_token(SECRET, subject="p", role="root", unit_code="AG")
    with pytest.raises(ValueError, match="needs a unit"):
        mint_token(SECRET, subject="p", role="reviewer", unit_code=None)
    with pytest.raises(ValueError, match="subject"):
        mint_token(SECRET, subject="", role="admin", unit_code=None)


@pytest.mark.parametrize("caller, path, expected", [
    (Caller("a", "admin", None), ["AG", "AG.MB"], True),
    (Caller("s", "province_staff", "AG"), ["AG", "AG.MB"], True),
    (Caller("s", "commune_staff", "AG.LX"), ["AG", "AG.LX", "AG.LX.K1"], True),
    (Caller("s", "commune_staff", "AG.LX"), ["AG", "AG.LX"], True),
    (Caller("s", "commune_staff", "AG.LX"), ["AG"], False),          # above: not in subtree
    (Caller("s", "commune_staff", "AG.LX"), ["AG", "AG.MB"], False),  # a sibling
    (Caller("s", "reviewer", "AG.LX"), [], False),
    (Caller("s", "reviewer", "AG.LX"), None, False),
])
def test_in_scope(caller, path, expected):
    assert in_scope(caller, path) is expected


def test_a_callers_person_id_is_the_subject_when_it_names_a_person():
    person = uuid.uuid4()
    assert Caller(str(person), "citizen", "AG.LX").person_id == person
    assert Caller("ops", "admin", None).person_id is None  # an operator's name


def test_a_citizen_reaches_their_own_records_and_staff_their_subtree():
    from cdht.web import Forbidden, list_scope, own_or_in_scope
    person, other = uuid.uuid4(), uuid.uuid4()
    citizen = SimpleNamespace(caller=Caller(str(person), "citizen", "AG.LX"))
    staff = SimpleNamespace(caller=Caller(str(other), "commune_staff", "AG.LX"))
    admin = SimpleNamespace(caller=Caller("ops", "admin", None))
    assert [list_scope(r) for r in (citizen, staff, admin)] == [
        ("person", person), ("unit", "AG.LX"), None]
    own_or_in_scope(citizen, person, ["AG", "AG.MB"], "the record")  # theirs, wherever
    own_or_in_scope(staff, person, ["AG", "AG.LX"], "the record")
    for request, person_id, path in ((citizen, other, ["AG", "AG.LX"]),
                                     (staff, person, ["AG", "AG.MB"])):
        with pytest.raises(Forbidden):
            own_or_in_scope(request, person_id, path, "the record")


def service_classes():
    from services.assessment.service import AssessmentService
    from services.notifications.service import NotificationsService
    from services.registry.service import RegistryService
    from services.reporting.service import ReportingService
    return (RegistryService, AssessmentService, ReportingService, NotificationsService)


def test_every_route_says_who_may_call_it_and_admin_may_call_all():
    from cdht.openapi import routes_of
    public = set()
    for cls in service_classes():
        for route in routes_of(cls):
            assert "x-undeclared" not in route.extra, (cls.name, route.method, route.path)
            assert route.public or (route.roles and set(route.roles) <= set(auth.ROLES)), route
            assert route.allows("admin")
            if route.public:
                public.add((route.method, route.path))
    # without a token: health checks, metrics, the documentation and the dashboard's page
    assert public == {("GET", "/health"), ("GET", "/metrics"), ("GET", "/docs"),
                      ("GET", "/openapi.json"), ("GET", "/dashboard")}


def test_the_derived_table_keeps_the_sensitive_routes_closed():
    from cdht.openapi import permissions
    registry, assessment, reporting, _ = (permissions(cls) for cls in service_classes())
    assert registry[("GET", "/audit")] == auth.ADMIN
    assert "citizen" not in reporting[("GET", "/units/<string:unit_code>/progress")]
    assert "citizen" in assessment[("POST", "/assessments")]
    assert registry[("POST", "/imports")] == auth.PROVINCE


def test_token_command_prints_a_token_the_services_accept():
    env = {**os.environ, "AUTH_SECRET": SECRET, "EVENTLET_TESTS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "cdht_tools", "token", "--role", "reviewer", "--unit", "AG.LX",
         "--subject", "8a1c7e2e-0000-4000-8000-000000000001", "--ttl", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    caller = verify_token(SECRET, result.stdout.strip())
    assert caller == Caller("8a1c7e2e-0000-4000-8000-000000000001", "reviewer", "AG.LX")


def test_token_command_refuses_an_unknown_role_and_a_missing_unit():
    env = {**os.environ, "AUTH_SECRET": SECRET, "EVENTLET_TESTS": "1"}
    bad_role = subprocess.run([sys.executable, "-m", "cdht_tools", "token", "--role", "root",
                               "--subject", "x"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert bad_role.returncode != 0 and "invalid choice" in bad_role.stderr
    no_unit = subprocess.run([sys.executable, "-m", "cdht_tools", "token", "--role", "citizen",
                              "--subject", "x"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert no_unit.returncode == 1 and "needs a unit" in no_unit.stderr
    assert "Traceback" not in no_unit.stderr
