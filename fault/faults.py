"""The faults, each applied to the suite's own servers and processes during the stream, and
how long the figures take to catch up afterwards.

"Time to recover" is measured from the moment the fault is repaired (the process is healthy
again, the broker or database answers) until reporting counts every title granted up to
that moment, and until the congratulation mails for them have all arrived.
"""
import json
import re
import threading
import time
import uuid

from kombu import Connection, Consumer, Queue
from nameko.standalone.events import get_event_exchange

from cdht.contracts import make_envelope
from fault import checks
from fault.stream import YEAR

COPY_HEADER = "x-fault-copy"
ALL_FAULTS = ("duplicates", "kill", "rabbitmq", "postgres", "poison")


class Recovery:
    """Time from repair to: figures caught up, mails caught up."""

    def __init__(self, name):
        self.name = name
        self.outage = None
        self.figures = None
        self.mail = None
        self.note = ""
        self.failure = None  # an invariant the fault itself broke (the suite fails)

    def row(self):
        def s(v):
            return "-" if v is None else f"{v:.1f} s"
        return (self.name, s(self.outage), s(self.figures), s(self.mail), self.note)


def wait_caught_up(system, ledger, smtp, recovery, repaired_at, timeout=900):
    """Block until reporting and the mail catch up with the titles granted at repair time."""
    target = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            target = target if target is not None else ledger.granted()
        except Exception:  # the database may still be coming back
            time.sleep(0.2)
            continue
        if recovery.figures is None:
            figure = checks.titled(system)
            if figure is not None and figure >= target:
                recovery.figures = time.monotonic() - repaired_at
        if recovery.mail is None:
            raw, _ = checks.mail_counts(smtp)
            if len(raw[checks.CONGRATULATION]) >= target:
                recovery.mail = time.monotonic() - repaired_at
        if recovery.figures is not None and recovery.mail is not None:
            return recovery
        time.sleep(0.25)
    recovery.note += f" not caught up with {target} titles after {timeout}s"
    return recovery


# -- the faults ---------------------------------------------------------------------------------

def kill_service(system, ledger, smtp, service):
    """SIGKILL one service mid-stream and start it again at once."""
    recovery = Recovery(f"SIGKILL {service}")
    started = time.monotonic()
    system.kill(service)
    system.start(service)
    repaired = time.monotonic()
    recovery.outage = repaired - started
    return wait_caught_up(system, ledger, smtp, recovery, repaired)


def restart_rabbitmq(system, ledger, smtp):
    """Restart the broker under load. Every service must ride it out in the same process
    (cdht.broker): an exit here fails the suite, even though the supervisor restarts it."""
    recovery = Recovery("restart RabbitMQ")
    before = system.pids()
    started = time.monotonic()
    system.rabbit.restart()
    repaired = time.monotonic()
    recovery.outage = repaired - started
    wait_caught_up(system, ledger, smtp, recovery, repaired)
    after = system.pids()
    exited = sorted(s for s, pid in before.items() if after.get(s) != pid)
    if exited:
        recovery.failure = (f"service process(es) exited during the RabbitMQ restart: "
                            f"{', '.join(exited)}")
        recovery.note += " EXITED: " + ", ".join(exited)
    else:
        recovery.note += f" all {len(before)} service processes survived"
    return recovery


def stop_postgres(system, ledger, smtp, seconds=10):
    recovery = Recovery(f"stop PostgreSQL {seconds:.0f} s")
    started = time.monotonic()
    system.pg.stop()
    time.sleep(seconds)
    system.pg.start()
    repaired = time.monotonic()
    recovery.outage = repaired - started
    return wait_caught_up(system, ledger, smtp, recovery, repaired)


class Duplicator(threading.Thread):
    """Every event published on the registry's and assessment's exchanges is published once
    more (same body, same message id, same routing key), while the window is open."""

    def __init__(self, amqp_uri, producers=("registry", "assessment")):
        super().__init__(name="duplicator", daemon=True)
        self.amqp_uri = amqp_uri
        self.exchanges = {p: get_event_exchange(p, {}) for p in producers}
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.copied = []  # (event_id, event_type)
        self.error = None

    def run(self):
        try:
            with Connection(self.amqp_uri) as conn, Connection(self.amqp_uri) as out:
                channel = conn.channel()
                queue = Queue(f"fault-duplicator-{uuid.uuid4().hex[:8]}", exclusive=True,
                              channel=channel)
                queue.declare()
                for exchange in self.exchanges.values():
                    exchange(channel).declare()
                    queue.bind_to(exchange=exchange.name, routing_key="#")
                producer = out.Producer()
                received = []
                # on_message: the raw message, never decoded (a poison body must not stop it)
                consumer = Consumer(channel, queues=[queue], on_message=received.append,
                                    auto_declare=False, prefetch_count=500)
                self.ready.set()
                with consumer:
                    while not self.stopping.is_set():
                        try:
                            conn.drain_events(timeout=0.5)
                        except TimeoutError:  # socket.timeout: nothing within 0.5 s
                            pass
                        while received:
                            self._copy(producer, received.pop(0))
        except Exception as exc:  # reported by the suite, never swallowed
            self.error = f"{type(exc).__name__}: {exc}"
            self.ready.set()

    def _copy(self, producer, message):
        headers = dict(message.headers or {})
        if not headers.get(COPY_HEADER):
            headers[COPY_HEADER] = 1
            info = message.delivery_info
            producer.publish(message.body, exchange=info["exchange"],
                             routing_key=info["routing_key"], headers=headers,
                             content_type=message.content_type,
                             content_encoding=message.content_encoding,
                             message_id=message.properties.get("message_id"),
                             delivery_mode=2)
            self.copied.append((message.properties.get("message_id"), info["routing_key"]))
        message.ack()

    def stop(self):
        self.stopping.set()
        self.join(10)


# -- poison ---------------------------------------------------------------------------------------

def _publish_raw(amqp_uri, exchange, routing_key, body, content_type="application/json"):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(body, exchange=get_event_exchange(exchange, {}),
                                routing_key=routing_key, content_type=content_type,
                                content_encoding="utf-8" if isinstance(body, str) else "binary",
                                delivery_mode=2, message_id=str(uuid.uuid4()))


def hopeless_poison():
    """Messages no retry and no replay can ever apply: (exchange, routing key, body, type)."""
    now = "2025-06-01T00:00:00+00:00"
    good = {"event_id": str(uuid.uuid4()), "event_type": "recognition_granted",
            "schema_version": 1, "occurred_at": now, "producer": "assessment",
            "correlation_id": "fault-poison", "data": {}}
    return [
        ("assessment", "recognition_granted", b"\x80\x81\xfe not json at all",
         "application/json"),
        ("assessment", "recognition_granted", json.dumps({"hello": "world"}),
         "application/json"),
        ("assessment", "recognition_granted",
         json.dumps(good | {"event_id": str(uuid.uuid4()), "schema_version": 99}),
         "application/json"),
        ("assessment", "recognition_granted",  # an unknown field carrying personal data
         json.dumps(good | {"event_id": str(uuid.uuid4()),
                            "data": {"email": "leak@example.org"}}), "application/json"),
        ("assessment", "recognition_granted",  # pickle: a consumer must never unpickle it
         b"cos\nsystem\n(S'echo pwned'\ntR.", "application/x-python-serialize"),
        ("registry", "person_registered", '{"event_id": "truncated', "application/json"),
    ]


def hopeless_expected(subs):
    """{consumer service: dead letters expected} for hopeless_poison()."""
    expected = {}
    for exchange, key, _, _ in hopeless_poison():
        for service, events in subs.items():
            if events.get(key) == exchange:
                expected[service] = expected.get(service, 0) + 1
    return expected


def inject_hopeless(amqp_uri):
    for exchange, key, body, content_type in hopeless_poison():
        _publish_raw(amqp_uri, exchange, key, body, content_type)


def inject_dependent(amqp_uri, province, count=5):
    """Contract-valid ``assessment_submitted`` events (notifications tells the commune's
    reviewer). Published while the registry is away, notifications cannot find the reviewer;
    once its retries are exhausted they are dead letters, applicable after the registry is
    back. Returns {event_id: official email}."""
    from fault.stream import official_email
    injected = {}
    for i in range(count):
        person_id, _, unit = province.people[i * 7 % len(province.people)]
        envelope = make_envelope("assessment_submitted", {
            "assessment_id": str(uuid.uuid4()), "person_id": person_id, "year": YEAR,
            "unit_code": unit, "unit_path": ["AG", unit], "criteria_version": "324/QĐ-KHVN",
            "total_score": 81, "passed": True}, producer="assessment",
            correlation_id="fault-poison-dependent")
        _publish_raw(amqp_uri, "assessment", "assessment_submitted",
                     json.dumps(envelope.to_message()))
        injected[str(envelope.event_id)] = official_email(unit)
    return injected


def dead_letters(system, service):
    """Every dead letter of the service's consumer queues (cdht_tools.deadletters.list_dead_letters,
    what ``cdht dead-letters list`` prints), in this process: it is polled."""
    from cdht_tools.deadletters import consumer_queues, list_dead_letters
    config = {"AMQP_URI": system.rabbit.amqp_uri, "QUEUE_TYPE": "classic"}
    return [letter for queue in consumer_queues(service)
            for letter in list_dead_letters(config, queue)]


REPLAYED = re.compile(r"^(?P<queue>\S+): replayed (?P<replayed>\d+) of (?P<held>\d+) "
                      r"message\(s\); (?P<dead_again>\d+) dead-lettered again(?P<open> so far)?")


def replay(system, service):
    """``cdht dead-letters replay SERVICE``, as the operator runs it: what it printed, added
    up over the service's queues: {replayed, held, dead_again, settled}."""
    result = system.cli("dead-letters", "replay", service, service_env=service, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"dead-letters replay {service}: {result.stderr[-1000:]}")
    total = {"replayed": 0, "held": 0, "dead_again": 0, "settled": True}
    for line in result.stdout.splitlines():
        m = REPLAYED.match(line.strip())
        if m:
            for key in ("replayed", "held", "dead_again"):
                total[key] += int(m[key])
            total["settled"] = total["settled"] and not m["open"]
    return total
