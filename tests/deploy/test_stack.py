"""The compose stack for real: images built from Debian packages (deploy/images/build.sh),
``bin/up`` in a fresh copy of the repository with a generated .env, then the whole system
driven over the published ports: demo seeded, a self-assessment submitted, reviewed and
decided, the figure in reporting and the mail in the mail catcher; a person signed in at the
portal through the idp profile's provider, and the portal's pages answering from the services
with that provider's access token; the main process of every
service container killed (SIGKILL, as a crash would) during a stream of recognitions and the
container brought back by its restart policy, with nothing lost and nothing applied twice;
``docker compose down`` and up again with the data kept.

Opt-in: ``CDHT_TEST_DOCKER=1`` with a Docker engine and the Compose plugin (.ci/run's compose
step). Run with -s: the time of each part and ``docker stats`` beside the compose limits are
printed for CI's log.
"""
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests
from lxml import html

from tests.deploy.drive import (
    assert_each_recognised_once, call, make_ward, progress, recognise, recognise_during,
    wait_until,
)
from tests.deploy.stack import (
    APP_SERVICES, Stack, fixed_ports, fresh_copy, localhost_names, require_engine_and_images, say,
    taken_down,
)
from tests.e2e.portal.client import PortalClient, text_of

WANTED = os.environ.get("CDHT_TEST_DOCKER") == "1"
pytestmark = pytest.mark.skipif(not WANTED, reason="compose-backed: set CDHT_TEST_DOCKER=1 "
                                "(a Docker engine and deploy/images/build.sh; .ci/compose does)")

STREAM = int(os.environ.get("CDHT_STACK_RECOGNITIONS", "240"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    require_engine_and_images()
    started = time.monotonic()
    tree = fresh_copy(tmp_path_factory.mktemp("clone") / "cdht")
    stack = Stack(tree, f"cdht-stack-{os.getpid()}")
    stack.write_env(**fixed_ports())
    say(f"fresh copy and .env in {time.monotonic() - started:.1f} s")
    with taken_down(stack, request, tail=150):
        took = stack.up()
        say(f"bin/up (images built, compose up -d --build --wait) in {took:.0f} s")
        yield stack


@pytest.fixture(scope="module")
def admin(stack):
    return {"Authorization": f"Bearer {stack.token()}"}


# ---------------------------------------------------------------------------------- tests ----
def test_every_container_is_healthy_and_migrate_ran(stack):
    rows = {c["Service"]: c for c in stack.containers()}
    assert set(rows) == {"rabbitmq", "postgres", "migrate", "mailcatcher", "portal", "idp",
                         *APP_SERVICES}, rows
    for service, row in rows.items():
        if service == "migrate":
            assert row["State"] == "exited" and row["ExitCode"] == 0, row
        else:
            assert (row["State"], row["Health"]) == ("running", "healthy"), row
    for service in APP_SERVICES:
        health = requests.get(stack.url(service) + "/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    # the portal reaches its database and the provider, at the issuer browsers use too
    health = requests.get(stack.portal_url() + "/health", timeout=10)
    assert health.json() == {"status": "ok", "database": "ok", "identity_provider": "ok"}, \
        health.text
    images = {c["Service"]: c["Image"] for c in stack.containers()}
    assert images["idp"] == "cdht-idp:latest" and images["portal"] == images["registry"]
    assert images["postgres"] == "cdht-postgres:15" and images["rabbitmq"] == "cdht-rabbitmq:3.10"
    # the compose file's settings reach the package-built server (its start script)
    shown = stack.exec("postgres", "psql", "-U", "cdht", "-d", "postgres", "-At",
                       "-c", "SHOW shared_buffers", "-c", "SHOW max_wal_size",
                       "-c", "SHOW checkpoint_timeout").stdout.split()
    assert shown == ["512MB", "16GB", "30min"], shown
    stack.print_stats("at rest")


def test_the_image_holds_no_test_or_profiling_tool(stack):
    """requirements-dev.txt stays out of the image: none of its tools can be imported there."""
    probe = ("import importlib.util as u; print(','.join(m for m in ('pytest', 'schemathesis',"
             " 'hypothesis', 'playwright', 'py_spy', 'aiosmtpd', 'compose') if u.find_spec(m)))")
    found = stack.exec("registry", "python", "-c", probe).stdout.strip()
    assert found == "", f"test or profiling packages in the image: {found}"
    generator = stack.exec("registry", "python", "-c", "import importlib.util as u; "
                           "print(u.find_spec('cdht_tools.generator') is None)").stdout.strip()
    assert generator == "True", "the synthetic-province generator is in the image"
    user = stack.exec("registry", "id", "-u").stdout.strip()
    assert user == "10001"


def test_whole_system_against_the_containers(stack, admin):
    started = time.monotonic()
    seeded = stack.cli("seed", "demo", "--people", "60", timeout=600)
    say(f"cdht seed demo --people 60 (in the registry container) in "
        f"{time.monotonic() - started:.0f} s")
    assert "Traceback" not in seeded.stderr, seeded.stderr
    people = call("GET", stack.url("registry") + "/people?limit=1", headers=admin).json()
    assert people["total"] >= 60

    started = time.monotonic()
    tag = uuid.uuid4().hex[:6].upper()
    ward, official, [(citizen, email, name)] = make_ward(stack, admin, tag, 1)
    before = progress(stack, admin, ward)
    assert before["titled"] == 0, before
    recognise(stack.urls(), admin, official, citizen)
    after = wait_until(lambda: (p := progress(stack, admin, ward))["titled"] == 1 and p,
                       30, f"reporting counts the title in {ward}")
    titled = next(i for i in after["indicators"] if i["indicator"] == "adults_titled")
    every = next(p for p in titled["populations"] if p["rule"] == "all_adults")
    assert every["numerator"] == 1, titled  # in no recognised group: counted among all adults
    mails = wait_until(lambda: stack.mails(to=email), 60,
                       f"the congratulation mail to {email} in the mail catcher")
    assert len(mails) == 1, mails
    assert name in mails[0]["subject"] + mails[0]["text"], mails[0]
    say(f"submit → review → decide → figure and mail in {time.monotonic() - started:.1f} s")

    # the title's proof from the assessment container: its certificate drawn with the image's
    # fonts, its code verified publicly (no token), its issuer's key published
    assessment = stack.url("assessment")
    title = call("GET", f"{assessment}/recognitions?person_id={citizen}",
                 headers=admin).json()["items"][0]
    pdf = call("GET", f"{assessment}/recognitions/{title['recognition_id']}/certificate.pdf",
               headers=admin)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    proof = call("GET", f"{assessment}/recognitions/{title['recognition_id']}/credential",
                 headers=admin).json()
    shown = call("GET", f"{assessment}/verifications/{proof['verification_code']}").json()
    assert (shown["holder_name"], shown["status"]) == (name, "valid"), shown
    keys = call("GET", f"{assessment}/issuers/{proof['issuer']['unit_code']}/jwks").json()
    assert proof["jwt"].split(".")[0] and keys["keys"], keys


def test_a_user_signs_in_at_the_portal_through_the_idp_container(stack, admin):
    """bin/up's .env starts the idp profile: admin signs in at its sign-in form, reached at the
    issuer's address (idp.localhost, as a browser resolves it), and comes back to the portal's
    home page; a search page then shows a person of the demo data, which the portal read from
    registry with the provider's access token (the registry container reaching the same
    issuer, through the network alias, for its keys)."""
    env = stack.env()
    issuer = env["OIDC_ISSUER"]
    assert issuer == f"http://idp.localhost:{env['IDP_PORT']}"
    person = call("GET", stack.url("registry") + "/people?limit=1", headers=admin).json()
    name = person["items"][0]["full_name"]
    started = time.monotonic()
    with localhost_names():
        browser = PortalClient(stack.portal_url())
        home = browser.sign_in("admin", env["IDP_ADMIN_PASSWORD"])
        took = time.monotonic() - started
        assert home.status_code == 200, home.text[:2000]
        assert home.url == stack.portal_url() + "/", browser.visited
        assert any(url.startswith(issuer + "/interaction/") for url in browser.visited), \
            browser.visited  # the provider's own sign-in form, in the idp container
        page = html.fromstring(home.text)
        assert "Quản trị viên" in page.text_content()
        found = browser.get("/people?" + urlencode({"q": name}))
    assert found.status_code == 200, found.text[:2000]
    rows = text_of(html.fromstring(found.text), "table tbody tr")
    assert any(name in row for row in rows), found.text[-3000:]
    say(f"sign-in at the portal through the idp container in {took:.1f} s; "
        f"{stack.portal_url()}/people answered from registry")


def _kill(stack, service):
    """SIGKILL of the container's main process, as a crash or the OOM killer would do it
    (``docker kill`` counts as a deliberate stop, which restart policies leave stopped)."""
    container = stack.container_id(service)
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}} {{.RestartCount}}",
                            container], capture_output=True, text=True, check=True).stdout
    pid, restarts = map(int, state.split())
    os.kill(pid, signal.SIGKILL)
    return container, restarts


def test_killed_services_come_back_and_nothing_is_lost_or_doubled(stack, admin):
    tag = uuid.uuid4().hex[:6].upper()
    started = time.monotonic()
    ward, official, citizens = make_ward(stack, admin, tag, STREAM)
    say(f"{STREAM} people registered in {time.monotonic() - started:.0f} s")
    urls = stack.urls()
    kills_over = threading.Event()

    def killer(done):
        try:
            time.sleep(3)
            stack.print_stats("under the stream")
            for service in APP_SERVICES:
                t0 = time.monotonic()
                container, restarts = _kill(stack, service)

                def back():
                    info = subprocess.run(
                        ["docker", "inspect", "-f", "{{.RestartCount}} {{.State.Status}}",
                         container], capture_output=True, text=True).stdout.split()
                    if int(info[0]) <= restarts or info[1] != "running":
                        return False
                    return requests.get(urls[service] + "/health", timeout=3).status_code == 200
                wait_until(back, 120, f"{service} restarted by its restart policy")
                say(f"{service}: killed, restarted and healthy again in "
                    f"{time.monotonic() - t0:.1f} s ({len(done)}/{STREAM} recognised so far)")
                time.sleep(2)
        finally:
            kills_over.set()

    stream_started = time.monotonic()
    # paced so that the stream outlasts the four kills
    done, errors = recognise_during(killer, urls, admin, official, citizens, pace=0.25, spread=6)
    assert not errors, errors[:5]
    assert len(done) == STREAM
    say(f"stream of {STREAM} recognitions with four kills in "
        f"{time.monotonic() - stream_started:.0f} s")
    assert kills_over.is_set()

    titled, total, mailed = assert_each_recognised_once(stack, admin, ward, citizens)
    say(f"after the kills: {titled} titles in reporting, {total} recognitions, {mailed} "
        "citizens mailed once each; nothing lost, nothing doubled")
    stack.print_stats("after the stream")


def test_down_and_up_keeps_the_data(stack, admin):
    people = call("GET", stack.url("registry") + "/people?limit=1", headers=admin).json()["total"]
    units = call("GET", stack.url("reporting") + "/units", headers=admin).json()
    mails = [json.dumps(m, sort_keys=True) for m in stack.mails()]
    started = time.monotonic()
    down = stack.down(volumes=False)
    assert down.returncode == 0, down.stderr
    assert not stack.compose("ps", "-q").stdout.strip()
    stack.compose("up", "-d", "--wait", timeout=600)
    say(f"compose down, then up -d --wait (volumes kept) in {time.monotonic() - started:.0f} s")
    fresh_admin = {"Authorization": f"Bearer {stack.token()}"}
    assert call("GET", stack.url("registry") + "/people?limit=1",
                headers=fresh_admin).json()["total"] == people
    assert call("GET", stack.url("reporting") + "/units", headers=fresh_admin).json() == units
    # every mail caught before is still there (notifications may still be sending the last
    # review requests of the stream: more may come, none may go)
    after = {json.dumps(m, sort_keys=True) for m in stack.mails()}
    assert set(mails) <= after and len(mails) <= len(after)
