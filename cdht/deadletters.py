"""List and replay dead letters: the operator's side of ``cdht.consumer``.

Listing takes messages without acking them and closes the channel, so the broker puts them
back in order. Replaying republishes each to its consumer queue with confirms, with the
attempt counter reset, and only then acks it out of the dead-letter queue.
"""
import importlib
import json

from kombu import Connection, Queue
from nameko.amqp.publish import get_producer

from cdht.consumer import (ATTEMPT_HEADER, DEAD_AT_HEADER, ERROR_HEADER, QUEUE_HEADER,
                           ReliableEventHandler, dead_letter_queue)


def consumer_queues(service):
    """Queue names of every ``handle_event`` entrypoint of ``services.<service>.service``."""
    module = importlib.import_module(f"services.{service}.service")
    names = []
    for obj in vars(module).values():
        if isinstance(obj, type) and getattr(obj, "name", None) == service:
            for attr, method in vars(obj).items():
                for entrypoint in getattr(method, "nameko_entrypoints", ()):
                    if isinstance(entrypoint, ReliableEventHandler):
                        names.append("evt-{}-{}--{}.{}".format(
                            entrypoint.source_service, entrypoint.event_type, service, attr))
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


def list_dead_letters(config, queue, limit=1000):
    dlq = dead_letter_queue(queue, config)
    letters = []
    with Connection(config["AMQP_URI"]) as conn:
        channel = conn.channel()
        bound = dlq(channel)
        bound.declare()
        for _ in range(limit):
            message = bound.get(no_ack=False)
            if message is None:
                break
            letters.append(_summary(message, queue))
        channel.close()  # unacked messages return to the queue, in order
    return letters


def replay(config, queue, limit=1000):
    dlq = dead_letter_queue(queue, config)
    replayed = 0
    with Connection(config["AMQP_URI"]) as conn, get_producer(config["AMQP_URI"]) as producer:
        bound = dlq(conn.channel())
        bound.declare()
        # The consumer queue must exist, or the default exchange would drop what we replay.
        Queue(queue, channel=conn.channel()).queue_declare(passive=True)
        for _ in range(limit):
            message = bound.get(no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in (ATTEMPT_HEADER, ERROR_HEADER, DEAD_AT_HEADER, QUEUE_HEADER)
                       and not k.startswith("x-death") and k not in ("x-first-death-exchange",
                       "x-first-death-queue", "x-first-death-reason")}
            producer.publish(message.body, exchange="", routing_key=queue, headers=headers,
                             content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=2)
            message.ack()
            replayed += 1
    return replayed
