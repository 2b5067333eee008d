"""Helpers shared by the test suites (fixtures live in the conftest.py files)."""
import contextlib
import socket
import time
import uuid

import pytest
from sqlalchemy import create_engine, text


# The tests' token key pair: the signing key stays with the tests (token(), bearer()), the
# public key is what service_config gives every service (AUTH_PUBLIC_KEYS).
TEST_SIGNING_KEY = "cdht-tests:MC4CAQAwBQYDK2VwBCIEIGNkaHQtdGVzdHMtdG9rZW4tc2lnbmluZy1zZWVkLTAx"
TEST_PUBLIC_KEYS = "cdht-tests:MCowBQYDK2VwAyEA5KG/x7OcIz34tTrojkwUsWdSmxNhrrHJ0+mlktAhUV0="
# The secret assessment encrypts the issuers' signing keys with (CREDENTIAL_KEY_SECRET).
TEST_CREDENTIAL_KEY_SECRET = "Y2RodC10ZXN0cy1jcmVkZW50aWFsLWtleS1zZWNyZXQ"


def token(signing_key=TEST_SIGNING_KEY, role="admin", unit_code=None, subject="test-admin",
          ttl_seconds=3600):
    """A bearer token for a caller (an admin by default)."""
    from cdht.auth import mint_token
    return mint_token(signing_key, subject=str(subject), role=role, unit_code=unit_code,
                      ttl_seconds=ttl_seconds)


def bearer(signing_key=TEST_SIGNING_KEY, **caller):
    """An Authorization header for a caller (an admin by default)."""
    return {"Authorization": f"Bearer {token(signing_key, **caller)}"}


def empty_databases(urls, attempts=5):
    """Truncate every table but alembic_version. A service of an earlier test that is still
    finishing a transaction can make the TRUNCATE a deadlock victim: wait and try again."""
    from sqlalchemy.exc import OperationalError
    for url in urls.values():
        engine = create_engine(url)
        for attempt in range(1, attempts + 1):
            try:
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                    # past the triggers that keep the personal data audit append-only
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    tables = conn.scalars(text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'")).all()
                    if tables:
                        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) +
                                          " RESTART IDENTITY CASCADE"))
                break
            except OperationalError as error:
                if attempt == attempts or getattr(error.orig, "pgcode", None) not in (
                        "40P01", "55P03"):  # deadlock_detected, lock_not_available
                    raise
                time.sleep(0.5 * attempt)
        engine.dispose()


@contextlib.contextmanager
def migrated_back(service, revision, url):
    """``service``'s database at ``revision`` for a migration's test, back at head after."""
    from cdht import db
    db.downgrade(service, revision, url=url)
    try:
        yield
    finally:
        db.upgrade(service, url=url)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a truthy value; fail with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class EventTap:
    """Every event ``producer`` publishes, as received from RabbitMQ: bind it before the
    service starts, so nothing is missed."""

    def __init__(self, amqp_uri, producer="registry"):
        from kombu import Connection, Queue
        from nameko.standalone.events import get_event_exchange
        self.connection = Connection(amqp_uri)
        self.channel = self.connection.channel()
        queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", exchange=get_event_exchange(
            producer, {}), routing_key="#", exclusive=True)
        self.queue = queue(self.channel)
        self.queue.declare()
        self.received = []

    def drain(self):
        while (message := self.queue.get(no_ack=True, accept=["json"])) is not None:
            self.received.append(message.payload)
        return self.received

    def of_type(self, event_type):
        return [m for m in self.drain() if m["event_type"] == event_type]

    def close(self):
        self.connection.release()


def recognition_granted(unit_path=("AG", "AG.LX")):
    """A valid recognition_granted envelope for a resident of the unit at ``unit_path``."""
    from cdht.contracts import make_envelope
    return make_envelope("recognition_granted", {
        "recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
        "person_id": uuid.uuid4(), "unit_code": unit_path[-1], "unit_path": list(unit_path),
        "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
        "total_score": 85, "digital_skills": "basic"}, producer="assessment")
