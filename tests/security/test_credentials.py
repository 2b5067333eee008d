"""Each service on keys of its own (cdht_tools.credentials, ``cdht provision``), and a
compromised service simulated with them: it is refused by the other services' databases,
exchanges, queues and RPC methods, and an event it forges in another's name is dead-lettered.

The four services run as real processes, each with its own PostgreSQL run-time role and its
own RabbitMQ user, made by ``cdht provision`` and migrated by ``cdht db upgrade`` under the
owner roles, exactly as the compose stack's ``migrate`` step does; the whole central flow
(registration → self-assessment → review → recognition → figures → mail) must still work.
"""
import json
import os
import subprocess
import sys
import uuid

import amqp
import pytest
import requests
from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cdht.consumer import event_handlers
from cdht.contracts import make_envelope
from cdht.config import ROOT, SERVICES
from tests.conftest import PG_URL
from tests.e2e import conftest as e2e
from tests.e2e.conftest import System
from tests.e2e.test_central_flow import SCORES_PASS, assess, register
from tests.support import TEST_PUBLIC_KEYS, free_port, wait_for

pytestmark = pytest.mark.e2e
smtp = e2e.smtp  # the fixture: a real SMTP server for the module
RUN = uuid.uuid4().hex[:6]
MANAGEMENT = "http://guest:guest@127.0.0.1:15672"


def names(service):
    """(run-time role, owner role, database, broker user, password) of a service here."""
    base = f"cdht_t{RUN}_{service}"
    return base, f"{base}_owner", base, f"cdht-t{RUN}-{service}", uuid.uuid4().hex


@pytest.fixture(scope="module")
def keys(backing_servers):
    """Provision every service's roles and user, then migrate as the owners (real CLI)."""
    vhost = f"cdht-keys-{RUN}"
    api = requests.Session()
    api.auth = ("guest", "guest")
    api.put(f"http://127.0.0.1:15672/api/vhosts/{vhost}", timeout=15).raise_for_status()
    api.put(f"http://127.0.0.1:15672/api/permissions/{vhost}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            timeout=15).raise_for_status()
    found, env = {}, {"POSTGRES_ADMIN_URL": PG_URL + "/postgres",
                      "RABBITMQ_ADMIN_URL": MANAGEMENT}
    for service in SERVICES:
        runtime, owner, database, user, password = names(service)
        host = make_url(PG_URL)
        found[service] = {
            "database_url": str(host.set(username=runtime, password=password,
                                         database=database).render_as_string(False)),
            "migration_url": str(host.set(username=owner, password=password,
                                          database=database).render_as_string(False)),
            "amqp_uri": f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}",
            "user": user, "runtime": runtime, "owner": owner, "database": database}
        up = service.upper()
        env |= {f"{up}_DATABASE_URL": found[service]["database_url"],
                f"{up}_MIGRATION_DATABASE_URL": found[service]["migration_url"],
                f"{up}_AMQP_URI": found[service]["amqp_uri"]}
    for command in (["provision"], ["db", "upgrade", "all"]):
        done = subprocess.run([sys.executable, "-m", "cdht_tools", *command], cwd=ROOT,
                              env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr + done.stdout
    yield found | {"env": env, "vhost": vhost}
    api.delete(f"http://127.0.0.1:15672/api/vhosts/{vhost}", timeout=15)
    admin = create_engine(PG_URL + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for service in SERVICES:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{found[service]["database"]}" '
                              "WITH (FORCE)"))
            for role in (found[service]["runtime"], found[service]["owner"]):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()
    for service in SERVICES:
        api.delete(f"http://127.0.0.1:15672/api/users/{found[service]['user']}", timeout=15)


@pytest.fixture(scope="module")
def system(keys, smtp, tmp_path_factory):
    controller, _ = smtp
    env = {key: value for key, value in keys["env"].items()
           if not key.endswith(("_ADMIN_URL", "_MIGRATION_DATABASE_URL"))}
    env |= {"AMQP_URI": keys["registry"]["amqp_uri"], "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port), "RETRY_DELAYS_MS": "200,400,800",
            "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS}
    for service in SERVICES:
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    running = System(env, tmp_path_factory.mktemp("keys-logs"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def officials(system):
    from tests.e2e.test_central_flow import ASSOCIATIONS
    for unit in ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
                 {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward",
                  "parent_code": "AG"}):
        assert system.post("registry", "/units", unit).status_code == 201
    body = system.post("registry", "/association/bodies", {
        "kind": "commune_association", "name": ASSOCIATIONS["AG.LX"],
        "unit_code": "AG.LX"}).json()
    official, _ = register(system, unit="AG.LX", name="Trần Thị Chủ Tịch")
    assert system.post("registry", "/association/members", {
        "person_id": official, "body_id": body["id"], "role": "official",
        "joined_on": "2020-01-01"}).status_code == 201
    return {"AG.LX": official}


def test_the_central_flow_runs_with_each_service_on_its_own_keys(system, officials, smtp):
    _, inbox = smtp
    person_id, email = register(system, name="Nguyễn Văn An")
    decided = assess(system, officials, person_id, SCORES_PASS)
    assert decided["status"] == "recognised"
    wait_for(lambda: any(m[0] == [email] for m in inbox.mails), timeout=60,
             message="the congratulation mail (notifications asked registry.contact)")
    progress = wait_for(lambda: (lambda r: r if r.get("titled", 0) >= 1 else None)(
        system.get("reporting", "/units/AG.LX/progress?year=2025").json()), timeout=30,
        message="reporting's figure")
    assert progress


def _connect(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT current_user"))
    finally:
        engine.dispose()


def _refused(url, statement):
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    except DBAPIError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()
    return None


def test_a_service_role_opens_no_other_database(keys):
    own = make_url(keys["notifications"]["database_url"])
    assert _connect(str(own.render_as_string(False))) == keys["notifications"]["runtime"]
    for other in ("registry", "assessment", "reporting"):
        elsewhere = own.set(database=keys[other]["database"]).render_as_string(False)
        with pytest.raises(DBAPIError, match="permission denied"):
            _connect(elsewhere)


def test_a_service_role_changes_no_schema_and_no_audit_row(keys, system, officials):
    url = keys["registry"]["database_url"]
    assert _refused(url, "SELECT count(*) FROM people") is None
    for statement in ("CREATE TABLE stolen (x int)", "DROP TABLE people",
                      "ALTER TABLE people ADD COLUMN x int",
                      "UPDATE personal_data_audit SET actor = 'someone else'",
                      "DELETE FROM personal_data_audit", "TRUNCATE personal_data_audit",
                      "CREATE ROLE intruder SUPERUSER"):
        refusal = _refused(url, statement) or ""
        assert any(word in refusal for word in ("permission denied", "must be owner",
                                                "must be superuser")), statement
    assert _refused(url, "INSERT INTO outbox (event_id, event_type, payload) VALUES "
                         "(gen_random_uuid(), 'x', '{}')") is None  # its own rows: yes
    # statistics of what imports grow, through the owner's function, and nothing else
    assert _refused(url, "SELECT refresh_statistics('people')") is None
    assert "not a table imports grow" in _refused(
        url, "SELECT refresh_statistics('personal_data_audit')")


def _channel_refusal(uri, action):
    """The broker's reply code when ``action(channel)`` is refused, or None."""
    with Connection(uri) as conn:
        channel = conn.channel()
        try:
            action(channel)
            channel.basic_qos(0, 1, False)  # a round trip: an asynchronous refusal arrives
        except (amqp.exceptions.AccessRefused, amqp.exceptions.PreconditionFailed,
                amqp.exceptions.NotAllowed) as exc:
            return exc.reply_code
    return None


def test_a_broker_user_reaches_only_its_own_exchange_queues_and_calls(keys, system):
    reporting = keys["reporting"]["amqp_uri"]
    body = json.dumps({"x": 1})

    def publish(exchange, routing_key, **properties):
        return lambda channel: channel.basic_publish(
            amqp.Message(body, **properties), exchange=exchange, routing_key=routing_key)

    # another service's exchange
    assert _channel_refusal(reporting, publish("registry.events", "person_registered")) == 403
    # an RPC it does not use: the whole register of people by another door
    assert _channel_refusal(reporting, publish("nameko-rpc", "registry.contact")) == 403
    assert _channel_refusal(reporting, publish("nameko-rpc", "assessment.x")) == 403
    # its own calls are allowed (this one is no proper request: the registry drops it, and
    # lives on)
    assert _channel_refusal(reporting, publish("nameko-rpc", "registry.export_units")) is None
    # another's queue
    assert _channel_refusal(reporting, lambda ch: ch.basic_get("rpc-registry")) == 403
    assert _channel_refusal(reporting, lambda ch: ch.queue_declare("stolen")) == 403
    # another's name on its own messages: the broker checks user_id
    assert _channel_refusal(reporting, publish(
        "reporting.events", "x", user_id=keys["registry"]["user"])) == 406
    wait_for(lambda: "without a reply address" in system.log("registry"), timeout=15,
             message="the registry dropping the improper request")
    assert requests.get(system.url("registry", "/health"), timeout=10).status_code == 200


def test_an_event_forged_in_another_service_name_is_dead_lettered(keys, system, smtp):
    """Reporting's keys put a recognition_refused "from assessment" straight into the queue of
    notifications (the default exchange lets any user address any queue): it is not mailed,
    it is dead-lettered with the reason."""
    from services.notifications.service import NotificationsService
    _, inbox = smtp
    queue = next(name for _, name in event_handlers(NotificationsService)
                 if name.startswith("evt-assessment-recognition_refused--"))
    person_id, email = register(system, name="Lê Văn Bị Giả")
    envelope = make_envelope("recognition_refused", {
        "assessment_id": str(uuid.uuid4()), "person_id": person_id, "year": 2025,
        "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"], "criteria_version": "2025.1",
        "total_score": 10, "reasons": [{"kind": "reviewer", "indicator": None, "score": None,
                                        "maximum": None, "minimum": None, "total": None,
                                        "note": "Kẻ gian viết lý do"}]},
        producer="assessment", schema_version=2)
    with Connection(keys["reporting"]["amqp_uri"]) as conn:
        Producer(conn.channel()).publish(
            envelope.to_message(), exchange=Exchange(""), routing_key=queue,
            serializer="json", user_id=keys["reporting"]["user"], delivery_mode=2)
    dead = wait_for(lambda: (lambda r: r if r.get("messages", 0) >= 1 else None)(
        requests.get(f"http://127.0.0.1:15672/api/queues/{keys['vhost']}/{queue}.dead-letter",
                     auth=("guest", "guest"), timeout=10).json()), timeout=30,
        message="the forged event in the dead-letter queue")
    assert dead
    assert "sender" in system.log("notifications")
    assert not any(m[0] == [email] for m in inbox.mails)
