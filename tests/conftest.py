"""Root fixtures: real PostgreSQL and RabbitMQ, one fresh vhost per test, one database per
service and test run (``cdht_test_<pid>_<service>``) migrated once per session and emptied between tests.

With a Docker engine and ``CDHT_TEST_DOCKER=1``, pytest-docker brings PostgreSQL and RabbitMQ
up from docker-compose.yml first; otherwise the servers already running on this machine are
used, and a clear message names the one that is missing.
"""
import os

os.environ.setdefault("EVENTLET_TESTS", "1")  # silence eventlet's deprecation banner

import eventlet  # noqa: E402

eventlet.monkey_patch()  # must precede every other import (docs/architecture.md §D9)

import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urljoin  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from cdht.config import SERVICES, load_config  # noqa: E402
from tests.support import (  # noqa: E402
    TEST_CREDENTIAL_KEY_SECRET, TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, bearer, empty_databases,
    free_port, wait_for,
)

ROOT = Path(__file__).resolve().parent.parent


RUN_ID = os.getpid()  # parallel pytest runs on one machine must not share databases


def test_database_url(service):
    return f"{PG_URL}/cdht_test_{RUN_ID}_{service}"


def _reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _docker_engine():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


# -- pytest-docker: only with an engine and the opt-in variable ----------------------------
USE_DOCKER = os.environ.get("CDHT_TEST_DOCKER") == "1" and _docker_engine()
DOCKER_ENV = ROOT / "tests" / "docker-test.env"

if USE_DOCKER:  # the stack's own users and passwords (tests/docker-test.env)
    PG_URL = "postgresql+psycopg2://cdht:cdht-test@127.0.0.1:5432"
else:
    PG_URL = os.environ.get("CDHT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")


def pytest_configure(config):
    if USE_DOCKER:  # nameko's plugin makes a vhost per test through these
        config.option.RABBIT_AMQP_URI = "pyamqp://cdht:cdht-test@127.0.0.1:5672/"
        config.option.RABBIT_API_URI = "http://cdht:cdht-test@127.0.0.1:15672"


@pytest.fixture(scope="session")
def docker_compose_file():
    # the dev override publishes PostgreSQL and RabbitMQ on loopback for the tests
    return [str(ROOT / "docker-compose.yml"), str(ROOT / "docker-compose.dev.yml")]


@pytest.fixture(scope="session")
def docker_compose_command():
    return f"docker compose --env-file {DOCKER_ENV}"


@pytest.fixture(scope="session")
def docker_setup():
    return ["up -d --wait rabbitmq postgres"] if USE_DOCKER else False  # services run locally


@pytest.fixture(scope="session")
def docker_cleanup():
    return ["down -v"] if USE_DOCKER else False


@pytest.fixture(scope="session", autouse=True)
def backing_servers(request):
    if USE_DOCKER:
        services = request.getfixturevalue("docker_services")
        services.wait_until_responsive(lambda: _reachable("127.0.0.1", 5432)
                                       and _reachable("127.0.0.1", 5672), timeout=120, pause=1)
    missing = [name for name, port in (("PostgreSQL", 5432), ("RabbitMQ", 5672),
                                       ("RabbitMQ management", 15672))
               if not _reachable("127.0.0.1", port)]
    if missing:
        pytest.exit("not reachable on 127.0.0.1: " + ", ".join(missing) +
                    " (start them, or run with CDHT_TEST_DOCKER=1 where Docker runs)", 3)


# -- databases -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def migrated_databases(backing_servers):
    """Every service's test database, dropped, created and migrated once per session."""
    from cdht import db
    for service in SERVICES:
        url = test_database_url(service)
        db.drop_database(url)
        db.upgrade(service, url=url)
    yield {service: test_database_url(service) for service in SERVICES}
    for service in SERVICES:
        db.drop_database(test_database_url(service))


@pytest.fixture
def databases(migrated_databases):
    """Test database URLs per service, emptied before each test."""
    empty_databases(migrated_databases)
    return migrated_databases


@pytest.fixture
def engines(databases):
    made = {service: create_engine(url) for service, url in databases.items()}
    yield made
    for engine in made.values():
        engine.dispose()


# -- service configs ---------------------------------------------------------------------------
@pytest.fixture
def service_config(rabbit_config, databases):
    """``service_config("registry", **overrides)``: the service's own config.yaml, pointed at
    this test's vhost and database, on a free HTTP port, with short retry delays, the
    tests' token public key (tests.support.TEST_PUBLIC_KEYS) and assessment's key-encryption
    secret (TEST_CREDENTIAL_KEY_SECRET)."""
    def make(service, **overrides):
        config = load_config(service)
        config.update({
            "AMQP_URI": rabbit_config["AMQP_URI"],
            "DATABASE_URL": databases[service],
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
            "RETRY_DELAYS_MS": [100, 200, 400],
            "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS,
        })
        if service == "assessment":
            config["CREDENTIAL_KEY_SECRET"] = TEST_CREDENTIAL_KEY_SECRET
        config.pop("LOGGING", None)
        config.update(overrides)
        return config
    return make


@pytest.fixture
def web_session():
    """nameko's fixture imports werkzeug.urls.url_join, gone in Werkzeug 3 (docs/architecture.md §D9).

    ``web_session(config)`` sends an admin token by default (signed with the tests'
    TEST_SIGNING_KEY); ``web_session(config, role=..., unit_code=..., subject=...)`` another
    caller's; ``auth=False`` none at all; ``auth="<token>"`` that token."""
    import requests

    class Session(requests.Session):
        base_url = None

        def request(self, method, url, *args, **kwargs):
            return super().request(method, urljoin(self.base_url, url), *args, **kwargs)

    def for_config(config, auth=True, **caller):
        session = Session()
        session.base_url = f"http://{config['WEB_SERVER_ADDRESS']}/"
        if auth is True:
            session.headers.update(bearer(TEST_SIGNING_KEY, **caller))
        elif auth:
            session.headers["Authorization"] = f"Bearer {auth}"
        return session
    return for_config


# -- events --------------------------------------------------------------------------------
@pytest.fixture
def publish(rabbit_config):
    """``publish(producer, body, routing_key=None, content_type=...)``: put a message on
    ``<producer>.events`` exactly as the outbox relay does (persistent, with confirms)."""
    from kombu import Connection
    from nameko.standalone.events import get_event_exchange

    def send(producer, body, routing_key=None, content_type="application/json"):
        exchange = get_event_exchange(producer, {})
        if isinstance(body, dict):
            routing_key = routing_key or body.get("event_type")
        with Connection(rabbit_config["AMQP_URI"],
                        transport_options={"confirm_publish": True}) as conn:
            conn.Producer().publish(
                body, exchange=exchange, routing_key=routing_key, delivery_mode=2,
                declare=[exchange],
                **({"serializer": "json"} if isinstance(body, dict)
                   else {"content_type": content_type, "content_encoding": "utf-8"}))
    return send


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    return wait_for


# -- a real OpenID provider ------------------------------------------------------------------
@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory):
    """deploy/idp's OpenID provider as a local process (tests.idp), with one account per
    kind of caller: ``identity_provider.people[name]`` is the account (username, password,
    sub, claims) of admin, province_staff (unit AG), commune_staff, reviewer and citizen
    (unit AG.LX; the citizen's sub a UUID), and norole (no cdht_role)."""
    from tests import idp
    missing = idp.missing_requirement()
    if missing:
        pytest.skip(f"no OpenID provider for the tests: {missing}")
    people = {name: idp.account(name, role, unit) for name, role, unit in (
        ("admin", "admin", None), ("province_staff", "province_staff", "AG"),
        ("commune_staff", "commune_staff", "AG.LX"), ("reviewer", "reviewer", "AG.LX"),
        ("citizen", "citizen", "AG.LX"), ("norole", None, "AG.LX"))}
    provider = idp.IdentityProvider(tmp_path_factory.mktemp("idp"),
                                    accounts=list(people.values()))
    provider.people = people
    provider.start()
    yield provider
    provider.stop()
