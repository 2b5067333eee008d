"""examples/recognition_subscriber.py, the integrator guide's example, run as a separate
process against the real RabbitMQ (a fresh vhost), fed real envelopes (cdht.contracts) on the
``assessment.events`` exchange exactly as the outbox relay publishes them, a duplicate
included."""
import ast
import json
import os
import sqlite3
import subprocess
import sys
import uuid

import pytest
from kombu import Connection, Exchange
from nameko.standalone.events import get_event_exchange

from cdht.config import ROOT
from cdht.contracts import make_envelope

EXAMPLE = ROOT / "examples" / "recognition_subscriber.py"


def granted(person_id=None, recognition_id=None, correlation_id=None):
    return make_envelope("recognition_granted", {
        "recognition_id": recognition_id or str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
        "person_id": person_id or str(uuid.uuid4()), "target_group": "resident", "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 81, "digital_skills": "basic",
        "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]},
        producer="assessment", correlation_id=correlation_id).to_message()


def revoked(recognition_id, person_id):
    return make_envelope("recognition_revoked", {
        "recognition_id": recognition_id, "person_id": person_id, "year": 2025,
        "reason": "hồ sơ sai", "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]},
        producer="assessment").to_message()


def publish(amqp_uri, *messages):
    """As cdht.outbox's relay does: persistent JSON on the producer's topic exchange, routing
    key = event type, with publisher confirms."""
    exchange = get_event_exchange("assessment", {})
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for message in messages:
            producer.publish(message, exchange=exchange, routing_key=message["event_type"],
                             serializer="json", delivery_mode=2,
                             message_id=message["event_id"], declare=[exchange])


class Subscriber:
    """The example as a child process; ``lines()`` reads its JSON output."""

    def __init__(self, amqp_uri, db, *args):
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--amqp-uri", amqp_uri, "--db", str(db),
             "--queue", "partner.recognitions", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, cwd="/")
        ready = json.loads(self.process.stdout.readline() or "{}")
        assert ready.get("ready"), self.process.stderr.read()
        assert ready["exchange"] == "assessment.events"

    def finish(self, timeout=60):
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, [json.loads(line) for line in out.splitlines()], err


def test_the_example_imports_nothing_of_cdht():
    """Integrators don't have our code: only the standard library and kombu."""
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - set(sys.stdlib_module_names) == {"kombu"}


def test_subscriber_applies_each_event_once_and_dead_letters_the_unknown(rabbit_config,
                                                                         tmp_path):
    amqp = rabbit_config["AMQP_URI"]
    db = tmp_path / "recognitions.sqlite3"
    first = granted(correlation_id="partner-demo-1")
    second = granted()
    future = dict(granted(), schema_version=99)   # a version this subscriber does not know
    undo = revoked(first["data"]["recognition_id"], first["data"]["person_id"])
    refused = make_envelope("recognition_refused", {  # not bound: never reaches the queue
        "assessment_id": str(uuid.uuid4()), "person_id": str(uuid.uuid4()), "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 70, "reasons": ["79 < 80"],
        "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]},
        producer="assessment").to_message()

    subscriber = Subscriber(amqp, db, "--max-events", "5", "--timeout", "30")
    publish(amqp, first, refused, second, first, future, undo)   # `first` twice
    code, lines, err = subscriber.finish()
    assert code == 0, err
    assert [(line["outcome"], line["event_id"]) for line in lines] == [
        ("granted", first["event_id"]), ("granted", second["event_id"]),
        ("duplicate", first["event_id"]), ("rejected", future["event_id"]),
        ("revoked", undo["event_id"])]
    assert lines[0]["correlation_id"] == "partner-demo-1"
    assert "schema_version 99" in lines[3]["reason"]

    with sqlite3.connect(db) as store:
        titles = dict(store.execute("SELECT recognition_id, revoked_reason FROM titles"))
        assert titles == {first["data"]["recognition_id"]: "hồ sơ sai",
                          second["data"]["recognition_id"]: None}
        assert store.execute("SELECT count(*) FROM processed_events").fetchone()[0] == 3

    with Connection(amqp) as conn:
        channel = conn.channel()
        # every message was acked or dead-lettered: nothing left, the unknown version kept
        assert channel.queue_declare("partner.recognitions", passive=True).message_count == 0
        dead = channel.basic_get("partner.recognitions.dead", no_ack=True)
        assert dead is not None and json.loads(dead.body)["event_id"] == future["event_id"]

    # A redelivery after a restart (the ack was lost, say) is still a no-op: the queue is
    # durable and the event ids are in the SQLite file.
    again = Subscriber(amqp, db, "--max-events", "1", "--timeout", "30")
    publish(amqp, second)
    code, lines, err = again.finish()
    assert code == 0, err
    assert [(line["outcome"], line["event_id"]) for line in lines] == [
        ("duplicate", second["event_id"])]


def test_subscriber_takes_a_closings_recognitions_in_one_event(rabbit_config, tmp_path):
    """Closing a year sends recognitions_granted (up to 500 each), not one event a person."""
    amqp = rabbit_config["AMQP_URI"]
    db = tmp_path / "recognitions.sqlite3"
    items = [granted()["data"] for _ in range(3)]
    closing = make_envelope("recognitions_granted", {
        "closing_id": str(uuid.uuid4()), "recognitions": items}, producer="assessment",
        correlation_id="closing-2025").to_message()
    subscriber = Subscriber(amqp, db, "--max-events", "2", "--timeout", "30")
    publish(amqp, closing, closing)
    code, lines, err = subscriber.finish()
    assert code == 0, err
    assert [(line["outcome"], line.get("recognitions")) for line in lines] == [
        ("granted", 3), ("duplicate", 3)]
    with sqlite3.connect(db) as store:
        assert sorted(r for (r,) in store.execute("SELECT recognition_id FROM titles")) == \
            sorted(item["recognition_id"] for item in items)


def test_subscriber_reports_a_timeout(rabbit_config, tmp_path):
    subscriber = Subscriber(rabbit_config["AMQP_URI"], tmp_path / "r.sqlite3",
                            "--max-events", "1", "--timeout", "1")
    code, lines, _ = subscriber.finish()
    assert code == 3
    assert lines == [{"timeout": True, "received": 0, "expected": 1}]


@pytest.mark.parametrize("body, content_type", [(b"not json", "application/json"),
                                                (b"\x00\x01", "application/octet-stream")])
def test_subscriber_dead_letters_garbage(rabbit_config, tmp_path, body, content_type):
    amqp = rabbit_config["AMQP_URI"]
    subscriber = Subscriber(amqp, tmp_path / "r.sqlite3", "--max-events", "1",
                            "--timeout", "30")
    with Connection(amqp) as conn:
        conn.Producer().publish(body, exchange=Exchange("assessment.events", type="topic",
                                                        durable=True),
                                routing_key="recognition_granted", content_type=content_type,
                                content_encoding="binary")
    code, lines, err = subscriber.finish()
    assert code == 0, err
    assert lines[0]["outcome"] == "rejected"
    with Connection(amqp) as conn:
        assert conn.channel().queue_declare("partner.recognitions.dead",
                                            passive=True).message_count == 1
