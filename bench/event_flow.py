"""Benchmark: recognitions from assessment's outbox through reporting's projections.

Prints, in one run on this machine:
- the broker's limit (bench/limits.py): persistent messages published with pipelined
  confirms and consumed with batched acks, on the same RabbitMQ, one after the other and
  both at once (through); and the old round-trip figure (a confirm awaited per message),
  which is not the limit;
- throughput, with a real `nameko run` reporting process and cdht.outbox.Relay on a scratch
  assessment outbox: N recognition_granted rows committed and relayed while reporting is
  stopped, then reporting's batched consumer applying that backlog (the closing of a year);
  then N more relayed and applied with everything running (outbox -> figures), and its
  ratio to the broker's limit;
- computed group titles (a quarter as many as --events: a closing computes about one per
  four recognitions) committed, then relayed and applied with everything running (families
  without members here: the titles' own work): one group_recognition_granted each (a
  decision's), then as many again in group_recognitions_granted of 500 (a closing's);
- event-to-figure latency: single recognitions committed one at a time in their own unit,
  from commit until GET /units/<code>/progress shows it, p50/p95/p99: first with no other
  load, then under --background-rate recognitions/s (default 200) in another unit;
- a closing's --closing recognitions (default 100,000; recognitions_granted, 500 an event)
  committed, then relayed and applied with everything running: outbox -> figures, beside the
  goal of 10,000 a second (their people registered beforehand through people_imported, as a
  closing's people are);
- the reporting process's peak RSS (VmHWM).

    .venv/bin/python bench/event_flow.py [--events 5000] [--latency-samples 200]
                                         [--background-rate 200] [--closing 100000]

Figures, not assertions: nothing here fails on a slow machine.
"""
import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import (  # noqa: E402
    PG, auth_headers, cpu_seconds, drop_vhost, emit, peak_rss_mb, peaks_line, percentiles,
    scratch_vhost,
)
from bench.limits import broker_limit, round_trip, through  # noqa: E402
from cdht import db  # noqa: E402
from cdht.contracts.events import (  # noqa: E402
    RECOGNITIONS_PER_EVENT, group_recognitions_granted, recognitions_granted,
)
from cdht.outbox import Relay, add_event, add_events  # noqa: E402
from cdht_tools import local  # noqa: E402
from tests.support import free_port  # noqa: E402

PATH = ["AG", "AG.BENCH"]
PROBE = ["AG", "AG.PROBE"]  # the single recognitions timed, apart from any other load
CLOSED = ["AG", "AG.CLOSED"]  # a closing's recognitions, 500 an event


def grant_data(path=PATH):
    return {"recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
            "person_id": uuid.uuid4(), "unit_code": path[-1], "unit_path": path,
            "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
            "total_score": 85, "digital_skills": "basic"}


def titled(base_url, unit="AG"):
    response = requests.get(f"{base_url}/units/{unit}/progress", params={"year": 2025}, timeout=5,
                            headers=auth_headers())
    if response.status_code == 404:  # no event has named the unit yet
        return 0
    response.raise_for_status()
    return response.json()["titled"]


def commit_grants(engine, n, path=PATH):
    """``n`` recognition_granted rows in assessment's outbox, 500 per transaction."""
    for offset in range(0, n, 500):
        with Session(engine) as session, session.begin():
            add_events(session, "recognition_granted",
                       [grant_data(path) for _ in range(min(500, n - offset))],
                       producer="assessment")


def commit_people(engine, n, path=CLOSED):
    """``n`` people registered in the registry's outbox as an import sends them
    (people_imported of 5,000): a closing decides registered people. Their ids."""
    people = [str(uuid.uuid4()) for _ in range(n)]
    for batch, offset in enumerate(range(0, n, 5000), start=1):
        with Session(engine) as session, session.begin():
            add_events(session, "people_imported", [{
                "import_id": uuid.uuid4(), "batch": batch, "people": [{
                    "person_id": person, "target_group": "resident", "roles": [],
                    "birth_year": 1980, "unit_code": path[-1], "unit_path": path,
                    "change": "registered"} for person in people[offset:offset + 5000]]}],
                producer="registry")
    return people


def commit_closing(engine, people, path=CLOSED):
    """A recognition for each of ``people`` in assessment's outbox as a closing writes them:
    recognitions_granted of 500, a thousand recognitions per transaction."""
    closing_id, n = uuid.uuid4(), len(people)
    for offset in range(0, n, 1000):
        grants = [grant_data(path) | {"person_id": person}
                  for person in people[offset:offset + 1000]]
        with Session(engine) as session, session.begin():
            add_events(session, "recognitions_granted", recognitions_granted(closing_id, grants),
                       producer="assessment")


def group_title_data(path=PATH):
    return {"group_recognition_id": uuid.uuid4(), "group_id": uuid.uuid4(),
            "group_kind": "family", "year": 2025, "criteria_version": "448/QĐ-KHVN",
            "level": None, "members": 4, "members_titled": 3, "unit_code": path[-1],
            "unit_path": path}


def commit_group_titles(engine, n, bulk=False):
    """``n`` group titles in assessment's outbox, 500 per transaction: one
    group_recognition_granted each, or (``bulk``) a group_recognitions_granted of 500."""
    for offset in range(0, n, 500):
        titles = [group_title_data() for _ in range(min(500, n - offset))]
        with Session(engine) as session, session.begin():
            if bulk:
                add_events(session, "group_recognitions_granted",
                           group_recognitions_granted(uuid.uuid4(), titles),
                           producer="assessment")
            else:
                add_events(session, "group_recognition_granted", titles,
                           producer="assessment")


def group_titles_in_db(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM group_titles"))


def relay_all(relay):
    relay.relay_pending()


def registered_in_db(engine, unit):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM people WHERE unit_code = :u "
                                "AND registered"), {"u": unit})


def titled_in_db(engine, unit="AG"):
    """The unit's titles in reporting's tallies, the table GET /progress reads: polling it
    costs the reporting process nothing (50 HTTP polls a second took a fifth of its CPU,
    which the figure then measured too)."""
    with engine.connect() as conn:
        return conn.scalar(text("SELECT coalesce(max(n), 0) FROM tallies WHERE unit_code = :u "
                                "AND metric = 'titled' AND key = 2025"), {"u": unit})


def wait_titled(base, engine, n, unit="AG"):
    """Poll until the unit's tallies hold ``n`` titles: ((time, titled) first seen above 0,
    time done); then GET /progress must show them too."""
    first = None
    while True:
        now, seen = time.perf_counter(), titled_in_db(engine, unit)
        if first is None and seen > 0:
            first = (now, seen)
        if seen >= n:
            done = time.perf_counter()
            if titled(base, unit) < n:
                raise SystemExit("the tallies hold the titles, GET /progress does not")
            return first, done
        time.sleep(0.02)


def single_latencies(engine, relay, base, samples, unit_path, give_up=60):
    """Commit one grant at a time in ``unit_path``, relay it as the service would on commit,
    and time until GET /progress of that unit shows it: ms each."""
    unit = unit_path[-1]
    before = titled(base, unit)
    found = []
    for i in range(samples):
        with Session(engine) as session, session.begin():
            add_event(session, "recognition_granted", grant_data(unit_path),
                      producer="assessment")
        t0 = time.perf_counter()
        relay.relay_batch()
        while titled(base, unit) < before + i + 1:
            if time.perf_counter() - t0 > give_up:
                raise SystemExit(f"a single recognition was not in the figures after "
                                 f"{give_up} s: the projection does not keep up")
            time.sleep(0.002)
        found.append((time.perf_counter() - t0) * 1000)
    return found


def background_load(engine, amqp, rate, stop):
    """Grants at ``rate``/s in another unit, committed and relayed every 50 ms, until
    ``stop`` is set: the other work a single recognition has to get through."""
    relay = Relay(engine, amqp, "assessment", batch_size=500)
    per_tick, tick, sent = max(1, round(rate / 20)), 1 / 20, 0
    next_at = time.perf_counter()
    while not stop.is_set():
        commit_grants(engine, per_tick)
        sent += per_tick
        relay.relay_pending()
        next_at += tick
        time.sleep(max(0.0, next_at - time.perf_counter()))
    return sent


def run(events=5000, latency_samples=200, background_rate=200, closing=100000, out=print):
    """Every figure of this benchmark, printed with ``out`` and returned as a dict."""
    figures = {}
    run_id = uuid.uuid4().hex[:8]
    amqp = scratch_vhost(run_id)
    limit = broker_limit(amqp, min(max(events, 20000), 100000))
    figures.update(limit_publish=limit["publish"], limit_consume=limit["consume"],
                   limit_through=through(amqp, min(max(events, 20000), 100000)))
    out(f"broker limit:               publish {limit['publish']:8.0f} msg/s (pipelined "
        f"confirms)   consume {limit['consume']:8.0f} msg/s (prefetch 1000, batched acks)"
        f"   ({limit['bytes']}-byte persistent messages, bench/limits.py)")
    out(f"broker limit, through:      {figures['limit_through']:8.0f} msg/s (the same, "
        f"published by one process and consumed by another at once)")
    trip = round_trip(amqp, min(events, 5000))
    figures.update(raw_publish=trip["publish"], raw_consume=trip["consume"])
    out(f"round trip, not the limit:  publish {trip['publish']:8.0f} msg/s (a confirm "
        f"awaited per message)   consume {trip['consume']:8.0f} msg/s (an ack per message)")

    urls = {s: f"{PG}/cdht_bench_{run_id}_{s}" for s in ("assessment", "reporting", "registry")}
    for service, url in urls.items():
        db.upgrade(service, url=url)
    port = free_port()
    env = {"AMQP_URI": amqp, "REPORTING_DATABASE_URL": urls["reporting"],
           "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}
    logs = Path(tempfile.mkdtemp()) / "logs"
    procs = local.start_services(env, logs, ["reporting"])
    engine = create_engine(urls["assessment"])
    figures_db = create_engine(urls["reporting"])
    try:
        local.wait_healthy(procs)
        base = procs[0].base_url
        relay = Relay(engine, amqp, "assessment", batch_size=500)

        # 1. reporting stopped: N grants committed, then relayed onto its queue
        first_peak = peak_rss_mb(procs[0].process.pid)
        local.stop_processes(procs)
        start = time.perf_counter()
        commit_grants(engine, events)
        committed = time.perf_counter()
        cpu = time.process_time()
        relay_all(relay)
        relayed = time.perf_counter()
        figures.update(commit=events / (committed - start),
                       relay=events / (relayed - committed),
                       relay_cpu_ms_per_1000=(time.process_time() - cpu) * 1e6 / events)
        out(f"outbox commit (add_events): {figures['commit']:8.0f} events/s")
        out(f"outbox relay (confirms):    {figures['relay']:8.0f} events/s   "
            f"(onto reporting's queue, reporting stopped; "
            f"{figures['relay_cpu_ms_per_1000']:.0f} ms of CPU per 1,000)")

        # 2. reporting started on that backlog: its batched consumer alone
        procs = local.start_services(env, logs, ["reporting"])
        local.wait_healthy(procs)
        base = procs[0].base_url
        cpu, seen = cpu_seconds(procs[0].process.pid), titled_in_db(figures_db)
        first_seen, done = wait_titled(base, figures_db, events)
        if events - max(seen, first_seen[1]) < events // 2:
            out(f"reporting from a backlog:   not timed: {max(seen, first_seen[1]):,} of "
                f"{events:,} were applied before the first look (give more --events)")
        else:
            figures["projection"] = (events - first_seen[1]) / (done - first_seen[0])
            figures["projection_cpu_ms_per_1000"] = (
                (cpu_seconds(procs[0].process.pid) - cpu) * 1e6 / (events - seen))
            out(f"reporting from a backlog:   {figures['projection']:8.0f} recognitions/s   "
                f"(batched consumer: {events:,} queued recognitions into the figures; "
                f"{figures['projection_cpu_ms_per_1000']:.0f} ms of its CPU per 1,000, so "
                f"{1e6 / figures['projection_cpu_ms_per_1000']:,.0f}/s on a core of its own)")

        # 3. sustained, everything running: from the outbox rows to the figures
        commit_grants(engine, events)
        start, cpu = time.perf_counter(), cpu_seconds(procs[0].process.pid)
        relay_all(relay)
        relayed = time.perf_counter()
        wait_titled(base, figures_db, 2 * events)
        applied = time.perf_counter()
        figures["end_to_end"] = events / (applied - start)
        figures["reporting_cpu_ms_per_1000"] = (
            (cpu_seconds(procs[0].process.pid) - cpu) * 1e6 / events)
        out(f"outbox -> figures:          {figures['end_to_end']:8.0f} recognitions/s   "
            f"({events:,} committed rows relayed and applied in {applied - start:.1f} s; "
            f"the projection finished {applied - relayed:.1f} s after the relay; reporting "
            f"used {figures['reporting_cpu_ms_per_1000']:.0f} ms of CPU per 1,000)")
        limit = min(figures["limit_publish"], figures["limit_consume"])
        out(f"  beside the broker's limit: {figures['end_to_end'] / limit:.1%} of "
            f"{limit:,.0f} msg/s (the slower of its pipelined publish and consume; each "
            f"recognition crosses the broker once); "
            f"{figures['end_to_end'] / figures['limit_through']:.1%} of "
            f"{figures['limit_through']:,.0f} msg/s published and consumed at once")

        q = percentiles(single_latencies(engine, relay, base, latency_samples, PROBE))
        figures["latency_idle"] = q
        out(f"event to figure, single:    p50 {q['p50']:6.1f} ms   p95 {q['p95']:6.1f} ms   "
            f"p99 {q['p99']:6.1f} ms   (commit -> visible in GET /progress; "
            f"n={latency_samples}, no other load)")

        stop = threading.Event()
        result = {}
        loader = threading.Thread(target=lambda: result.update(
            sent=background_load(engine, amqp, background_rate, stop)), daemon=True)
        loader_started = time.perf_counter()
        loader.start()
        try:
            time.sleep(1.0)  # let the load settle
            samples = single_latencies(engine, relay, base, latency_samples, PROBE)
        finally:
            stop.set()
            loader.join()
        rate = result["sent"] / (time.perf_counter() - loader_started)
        q = percentiles(samples)
        figures["latency_loaded"] = q
        figures["background_rate"] = rate
        out(f"event to figure, loaded:    p50 {q['p50']:6.1f} ms   p95 {q['p95']:6.1f} ms   "
            f"p99 {q['p99']:6.1f} ms   (under {rate:.0f} recognitions/s in another unit; "
            f"n={latency_samples})")
        # 4. computed group titles, everything running: from the outbox rows to the figures,
        # one event a title (a decision's), then in events of 500 (a closing's)
        titles = max(1, events // 4)
        for key, bulk, sent in (("group_titles", False, "group_recognition_granted"),
                                ("group_titles_bulk", True, "in group_recognitions_granted")):
            before = group_titles_in_db(figures_db)
            commit_group_titles(engine, titles, bulk)
            start, cpu = time.perf_counter(), cpu_seconds(procs[0].process.pid)
            relay_all(relay)
            while group_titles_in_db(figures_db) < before + titles:
                time.sleep(0.01)
            seconds = time.perf_counter() - start
            figures[key] = titles / seconds
            figures[f"{key}_cpu_ms_per_1000"] = (
                (cpu_seconds(procs[0].process.pid) - cpu) * 1e6 / titles)
            out(f"group titles, outbox -> figures: {figures[key]:7.0f} titles/s   ({titles:,} "
                f"{sent} relayed and applied in {seconds:.1f} s; "
                f"{figures[f'{key}_cpu_ms_per_1000']:.0f} ms of reporting's CPU per 1,000)")
        # 5. a closing's recognitions, everything running: from the outbox rows to the figures
        # (its people registered first, as a closing's are)
        registry = create_engine(urls["registry"])
        people = commit_people(registry, closing)
        relay_all(Relay(registry, amqp, "registry", batch_size=500))
        registry.dispose()
        while registered_in_db(figures_db, CLOSED[-1]) < closing:
            time.sleep(0.05)
        commit_closing(engine, people)
        start, cpu = time.perf_counter(), cpu_seconds(procs[0].process.pid)
        relay_all(relay)
        relayed = time.perf_counter()
        wait_titled(base, figures_db, closing, CLOSED[-1])
        seconds = time.perf_counter() - start
        figures["closing_end_to_end"] = closing / seconds
        figures["closing_cpu_ms_per_1000"] = (
            (cpu_seconds(procs[0].process.pid) - cpu) * 1e6 / closing)
        messages = -(-closing // RECOGNITIONS_PER_EVENT)
        out(f"a closing, outbox -> figures: {figures['closing_end_to_end']:7.0f} recognitions/s   "
            f"({closing:,} recognitions in {messages:,} recognitions_granted relayed and applied "
            f"in {seconds:.1f} s; the projection finished {start + seconds - relayed:.1f} s "
            f"after the relay; reporting used {figures['closing_cpu_ms_per_1000']:.0f} ms of "
            f"CPU per 1,000)")
        out(f"  beside the goal:           {figures['closing_end_to_end'] / 10000:.1%} of 10,000 "
            f"recognitions/s; the broker carried {messages / seconds:,.0f} msg/s of its "
            f"{limit:,.0f}")
        figures["peak_rss_mb"] = {p.name: max(peak_rss_mb(p.process.pid) or 0, first_peak or 0)
                                  for p in procs}
        out(peaks_line(figures["peak_rss_mb"]))
    finally:
        local.stop_processes(procs)
        engine.dispose()
        figures_db.dispose()
        for url in urls.values():
            db.drop_database(url)
        drop_vhost(run_id)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--background-rate", type=int, default=200,
                        help="recognitions/s of other load while timing single ones")
    parser.add_argument("--closing", type=int, default=100000,
                        help="recognitions of the closing timed (recognitions_granted)")
    args = parser.parse_args()
    emit(run(args.events, args.latency_samples, args.background_rate, args.closing))


if __name__ == "__main__":
    main()
