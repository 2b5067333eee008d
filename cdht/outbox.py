"""Transactional outbox (docs/architecture.md §D3): an event is a row written in the same transaction
as the change it reports; the relay publishes rows in batches with pipelined publisher
confirms and marks a batch sent only once the broker has confirmed all of it.

Failure cases and why nothing is lost:
- crash before commit: neither change nor event exists;
- crash after commit, before publish: the row stays unpublished and the next relay run
  (this process after a restart, or another instance) publishes it;
- crash after publish, before marking (or a nack, a lost connection, no confirm in time):
  the batch's claim is rolled back and the event is published again; consumers' inboxes
  drop the duplicate (at-least-once delivery, exactly-once effect).
"""
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import amqp
import eventlet
import orjson
from amqp.method_framing import frame_writer
from kombu import Connection
from nameko.standalone.events import get_event_exchange
from sqlalchemy import (
    BigInteger, Column, DateTime, Index, Integer, String, Table, Text, func, select, update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from cdht import observability
from cdht.contracts import make_envelope
from cdht.identity import broker_user
from cdht.db import insert_unnested, json_text, plumbing_metadata

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
    return _stage(session, event_type, datas, producer=producer, correlation_id=correlation_id,
                  schema_version=schema_version, wire=False)


def add_wire_events(session, event_type, datas, *, producer, correlation_id=None,
                    schema_version=1):
    """``add_events`` for bulk work (closing a year, imports): ``datas`` built as JSON gives
    them back (``make_envelope(wire=True)``: every event is still checked against its
    contract, without a JSON round trip of each)."""
    return _stage(session, event_type, datas, producer=producer, correlation_id=correlation_id,
                  schema_version=schema_version, wire=True)


def _stage(session, event_type, datas, *, producer, correlation_id, schema_version, wire):
    correlation_id = correlation_id or observability.current_correlation_id()
    rows = []
    for data in datas:
        envelope = make_envelope(event_type, data, producer=producer, wire=wire,
                                 schema_version=schema_version, correlation_id=correlation_id)
        rows.append((envelope.event_id, event_type, json_text(envelope.to_message())))
    insert_unnested(session.connection(), "outbox", _STAGED_COLUMNS, rows)
    session.info["outbox_rows"] = session.info.get("outbox_rows", 0) + len(rows)
    return len(rows)


_STAGED_COLUMNS = (("event_id", "uuid"), ("event_type", "varchar"), ("payload", "jsonb"))


def backlog(conn):
    """How many committed events wait to be published (for /health and /metrics)."""
    return conn.scalar(select(func.count()).select_from(outbox_table)
                       .where(outbox_table.c.published_at.is_(None)))


class ConfirmWindow:
    """The batches published and not yet settled, and the broker's publisher confirms for
    them. Delivery tags run 1, 2, 3... per channel in publish order; an ack or nack with
    ``multiple`` answers every tag up to its own. A batch is settled once every one of its
    tags is answered; it was refused if any of them was nacked."""

    def __init__(self):
        self.next_tag = 1
        self.batches = []    # [Batch] in publish order
        self.upto = 0        # every tag <= upto is answered
        self.above = set()   # answered tags above upto
        self.nacked = set()  # nacked tags of batches not yet settled

    def __len__(self):
        return len(self.batches)

    def add(self, batch, count):
        """``batch`` was published as the next ``count`` messages on the channel."""
        batch.first_tag, batch.last_tag = self.next_tag, self.next_tag + count - 1
        self.next_tag += count
        self.batches.append(batch)

    def ack(self, tag, multiple=False):
        if multiple:
            self.upto = max(self.upto, tag)
            self.above = {t for t in self.above if t > self.upto}
        elif tag > self.upto:
            self.above.add(tag)
        while self.upto + 1 in self.above:
            self.upto += 1
            self.above.discard(self.upto)

    def nack(self, tag, multiple=False):
        first = self.upto + 1 if multiple else tag
        self.nacked.update(t for t in range(first, tag + 1)
                           if t > self.upto and t not in self.above)
        self.ack(tag, multiple)

    def answered(self, batch):
        return batch.last_tag <= self.upto or all(
            t <= self.upto or t in self.above
            for t in range(batch.first_tag, batch.last_tag + 1))

    def settled(self):
        """Pop the batches every tag of which is answered: ``[(batch, refused)]``."""
        done, waiting = [], []
        for batch in self.batches:
            if self.answered(batch):
                refused = any(batch.first_tag <= t <= batch.last_tag for t in self.nacked)
                self.nacked = {t for t in self.nacked if t > batch.last_tag or t < batch.first_tag}
                done.append((batch, refused))
            else:
                waiting.append(batch)
        self.batches = waiting
        return done

    def take_all(self):
        """Pop every batch (the channel is lost): ``[(batch, confirmed)]``, confirmed meaning
        every tag was acked, none nacked."""
        found = [(batch, not refused) for batch, refused in self.settled()]
        found += [(batch, False) for batch in self.batches]
        self.batches, self.nacked = [], set()
        return found


class _Frames:
    """A transport stand-in that keeps the frames written to it (copied: py-amqp reuses its
    buffer) until they are sent with one write."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))


@contextmanager
def coalesced_writes(connection):
    """Frames published on ``connection`` (a py-amqp Connection) inside the block leave in
    one socket write at its end instead of one write per message: a third of the relay's
    CPU was those writes. Nothing else writes on the relay's connection meanwhile."""
    frames = _Frames()
    original = connection.frame_writer
    connection.frame_writer = frame_writer(connection, frames)
    try:
        yield
    finally:
        connection.frame_writer = original
    if frames.parts:
        connection.transport.write(b"".join(frames.parts))


class Batch:
    """Outbox rows claimed in a database transaction of their own, which holds their row locks
    until the broker has answered for every one of them."""

    def __init__(self, conn, transaction, rows):
        self.conn, self.transaction, self.rows = conn, transaction, rows
        self.first_tag = self.last_tag = None

    @property
    def ids(self):
        return [row.id for row in self.rows]


class Refused(Exception):
    """The broker nacked a published message: its rows stay pending and go out again."""


class Relay:
    """Publishes committed outbox rows to ``<producer>.events``, oldest first.

    Rows are claimed ``batch_size`` at a time with ``FOR UPDATE SKIP LOCKED``, so several
    instances of a service can relay side by side without publishing a row twice in the
    normal case. Publishing is pipelined with publisher confirms: up to ``window`` batches are
    published and unanswered at once, each still locked in its own transaction; a batch is
    marked sent (and its transaction committed) only once the broker has confirmed every one
    of its messages. A nack, a lost connection or no answer within ``confirm_timeout`` rolls
    the batch back: its rows stay pending and are published again (the consumers' inboxes
    drop the copies).
    """

    def __init__(self, engine, amqp_uri, producer, *, config=None, batch_size=500, window=3,
                 poll_interval=1.0, max_backoff=30.0, confirm_timeout=30.0):
        self.engine = engine
        self.amqp_uri = amqp_uri
        self.user = broker_user(amqp_uri)
        self.metrics = observability.metrics(producer)
        self.exchange = get_event_exchange(producer, config or {})
        self.batch_size = batch_size
        self.window = max(1, window)
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.confirm_timeout = confirm_timeout
        self._wakeup = eventlet.event.Event()
        self._running = False
        self._stopped = False
        self._connection = None
        self._channel = None
        self._confirms = None

    # -- the loop run by the service container --------------------------------------------
    def run(self):
        self._running, self._stopped = True, False
        failures = 0
        while self._running:
            try:
                self.relay_pending()
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
        self._stopped = True
        self.wake()
        self._close_connection()

    def _wait(self, seconds):
        with eventlet.Timeout(seconds, False):
            self._wakeup.wait()
        self._wakeup = eventlet.event.Event()

    # -- publishing ----------------------------------------------------------------------------
    def relay_batch(self):
        """Publish up to ``batch_size`` unpublished rows and wait for the broker's answer;
        returns how many were marked sent."""
        return self.relay_pending(max_batches=1)

    def relay_pending(self, max_batches=None):
        """Publish unpublished rows until none is left (or ``max_batches`` were claimed),
        ``window`` batches in flight at most; returns how many rows were marked sent.

        Raises ``Refused`` after settling the window if the broker nacked a batch, and any
        error of the broker or the database after giving back every batch not confirmed."""
        sent, claimed, refused, more = 0, 0, 0, True
        try:
            while True:
                while (more and not refused and not self._stopped
                       and len(self._open_confirms()) < self.window
                       and (max_batches is None or claimed < max_batches)):
                    self._open_channel()  # before claiming: a broker down holds no rows
                    batch = self._claim()
                    if batch is None:
                        more = False
                        break
                    claimed += 1
                    more = len(batch.rows) == self.batch_size
                    self._publish_batch(batch)
                if not len(self._open_confirms()):
                    break
                self._await_answer()
                for batch, nacked in self._confirms.settled():
                    if nacked:
                        refused += 1
                        self._give_back(batch, Refused("nacked by the broker"))
                    else:
                        sent += self._mark_sent(batch)
        except BaseException as exc:
            self._abandon(exc)
            raise
        if refused:
            raise Refused(f"the broker nacked {refused} batch(es); their rows stay pending")
        return sent

    def _claim(self):
        """The oldest unpublished rows nobody else holds, locked in a transaction of their
        own: a Batch, or None if there are none."""
        conn = self.engine.connect()
        try:
            transaction = conn.begin()
            rows = conn.execute(
                select(outbox_table.c.id, outbox_table.c.event_id,
                       outbox_table.c.event_type, outbox_table.c.payload)
                .where(outbox_table.c.published_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
        except BaseException:
            conn.close()
            raise
        if not rows:
            transaction.rollback()
            conn.close()
            return None
        return Batch(conn, transaction, rows)

    def _publish_batch(self, batch):
        channel = self._open_channel()
        self._confirms.add(batch, len(batch.rows))  # before publishing: a failure gives it back
        with coalesced_writes(channel.connection):
            for row in batch.rows:
                self._publish(channel, row)

    def _publish(self, channel, row):
        """One row, as nameko's EventDispatcher would publish it (same exchange, routing key,
        JSON body), on a channel in confirm mode: no waiting here."""
        payload = row.payload
        channel.basic_publish(
            amqp.Message(
                orjson.dumps(payload), content_type="application/json",
                content_encoding="utf-8", delivery_mode=2, priority=0,
                message_id=str(row.event_id),
                user_id=self.user,  # the broker checks it: consumers trust it (cdht.identity)
                application_headers={
                    "nameko.correlation_id": payload.get("correlation_id") or ""}),
            exchange=self.exchange.name, routing_key=row.event_type)

    def _open_confirms(self):
        return self._confirms if self._confirms is not None else ()

    def _await_answer(self):
        """Read the broker's frames until a batch of the window is answered."""
        deadline = time.monotonic() + self.confirm_timeout
        confirms = self._confirms
        while not any(confirms.answered(batch) for batch in confirms.batches):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no publisher confirm within {self.confirm_timeout:.0f} s")
            self._connection.drain_events(timeout=remaining)

    def _mark_sent(self, batch):
        try:
            batch.conn.execute(update(outbox_table)
                               .where(outbox_table.c.id.in_(batch.ids))
                               .values(published_at=datetime.now(timezone.utc),
                                       attempts=outbox_table.c.attempts + 1, last_error=None))
            batch.transaction.commit()
        finally:
            batch.conn.close()
        for row in batch.rows:
            self.metrics.outbox_published.labels(row.event_type).inc()
        return len(batch.rows)

    def _give_back(self, batch, exc):
        """Roll the batch's claim back (its rows stay pending) and record why."""
        try:
            batch.transaction.rollback()
        except Exception:  # the database may be the thing that is down
            log.debug("could not roll an outbox claim back", exc_info=True)
        finally:
            try:
                batch.conn.close()
            except Exception:
                pass
        # Only now are the row locks released: recording the failure inside the claiming
        # transaction would wait on our own locks.
        self._record_failure(batch.ids, exc)

    def _abandon(self, exc):
        """The channel failed: batches already confirmed are marked sent, the others given
        back; the connection is closed (its delivery tags die with it)."""
        for batch, confirmed in (self._confirms.take_all() if self._confirms else []):
            if confirmed:
                try:
                    self._mark_sent(batch)
                    continue
                except Exception:
                    log.debug("could not mark a confirmed outbox batch", exc_info=True)
            self._give_back(batch, exc)
        self._close_connection()

    def _record_failure(self, ids, exc):
        try:
            with self.engine.begin() as conn:
                conn.execute(update(outbox_table)
                             .where(outbox_table.c.id.in_(ids))
                             .values(attempts=outbox_table.c.attempts + 1,
                                     last_error=f"{type(exc).__name__}: {exc}"[:1000]))
        except Exception:  # the database may be the thing that is down
            log.debug("could not record outbox failure", exc_info=True)

    def _open_channel(self):
        """The channel in confirm mode (opened on first use), the exchange declared on it;
        the broker's acks and nacks land in a fresh ConfirmWindow (delivery tags restart at 1
        on every channel)."""
        if self._connection is None:
            self._connection = Connection(self.amqp_uri)
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.channel()
            if not self.exchange.no_declare:  # a copy bound to this channel: after a lost
                self.exchange.bind(channel).declare()  # connection, not the dead one
            channel.confirm_select()
            self._confirms = ConfirmWindow()
            channel.events["basic_ack"].add(self._confirms.ack)
            channel.events["basic_nack"].add(self._confirms.nack)
            self._channel = channel
        return self._channel

    def _close_connection(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None
            self._channel = None
            self._confirms = None


def wait_until_published(engine, timeout=10.0):
    """Test and CLI helper: block until the outbox is empty of unpublished rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if backlog(conn) == 0:
                return True
        time.sleep(0.05)
    return False
