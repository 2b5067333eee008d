"""Transactional outbox (docs/architecture.md §D3): an event is a row written in the same transaction
as the change it reports; the relay publishes rows in batches, each one AMQP transaction
(committed by the broker before the rows are marked), then marks them.

Failure cases and why nothing is lost:
- crash before commit: neither change nor event exists;
- crash after commit, before publish: the row stays unpublished and the next relay run
  (this process after a restart, or another instance) publishes it;
- crash after publish, before marking: the event is published again; consumers' inboxes drop
  the duplicate (at-least-once delivery, exactly-once effect).
"""
import logging
import time
from datetime import datetime, timezone

import eventlet
from kombu import Connection, Producer
from nameko.standalone.events import get_event_exchange
from sqlalchemy import (
    BigInteger, Column, DateTime, Index, Integer, String, Table, Text, func, select, update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from cdht import observability
from cdht.contracts import make_envelope
from cdht.identity import broker_user
from cdht.db import plumbing_metadata

log = logging.getLogger(__name__)

outbox_table = Table(
    "outbox", plumbing_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Index("ix_outbox_unpublished", "id", postgresql_where="published_at IS NULL"),
)


def add_event(session, event_type, data, *, producer, correlation_id=None, schema_version=1):
    """Validate an event against its contract and stage it in ``session``'s transaction.
    Without a ``correlation_id`` it carries the current worker's (the request or event that
    caused it)."""
    envelope = make_envelope(event_type, data, producer=producer, schema_version=schema_version,
                             correlation_id=correlation_id or
                             observability.current_correlation_id())
    session.execute(outbox_table.insert().values(
        event_id=envelope.event_id, event_type=event_type, payload=envelope.to_message()))
    session.info["outbox_rows"] = session.info.get("outbox_rows", 0) + 1
    return envelope


def add_events(session, event_type, datas, *, producer, correlation_id=None, schema_version=1):
    """``add_event`` for many events of one type: each validated, all staged in one INSERT."""
    correlation_id = correlation_id or observability.current_correlation_id()
    rows = []
    for data in datas:
        envelope = make_envelope(event_type, data, producer=producer,
                                 schema_version=schema_version, correlation_id=correlation_id)
        rows.append({"event_id": envelope.event_id, "event_type": event_type,
                     "payload": envelope.to_message()})
    if rows:
        session.execute(outbox_table.insert(), rows)
        session.info["outbox_rows"] = session.info.get("outbox_rows", 0) + len(rows)
    return len(rows)


def backlog(conn):
    """How many committed events wait to be published (for /health and /metrics)."""
    return conn.scalar(select(func.count()).select_from(outbox_table)
                       .where(outbox_table.c.published_at.is_(None)))


class Relay:
    """Publishes committed outbox rows to ``<producer>.events``, oldest first.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several instances of a service can
    relay side by side without publishing a row twice in the normal case.
    """

    def __init__(self, engine, amqp_uri, producer, *, config=None, batch_size=200,
                 poll_interval=1.0, max_backoff=30.0):
        self.engine = engine
        self.amqp_uri = amqp_uri
        self.user = broker_user(amqp_uri)
        self.metrics = observability.metrics(producer)
        self.exchange = get_event_exchange(producer, config or {})
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._wakeup = eventlet.event.Event()
        self._running = False
        self._connection = None
        self._channel = None

    # -- the loop run by the service container --------------------------------------------
    def run(self):
        self._running = True
        failures = 0
        while self._running:
            try:
                while self._running and self.relay_batch() == self.batch_size:
                    pass
                failures = 0
                self._wait(self.poll_interval)
            except Exception as exc:  # broker or database down: back off and try again
                failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** failures)
                log.warning("outbox relay failed (%s: %s); retrying in %.1fs",
                            type(exc).__name__, exc, delay)
                self._close_connection()
                self._wait(delay)

    def wake(self):
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def stop(self):
        self._running = False
        self.wake()
        self._close_connection()

    def _wait(self, seconds):
        with eventlet.Timeout(seconds, False):
            self._wakeup.wait()
        self._wakeup = eventlet.event.Event()

    # -- one batch -------------------------------------------------------------------------
    def relay_batch(self):
        """Publish up to ``batch_size`` unpublished rows; returns how many were published."""
        claimed = []
        try:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(outbox_table.c.id, outbox_table.c.event_id,
                           outbox_table.c.event_type, outbox_table.c.payload)
                    .where(outbox_table.c.published_at.is_(None))
                    .order_by(outbox_table.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                ).all()
                claimed = [r.id for r in rows]
                if not rows:
                    return 0
                producer = self._producer()
                for row in rows:
                    self._publish(producer, row)
                self._channel.tx_commit()  # the broker has every message of the batch
                conn.execute(update(outbox_table)
                             .where(outbox_table.c.id.in_(claimed))
                             .values(published_at=datetime.now(timezone.utc),
                                     attempts=outbox_table.c.attempts + 1, last_error=None))
        except Exception as exc:
            # Only now are the row locks released: recording the failure inside the claiming
            # transaction would wait on our own locks forever.
            if claimed:
                self._record_failure(claimed, exc)
            raise
        for row in rows:
            self.metrics.outbox_published.labels(row.event_type).inc()
        return len(claimed)

    def _publish(self, producer, row):
        payload = row.payload
        producer.publish(
            payload,
            exchange=self.exchange,
            routing_key=row.event_type,
            serializer="json",
            delivery_mode=2,
            message_id=str(row.event_id),
            user_id=self.user,  # the broker checks it: consumers trust it (cdht.identity)
            headers={"nameko.correlation_id": payload.get("correlation_id") or ""},
            declare=[self.exchange],
            retry=False,
        )

    def _record_failure(self, ids, exc):
        try:
            with self.engine.begin() as conn:
                conn.execute(update(outbox_table)
                             .where(outbox_table.c.id.in_(ids))
                             .values(attempts=outbox_table.c.attempts + 1,
                                     last_error=f"{type(exc).__name__}: {exc}"[:1000]))
        except Exception:  # the database may be the thing that is down
            log.debug("could not record outbox failure", exc_info=True)

    def _producer(self):
        """A producer on a channel in AMQP transaction mode: ``tx_commit`` answers once the
        broker has enqueued (for durable queues, written to disk) every message published
        since the last commit: the guarantee of a publisher confirm per message, for one
        round trip per batch."""
        if self._connection is None:
            self._connection = Connection(self.amqp_uri)
            self._connection.ensure_connection(max_retries=1)
            self._channel = self._connection.channel()
            self._channel.tx_select()
        return Producer(self._channel)

    def _close_connection(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None
            self._channel = None


def wait_until_published(engine, timeout=10.0):
    """Test and CLI helper: block until the outbox is empty of unpublished rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if backlog(conn) == 0:
                return True
        time.sleep(0.05)
    return False
