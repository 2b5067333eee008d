"""cdht.auth: tokens, roles, scope and the permission table, without a service."""
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from cdht import auth
from cdht.auth import Caller, TokenError, in_scope, mint_token, verify_token
from cdht.config import ROOT

SIGNING = auth.generate_signing_key(kid="k1")
KEYS = auth.load_public_keys(auth.public_key_of(SIGNING))
NOW = 1_800_000_000


def claims_of(**changes):
    """A token's claims as cdht token mints them, with ``changes`` (None drops a claim)."""
    claims = {"sub": "p", "role": "admin", "unit": None, "iss": "cdht", "aud": "cdht",
              "jti": "j-1", "iat": NOW, "nbf": NOW, "exp": NOW + 60} | changes
    return {k: v for k, v in claims.items() if v is not None}


def signed(claims, signing=SIGNING, **header):
    key = auth.load_signing_key(signing)
    header = {k: v for k, v in ({"kid": key.kid} | header).items() if v is not None}
    return jwt.encode(claims, key.key, algorithm="EdDSA", headers=header)


def test_a_token_names_its_caller():
    token = mint_token(SIGNING, subject="p-1", role="commune_staff", unit_code="AG.LX",
                       ttl_seconds=60, now=NOW, jti="j-1")
    assert verify_token(KEYS, token, now=NOW + 59) == Caller("p-1", "commune_staff", "AG.LX")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}
    assert jwt.decode(token, options={"verify_signature": False}) == {
        "sub": "p-1", "role": "commune_staff", "unit": "AG.LX", "iss": "cdht", "aud": "cdht",
        "jti": "j-1", "iat": NOW, "nbf": NOW, "exp": NOW + 60}


def test_every_token_has_its_own_jti():
    tokens = [mint_token(SIGNING, subject="ops", role="admin", unit_code=None) for _ in "ab"]
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 2


def test_an_admin_needs_no_unit():
    token = mint_token(SIGNING, subject="ops", role="admin", unit_code=None, now=NOW)
    caller = verify_token(KEYS, token, now=NOW)
    assert caller.is_admin and caller.unit_code is None


def test_a_learning_platform_needs_no_unit_and_is_in_no_group_of_people():
    token = mint_token(SIGNING, subject="lms-ag", role="learning_platform", unit_code=None,
                       now=NOW)
    caller = verify_token(KEYS, token, now=NOW)
    assert caller == Caller("lms-ag", "learning_platform", None) and caller.is_platform
    assert not caller.is_admin and not auth.in_scope(caller, ["AG", "AG.LX"])
    for group in (auth.EVERYONE, auth.STAFF_AND_CITIZEN, auth.REVIEWERS, auth.STAFF,
                  auth.PROVINCE, auth.ADMIN):
        assert "learning_platform" not in group
    assert set(auth.ROLES) == set(auth.EVERYONE) | {"learning_platform"}


def test_only_the_statement_routes_admit_a_learning_platform():
    from cdht.openapi import routes_of
    admitted = {(route.method, route.path) for cls in service_classes()
                for route in routes_of(cls)
                if not route.public and route.allows("learning_platform")}
    assert admitted == {("POST", "/xapi/statements"), ("PUT", "/xapi/statements"),
                        ("GET", "/xapi/statements")}


def test_expired_token_is_refused():
    token = mint_token(SIGNING, subject="p", role="citizen", unit_code="AG", ttl_seconds=10,
                       now=NOW)
    with pytest.raises(TokenError, match="expired"):
        verify_token(KEYS, token, now=NOW + 10)


def test_rotation_keys_are_chosen_by_kid():
    new = auth.generate_signing_key(kid="k2")
    both = auth.load_public_keys(f"{auth.public_key_of(SIGNING)}, {auth.public_key_of(new)}")
    for signing in (SIGNING, new):
        token = mint_token(signing, subject="ops", role="admin", unit_code=None, now=NOW)
        assert verify_token(both, token, now=NOW).is_admin
    only_new = auth.load_public_keys(auth.public_key_of(new))
    old_token = mint_token(SIGNING, subject="ops", role="admin", unit_code=None, now=NOW)
    with pytest.raises(TokenError, match="unknown key"):
        verify_token(only_new, old_token, now=NOW)


def test_a_key_that_is_not_configured_is_refused():
    stranger = auth.generate_signing_key(kid="k9")
    with pytest.raises(TokenError, match="unknown key"):
        verify_token(KEYS, signed(claims_of(), stranger), now=NOW)
    # a stranger's key under a configured kid: the signature gives it away
    impostor = auth.generate_signing_key(kid="k1")
    with pytest.raises(TokenError, match="signature"):
        verify_token(KEYS, signed(claims_of(), impostor), now=NOW)
    with pytest.raises(TokenError, match="unknown key"):
        verify_token(KEYS, signed(claims_of(), kid=None), now=NOW)


@pytest.mark.parametrize("changes, message", [
    ({"iss": "someone-else"}, "another issuer"),
    ({"aud": "another-system"}, "another audience"),
    ({"aud": ["another-system"]}, "another audience"),
    ({"exp": NOW}, "expired"),
    ({"nbf": NOW + auth.LEEWAY + 5}, "not valid yet"),
    ({"iat": NOW + auth.LEEWAY + 5, "exp": NOW + 600}, "issued in the future"),
    ({"exp": NOW + auth.MAX_TTL + 1}, "lives longer"),
    ({"jti": None}, "'jti'"),
    ({"jti": ""}, "jti"),
    ({"iss": None}, "'iss'"),
    ({"aud": None}, "'aud'"),
    ({"role": "superuser", "unit": "AG"}, "unknown role"),
    ({"role": "commune_staff"}, "no unit"),
    ({"sub": None}, "'sub'"),
    ({"role": None, "unit": "AG"}, "'role'"),
    ({"exp": "soon"}, "malformed"),
])
def test_bad_claims_are_refused(changes, message):
    with pytest.raises(TokenError, match=message):
        verify_token(KEYS, signed(claims_of(**changes)), now=NOW)


def test_clock_skew_within_the_leeway_is_accepted():
    claims = claims_of(iat=NOW + auth.LEEWAY, nbf=NOW + auth.LEEWAY, exp=NOW + 600)
    assert verify_token(KEYS, signed(claims), now=NOW).is_admin
    assert verify_token(KEYS, signed(claims_of(aud=["cdht", "other"])), now=NOW).is_admin


def _raw_public_key():
    return auth.load_signing_key(SIGNING).key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.mark.parametrize("forge", [
    lambda: jwt.encode(claims_of(), key=None, algorithm="none", headers={"kid": "k1"}),
    # algorithm confusion: the public key, which every service has, used as an HMAC secret
    lambda: jwt.encode(claims_of(), auth.public_key_of(SIGNING).split(":", 1)[1],
                       algorithm="HS256", headers={"kid": "k1"}),
    lambda: jwt.encode(claims_of(), _raw_public_key(), algorithm="HS256", headers={"kid": "k1"}),
    lambda: jwt.encode(claims_of(), "a-shared-secret-of-the-old-kind-0123456789",
                       algorithm="HS256", headers={"kid": "k1"}),
])
def test_only_eddsa_is_accepted(forge):
    with pytest.raises(TokenError, match="algorithm"):
        verify_token(KEYS, forge(), now=NOW)


@pytest.mark.parametrize("token", ["", None, "not-a-jwt", "a.b.c"])
def test_missing_or_malformed_token_is_refused(token):
    with pytest.raises(TokenError):
        verify_token(KEYS, token)


@pytest.mark.parametrize("header, ok", [
    ("Bearer abc", True), ("bearer abc", True), ("Basic abc", False), ("Bearer", False),
    ("", False), (None, False)])
def test_bearer_header(header, ok):
    if ok:
        assert auth.bearer_token(header) == "abc"
    else:
        with pytest.raises(TokenError):
            auth.bearer_token(header)


@pytest.mark.parametrize("value, message", [
    ("", "empty"), (None, "empty"), ("  ,  ", "empty"), ("no-colon", "<kid>:"),
    ("bad kid:AAAA", "<kid>:"), ("k1:not base64!", "not base64"), ("k1:AAAA", "not a public"),
    (SIGNING, "holds a private key"),
    (f"{auth.public_key_of(SIGNING)},{auth.public_key_of(SIGNING)}", "twice"),
])
def test_bad_public_keys_are_refused(value, message):
    with pytest.raises(ValueError, match="AUTH_PUBLIC_KEYS"):
        try:
            auth.load_public_keys(value)
        except ValueError as exc:
            assert message in str(exc)
            raise


def test_a_public_key_signs_nothing():
    with pytest.raises(ValueError, match="not a private key"):
        mint_token(auth.public_key_of(SIGNING), subject="p", role="admin", unit_code=None)
    with pytest.raises(ValueError, match="empty"):
        mint_token("", subject="p", role="admin", unit_code=None)


@pytest.mark.parametrize("config, environ, message", [
    ({}, {}, "AUTH_PUBLIC_KEYS is empty"),
    ({"AUTH_SIGNING_KEY": SIGNING}, {}, "AUTH_SIGNING_KEY is set in the service's configuration"),
    ({}, {"AUTH_SIGNING_KEY": SIGNING}, "AUTH_SIGNING_KEY is set in the service's environment"),
    ({"AUTH_SECRET": "an-old-shared-secret-0123456789abcdef"}, {}, "AUTH_SECRET is set"),
])
def test_a_service_takes_public_keys_alone(config, environ, message):
    config = {"AUTH_PUBLIC_KEYS": auth.public_key_of(SIGNING)} | config if config else config
    with pytest.raises(ValueError, match=message):
        auth.service_keys(config, environ)
    assert set(auth.service_keys({"AUTH_PUBLIC_KEYS": auth.public_key_of(SIGNING)},
                                 {"AUTH_SIGNING_KEY": ""})) == {"k1"}


def test_minting_checks_its_arguments():
    with pytest.raises(ValueError, match="unknown role"):
        mint_token(SIGNING, subject="p", role="root", unit_code="AG")
    with pytest.raises(ValueError, match="needs a unit"):
        mint_token(SIGNING, subject="p", role="reviewer", unit_code=None)
    with pytest.raises(ValueError, match="subject"):
        mint_token(SIGNING, subject="", role="admin", unit_code=None)
    with pytest.raises(ValueError, match="at most 43200 seconds"):
        mint_token(SIGNING, subject="p", role="admin", unit_code=None,
                   ttl_seconds=auth.MAX_TTL + 1)
    assert mint_token(SIGNING, subject="p", role="admin", unit_code=None,
                      ttl_seconds=auth.MAX_TTL)


def test_make_env_writes_a_matching_key_pair():
    """deploy/make_env.py derives the public key with the standard library alone."""
    import runpy
    made = runpy.run_path(str(ROOT / "deploy" / "make_env.py"))["token_keys"]()
    assert auth.public_key_of(made["AUTH_SIGNING_KEY"]) == made["AUTH_PUBLIC_KEYS"]


def test_the_tests_key_pair_matches():
    from tests.support import TEST_PUBLIC_KEYS, TEST_SIGNING_KEY
    assert auth.public_key_of(TEST_SIGNING_KEY) == TEST_PUBLIC_KEYS


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
    # without a token: health checks, metrics, the documentation, the dashboard's page, the
    # LRS's versions (xAPI: GET /xapi/about is open), and what anyone checks a title's proof
    # against (a certificate's code, the issuers' profiles and keys, their status lists)
    assert public == {("GET", "/health"), ("GET", "/metrics"), ("GET", "/docs"),
                      ("GET", "/openapi.json"), ("GET", "/dashboard"), ("GET", "/xapi/about"),
                      ("GET", "/verifications/<code>"), ("GET", "/issuers/<unit_code>"),
                      ("GET", "/issuers/<unit_code>/jwks"),
                      ("GET", "/status-lists/<unit_code>/<int:list_no>")}


def test_the_derived_table_keeps_the_sensitive_routes_closed():
    from cdht.openapi import permissions
    registry, assessment, reporting, _ = (permissions(cls) for cls in service_classes())
    assert registry[("GET", "/audit")] == auth.ADMIN
    assert "citizen" not in reporting[("GET", "/units/<string:unit_code>/progress")]
    assert "citizen" in assessment[("POST", "/assessments")]
    assert registry[("POST", "/imports")] == auth.PROVINCE


def test_token_command_prints_a_token_the_services_accept(tmp_path):
    env = {**os.environ, "AUTH_SIGNING_KEY": SIGNING, "EVENTLET_TESTS": "1",
           "AUTH_AUDIT_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "cdht_tools", "token", "--role", "reviewer", "--unit", "AG.LX",
         "--subject", "8a1c7e2e-0000-4000-8000-000000000001", "--ttl", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    caller = verify_token(KEYS, result.stdout.strip())
    assert caller == Caller("8a1c7e2e-0000-4000-8000-000000000001", "reviewer", "AG.LX")


def test_token_command_mints_a_learning_platforms_token_without_a_unit(tmp_path):
    env = {**os.environ, "AUTH_SIGNING_KEY": SIGNING, "EVENTLET_TESTS": "1",
           "AUTH_AUDIT_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "cdht_tools", "token", "--role", "learning_platform",
         "--subject", "lms-ag"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert verify_token(KEYS, result.stdout.strip()) == Caller("lms-ag", "learning_platform",
                                                               None)


def test_token_command_refuses_an_unknown_role_and_a_missing_unit(tmp_path):
    env = {**os.environ, "AUTH_SIGNING_KEY": SIGNING, "EVENTLET_TESTS": "1",
           "AUTH_AUDIT_DIR": str(tmp_path)}
    bad_role = subprocess.run([sys.executable, "-m", "cdht_tools", "token", "--role", "root",
                               "--subject", "x"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert bad_role.returncode != 0 and "invalid choice" in bad_role.stderr
    no_unit = subprocess.run([sys.executable, "-m", "cdht_tools", "token", "--role", "citizen",
                              "--subject", "x"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert no_unit.returncode == 1 and "needs a unit" in no_unit.stderr
    assert "Traceback" not in no_unit.stderr


def test_a_token_s_signature_is_checked_once_and_its_times_at_every_call(monkeypatch):
    checked = []
    real = auth._signature_checked
    monkeypatch.setattr(auth, "_signature_checked",
                        lambda token, key: checked.append(token) or real(token, key))
    token = mint_token(SIGNING, subject="p-2", role="reviewer", unit_code="AG.LX",
                       ttl_seconds=60, now=NOW, jti="j-once")
    for _ in range(3):
        assert verify_token(KEYS, token, now=NOW + 1).subject == "p-2"
    assert checked == [token]
    with pytest.raises(TokenError, match="expired"):
        verify_token(KEYS, token, now=NOW + 60)
    # keys loaded again (a rotation): the same kid names another key object, checked anew
    assert verify_token(auth.load_public_keys(auth.public_key_of(SIGNING)), token,
                        now=NOW + 1).subject == "p-2"
    assert checked == [token, token]
    other = auth.load_public_keys(auth.public_key_of(auth.generate_signing_key(kid="k1")))
    with pytest.raises(TokenError, match="signature"):
        verify_token(other, token, now=NOW + 1)
