"""GET /health's checks (cdht.web.health_of) against the real PostgreSQL and RabbitMQ."""
from sqlalchemy.orm import sessionmaker

from cdht import web
from cdht.db import Transactions

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1


def _db(engine):
    return Transactions(sessionmaker(bind=engine))


def test_healthy_when_database_and_broker_answer(engines, rabbit_config):
    status, body = web.health_of(_db(engines["registry"]), rabbit_config["AMQP_URI"])
    assert (status, body) == (200, {"status": "ok", "database": "ok", "broker": "ok"})


def test_a_broker_that_does_not_answer_is_a_503_and_is_never_trusted_from_memory(engines):
    db = _db(engines["registry"])
    for _ in range(2):  # the second call must check again, not remember
        status, body = web.health_of(db, UNREACHABLE_BROKER)
        assert status == 503
        assert body["status"] == "degraded" and body["database"] == "ok"
        assert body["broker"].startswith("unreachable")


def test_a_broker_that_answered_is_trusted_only_for_a_few_seconds(engines, rabbit_config,
                                                                  monkeypatch):
    db, uri = _db(engines["registry"]), rabbit_config["AMQP_URI"]
    assert web.health_of(db, uri)[0] == 200
    # Within the window the broker is not asked again ...
    monkeypatch.setattr(web, "BROKER_OK_FOR_SECONDS", 3600.0)
    web._broker_ok_at[UNREACHABLE_BROKER] = web._broker_ok_at[uri]
    assert web.health_of(db, UNREACHABLE_BROKER)[0] == 200
    # ... after it, it is.
    monkeypatch.setattr(web, "BROKER_OK_FOR_SECONDS", 0.0)
    assert web.health_of(db, UNREACHABLE_BROKER)[0] == 503
    web._broker_ok_at.pop(UNREACHABLE_BROKER, None)
