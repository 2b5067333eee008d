"""The broker's real limit on this machine, to print beside the services' figures.

Two measurements on the same RabbitMQ, with persistent ~600-byte JSON messages (about the
size of a recognition_granted envelope) through a durable queue of their own:

- the limit: publishing with **pipelined** publisher confirms (up to --window unconfirmed
  messages in flight, as a relay that does not wait for each message could), then consuming
  with a prefetch of --prefetch and acks batched (``multiple=True`` every --ack-every);
  and the same two at once, from two processes (``through``): what the broker carries when
  every message is published and consumed on the same cores, as in the event flow;
- a round trip: kombu publishing with a confirm awaited after every message, then
  consuming with a prefetch of 100 and one ack per message. That is what one client doing
  one thing at a time gets; it measures the round trip, not what the broker can take.

    .venv/bin/python bench/limits.py [--messages 20000] [--window 1000] [--prefetch 1000]

Run alone, it works in a scratch vhost of its own; bench/event_flow.py imports
``broker_limit``, ``through`` and ``round_trip`` and runs them in its own.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import amqp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import AMQP, drop_vhost, emit, scratch_vhost  # noqa: E402

MESSAGE_BYTES = 600


def sample_body(size=MESSAGE_BYTES):
    """A JSON body of about ``size`` bytes shaped like an event envelope."""
    body = {"event_id": str(uuid.uuid4()), "event_type": "recognition_granted",
            "version": 1, "producer": "assessment", "occurred_at": "2025-06-01T03:00:00Z",
            "data": {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
                     "person_id": str(uuid.uuid4()), "unit_code": "AG.BENCH",
                     "unit_path": ["AG", "AG.BENCH"], "target_group": "resident",
                     "year": 2025, "criteria_version": "324/QĐ-KHVN", "total_score": 85,
                     "digital_skills": "basic", "note": ""}}
    encoded = json.dumps(body, ensure_ascii=False).encode()
    body["data"]["note"] = "x" * max(0, size - len(encoded))
    return json.dumps(body, ensure_ascii=False).encode()


def connect(url):
    """A py-amqp connection from an ``amqp://user:password@host:port/vhost`` URL."""
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    conn = amqp.Connection(host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
                           userid=unquote(parts.username or "guest"),
                           password=unquote(parts.password or "guest"), virtual_host=vhost)
    conn.connect()
    return conn


class Confirms:
    """Publisher confirms as they arrive: delivery tags run 1, 2, 3... on the channel; an
    ack with ``multiple`` confirms every tag up to its own."""

    def __init__(self, channel):
        self.upto, self.above, self.nacked = 0, set(), 0
        channel.events["basic_ack"].add(self.ack)
        channel.events["basic_nack"].add(self.nack)

    def ack(self, tag, multiple):
        if multiple:
            self.upto = max(self.upto, tag)
            if self.above:
                self.above = {t for t in self.above if t > self.upto}
        else:
            self.above.add(tag)
        while self.upto + 1 in self.above:
            self.upto += 1
            self.above.discard(self.upto)

    def nack(self, tag, multiple):
        self.nacked += 1
        self.ack(tag, multiple)

    @property
    def count(self):
        return self.upto + len(self.above)


def drain(conn, timeout=10):
    try:
        conn.drain_events(timeout=timeout)
    except socket.timeout:
        raise SystemExit(f"the broker sent nothing for {timeout} s") from None


def broker_limit(url=AMQP, n=20000, window=1000, prefetch=1000, ack_every=500,
                 size=MESSAGE_BYTES):
    """Publish ``n`` persistent messages with pipelined confirms, then consume them with
    batched acks: {"publish": msg/s, "consume": msg/s, "bytes": message size}."""
    body = sample_body(size)
    queue = f"bench-limit-{uuid.uuid4().hex[:8]}"
    conn = connect(url)
    try:
        channel = conn.channel()
        declare(channel, queue)
        started = time.perf_counter()
        publish(conn, channel, queue, n, window, body)
        published = time.perf_counter() - started
        started = time.perf_counter()
        consume(conn, channel, queue, n, prefetch, ack_every)
        consumed = time.perf_counter() - started
        channel.queue_delete(queue)
    finally:
        conn.close()
    return {"publish": n / published, "consume": n / consumed, "bytes": len(body)}


def through(url=AMQP, n=20000, window=1000, prefetch=1000, ack_every=500, size=MESSAGE_BYTES):
    """The broker passing messages through, as the event flow uses it: another process
    publishes ``n`` with pipelined confirms while this one consumes them with batched acks,
    on the same cores. msg/s from the first publish to the last message consumed."""
    queue = f"bench-through-{uuid.uuid4().hex[:8]}"
    conn = connect(url)
    try:
        channel = conn.channel()
        declare(channel, queue)
        publisher = subprocess.Popen(
            [sys.executable, __file__, "--publish-to", url, queue, "--messages", str(n),
             "--window", str(window), "--size", str(size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            if publisher.stdout.readline().strip() != "ready":
                raise SystemExit("the publishing process did not start")
            publisher.stdin.write("go\n")
            publisher.stdin.flush()
            started = time.perf_counter()
            consume(conn, channel, queue, n, prefetch, ack_every)
            took = time.perf_counter() - started
            if publisher.wait(timeout=60):
                raise SystemExit(f"the publishing process exited with {publisher.returncode}")
        finally:
            if publisher.poll() is None:  # this side failed: the publisher must not linger
                publisher.kill()
                publisher.wait()
        channel.queue_delete(queue)
    finally:
        conn.close()
    return n / took


def declare(channel, queue):
    channel.exchange_declare("bench.limit", "direct", durable=True, auto_delete=False)
    channel.queue_declare(queue, durable=True, auto_delete=False)
    channel.queue_bind(queue, "bench.limit", routing_key=queue)


def publish(conn, channel, queue, n, window, body):
    """``n`` persistent messages, at most ``window`` unconfirmed at a time; returns once the
    broker has confirmed them all."""
    channel.confirm_select()
    confirms = Confirms(channel)
    for sent in range(1, n + 1):
        while sent - 1 - confirms.count >= window:
            drain(conn)
        channel.basic_publish(amqp.Message(body, delivery_mode=2,
                                           content_type="application/json"),
                              exchange="bench.limit", routing_key=queue)
    while confirms.count < n:
        drain(conn)
    if confirms.nacked:
        raise SystemExit(f"the broker refused {confirms.nacked} messages")


def consume(conn, channel, queue, n, prefetch, ack_every):
    """Take ``n`` messages off ``queue``, acking every ``ack_every`` at once."""
    seen, last = 0, None

    def on_message(message):
        nonlocal seen, last
        seen += 1
        last = message.delivery_info["delivery_tag"]
        if seen % ack_every == 0:
            channel.basic_ack(last, multiple=True)

    channel.basic_qos(0, prefetch, False)
    tag = channel.basic_consume(queue, callback=on_message)
    while seen < n:
        drain(conn)
    if seen % ack_every:
        channel.basic_ack(last, multiple=True)
    channel.basic_cancel(tag)


def _publisher(url, queue, n, window, size):
    """The publishing side of ``through``, run as its own process: connects, says ready,
    publishes on "go"."""
    conn = connect(url)
    try:
        channel = conn.channel()
        print("ready", flush=True)
        sys.stdin.readline()
        publish(conn, channel, queue, n, window, sample_body(size))
    finally:
        conn.close()


def round_trip(url=AMQP, n=5000, size=MESSAGE_BYTES):
    """kombu, a confirm awaited after each message, then one ack per message (prefetch
    100): {"publish": msg/s, "consume": msg/s}. One client's round trip, not the limit."""
    from kombu import Connection, Exchange, Queue
    exchange = Exchange("bench.raw", type="topic", durable=True)
    queue = Queue(f"bench-raw-{uuid.uuid4().hex[:6]}", exchange, routing_key="x", durable=True)
    body = sample_body(size)
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        queue(conn.channel()).declare()
        start = time.perf_counter()
        for _ in range(n):
            producer.publish(body, exchange=exchange, routing_key="x",
                             content_type="application/json", content_encoding="utf-8",
                             delivery_mode=2)
        published = time.perf_counter() - start
        seen = 0

        def on_message(body, message):
            nonlocal seen
            seen += 1
            message.ack()
        start = time.perf_counter()
        with conn.Consumer(queue, callbacks=[on_message], accept=["json"]) as consumer:
            consumer.qos(prefetch_count=100)
            while seen < n:
                conn.drain_events(timeout=10)
        consumed = time.perf_counter() - start
        queue(conn.channel()).delete()
    return {"publish": n / published, "consume": n / consumed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--window", type=int, default=1000,
                        help="unconfirmed messages in flight at most")
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--ack-every", type=int, default=500)
    parser.add_argument("--round-trip-messages", type=int, default=5000)
    parser.add_argument("--publish-to", nargs=2, metavar=("URL", "QUEUE"),
                        help=argparse.SUPPRESS)  # the publishing process of ``through``
    parser.add_argument("--size", type=int, default=MESSAGE_BYTES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish_to:
        _publisher(*args.publish_to, args.messages, args.window, args.size)
        return
    run_id = uuid.uuid4().hex[:8]
    url = scratch_vhost(run_id)
    try:
        limit = broker_limit(url, args.messages, args.window, args.prefetch, args.ack_every)
        print(f"broker limit ({limit['bytes']}-byte persistent messages, {os.cpu_count()} "
              f"cores): publish {limit['publish']:8.0f} msg/s (pipelined confirms, window "
              f"{args.window})   consume {limit['consume']:8.0f} msg/s (prefetch "
              f"{args.prefetch}, acks every {args.ack_every})", flush=True)
        limit["through"] = through(url, args.messages, args.window, args.prefetch,
                                   args.ack_every)
        print(f"broker limit, through:  {limit['through']:8.0f} msg/s (published by one "
              f"process and consumed by another at once, as above)", flush=True)
        trip = round_trip(url, args.round_trip_messages)
        print(f"round trip, not the limit: publish {trip['publish']:8.0f} msg/s (a confirm "
              f"awaited per message)   consume {trip['consume']:8.0f} msg/s (an ack per "
              f"message, prefetch 100)", flush=True)
    finally:
        drop_vhost(run_id)
    emit({"limit": limit, "round_trip": trip})


if __name__ == "__main__":
    main()
