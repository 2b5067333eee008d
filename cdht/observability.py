"""What an operator sees of a running service: metrics, JSON log lines, correlation ids.

- **Metrics** (Prometheus, ``GET /metrics`` of every service, see ``Metrics``): one registry
  per service name, so that services started side by side in one test process keep apart.
  The consumer (cdht.consumer), the outbox relay (cdht.outbox), the HTTP entrypoint
  (cdht.web) and notifications count into it; the outbox backlog and reporting's lag are read
  when scraped.
- **Correlation id**: an HTTP request brings or gets one (cdht.web); it rides in nameko's
  context data, so every RPC call and, through the outbox, every event the request causes
  carries it on, and the handlers downstream run with it. ``Observability``, a nameko
  dependency, binds it for the worker's log lines and ``cdht.outbox.add_event``.
- **Consumer name**: a worker of an event handler (cdht.consumer) also has the handler's
  name, ``<service>.<method>``, bound: the inbox (cdht.inbox) records events under it, so no
  handler types its own name.
- **Logs**: ``log_formatter`` (named in each services/<name>/config.yaml) writes one JSON
  object per line (time, level, service, logger, message, correlation_id, and the extras of
  a "handled" line), or the old text line with ``LOG_FORMAT=plain``. Both pass the message
  and any traceback through ``cdht.redact``: no national ID, phone or email reaches a log.
"""
import contextvars
import logging
import os
import re
import time
import uuid

import prometheus_client
from nameko.extensions import DependencyProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

from cdht.redact import redact

log = logging.getLogger(__name__)

prometheus_client.disable_created_metrics()  # no *_created series beside every counter

# -- what a greenlet works for: its correlation id, its event handler --------------------------
class _PerGreenlet:
    """A value of the request, event or call a greenlet works for (a context variable, None
    where unbound): ``bind(value)`` returns the token ``unbind`` takes to undo it."""

    def __init__(self, name):
        self._var = contextvars.ContextVar(name, default=None)

    def current(self):
        return self._var.get()

    def bind(self, value):
        return self._var.set(value)

    def unbind(self, token):
        try:
            self._var.reset(token)
        except ValueError:  # set in another context (greenlet): nothing of ours to undo
            self._var.set(None)


_correlation = _PerGreenlet("cdht_correlation_id")
"""The correlation id of the request or event this greenlet is working for."""
current_correlation_id = _correlation.current
bind_correlation_id = _correlation.bind
unbind_correlation_id = _correlation.unbind

_consumer = _PerGreenlet("cdht_consumer")
"""``<service>.<method>`` of the event handler this greenlet is working for (None for an HTTP
request, an RPC call, a timer, a thread of our own)."""
current_consumer = _consumer.current
bind_consumer = _consumer.bind
unbind_consumer = _consumer.unbind

_GIVEN_ID = re.compile(r"[\x21-\x7e]{1,64}")  # short, printable, no spaces


def _stamp_records(factory):
    """Every log record carries the correlation id current where it was made, whatever
    handler formats it later (a file, pytest's caplog)."""
    def make_record(*args, **kwargs):
        record = factory(*args, **kwargs)
        record.correlation_id = _correlation.current()
        return record
    make_record.cdht_stamps = True
    return make_record


if not getattr(logging.getLogRecordFactory(), "cdht_stamps", False):
    logging.setLogRecordFactory(_stamp_records(logging.getLogRecordFactory()))


def accepted_correlation_id(given):
    """``given`` if it may serve as a correlation id, else a new uuid4: it must be short and
    printable, and hold nothing ``redact`` would mask (it is logged and put in events)."""
    if given and _GIVEN_ID.fullmatch(given) and redact(given) == given:
        return given
    return str(uuid.uuid4())


# -- metrics -----------------------------------------------------------------------------------
LATENCY_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The metrics of one service (names as exposed; counters get ``_total``):

    - ``cdht_events_handled_total{handler, event_type}``: events applied and acked;
    - ``cdht_events_failed_total{handler, event_type, fate}``: failed attempts, ``fate`` =
      ``retried`` (sent to a delay queue) or ``dead_lettered`` (undecodable, broken contract,
      permanent error or retries exhausted);
    - ``cdht_event_handling_seconds{event_type}``: from delivery to the consumer until the
      message's fate is decided (waiting for a free worker included);
    - ``cdht_http_request_seconds{method, route, status}``: HTTP requests, per route rule;
    - ``cdht_outbox_backlog``: committed events not yet published (read at scrape time);
    - ``cdht_outbox_published_total{event_type}``: events the outbox relay published;
    - ``cdht_projection_lag_seconds{consumer}``, ``cdht_projection_waiting_events{consumer}``,
      ``cdht_projection_applied_events{consumer}``: reporting's ``GET /lag`` figures (how
      late the newest applied event was applied; messages waiting; events applied);
    - ``cdht_notifications_sent_total{channel}``, ``cdht_notifications_failed_total{channel}``:
      deliveries that ended sent or failed for good, per channel (email, sms).
    """

    def __init__(self, service):
        self.service = service
        self.registry = registry = CollectorRegistry()
        self.events_handled = Counter(
            "cdht_events_handled", "Events a handler applied (acked)",
            ["handler", "event_type"], registry=registry)
        self.events_failed = Counter(
            "cdht_events_failed", "Failed attempts at an event: retried later or dead-lettered",
            ["handler", "event_type", "fate"], registry=registry)
        self.event_seconds = Histogram(
            "cdht_event_handling_seconds",
            "Seconds from an event's delivery to its fate (ack, retry or dead letter)",
            ["event_type"], buckets=LATENCY_BUCKETS, registry=registry)
        self.http_seconds = Histogram(
            "cdht_http_request_seconds", "Seconds to answer an HTTP request",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=registry)
        self.outbox_backlog = Gauge(
            "cdht_outbox_backlog", "Committed events not yet published", registry=registry)
        self.outbox_published = Counter(
            "cdht_outbox_published", "Events the outbox relay published",
            ["event_type"], registry=registry)
        self.projection_lag = Gauge(
            "cdht_projection_lag_seconds",
            "Seconds between the newest applied event's occurrence and its application",
            ["consumer"], registry=registry)
        self.projection_waiting = Gauge(
            "cdht_projection_waiting_events", "Messages waiting in the handler's queue",
            ["consumer"], registry=registry)
        self.projection_applied = Gauge(
            "cdht_projection_applied_events", "Events the handler applied, ever",
            ["consumer"], registry=registry)
        self.notifications_sent = Counter(
            "cdht_notifications_sent", "Deliveries sent", ["channel"], registry=registry)
        self.notifications_failed = Counter(
            "cdht_notifications_failed", "Deliveries failed for good", ["channel"],
            registry=registry)

    # -- what the producers of figures call -------------------------------------------------
    def events_done(self, handler, event_type, fate, seconds):
        """Count the fate of events, ``handled``, ``retried`` or ``dead_lettered``: one per
        item of ``seconds`` (each event's time since it was received, None if unknown), the
        labelled counter looked up once for a whole batch."""
        if fate == "handled":
            self.events_handled.labels(handler, event_type).inc(len(seconds))
        else:
            self.events_failed.labels(handler, event_type, fate).inc(len(seconds))
        histogram = self.event_seconds.labels(event_type)
        for elapsed in seconds:
            if elapsed is not None:
                histogram.observe(elapsed)

    def delivery_finished(self, channel, status):
        (self.notifications_sent if status == "sent" else self.notifications_failed) \
            .labels(channel).inc()

    def projection_figures(self, consumers):
        """Set the projection gauges from reporting's ``GET /lag`` consumer rows."""
        for row in consumers:
            name = row["consumer"]
            self.projection_applied.labels(name).set(row.get("applied") or 0)
            for gauge, value in ((self.projection_lag, row.get("lag_seconds")),
                                 (self.projection_waiting, row.get("waiting"))):
                gauge.labels(name).set(float("nan") if value is None else value)

    def exposition(self):
        """(body, content type) of the Prometheus text format."""
        return prometheus_client.generate_latest(self.registry), \
            prometheus_client.CONTENT_TYPE_LATEST


_metrics = {}


def metrics(service):
    """The Metrics of ``service`` in this process (made on first use)."""
    found = _metrics.get(service)
    if found is None:
        found = _metrics.setdefault(service, Metrics(service))
    return found


def mark_received(message, handler=None):
    """Stamp a consumed message with when it arrived (for cdht_event_handling_seconds) and
    the entrypoint it was delivered to (which counts it when it is acked)."""
    message.cdht_received = (time.perf_counter(), handler)


def seconds_since_received(message):
    started, _ = getattr(message, "cdht_received", (None, None))
    return None if started is None else time.perf_counter() - started


def received_by(message):
    return getattr(message, "cdht_received", (None, None))[1]


# -- the worker's side: correlation id and consumer bound, one "handled" line ---------------
class Observability(DependencyProvider):
    """Binds each worker's correlation id (made now if none came with the call) for its log
    lines, its RPC calls and the events it stages, and, for an event handler's worker, the
    consumer name its entrypoint gives (``consumer_name``, see cdht.consumer) for the inbox.
    Logs one "handled" line per event, RPC or timer worker (entrypoint, duration_ms,
    outcome). HTTP requests get their line from cdht.web, which knows the status. The
    service sees its ``Metrics``."""

    def setup(self):
        self._running = {}

    def get_dependency(self, worker_ctx):
        return metrics(self.container.service_name)

    def worker_setup(self, worker_ctx):
        corr = worker_ctx.data.get("correlation_id")
        if not corr:
            corr = worker_ctx.data["correlation_id"] = str(uuid.uuid4())
        consumer = getattr(worker_ctx.entrypoint, "consumer_name", None)
        self._running[worker_ctx] = (time.perf_counter(), bind_correlation_id(corr),
                                     bind_consumer(consumer))

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._running.get(worker_ctx, (None,))[0]
        if started is None or _is_http(worker_ctx.entrypoint):
            return
        entrypoint = worker_ctx.entrypoint
        if exc_info is None:
            outcome = "ok"
        elif isinstance(exc_info[1], entrypoint.expected_exceptions or ()):
            outcome = "expected_error"
        else:
            outcome = "error"
        level = logging.INFO
        if outcome == "ok" and _is_timer(entrypoint):
            level = logging.DEBUG  # a poll every few seconds: not worth a line each
        elif outcome == "error":
            level = logging.WARNING
        extra = {"entrypoint": f"{self.container.service_name}.{entrypoint.method_name}",
                 "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                 "outcome": outcome}
        extra.update(_events_of(worker_ctx.args[0] if worker_ctx.args else None))
        log.log(level, "handled", extra=extra)

    def worker_teardown(self, worker_ctx):
        running = self._running.pop(worker_ctx, None)
        if running is not None:
            _, corr_token, consumer_token = running
            unbind_consumer(consumer_token)
            unbind_correlation_id(corr_token)


def _events_of(argument):
    """What a "handled" line says of the event(s) handled: the event's type and id, or for a
    batch (cdht.batching) its type, size and every correlation id in it."""
    if isinstance(argument, (list, tuple)) and argument and hasattr(argument[0], "event_id"):
        ids = sorted({e.correlation_id for e in argument if e.correlation_id})
        return {"event_type": argument[0].event_type, "events": len(argument),
                "correlation_ids": ids[:100]}
    if hasattr(argument, "event_id") and hasattr(argument, "event_type"):
        return {"event_type": argument.event_type, "event_id": str(argument.event_id)}
    return {}


def _is_http(entrypoint):
    from nameko.web.handlers import HttpRequestHandler
    return isinstance(entrypoint, HttpRequestHandler)


def _is_timer(entrypoint):
    from nameko.timer import Timer
    return isinstance(entrypoint, Timer)


# -- log lines ---------------------------------------------------------------------------------
PLAIN_FORMAT = "%(asctime)s %(levelname)s {service} %(name)s: %(message)s"
_UNMASKED = {"time", "level", "service", "logger", "correlation_id"}


class JsonLogFormatter(JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, service, logger, message,
    correlation_id (when known), then any extras (entrypoint, duration_ms, outcome, ...) and
    exc_info. Every other text value passes through ``redact``."""

    def __init__(self, service):
        super().__init__("%(levelname)s %(name)s %(message)s",
                         rename_fields={"levelname": "level", "name": "logger"},
                         static_fields={"service": service}, timestamp="time",
                         json_ensure_ascii=False)

    def process_log_record(self, log_data):
        corr = log_data.pop("correlation_id", None)
        ordered = {key: log_data.pop(key) for key in
                   ("time", "level", "service", "logger", "message") if key in log_data}
        if corr:
            ordered["correlation_id"] = corr
        ordered.update(log_data)
        for key, value in ordered.items():
            if isinstance(value, str) and key not in _UNMASKED:
                ordered[key] = redact(value)
        return ordered


class PlainLogFormatter(logging.Formatter):
    """The text line developers read (``LOG_FORMAT=plain``), masked like the JSON one, with
    the correlation id at the end when known."""

    def __init__(self, service):
        super().__init__(PLAIN_FORMAT.format(service=service))

    def format(self, record):
        line = redact(super().format(record))
        corr = getattr(record, "correlation_id", None)
        return f"{line} [{corr}]" if corr else line


def log_formatter(service, fmt=None):
    """The formatter of ``service``'s log lines: JSON unless ``fmt`` or ``LOG_FORMAT`` says
    ``plain``. Named in config.yaml's LOGGING as ``"()": cdht.observability.log_formatter``."""
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "json").strip().lower()
    if fmt == "plain":
        return PlainLogFormatter(service)
    if fmt != "json":
        raise ValueError(f"LOG_FORMAT must be json or plain, not {fmt!r}")
    return JsonLogFormatter(service)
