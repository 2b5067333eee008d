"""List and replay dead letters: the operator's side of ``cdht.consumer``.

Listing takes messages without acking them and closes the channel, so the broker puts them
back in order. Replaying republishes each to its consumer queue with confirms, with the
attempt counter reset, and only then acks it out of the dead-letter queue.

A replay takes at most the messages the dead-letter queue held when it started: a message
that fails again is dead-lettered again at the tail of the same queue, and must not be
replayed a second time by the same replay (it would cycle until ``limit``). Each replayed
message carries the replay's id in a header, which the consumer keeps when it dead-letters
it again; so the replay can tell, after a short wait, how many came back.
"""
import importlib
import json
import time
import uuid

from amqp.exceptions import ChannelError
from kombu import Connection, Queue
from nameko.amqp.publish import get_producer

from cdht.consumer import (ATTEMPT_HEADER, DEAD_AT_HEADER, ERROR_HEADER, QUEUE_HEADER,
                           dead_letter_queue, event_handlers, retry_delays, retry_queue)
from cdht.identity import broker_user

REPLAY_HEADER = "x-cdht-replay"
# Which of a replay's messages this is: a letter dead-lettered again can reach the queue twice
# (a copy published, then the broker connection lost before its confirm: the consumer requeues
# and dead-letters it again), and is still one letter come back.
REPLAY_NUMBER_HEADER = "x-cdht-replay-number"
DROPPED_HEADERS = {ATTEMPT_HEADER, ERROR_HEADER, DEAD_AT_HEADER, QUEUE_HEADER, REPLAY_HEADER,
                   REPLAY_NUMBER_HEADER,
                   "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"}


def consumer_queues(service):
    """Queue names of every reliable event handler of ``services.<service>.service``."""
    module = importlib.import_module(f"services.{service}.service")
    names = []
    for obj in vars(module).values():
        if isinstance(obj, type) and getattr(obj, "name", None) == service:
            names.extend(queue for _, queue in event_handlers(obj))
    return sorted(names)


def _summary(message, queue):
    headers = message.headers or {}
    try:
        body = json.loads(message.body)
        event = {k: body.get(k) for k in ("event_id", "event_type", "schema_version")} \
            if isinstance(body, dict) else {}
    except (ValueError, TypeError):
        event = {}
    return {"queue": headers.get(QUEUE_HEADER, queue), "error": headers.get(ERROR_HEADER),
            "dead_lettered_at": headers.get(DEAD_AT_HEADER),
            "attempts": headers.get(ATTEMPT_HEADER), **event,
            "body_bytes": len(message.body or b"")}


def _peek(config, queue, limit):
    """The dead-letter queue's first ``limit`` messages, left in place: [(headers, summary)]."""
    dlq = dead_letter_queue(queue, config)
    found = []
    with Connection(config["AMQP_URI"]) as conn:
        channel = conn.channel()
        bound = dlq(channel)
        bound.declare()
        for _ in range(limit):
            message = bound.get(no_ack=False)
            if message is None:
                break
            found.append((message.headers or {}, _summary(message, queue)))
        channel.close()  # unacked messages return to the queue, in order
    return found


def list_dead_letters(config, queue, limit=1000):
    return [summary for _, summary in _peek(config, queue, limit)]


class ReplayResult(int):
    """How many messages a replay put back (it *is* that number, so callers that add
    counts keep working), with what became of them:

    - ``held``: messages in the dead-letter queue when the replay started;
    - ``dead_again``: replayed messages back in the dead-letter queue by the end of the wait;
    - ``settled``: the consumer queue was drained and no more came back during the wait
      (False: the service is not consuming, or handling is slow; more may come back).
    """

    def __new__(cls, replayed, held, dead_again=0, settled=True, waited=0.0):
        result = super().__new__(cls, replayed)
        result.held, result.dead_again = held, dead_again
        result.settled, result.waited = settled, waited
        return result

    @property
    def replayed(self):
        return int(self)

    def describe(self):
        text = (f"replayed {self.replayed} of {self.held} message(s); "
                f"{self.dead_again} dead-lettered again")
        if not self.settled:
            text += f" so far (not settled after {self.waited:g} s: more may come back)"
        return text


def replay(config, queue, limit=1000, wait=10.0):
    """Move at most ``limit`` of the messages the dead-letter queue holds now back to
    ``queue``; then wait up to ``wait`` seconds to count those dead-lettered again."""
    dlq = dead_letter_queue(queue, config)
    replay_id = uuid.uuid4().hex
    replayed = 0
    with Connection(config["AMQP_URI"]) as conn, get_producer(config["AMQP_URI"]) as producer:
        channel = conn.channel()
        bound = dlq(channel)
        _, held, _ = bound.queue_declare()
        # The consumer queue must exist, or the default exchange would drop what we replay.
        Queue(queue, channel=conn.channel()).queue_declare(passive=True)
        for _ in range(min(held, limit)):
            message = bound.get(no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in DROPPED_HEADERS and not k.startswith("x-death")}
            if (message.headers or {}).get(REPLAY_HEADER) == replay_id:
                break  # back already: left unacked, the channel's close requeues it
            headers[REPLAY_HEADER] = replay_id
            headers[REPLAY_NUMBER_HEADER] = replayed
            producer.publish(message.body, exchange="", routing_key=queue, headers=headers,
                             user_id=broker_user(config["AMQP_URI"]),  # cdht.identity
                             content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=2)
            message.ack()
            replayed += 1
        channel.close()
    if not replayed or wait <= 0:
        return ReplayResult(replayed, held, settled=not replayed)
    return _watch(config, queue, replay_id, replayed, held, wait)


def _waiting(config, queue):
    """Messages ready in the consumer queue and its retry queues (not those being handled)."""
    names = [queue] + [retry_queue(queue, ms, config).name for ms in retry_delays(config)]
    waiting = 0
    with Connection(config["AMQP_URI"]) as conn:
        for name in names:
            try:
                waiting += Queue(name, channel=conn.channel()).queue_declare(
                    passive=True).message_count
            except ChannelError:  # a retry queue not declared (yet): nothing waits there
                pass
    return waiting


def _watch(config, queue, replay_id, replayed, held, wait, steady=2.0):
    """Until nothing waits in the consumer queue or its retry queues and the count of this
    replay's messages back in the dead-letter queue has not moved for ``steady`` seconds (or
    all are back, or ``wait`` has passed)."""
    started = time.monotonic()
    last, steady_since = -1, started
    while True:
        back = len({headers.get(REPLAY_NUMBER_HEADER)
                    for headers, _ in _peek(config, queue, held + replayed + 1000)
                    if headers.get(REPLAY_HEADER) == replay_id})
        waiting = _waiting(config, queue)
        now = time.monotonic()
        if back != last or waiting:
            last, steady_since = back, now
        if not waiting and (back == replayed or now - steady_since >= steady):
            return ReplayResult(replayed, held, back, True, round(now - started, 1))
        if now - started >= wait:
            return ReplayResult(replayed, held, back, False, wait)
        time.sleep(0.25)
