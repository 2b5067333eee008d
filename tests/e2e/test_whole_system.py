"""The whole system, started with the README's start command (``bin/up``: no Docker engine
here, so local mode) on scratch databases, vhost and ports; demo data seeded with
``cdht seed demo``; every service's /health and /metrics; one correlation id followed from an
HTTP decision at assessment, through the events reporting and notifications handle, to the
registry's ``contact`` RPC, in the JSON logs of all four; then ``bin/down``."""
import json
import time
import uuid
from datetime import date

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cdht.config import SERVICES
from services.registry.domain import national_id_for
from tests.docs.scratch_system import ScratchSystem
from tests.e2e.portal.client import PortalClient, text_of
from tests.support import wait_for

pytestmark = pytest.mark.e2e

SCORES_PASS = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
               "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}


@pytest.fixture(scope="module")
def system(rabbit_manager, request, tmp_path_factory):
    scratch = ScratchSystem(tmp_path_factory.mktemp("whole-system"), rabbit_manager,
                            request.config.getoption("RABBIT_AMQP_URI"))
    try:
        started = scratch.up()
        assert started.returncode == 0, (
            f"bin/up failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
        assert "CDHT is running" in started.stdout, started.stdout
        yield scratch
    finally:
        stopped = scratch.down()
    assert stopped.returncode == 0, stopped.stderr
    # 4 services, the portal, the identity provider and the mail catcher
    assert "stopped 7 process(es)" in stopped.stdout, stopped.stdout


@pytest.fixture(scope="module")
def admin(system):
    """Headers of an admin token minted by the CLI with the key bin/up made."""
    return {"Authorization": f"Bearer {system.token()}"}


def test_every_service_is_healthy(system):
    for service in SERVICES:
        response = requests.get(system.base_url(service) + "/health", timeout=10)
        assert response.status_code == 200, (service, response.text)
        assert response.json()["status"] == "ok", (service, response.json())


def test_the_portal_signs_the_admin_in_through_the_local_provider(system):
    """bin/up made the provider's admin account and its password; the portal takes them."""
    health = requests.get(system.base_url("portal") + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["identity_provider"] == "ok", health.text
    password = (system.var_dir / "idp" / "admin-password").read_text().strip()
    client = PortalClient(system.base_url("portal"))
    client.sign_in("admin", password)
    assert text_of(client.page("/"), "h1") == ["Xin chào, Quản trị viên"]
    people = client.get("/people")  # a page that calls the registry with the admin's token
    assert people.status_code == 200, people.text[:500]


def test_demo_data_is_seeded(system, admin):
    seeded = system.cli("seed", "demo", "--people", "60")
    assert seeded.returncode == 0, f"cdht seed demo failed:\n{seeded.stdout}\n{seeded.stderr}"
    people = requests.get(system.base_url("registry") + "/people", params={"limit": 1},
                          headers=admin, timeout=10)
    assert people.status_code == 200, people.text
    assert people.json()["total"] >= 60
    # the figures follow the seeded recognitions through the events
    units = requests.get(system.base_url("reporting") + "/units", headers=admin, timeout=10)
    assert units.status_code == 200 and units.text, units.text


def test_every_service_serves_prometheus_metrics(system):
    for service in SERVICES:
        response = requests.get(system.base_url(service) + "/metrics", timeout=10)
        assert response.status_code == 200, (service, response.status_code, response.text[:300])
        assert response.headers["Content-Type"].startswith("text/plain"), service
        families = list(text_string_to_metric_families(response.text))
        assert families, f"{service}: /metrics has no metric"
        samples = [s for f in families for s in f.samples]
        assert samples, f"{service}: /metrics has no sample"


def post(system, service, path, body, headers):
    response = requests.post(system.base_url(service) + path, json=body, headers=headers,
                             timeout=15)
    assert response.status_code in (200, 201), (service, path, response.status_code,
                                                response.text)
    return response.json()


def json_lines(text):
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def test_one_correlation_id_crosses_all_four_services(system, admin):
    """A decision POSTed with X-Correlation-Id at assessment: recognition_granted is handled by
    reporting and notifications, and notifications asks the registry's ``contact`` RPC for
    the address; each of the four logs a JSON line carrying that correlation id."""
    tag = uuid.uuid4().hex[:6].upper()
    province, ward = f"W{tag}", f"W{tag}.01"
    post(system, "registry", "/units", {"code": province, "name": "Tỉnh Thử", "kind": "province"},
         admin)
    post(system, "registry", "/units", {"code": ward, "name": "Phường Thử", "kind": "ward",
                                        "parent_code": province}, admin)
    people = []
    for serial, name in ((7, "Lê Thị Cán Bộ"), (8, "Phạm Văn Bình")):
        people.append(post(system, "registry", "/people", {
            "national_id": national_id_for(89, date(1985, 4, 2), "male", serial), "full_name": name, "gender": "male",
            "birth_date": "1985-04-02", "email": f"{tag.lower()}.{serial}@example.org",
            "unit_code": ward, "target_group": "resident"}, admin)["id"])
    official, citizen = people
    body = post(system, "registry", "/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": ward},
        admin)
    post(system, "registry", "/association/members", {
        "person_id": official, "body_id": body["id"], "role": "official",
        "joined_on": "2024-01-01"}, admin)
    assessment = post(system, "assessment", "/assessments", {
        "person_id": citizen, "year": 2025, "scores": SCORES_PASS}, admin)["assessment_id"]
    post(system, "assessment", f"/assessments/{assessment}/review",
         {"action": "accept", "reviewer_id": official}, admin)

    correlation_id = f"whole-system-{uuid.uuid4()}"
    decided = post(system, "assessment", f"/assessments/{assessment}/decision",
                   {"decision": "recognise", "decided_by": official},
                   admin | {"X-Correlation-Id": correlation_id})
    assert decided["status"] == "recognised", decided

    def logged_by_all():
        found = {s: any(r.get("correlation_id") == correlation_id
                        for r in json_lines(system.log(s))) for s in SERVICES}
        return found if all(found.values()) else None

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not logged_by_all():
        time.sleep(0.5)
    found = {s: any(r.get("correlation_id") == correlation_id
                    for r in json_lines(system.log(s))) for s in SERVICES}
    assert all(found.values()), (
        f"correlation id {correlation_id} not in the JSON logs of "
        f"{[s for s, ok in found.items() if not ok]}; log tails:\n" +
        "\n".join(f"--- {s}\n" + "\n".join(system.log(s).splitlines()[-5:]) for s in SERVICES))
    # and the congratulation went out through the mail catcher bin/up started
    wait_for(lambda: f"{tag.lower()}.8@example.org" in
             (system.log_dir / "mail.log").read_text(errors="replace"),
             timeout=30, message="the congratulation mail in var/log/mail.log")
