"""Benchmark: the reporting dashboard's reads at a province's scale, and event-to-figure.

Prints, in one run on this machine:
- loading: a synthetic province (102 communes, N people, 1,000,000 recognitions by default)
  counted by reporting's rebuild code (domain.rebuild + rebuild.apply) into a scratch
  database;
- the dashboard's queries, over HTTP against a real `nameko run` reporting process: one
  refresh of the page (province progress + breakdown by commune + monthly series) and a
  commune's progress, p50/p95 (they read the counters, not the rows);
- the same figures recounted from the raw rows (people x recognition_facts, GROUP BY), its
  time, and whether every commune's figures agree;
- event to figure: single recognition_granted events published to RabbitMQ, from publish
  until GET /units/<commune>/progress shows them, p50/p95/p99.

    .venv/bin/python bench/reporting_dashboard.py [--recognitions 1000000] [--people N]
                                                  [--samples 100] [--events 100]

Figures, not assertions: nothing here fails on a slow machine.
"""
import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from kombu import Connection  # noqa: E402
from nameko.standalone.events import get_event_exchange  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    PG, auth_headers, drop_vhost, emit, peaks_line, peaks_of, percentiles, scratch_vhost,
)
from cdht import db  # noqa: E402
from cdht.contracts import make_envelope  # noqa: E402
from cdht_tools import local  # noqa: E402
from services.reporting import domain, rebuild  # noqa: E402
from tests.support import free_port  # noqa: E402

COMMUNES = [f"AG.{i:03d}" for i in range(1, 103)]
YEAR = 2025

RECOUNT = text("""
    WITH titles AS (
        SELECT p.unit_code,
               count(*) FILTER (WHERE :year - p.birth_year >= :adult) AS adults_titled,
               count(*) FILTER (WHERE r.digital_skills IN ('basic', 'proficient')) AS digital,
               count(*) AS titled
        FROM recognition_facts r JOIN people p USING (person_id)
        WHERE r.year = :year AND r.revoked_at IS NULL AND p.registered AND NOT p.removed
        GROUP BY p.unit_code),
    population AS (
        SELECT unit_code, count(*) FILTER (WHERE :year - birth_year >= :adult) AS adults
        FROM people WHERE registered AND NOT removed GROUP BY unit_code)
    SELECT p.unit_code, coalesce(t.adults_titled, 0) AS adults_titled, p.adults,
           coalesce(t.digital, 0) AS digital, coalesce(t.titled, 0) AS titled
    FROM population p LEFT JOIN titles t USING (unit_code)
    WHERE p.unit_code = ANY(CAST(:units AS varchar[]))
""")



def synthetic(people, recognitions, seed=1):
    """A snapshot as the sources' exports would give it."""
    rnd = random.Random(seed)
    snapshot = domain.Snapshot()
    for i in range(people):
        unit = COMMUNES[int(rnd.random() ** 1.3 * len(COMMUNES))]  # some communes bigger
        roles = ["association_member"] if rnd.random() < 0.05 else []
        if rnd.random() < 0.08:
            roles.append("unit_staff")
        snapshot.people.append({"person_id": str(uuid.UUID(int=rnd.getrandbits(128))),
                                "unit_code": unit, "unit_path": ["AG", unit],
                                "target_group": "resident", "roles": roles,
                                "birth_year": rnd.randint(1940, 2015)})
    titled = rnd.sample(range(people), recognitions)
    for i in titled:
        p = snapshot.people[i]
        month = rnd.randint(1, 12)
        snapshot.recognitions.append({
            "recognition_id": str(uuid.UUID(int=rnd.getrandbits(128))),
            "person_id": p["person_id"], "unit_code": p["unit_code"],
            "unit_path": p["unit_path"], "year": YEAR if rnd.random() < 0.8 else YEAR - 1,
            "digital_skills": rnd.choice(("none", "basic", "basic", "proficient")),
            "granted_at": f"{YEAR}-{month:02d}-{rnd.randint(1, 28):02d}T03:00:00+00:00"})
    return snapshot, {p["person_id"] for p in (snapshot.people[i] for i in titled)}


def timed(call, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


FIGURES = {}


def quantiles(samples, name=None):
    q = percentiles(samples)
    if name:
        FIGURES[name] = {"p50": q["p50"], "p95": q["p95"]}
    return f"p50 {q['p50']:7.1f} ms   p95 {q['p95']:7.1f} ms"


def get(base, path, **params):
    response = requests.get(f"{base}{path}", params=params, timeout=30, headers=auth_headers())
    response.raise_for_status()
    return response.json()


def every_adult_targets():
    """The shipped targets, counting adults_titled over every registered adult and digital
    skills by the title's level: the rules the raw recount below applies (the synthetic
    province has no groups and no learning records)."""
    import yaml

    from services.reporting import domain
    targets = domain.load_targets()
    targets["indicators"]["adults_titled"]["population"] = "all_adults"
    for indicator in ("titled_with_digital_skills", "titled_digitally_proficient"):
        targets["indicators"][indicator]["digital"]["activities"] = []
    path = Path(tempfile.mkdtemp()) / "targets.yaml"
    path.write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    return str(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recognitions", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=None,
                        help="default: 2.5 x recognitions (about 40%% titled)")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    people = args.people or int(args.recognitions * 2.5)

    run = uuid.uuid4().hex[:8]
    amqp = scratch_vhost(run)
    url = f"{PG}/cdht_bench_{run}_reporting"
    db.upgrade("reporting", url=url)
    engine = create_engine(url)
    procs = []
    try:
        targets_file = every_adult_targets()
        t0 = time.perf_counter()
        snapshot, titled_ids = synthetic(people, args.recognitions)
        t1 = time.perf_counter()
        rebuild.apply(engine, snapshot, {"ADULT_AGE": 18, "TARGETS_FILE": targets_file})
        t2 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            sizes = {t: conn.scalar(text(f"SELECT count(*) FROM {t}"))  # noqa: S608
                     for t in ("people", "recognition_facts", "tallies", "tally_days")}
        print(f"synthetic province:          {people:,} people in {len(COMMUNES)} communes, "
              f"{args.recognitions:,} recognitions (generated in {t1 - t0:.1f} s)")
        print(f"counted by the rebuild code: {t2 - t1:8.1f} s  "
              f"({args.recognitions / (t2 - t1):,.0f} recognitions/s; rows: "
              + ", ".join(f"{t} {n:,}" for t, n in sizes.items()) + ")")

        port = free_port()
        env = {"AMQP_URI": amqp, "REPORTING_DATABASE_URL": url,
               "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
               "REPORTING_TARGETS_FILE": targets_file}
        procs = local.start_services(env, Path(tempfile.mkdtemp()) / "logs", ["reporting"])
        local.wait_healthy(procs)
        base = procs[0].base_url

        def refresh():  # what the dashboard asks on a change: three reads
            get(base, "/units/AG/progress", year=YEAR)
            get(base, "/units/AG/breakdown", year=YEAR, indicator="adults_titled")
            get(base, "/units/AG/series", year=YEAR)
        refresh()
        print(f"dashboard refresh (3 GETs):  {quantiles(timed(refresh, args.samples), 'refresh')}"
              f"   (province progress + breakdown of {len(COMMUNES)} communes + series)")
        for key, name, call in (
                ("province", "  province progress",
                 lambda: get(base, "/units/AG/progress", year=YEAR)),
                ("breakdown", "  breakdown by commune",
                 lambda: get(base, "/units/AG/breakdown", year=YEAR)),
                ("series", "  monthly series", lambda: get(base, "/units/AG/series", year=YEAR)),
                ("commune", "  a commune's progress",
                 lambda: get(base, f"/units/{COMMUNES[0]}/progress", year=YEAR))):
            print(f"{name + ':':<29}{quantiles(timed(call, args.samples), key)}")

        # the same figures from the raw rows
        t0 = time.perf_counter()
        with engine.connect() as conn:
            recount = {r.unit_code: r for r in conn.execute(
                RECOUNT, {"year": YEAR, "adult": 18, "units": COMMUNES})}
        t_recount = (time.perf_counter() - t0) * 1000
        breakdown = {c["unit_code"]: c for c in get(
            base, "/units/AG/breakdown", year=YEAR, indicator="adults_titled")["children"]}
        digital = {c["unit_code"]: c for c in get(
            base, "/units/AG/breakdown", year=YEAR,
            indicator="titled_with_digital_skills")["children"]}
        agree = all((breakdown[u]["numerator"], breakdown[u]["denominator"],
                     digital[u]["numerator"], digital[u]["denominator"]) ==
                    (r.adults_titled, r.adults, r.digital, r.titled)
                    for u, r in recount.items())
        FIGURES.update(recount_ms=t_recount, agree=agree, recognitions=args.recognitions)
        total = get(base, "/units/AG/progress", year=YEAR)
        adults = next(i for i in total["indicators"] if i["indicator"] == "adults_titled")
        raw_total = (sum(r.adults_titled for r in recount.values()),
                     sum(r.adults for r in recount.values()))
        print(f"recount from raw rows (SQL): {t_recount:8.1f} ms once  "
              f"(adults titled {raw_total[0]:,} / {raw_total[1]:,}; the API says "
              f"{adults['numerator']:,} / {adults['denominator']:,}; every commune's "
              f"adults_titled and digital-skills figures agree: {'yes' if agree else 'NO'})")

        # event to figure
        exchange = get_event_exchange("assessment", {})
        untitled = [p for p in snapshot.people if p["person_id"] not in titled_ids]
        samples = []
        with Connection(amqp, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer()
            for person in untitled[:args.events]:
                unit = person["unit_code"]
                before = get(base, f"/units/{unit}/progress", year=YEAR)["titled"]
                body = make_envelope("recognition_granted", {
                    "recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
                    "person_id": person["person_id"], "unit_code": unit,
                    "unit_path": person["unit_path"], "target_group": "resident",
                    "year": YEAR, "criteria_version": "324/QĐ-KHVN", "total_score": 85,
                    "digital_skills": "basic"}, producer="assessment").to_message()
                t0 = time.perf_counter()
                producer.publish(body, exchange=exchange, routing_key="recognition_granted",
                                 serializer="json", delivery_mode=2, declare=[exchange])
                while get(base, f"/units/{unit}/progress", year=YEAR)["titled"] == before:
                    time.sleep(0.002)
                samples.append((time.perf_counter() - t0) * 1000)
        q = percentiles(samples)
        print(f"event to figure, single:     p50 {q['p50']:7.1f} ms   p95 {q['p95']:7.1f} ms   "
              f"p99 {q['p99']:7.1f} ms   (publish -> visible in GET /progress; n={len(samples)})")
        FIGURES["event_to_figure"] = q
        FIGURES["peak_rss_mb"] = peaks_of(procs)
        print(peaks_line(FIGURES["peak_rss_mb"]))
        emit(FIGURES)
    finally:
        local.stop_processes(procs)
        engine.dispose()
        db.drop_database(url)
        drop_vhost(run)


if __name__ == "__main__":
    main()
