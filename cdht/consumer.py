"""The reliable event-handler entrypoint every CDHT consumer uses (docs/architecture.md §D5).

nameko's ``event_handler`` acks a message whose handler raised, and the message is lost.
``handle_event`` instead decides, for every message, one of three fates, and never acks a
message before a copy of it is safely elsewhere:

- handled: acked;
- failed transiently (any exception but PermanentError): republished with confirms to a
  delay queue ``<queue>.retry.<ms>`` whose TTL dead-letters it back to ``<queue>``, then acked;
  the delays grow per attempt (``RETRY_DELAYS_MS``);
- can never succeed (undecodable body, broken contract, unknown version, PermanentError, or
  retries exhausted): republished to ``<queue>.dead-letter`` with the reason in its headers,
  then acked. ``cdht_tools.deadletters`` lists and replays them.

Each fate is counted (cdht.observability: ``cdht_events_handled_total``,
``cdht_events_failed_total{fate}``, ``cdht_event_handling_seconds``): a failure in
``_retry_later`` and ``dead_letter``, a success when the queue consumer acks a message no
failure was recorded for; so a subclass (cdht.batching) that acks its own way counts alike.

Queue arguments come from config, so classic queues here and quorum queues on a three-node
cluster (``QUEUE_TYPE: quorum``, ``DELIVERY_LIMIT``) are the same code.

The worker runs with the event's correlation id and the handler's consumer name
(``<service>.<method>``) bound (cdht.observability): ``cdht.outbox.add_event`` and
``cdht.inbox.first_delivery`` take them from there.
"""
import logging
import traceback
from datetime import datetime, timezone
from functools import partial

import orjson
from kombu import Exchange, Queue
from nameko.amqp.publish import get_producer
from nameko.events import SERVICE_POOL, EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.standalone.events import get_event_exchange

from cdht import observability
from cdht.broker import SafeQueueConsumer, spawn_event_worker
from cdht.contracts import ContractError, parse_envelope
from cdht.identity import broker_user, own_users, refused_sender
from cdht.redact import redact

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = Exchange("cdht.dead-letter", type="direct", durable=True)
DEFAULT_RETRY_DELAYS_MS = (1000, 5000, 30000, 120000, 600000)
ATTEMPT_HEADER = "x-cdht-attempt"
ERROR_HEADER = "x-cdht-error"
QUEUE_HEADER = "x-cdht-queue"
DEAD_AT_HEADER = "x-cdht-dead-lettered-at"


class PermanentError(Exception):
    """Raised by a handler for a message that no retry can fix (e.g. it names an unknown id
    that will never exist). The message goes straight to the dead-letter queue."""


def queue_arguments(config, dead_letter_routing_key=None):
    """Arguments for every CDHT queue: classic by default, quorum by configuration."""
    args = {}
    if str(config.get("QUEUE_TYPE", "classic")).lower() == "quorum":
        args["x-queue-type"] = "quorum"
        args["x-delivery-limit"] = int(config.get("DELIVERY_LIMIT", 20))
    if dead_letter_routing_key:
        # Broker-side dead-lettering (delivery limit exceeded, rejects) lands in the same DLQ.
        args["x-dead-letter-exchange"] = DEAD_LETTER_EXCHANGE.name
        args["x-dead-letter-routing-key"] = dead_letter_routing_key
    return args


def dead_letter_queue(queue_name, config):
    return Queue(f"{queue_name}.dead-letter", exchange=DEAD_LETTER_EXCHANGE,
                 routing_key=queue_name, durable=True,
                 queue_arguments=queue_arguments(config))


def retry_queue(queue_name, delay_ms, config):
    """A delay queue: messages wait ``delay_ms`` there, then the broker returns them."""
    args = queue_arguments(config)
    args.update({"x-message-ttl": int(delay_ms), "x-dead-letter-exchange": "",
                 "x-dead-letter-routing-key": queue_name})
    args.pop("x-delivery-limit", None)
    return Queue(f"{queue_name}.retry.{int(delay_ms)}", durable=True, queue_arguments=args)


def retry_delays(config):
    raw = config.get("RETRY_DELAYS_MS") or DEFAULT_RETRY_DELAYS_MS
    if isinstance(raw, str):
        raw = [part for part in raw.replace(",", " ").split() if part]
    return tuple(int(x) for x in raw)


class ReliableQueueConsumer(SafeQueueConsumer):
    """nameko's queue consumer (made safe across broker restarts by cdht.broker), but an
    undecodable body is dead-lettered instead of killing the consumer thread (kombu raises on
    decode errors when no handler is given), and a JSON body is decoded with orjson."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._on_decode_error, provider)
            consumer.on_message = partial(self._on_raw_message, provider)
        return consumers

    def _on_raw_message(self, provider, message):
        """kombu's ``on_message``: the message undecoded (kombu's own JSON decoding, through
        its serializer registry, was a tenth of a busy consumer's CPU)."""
        try:
            body = decoded_body(message)
        except Exception as exc:
            self._on_decode_error(provider, message, exc)
            return
        self.handle_message(provider, body, message)

    def _on_decode_error(self, provider, message, exc):
        provider.dead_letter(message, f"undecodable body: {type(exc).__name__}: {exc}")

    def handle_message(self, provider, body, message):
        observability.mark_received(message, provider)
        super().handle_message(provider, body, message)

    def ack_message(self, message):
        """Ack; a message acked with no failure recorded (see ``_count``) was handled."""
        super().ack_message(message)
        count_handled(message)


def decoded_body(message):
    """The body of ``message``: a JSON one (what every CDHT producer sends) by orjson; any
    other, or one orjson refuses (NaN, a lone surrogate, a byte order mark), by kombu,
    which also refuses a content type the service does not accept. orjson reads an integer
    beyond 64 bits as a float, which the contracts' strict integers then refuse."""
    accept = message.accept
    if message.content_type == "application/json" and \
            (accept is None or "application/json" in accept) and \
            (message.content_encoding or "utf-8").lower() == "utf-8":
        try:
            return orjson.loads(message.body)
        except orjson.JSONDecodeError:
            pass
    return message.decode()


def count_handled(message):
    """Count an acked message as handled unless a failure was recorded for it."""
    handler = observability.received_by(message)
    if handler is not None and getattr(message, "cdht_fate", None) is None:
        handler._count(message, "handled")


def count_all_handled(messages):
    """``count_handled`` of a batch: one counter increment per handler, not per message
    (looking the labelled counter up per message was 5% of a busy batched queue's CPU)."""
    handlers = {}
    for message in messages:
        handler = observability.received_by(message)
        if handler is not None and getattr(message, "cdht_fate", None) is None:
            handlers.setdefault(handler, []).append(message)
    for handler, handled in handlers.items():
        handler._count_all(handled, "handled")


class ReliableEventHandler(EventHandler):
    queue_consumer = ReliableQueueConsumer()

    def __init__(self, source_service, event_type, version=1, **kwargs):
        self.version = version  # the schema_version this handler takes (see parsed_or_...)
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)

    @property
    def queue_name(self):
        return queue_name(self.source_service, self.event_type, self.container.service_name,
                          self.method_name)

    @property
    def consumer_name(self):
        """The name the inbox records this handler's events under (bound per worker by
        cdht.observability.Observability)."""
        return consumer_name(self.container.service_name, self.method_name)

    def setup(self):
        config = self.container.config
        name = self.queue_name
        exchange = get_event_exchange(self.source_service, config)
        # With a broker user of its own, a service may not declare (nor so delete) another's
        # exchange, only bind to it: `cdht provision` declares them all beforehand.
        self.user = broker_user(config["AMQP_URI"])  # read once: checked on every message
        exchange.no_declare = own_users(self.user, self.container.service_name)
        self.queue = Queue(
            name, exchange=exchange,
            routing_key=self.event_type, durable=True,
            queue_arguments=queue_arguments(config, dead_letter_routing_key=name))
        self.dead_letters = dead_letter_queue(name, config)
        self.delays = retry_delays(config)
        self.retry_queues = [retry_queue(name, ms, config) for ms in self.delays]
        self._declare([self.dead_letters, *self.retry_queues])
        self.queue_consumer.register_provider(self)

    # -- message flow ----------------------------------------------------------------------
    def parsed_or_dead_lettered(self, body, message):
        """The message's envelope; None if its sender is not the producer it names
        (cdht.identity) or its contract is broken (it is dead-lettered), or if
        it is another known version of the event than the one this handler takes: during a
        transition the producer publishes every supported version, each consumer takes one
        and acks the others unhandled."""
        producer = body.get("producer") if isinstance(body, dict) else None
        refusal = producer and refused_sender(
            (message.properties or {}).get("user_id"), self.source_service, producer,
            self.user, self.container.service_name)
        if refusal:  # before the contract: a forged event is not read at all (no producer:
            # the contract refuses it)
            self.dead_letter(message, f"sender: {refusal}")
            return None
        try:
            envelope = parse_envelope(body)
        except ContractError as exc:
            self.dead_letter(message, f"contract: {exc} {exc.errors or ''}".strip())
            return None
        if envelope.schema_version != self.version:
            message.cdht_fate = "other_version"  # acked, counted as neither handled nor failed
            self.queue_consumer.ack_message(message)
            return None
        return envelope

    def handle_message(self, body, message):
        envelope = self.parsed_or_dead_lettered(body, message)
        if envelope is None:
            return
        context_data = worker_context_data(self.unpack_message_headers(message), envelope)
        try:
            spawn_event_worker(  # bounded: HTTP keeps free worker slots
                self, (envelope,), {}, context_data=context_data,
                handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)  # counted there, as handled
            return result, exc_info
        exc = exc_info[1]
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        reason = redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, PermanentError) or attempt > len(self.delays):
            self.dead_letter(message, reason, attempts=attempt)
        else:
            self._retry_later(message, attempt, reason)
        return result, exc_info

    def _retry_later(self, message, attempt, reason):
        queue = self.retry_queues[attempt - 1]
        self._count(message, "retried")
        log.warning("%s: attempt %d failed (%s); retrying in %d ms", self.queue_name, attempt,
                    reason[:200], self.delays[attempt - 1])
        headers = dict(message.headers or {}, **{ATTEMPT_HEADER: attempt, ERROR_HEADER: reason[:500]})
        self._republish(message, exchange="", routing_key=queue.name, headers=headers,
                        declare=[queue])

    def dead_letter(self, message, reason, attempts=None):
        """Move ``message`` to this consumer's dead-letter queue, then ack it."""
        reason = redact(reason)
        self._count(message, "dead_lettered")
        log.error("%s: dead-lettering message: %s", self.queue_name, reason[:500])
        headers = dict(message.headers or {})
        headers.update({ERROR_HEADER: reason[:1000], QUEUE_HEADER: self.queue_name,
                        DEAD_AT_HEADER: datetime.now(timezone.utc).isoformat()})
        if attempts is not None:
            headers[ATTEMPT_HEADER] = attempts
        self._republish(message, exchange=DEAD_LETTER_EXCHANGE, routing_key=self.queue_name,
                        headers=headers, declare=[self.dead_letters])

    def _count(self, message, fate):
        """Count the message's fate, once: ``handled``, ``retried`` or ``dead_lettered``."""
        self._count_all([message], fate)

    def _count_all(self, messages, fate):
        for message in messages:
            message.cdht_fate = fate
        observability.metrics(self.container.service_name).events_done(
            self.method_name, self.event_type, fate,
            [observability.seconds_since_received(m) for m in messages])

    def _republish(self, message, exchange, routing_key, headers, declare):
        """Publish a copy with confirms, then ack; if the copy can't be made, requeue."""
        uri = self.container.config["AMQP_URI"]
        try:
            with get_producer(uri) as producer:
                producer.publish(  # as this service's own broker user (cdht.identity)
                    message.body, exchange=exchange, routing_key=routing_key, headers=headers,
                    user_id=self.user,
                    content_type=message.content_type or "application/json",
                    content_encoding=message.content_encoding or "utf-8",
                    delivery_mode=2, declare=declare, retry=True,
                    retry_policy={"max_retries": 3})
        except Exception:
            log.error("%s: could not republish; message requeued\n%s", self.queue_name,
                      traceback.format_exc(limit=3))
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _declare(self, queues):
        with get_producer(self.container.config["AMQP_URI"]) as producer:
            for queue in queues:
                queue.maybe_bind(producer.channel)
                queue.declare()


handle_event = ReliableEventHandler.decorator


DEFAULT_LARGE_EVENT_PREFETCH = 2


class ConfiguredPrefetch:
    """Mixed into a queue consumer whose prefetch is a setting of its own rather than
    max_workers: the config's ``PREFETCH_SETTING``, else ``PREFETCH_DEFAULT``."""
    PREFETCH_SETTING = PREFETCH_DEFAULT = None

    @property
    def prefetch_count(self):
        return int(self.container.config.get(self.PREFETCH_SETTING) or self.PREFETCH_DEFAULT)


class LargeEventQueueConsumer(ConfiguredPrefetch, ReliableQueueConsumer):
    """For events that each carry thousands of changes (an import's people_imported, 5,000
    people a message): a connection of its own, with a prefetch of ``LARGE_EVENT_PREFETCH``
    (default 2) rather than max_workers, so that a backlog of them is not read into memory
    twenty at a time; one is applied while the next waits."""
    PREFETCH_SETTING, PREFETCH_DEFAULT = "LARGE_EVENT_PREFETCH", DEFAULT_LARGE_EVENT_PREFETCH


class LargeEventHandler(ReliableEventHandler):
    queue_consumer = LargeEventQueueConsumer()


handle_large_event = LargeEventHandler.decorator
"""``@handle_large_event("registry", "people_imported")``: ``handle_event``, a few read
ahead."""


def queue_name(source_service, event_type, service, method):
    """The one queue of a handler: ``evt-<source>-<type>--<service>.<method>``."""
    return f"evt-{source_service}-{event_type}--{consumer_name(service, method)}"


def consumer_name(service, method):
    """A handler's name in the inbox and in reporting's lag figures."""
    return f"{service}.{method}"


def worker_context_data(context_data, envelope):
    """The context data of the worker handling ``envelope``: the event's own correlation id
    wins over a header (an event replayed by hand or published by a tool may carry none or
    another), so what the handler logs and stages carries the cause's id."""
    if envelope.correlation_id:
        context_data["correlation_id"] = envelope.correlation_id
    return context_data


def event_handlers(service_cls):
    """``[(method name, queue name)]`` of every reliable event handler of ``service_cls``,
    inherited ones included (a service assembled from mixins), sorted by queue name."""
    found = []
    for attr in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, attr, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                found.append((attr, queue_name(entrypoint.source_service, entrypoint.event_type,
                                               service_cls.name, attr)))
    return sorted(found, key=lambda item: item[1])
