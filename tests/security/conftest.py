"""The four services as real processes (cdht_tools.local, as bin/up starts them), seeded once per
module through their HTTP APIs as an admin, for the security matrix: who may call what, on
which unit.

The tree: province AG with ward AG.LX and commune AG.MB; another province KG with commune
KG.RG. Each of AG.LX, AG.MB and KG.RG has a commune association with one official, and a
citizen with a submitted self-assessment (so reporting and notifications have figures and
deliveries there). The province AG's association has an official too: the subject of the
province staff's token.
"""
import uuid
from datetime import date
from pathlib import Path

import pytest
import requests

from services.registry.domain import national_id_for
from tests.e2e.conftest import Inbox, System
from tests.idp import IdentityProvider, account, missing_requirement
from tests.support import (
    TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, empty_databases, free_port, token, wait_for,
)

SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
          "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}
UNITS = ("AG.LX", "AG.MB", "KG.RG")
ROOT = Path(__file__).resolve().parents[2]
_serial = iter(range(1, 10_000))
SEEN = []  # (national_id, email, phone) of every person body made here


class Client:
    """HTTP to the running system as one caller (headers given, or none)."""

    def __init__(self, system, headers):
        self.system, self.headers = system, headers

    def call(self, method, service, path, body=None, **kwargs):
        return requests.request(method, self.system.url(service, path), json=body,
                                headers=self.headers | kwargs.pop("headers", {}),
                                timeout=15, **kwargs)


def person_body(unit, **extra):
    born = date(1980, 5, 17)
    serial = next(_serial)
    body = {"national_id": national_id_for(89, born, "female", serial),
            "full_name": "Trần Thị Bích", "gender": "female", "birth_date": born.isoformat(),
            "unit_code": unit, "target_group": "resident",
            "email": f"bich.{serial}@example.org", "phone": f"09{serial:08d}", **extra}
    SEEN.append((body["national_id"], body["email"], body["phone"]))
    return body


@pytest.fixture(scope="module")
def secured(migrated_databases, rabbit_manager, request, tmp_path_factory):
    """The running system and what was seeded: ``world.admin`` (a Client), people, ids."""
    empty_databases(migrated_databases)
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    vhost = f"cdht-sec-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    amqp = request.config.getoption("RABBIT_AMQP_URI").rstrip("/") + "/" + vhost
    env = {"AMQP_URI": amqp, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
           "RETRY_DELAYS_MS": "200,400,800", "LOG_LEVEL": "INFO",
           "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS, "REGISTRY_TIMEOUT": "5", "CONTACT_TIMEOUT": "5"}
    for service, url in migrated_databases.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    # the province's OpenID provider too: the matrix runs with its tokens as with ours
    idp = None if missing_requirement() else IdentityProvider(tmp_path_factory.mktemp("idp"))
    # the learning platform the registry takes xAPI statements from
    rules = tmp_path_factory.mktemp("xapi") / "xapi.yaml"
    rules.write_text(XAPI_RULES, encoding="utf-8")
    env["XAPI_RULES"] = str(rules)
    if idp:
        env["OIDC_ISSUER"] = idp.issuer
    system = System(env, tmp_path_factory.mktemp("security-logs"))
    try:
        system.start()
        world = seed(system)
        world.idp, world.provider_tokens = idp, {}
        if idp:
            idp.accounts = [account(role, role, caller_of(world, role)[0],
                                    sub=caller_of(world, role)[1]) for role in ROLES]
            idp.start()
        yield world
    finally:
        system.stop()
        if idp:
            idp.stop()
        rabbit_manager.delete_vhost(vhost)
        smtp.stop()


class World:
    pass


PLATFORM, PLATFORM_HOME = "lms-sec", "https://lms.example.vn"
XAPI = {"X-Experience-API-Version": "1.0.3"}
XAPI_RULES = (open(ROOT / "services" / "registry" / "xapi.yaml", encoding="utf-8").read()
              .replace("platforms: []", f"platforms: [{{id: {PLATFORM}, name: LMS, "
                                        f"home_pages: ['{PLATFORM_HOME}']}}]"))


def seed(system):
    world = World()
    world.system = system
    admin = world.admin = Client(system, system.auth())

    def ok(response, status):
        assert response.status_code == status, (response.request.method, response.url,
                                                response.text)
        return response.json()

    for code, name, kind, parent in (("AG", "Tỉnh An Giang", "province", None),
                                     ("AG.LX", "Phường Long Xuyên", "ward", "AG"),
                                     ("AG.MB", "Xã Mỹ Bình", "commune", "AG"),
                                     ("KG", "Tỉnh Kiên Giang", "province", None),
                                     ("KG.RG", "Phường Rạch Giá", "ward", "KG")):
        ok(admin.call("POST", "registry", "/units", {"code": code, "name": name, "kind": kind,
                                                     "parent_code": parent}), 201)
    world.people, world.officials, world.groups, world.assessments = {}, {}, {}, {}
    world.bodies = {}
    for unit in ("AG",) + UNITS:
        body = ok(admin.call("POST", "registry", "/association/bodies", {
            "kind": "commune_association", "name": f"Hội Khuyến học {unit}",
            "unit_code": unit}), 201)
        world.bodies[unit] = body["id"]
        official = ok(admin.call("POST", "registry", "/people", person_body(unit)), 201)
        ok(admin.call("POST", "registry", "/association/members", {
            "person_id": official["id"], "body_id": body["id"], "role": "official",
            "joined_on": "2020-01-01"}), 201)
        world.officials[unit] = official
    # a second official of AG.LX, the reviewer: one person, one account at the provider
    reviewer = ok(admin.call("POST", "registry", "/people", person_body("AG.LX")), 201)
    ok(admin.call("POST", "registry", "/association/members", {
        "person_id": reviewer["id"], "body_id": world.bodies["AG.LX"], "role": "official",
        "joined_on": "2020-01-01"}), 201)
    world.reviewer = reviewer
    for unit in UNITS:
        world.people[unit] = ok(admin.call("POST", "registry", "/people", person_body(unit)),
                                201)
        world.groups[unit] = ok(admin.call("POST", "registry", "/groups", {
            "kind": "family", "unit_code": unit, "name": f"Gia đình {unit}"}), 201)
        world.assessments[unit] = ok(admin.call("POST", "assessment", "/assessments", {
            "person_id": world.people[unit]["id"], "year": 2025, "scores": SCORES}), 201)

    # reporting knows every unit, notifications told every unit's official
    def reporting_ready():
        units = admin.call("GET", "reporting", "/units").json()["items"]
        return {u["unit_code"] for u in units} >= set(UNITS)
    wait_for(reporting_ready, timeout=30, message="reporting's units")

    def deliveries():
        found = {}
        for unit in UNITS:
            items = admin.call("GET", "notifications", "/deliveries", params={
                "person_id": world.officials[unit]["id"]}).json()["items"]
            if items:
                found[unit] = items[0]
        return found if len(found) == len(UNITS) else None
    world.deliveries = wait_for(deliveries, timeout=30, message="notifications' deliveries")
    # each unit's citizen linked to their platform account, and one statement of theirs
    platform = Client(system, {"Authorization": "Bearer " + token(
        TEST_SIGNING_KEY, role="learning_platform", subject=PLATFORM)} | XAPI)
    world.statements = {}
    for unit in UNITS:
        ok(admin.call("POST", "registry", "/learning-accounts", {
            "person_id": world.people[unit]["id"], "home_page": PLATFORM_HOME,
            "name": f"learner-{unit}"}), 201)
        [world.statements[unit]] = ok(platform.call("POST", "registry", "/xapi/statements", {
            "actor": {"account": {"homePage": PLATFORM_HOME, "name": f"learner-{unit}"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": f"{PLATFORM_HOME}/course/1"}}), 200)
    world.audit_before = admin.call("GET", "registry", "/audit").json()["total"]
    return world


# -- the callers of the matrix -------------------------------------------------------------------
ROLES = ("admin", "province_staff", "commune_staff", "reviewer", "citizen", "learning_platform")


def caller_of(world, role):
    """(unit, subject) of each role's caller: its own unit is AG.LX (province staff: AG,
    above it)."""
    if role == "admin":
        return None, "ops"
    if role == "learning_platform":
        return None, PLATFORM
    if role == "province_staff":
        return "AG", world.officials["AG"]["id"]
    if role == "commune_staff":
        return "AG.LX", world.officials["AG.LX"]["id"]
    if role == "reviewer":
        return "AG.LX", world.reviewer["id"]
    return "AG.LX", world.people["AG.LX"]["id"]


def caller_token(world, role, kind="operator"):
    """Each role's token: one the operator's tooling mints, or (``kind="provider"``) the
    access token the province's OpenID provider gives after a real sign-in."""
    if kind == "provider":
        if world.idp is None:
            pytest.skip(f"the OpenID provider cannot run: {missing_requirement()}")
        if role not in world.provider_tokens:
            world.provider_tokens[role] = world.idp.sign_in(
                role, f"{role}-mat-khau")["access_token"]
        return world.provider_tokens[role]
    unit, subject = caller_of(world, role)
    return token(TEST_SIGNING_KEY, role=role, unit_code=unit, subject=subject)


def other_unit(role):
    """A unit outside the role's subtree: KG.RG for the province staff of AG, the sibling
    commune AG.MB for the others (for an admin nothing is outside)."""
    return "KG.RG" if role == "province_staff" else "AG.MB"


@pytest.fixture(scope="module")
def as_role(secured):
    def client(role, kind="operator"):
        return Client(secured.system,
                      {"Authorization": f"Bearer {caller_token(secured, role, kind)}"})
    return client
