"""A reliable event handler that applies events in batches (docs/architecture.md §D5).

``handle_event`` gives each message its own worker and transaction: at a few SQL round trips
per event, a busy queue (a year being closed) is applied at tens of events a second.
``handle_events`` gathers up to ``BATCH_SIZE`` messages (or what arrived within
``BATCH_WAIT_MS`` of the first) and calls the service method once with the list of envelopes,
so it can apply them all in one transaction. The reliability rules do not change:

- nothing is acked before the method has returned, i.e. after its transaction committed;
  a process killed before that leaves every message of the batch on the queue;
- the method dedupes through the inbox as before (a batch may hold a duplicate, or an event
  another batch already applied);
- if the batch fails, each of its events is tried again alone, through the same method with a
  list of one, so a poison event is retried and dead-lettered by itself (``handle_result`` of
  ``ReliableEventHandler``) while the others are applied.

At most ``BATCH_CONCURRENCY`` batches of a handler are applied at a time (default 1): the
events of one queue touch the same counters (the province's above all), so parallel small
batches would only wait for each other's row locks; what arrives meanwhile waits and makes
the next batch bigger. The busier the queue, the bigger the batches.

Configuration (the service's config): ``BATCH_SIZE`` (default 1000), ``BATCH_WAIT_MS``
(default 5), ``BATCH_CONCURRENCY`` (default 1), ``BATCH_PREFETCH`` (messages unacked per
batched queue, default 2 x BATCH_SIZE). ``handle_bulk_events`` is for events that are
batches already (a closing's recognitions_granted, 500 recognitions each): its batches are
``BULK_BATCH_SIZE`` messages (default 8: 4,000 recognitions, which share a transaction's
fixed costs, the counters, statistics and targets; 1,000 a transaction applied a backlog a
fifth slower) and ``BULK_PREFETCH`` (default 16) are unacked at a time, so that a
backlog costs some sixteen messages of memory, not thousands.
"""
import gc
import logging
from collections import deque
from functools import partial

import eventlet
from nameko.exceptions import ContainerBeingKilled
from sqlalchemy import text

from cdht import observability
from cdht.broker import SafeQueueConsumer, _unless_disconnected, spawn_event_worker
from cdht.consumer import (
    ConfiguredPrefetch, ReliableEventHandler, ReliableQueueConsumer, count_all_handled,
    worker_context_data,
)
from cdht.inbox import inbox_table, resolve_consumer

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
DEFAULT_BATCH_WAIT_MS = 5
DEFAULT_BULK_BATCH_SIZE = 8  # messages of a bulk event: 4,000 recognitions_granted items
DEFAULT_BULK_PREFETCH = 16


def batch_size_of(config):
    return max(1, int(config.get("BATCH_SIZE") or DEFAULT_BATCH_SIZE))


class AckTracker:
    """The deliveries of one channel not yet acked, in delivery order, so that one ack with
    ``multiple`` covers a run of settled messages and never one still being handled (a
    ``multiple`` ack takes every unacked delivery up to its tag, whichever handler has it)."""

    def __init__(self, channel):
        self.channel = channel
        self.order = deque()   # delivery tags not yet acked, oldest first
        self.open = set()      # of those, the ones not yet settled
        self.acked_upto = 0

    def delivered(self, tag):
        self.order.append(tag)
        self.open.add(tag)

    def tracks(self, message):
        return message.channel is self.channel and message.delivery_tag in self.open

    def settle(self, tag):
        """``tag`` is done with (to be acked, or already rejected): the tag a ``multiple``
        ack may now cover up to, or None if an older delivery is still being handled."""
        self.open.discard(tag)
        upto = None
        while self.order and self.order[0] not in self.open:
            upto = self.order.popleft()
        if upto is None or upto <= self.acked_upto:
            return None
        self.acked_upto = upto
        return upto


class BatchQueueConsumer(ReliableQueueConsumer):
    """The queue consumer of batched handlers: its own connection, with a prefetch wide
    enough to fill a batch while the previous one is being applied (nameko's default prefetch
    is max_workers, 20), and acks batched: a batch committed is one ``multiple`` ack, sent
    once every older delivery on the channel is settled too."""

    _acks = None

    @property
    def prefetch_count(self):
        config = self.container.config
        return int(config.get("BATCH_PREFETCH") or 2 * batch_size_of(config))

    def handle_message(self, provider, body, message):
        """In the consumer's own thread, not one spawned per message: a batched handler only
        parses and buffers here (it spawns the workers)."""
        self._delivered(message)
        observability.mark_received(message, provider)
        provider.handle_message(body, message)

    def _on_decode_error(self, provider, message, exc):
        self._delivered(message)
        super()._on_decode_error(provider, message, exc)

    def _delivered(self, message):
        if self._acks is None or self._acks.channel is not message.channel:
            self._acks = AckTracker(message.channel)  # a new channel: tags start again
        self._acks.delivered(message.delivery_tag)

    def ack_message(self, message):
        self.ack_messages([message])

    def ack_messages(self, messages):
        """Ack ``messages`` with one frame where the order of deliveries allows; a message
        of a channel since replaced is acked alone (a no-op: the broker took it back)."""
        upto, ack_of = None, None
        for message in messages:
            if self._acks is None or self._acks.channel is not message.channel:
                SafeQueueConsumer.ack_message(self, message)
            elif self._acks.tracks(message):
                upto = self._acks.settle(message.delivery_tag) or upto
                ack_of = message
            else:  # settled before: a second ack would close the channel
                log.warning("%s: delivery %s settled twice; not acked again",
                            message.delivery_info.get("routing_key"), message.delivery_tag)
        if upto is not None:
            _unless_disconnected(lambda m: m.channel.basic_ack(upto, multiple=True), ack_of,
                                 "ack", "the messages are redelivered")
        count_all_handled(messages)

    def requeue_message(self, message):
        super().requeue_message(message)  # rejected alone, then settled: never acked after
        if self._acks is not None and self._acks.tracks(message):
            upto = self._acks.settle(message.delivery_tag)
            if upto is not None:
                _unless_disconnected(lambda m: m.channel.basic_ack(upto, multiple=True),
                                     message, "ack", "the messages are redelivered")


class BatchEventHandler(ReliableEventHandler):
    queue_consumer = BatchQueueConsumer()

    def setup(self):
        super().setup()
        # A batched queue keeps thousands of messages alive at a time, so the collector's
        # full collections come often, and each walked every object the service started
        # with (130,000: 80 ms each, a seventh of a busy queue's CPU). Frozen, those are
        # left out; objects frozen that die later are still freed by their reference count.
        gc.freeze()
        config = self.container.config
        self.batch_size = batch_size_of(config)
        wait_ms = config.get("BATCH_WAIT_MS")
        self.batch_wait = (DEFAULT_BATCH_WAIT_MS if wait_ms in (None, "") else
                           float(wait_ms)) / 1000
        self.concurrency = max(1, int(config.get("BATCH_CONCURRENCY") or 1))
        self._pending = []     # [(envelope, message)] not yet handed to a worker
        self._generation = 0   # bumped at every flush: a stale timer finds it changed
        self._in_flight = 0    # batches handed to a worker and not finished

    def stop(self):
        self._flush()  # hand what is buffered to a worker; the container waits for it
        super().stop()

    # -- gathering -----------------------------------------------------------------------------
    def handle_message(self, body, message):
        """Called once per message, in the queue consumer's thread: parse, buffer, maybe flush."""
        envelope = self.parsed_or_dead_lettered(body, message)
        if envelope is None:
            return
        self._pending.append((envelope, message))
        if len(self._pending) == self.batch_size:  # flushed from a thread of its own: the
            # consumer's thread must not wait for a worker slot
            self.container.spawn_managed_thread(self._flush,
                                                identifier=f"{self.queue_name}.batch")
        elif len(self._pending) == 1:
            self.container.spawn_managed_thread(
                partial(self._flush_after_wait, self._generation),
                identifier=f"{self.queue_name}.batch-timer")

    def _flush_after_wait(self, generation):
        eventlet.sleep(self.batch_wait)
        if generation == self._generation:  # not flushed (by size) meanwhile
            self._flush()

    def _flush(self):
        """Hand what is buffered to workers, a batch at a time, while fewer than
        ``concurrency`` batches are being applied; the rest waits for one to finish."""
        self._generation += 1
        while self._pending and self._in_flight < self.concurrency:
            items = self._pending[:self.batch_size]
            del self._pending[:self.batch_size]
            self._in_flight += 1
            if not self._spawn(items, batch=True):
                self._in_flight -= 1

    def _batch_done(self):
        self._in_flight -= 1
        if self._pending:  # gathered while the batch was applied: the next batch, now
            self.container.spawn_managed_thread(self._flush,
                                                identifier=f"{self.queue_name}.batch")

    # -- applying ------------------------------------------------------------------------------
    def _spawn(self, items, batch=False):
        """A worker for ``items``; False if the container is being killed (requeued)."""
        envelopes = [envelope for envelope, _ in items]
        # a batch runs with its first event's correlation id; each event keeps its own
        context_data = worker_context_data(self.unpack_message_headers(items[0][1]),
                                           envelopes[0])
        try:
            spawn_event_worker(  # bounded: HTTP keeps free worker slots
                self, (envelopes,), {}, context_data=context_data,
                handle_result=partial(self.handle_batch_result, items, batch))
        except ContainerBeingKilled:
            for _, message in items:
                self.queue_consumer.requeue_message(message)
            return False
        return True

    def handle_batch_result(self, items, batch, worker_ctx, result=None, exc_info=None):
        """Committed: ack every message. Failed: a single event takes the usual retry or
        dead-letter path; a batch is split into events tried one by one."""
        try:
            return self._settle(items, worker_ctx, result, exc_info)
        finally:
            if batch:
                self._batch_done()

    def _settle(self, items, worker_ctx, result, exc_info):
        if len(items) == 1:
            return self.handle_result(items[0][1], worker_ctx, result, exc_info)
        if exc_info is None:
            self.queue_consumer.ack_messages([message for _, message in items])
            return result, exc_info
        log.warning("%s: a batch of %d failed (%s: %s); applying its events one by one",
                    self.queue_name, len(items), type(exc_info[1]).__name__,
                    str(exc_info[1])[:200])
        # from a managed thread: this worker's slot is freed before the events take theirs
        self.container.spawn_managed_thread(partial(self._one_by_one, items),
                                            identifier=f"{self.queue_name}.one-by-one")
        return result, exc_info

    def _one_by_one(self, items):
        for item in items:
            self._spawn([item])


class BulkQueueConsumer(ConfiguredPrefetch, BatchQueueConsumer):
    """The queue consumer of bulk events, each carrying hundreds of items (a closing's
    recognitions_granted): a connection of its own, with a prefetch of a few messages
    (``BULK_PREFETCH``), so that a backlog of them is not read into memory a thousand at a
    time."""
    PREFETCH_SETTING, PREFETCH_DEFAULT = "BULK_PREFETCH", DEFAULT_BULK_PREFETCH


class BulkEventHandler(BatchEventHandler):
    """``handle_events`` for bulk events: a batch is ``BULK_BATCH_SIZE`` messages (default 8),
    each already hundreds of items."""
    queue_consumer = BulkQueueConsumer()

    def setup(self):
        super().setup()
        self.batch_size = max(1, int(self.container.config.get("BULK_BATCH_SIZE")
                                     or DEFAULT_BULK_BATCH_SIZE))


def first_deliveries(session, envelopes, consumer=None):
    """The inbox for a batch: record every envelope as processed by ``consumer`` (by default
    the handler this worker runs for) in one statement and return those that were not yet
    (in order, each event once). Call it first inside the transaction that applies them; a
    concurrent duplicate waits for it to end."""
    consumer = resolve_consumer(consumer)
    firsts = {}
    for envelope in envelopes:
        firsts.setdefault(str(envelope.event_id), envelope)
    if not firsts:
        return []
    fresh = set(session.scalars(text(f"""
        INSERT INTO {inbox_table.name} (event_id, consumer, event_type)
        SELECT e.id, :consumer, e.type
        FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS varchar[])) AS e(id, type)
        ORDER BY e.id
        ON CONFLICT DO NOTHING
        RETURNING event_id::text"""), {
        "consumer": consumer, "ids": list(firsts),
        "types": [e.event_type for e in firsts.values()]}))
    return [e for i, e in firsts.items() if i in fresh]


def runs(envelopes, key):
    """``[(key, [envelopes])]``: each run of consecutive envelopes with the same ``key(e)``,
    in the order they came (a batch that must apply some part at a time, a day of a time
    series, keeps their order across the parts)."""
    found = []
    for envelope in envelopes:
        k = key(envelope)
        if found and found[-1][0] == k:
            found[-1][1].append(envelope)
        else:
            found.append((k, [envelope]))
    return found


handle_events = BatchEventHandler.decorator
"""``@handle_events("assessment", "recognition_granted")`` on a method taking a list of
envelopes, applied in one transaction (see the module's docstring)."""

handle_bulk_events = BulkEventHandler.decorator
"""``@handle_bulk_events("assessment", "recognitions_granted")``: as ``handle_events``, for
events that each carry hundreds of items (a few messages a batch, a few prefetched)."""
