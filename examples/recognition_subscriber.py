#!/usr/bin/env python3
"""Subscribe to CDHT's recognition events from a process of your own.

A runnable example for integrators (docs/integrator-guide.md). It needs only Python 3.11 and
kombu (``pip install kombu``): no CDHT code. It

- declares its own durable queue, bound to the durable topic exchange ``assessment.events``
  with the routing keys ``recognition_granted`` (a decision on one self-assessment),
  ``recognitions_granted`` (closing a year: up to 500 recognitions in one event, each item a
  recognition_granted's data) and ``recognition_revoked``, so events wait there while this
  process is down;
- records each event in a SQLite file, in one transaction with the event's ``event_id``, and
  acknowledges the message only after that commit: a crash before the ack means a
  redelivery, which the stored ``event_id`` turns into a no-op (CDHT delivers at least once);
- checks ``schema_version``: a version it does not know is rejected to the queue's own
  dead-letter queue (``<queue>.dead``) instead of being half-understood;
- prints one JSON line per message: ``{"outcome": "granted" | "revoked" | "duplicate" |
  "rejected", ...}`` (a closing's event: ``"recognitions"``, how many it held).

    python examples/recognition_subscriber.py --amqp-uri amqp://user:pass@host:5672/ \\
        --queue partner.recognitions --db recognitions.sqlite3

``--max-events N`` stops after N messages and ``--timeout S`` after S seconds (exit code 3 if
the N were not all received by then), so that a test or a cron job can run it.
"""
import argparse
import json
import os
import signal
import sqlite3
import sys
import time

from kombu import Connection, Exchange, Queue

EXCHANGE = "assessment.events"
ROUTING_KEYS = ("recognition_granted", "recognitions_granted", "recognition_revoked")
KNOWN_VERSIONS = {"recognition_granted": {1}, "recognitions_granted": {1},
                  "recognition_revoked": {1}}
ENVELOPE_FIELDS = ("event_id", "event_type", "schema_version", "occurred_at", "producer",
                   "correlation_id", "data")


class Rejected(ValueError):
    """A message this subscriber can never handle: retrying would not help."""


# -- storage: what this integrator keeps (here: the titles currently held) --------------------
def open_store(path):
    store = sqlite3.connect(path, isolation_level=None)  # transactions are explicit below
    store.executescript("""
        CREATE TABLE IF NOT EXISTS processed_events (
            event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, processed_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS titles (
            recognition_id TEXT PRIMARY KEY, person_id TEXT NOT NULL, year INTEGER NOT NULL,
            unit_code TEXT NOT NULL, total_score INTEGER, revoked_reason TEXT);
    """)
    return store


def handle(store, envelope):
    """Apply one event once. Returns what happened; raises Rejected for what can't be."""
    missing = [f for f in ENVELOPE_FIELDS if f not in envelope]
    if missing:
        raise Rejected(f"not a CDHT envelope (missing {', '.join(missing)})")
    event_type, version = envelope["event_type"], envelope["schema_version"]
    if event_type not in KNOWN_VERSIONS:
        raise Rejected(f"unexpected event type {event_type!r}")
    if version not in KNOWN_VERSIONS[event_type]:
        raise Rejected(f"{event_type} schema_version {version!r} is unknown here "
                       f"(known: {sorted(KNOWN_VERSIONS[event_type])}); upgrade the subscriber")
    data = envelope["data"]
    store.execute("BEGIN IMMEDIATE")
    try:
        seen = store.execute("SELECT 1 FROM processed_events WHERE event_id = ?",
                             (envelope["event_id"],)).fetchone()
        if seen:
            store.execute("ROLLBACK")
            return "duplicate"
        if event_type in ("recognition_granted", "recognitions_granted"):
            store.executemany(
                "INSERT INTO titles (recognition_id, person_id, year, unit_code, total_score) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (recognition_id) DO UPDATE SET "
                "revoked_reason = NULL",
                [(r["recognition_id"], r["person_id"], r["year"], r["unit_code"],
                  r["total_score"]) for r in data.get("recognitions", [data])])
            outcome = "granted"
        else:
            store.execute("UPDATE titles SET revoked_reason = ? WHERE recognition_id = ?",
                          (data["reason"], data["recognition_id"]))
            outcome = "revoked"
        store.execute("INSERT INTO processed_events VALUES (?, ?, datetime('now'))",
                      (envelope["event_id"], event_type))
        store.execute("COMMIT")
        return outcome
    except Exception:
        store.execute("ROLLBACK")
        raise


# -- the AMQP side ------------------------------------------------------------------------
def declare(channel, queue_name):
    """The exchange (as CDHT declares it), this subscriber's queue and its dead-letter queue."""
    exchange = Exchange(EXCHANGE, type="topic", durable=True)
    dead = Queue(f"{queue_name}.dead", durable=True)
    dead(channel).declare()
    queue = Queue(queue_name, exchange=exchange, routing_key=ROUTING_KEYS[0], durable=True,
                  queue_arguments={"x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": f"{queue_name}.dead"})
    bound = queue(channel)
    exchange(channel).declare()
    bound.declare()
    for key in ROUTING_KEYS[1:]:
        bound.bind_to(exchange=exchange, routing_key=key)
    return bound


def emit(**fields):
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp-uri", default=os.environ.get(
        "AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"), help="the broker (env AMQP_URI)")
    parser.add_argument("--queue", default="partner.recognitions",
                        help="this subscriber's durable queue (one name per subscribing "
                             "system; its instances share it)")
    parser.add_argument("--db", default="recognitions.sqlite3", help="the SQLite file")
    parser.add_argument("--max-events", type=int, help="stop after this many messages")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds")
    args = parser.parse_args(argv)

    store = open_store(args.db)
    counted = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))

    def on_message(body, message):
        nonlocal counted
        counted += 1
        envelope = None
        try:
            envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
            if not isinstance(envelope, dict):
                raise Rejected("the body is not a JSON object")
            outcome = handle(store, envelope)
        except (Rejected, ValueError, KeyError, TypeError) as exc:
            message.reject(requeue=False)  # to <queue>.dead, for a person to look at
            emit(outcome="rejected", reason=str(exc),
                 event_id=(envelope.get("event_id") if isinstance(envelope, dict) else None))
            return
        message.ack()  # only now: the event is committed in the store
        data = envelope["data"]
        facts = ({"recognitions": len(data["recognitions"])} if "recognitions" in data else
                 {"recognition_id": data["recognition_id"], "person_id": data["person_id"],
                  "year": data["year"]})
        emit(outcome=outcome, event_id=envelope["event_id"],
             event_type=envelope["event_type"], correlation_id=envelope["correlation_id"],
             **facts)

    started = time.monotonic()
    with Connection(args.amqp_uri, heartbeat=30) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 10, False)  # at most 10 unacknowledged messages at a time
        queue = declare(channel, args.queue)

        def on_undecodable(message, exc):  # not JSON at all: dead-letter it, don't loop on it
            nonlocal counted
            counted += 1
            message.reject(requeue=False)
            emit(outcome="rejected", reason=f"undecodable body: {exc}", event_id=None)

        consumer = connection.Consumer(queue, callbacks=[on_message], accept=["json"],
                                       on_decode_error=on_undecodable)
        consumer.consume()
        emit(ready=True, queue=args.queue, exchange=EXCHANGE, routing_keys=list(ROUTING_KEYS))
        while not stop:
            if args.max_events is not None and counted >= args.max_events:
                break
            if args.timeout is not None and time.monotonic() - started > args.timeout:
                if args.max_events is not None:
                    emit(timeout=True, received=counted, expected=args.max_events)
                    return 3
                break
            try:
                connection.drain_events(timeout=1)
            except TimeoutError:
                connection.heartbeat_check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
