"""Benchmark: recognitions from assessment's outbox through reporting's projections.

Prints, in one run on this machine:
- the raw limit: a kombu publish (with confirms) + consume loop on the same RabbitMQ;
- sustained throughput: N recognition_granted rows committed to a scratch assessment outbox,
  relayed by cdht.outbox.Relay, applied by a real `nameko run` reporting process, until the
  province's counter reaches N;
- event-to-figure latency: single recognitions committed one at a time (under no other load),
  from commit until GET /units/<code>/progress shows it, p50/p95/p99.

    .venv/bin/python bench/event_flow.py [--events 5000] [--latency-samples 200]

Figures, not assertions: nothing here fails on a slow machine.
"""
import argparse
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from kombu import Connection, Exchange, Queue  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from cdht import db, local  # noqa: E402
from cdht.outbox import Relay, add_event  # noqa: E402
from tests.support import free_port  # noqa: E402

PG = os.environ.get("CDHT_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
AMQP = os.environ.get("CDHT_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
API = os.environ.get("CDHT_BENCH_RABBIT_API", "http://guest:guest@127.0.0.1:15672")
PATH = ["AG", "AG.BENCH"]


@functools.lru_cache(maxsize=None)
def auth_headers():
    """An admin token signed with the local secret, as the services started here use."""
    return local.dev_headers()


def raw_kombu(amqp, n):
    """Publish n small persistent messages with confirms, consume them: messages/s each way."""
    exchange = Exchange("bench.raw", type="topic", durable=True)
    queue = Queue(f"bench-raw-{uuid.uuid4().hex[:6]}", exchange, routing_key="x", durable=True)
    body = {"event_id": str(uuid.uuid4()), "data": {"unit_path": PATH, "year": 2025}}
    with Connection(amqp, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        queue(conn.channel()).declare()
        start = time.perf_counter()
        for _ in range(n):
            producer.publish(body, exchange=exchange, routing_key="x", serializer="json",
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
                conn.drain_events(timeout=5)
        consumed = time.perf_counter() - start
        queue(conn.channel()).delete()
    return n / published, n / consumed


def grant_data():
    return {"recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
            "person_id": uuid.uuid4(), "unit_code": PATH[-1], "unit_path": PATH,
            "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
            "total_score": 85, "digital_skills": "basic"}


def titled(base_url):
    response = requests.get(f"{base_url}/units/AG/progress", params={"year": 2025}, timeout=5,
                            headers=auth_headers())
    return response.json()["titled"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency-samples", type=int, default=200)
    args = parser.parse_args()

    raw_pub, raw_con = raw_kombu(AMQP, args.events)
    print(f"raw kombu on this broker:   publish {raw_pub:8.0f} msg/s (confirms)   "
          f"consume {raw_con:8.0f} msg/s")

    run = uuid.uuid4().hex[:8]
    vhost = f"cdht-bench-{run}"
    requests.put(f"{API}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{API}/api/permissions/{vhost}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    amqp = AMQP.rstrip("/") + "/" + vhost
    urls = {s: f"{PG}/cdht_bench_{run}_{s}" for s in ("assessment", "reporting")}
    for service, url in urls.items():
        db.upgrade(service, url=url)
    port = free_port()
    env = {"AMQP_URI": amqp, "REPORTING_DATABASE_URL": urls["reporting"],
           "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}
    procs = local.start_services(env, Path(tempfile.mkdtemp()) / "logs", ["reporting"])
    engine = create_engine(urls["assessment"])
    try:
        local.wait_healthy(procs)
        base = procs[0].base_url
        relay = Relay(engine, amqp, "assessment", batch_size=500)

        # sustained throughput: commit N rows in batches, relay, wait for the projection
        start = time.perf_counter()
        for offset in range(0, args.events, 500):
            with Session(engine) as session, session.begin():
                for _ in range(min(500, args.events - offset)):
                    add_event(session, "recognition_granted", grant_data(),
                              producer="assessment")
        committed = time.perf_counter()
        while relay.relay_batch():
            pass
        relayed = time.perf_counter()
        while titled(base) < args.events:
            time.sleep(0.05)
        applied = time.perf_counter()
        print(f"outbox commit:              {args.events / (committed - start):8.0f} events/s")
        print(f"outbox relay (AMQP tx):     {args.events / (relayed - committed):8.0f} events/s")
        print(f"end to end, sustained:      {args.events / (applied - start):8.0f} recognitions/s"
              f"   ({args.events} in {applied - start:.1f} s; projection caught up "
              f"{applied - relayed:.1f} s after the relay finished)")

        # latency: one at a time, relay woken as the service would be on commit
        stop = threading.Event()
        samples = []
        before = titled(base)
        for i in range(args.latency_samples):
            with Session(engine) as session, session.begin():
                add_event(session, "recognition_granted", grant_data(), producer="assessment")
            t0 = time.perf_counter()
            relay.relay_batch()
            while titled(base) < before + i + 1:
                time.sleep(0.002)
            samples.append((time.perf_counter() - t0) * 1000)
        stop.set()
        q = statistics.quantiles(samples, n=100)
        print(f"event to figure, single:    p50 {q[49]:6.1f} ms   p95 {q[94]:6.1f} ms   "
              f"p99 {q[98]:6.1f} ms   (commit -> visible in GET /progress; n={len(samples)})")
    finally:
        local.stop_processes(procs)
        engine.dispose()
        for url in urls.values():
            db.drop_database(url)
        requests.delete(f"{API}/api/vhosts/{vhost}", timeout=10)


if __name__ == "__main__":
    main()
