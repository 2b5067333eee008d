"""Benchmark: the national overview at the programme's scale (34 provinces, ~3,300 communes,
10,000,000 people), a province's drill-down and a commune's progress.

Prints, in one run on this machine:
- generation: a synthetic nation in a scratch reporting database (provinces and communes of
  uneven sizes, people, ~40% of them titled at a rate of each province's own), made
  set-based in SQL (generate_series, INSERT ... SELECT): 10M people through Python's rebuild
  would take an hour. The counters (``tally_days``, then ``tallies``) are counted in SQL by
  the rules domain.person_tallies applies to what the synthetic people have (birth year,
  roles, one title at most; no groups, no learning records), per commune, then spread to
  every unit of the commune's path. It is not the rebuild's code: it is checked against it,
  domain.person_tallies run on every person of a few communes, and each province's counters
  against the sum of its communes'. Generation time and database size are printed;
- over HTTP against a real `nameko run` reporting process, p50/p95 of: GET /national (every
  province's counters summed), a province's breakdown by commune, a commune's progress;
- the limit beside them: the nation's adults' figures recounted from the raw rows (people x
  recognition_facts, GROUP BY province), its time, and whether every province agrees.

    .venv/bin/python bench/national_overview.py                      # 200,000 people, < 1 min
    .venv/bin/python bench/national_overview.py --people 10000000    # the goal's scale

The scratch database and RabbitMQ vhost are dropped at the end. Figures, not assertions.
"""
import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    PG, drop_vhost, emit, peaks_line, peaks_of, percentiles, scratch_vhost,
)
from bench.reporting_dashboard import every_adult_targets, get, timed  # noqa: E402
from cdht import db  # noqa: E402
from cdht_tools import local  # noqa: E402
from services.reporting import domain, rules  # noqa: E402
from tests.support import free_port  # noqa: E402

YEAR = 2025
ADULT_AGE = 18
EPOCH = domain.EPOCH


def layout(provinces, communes, people, seed=1):
    """``[(province, commune, people, titled rate)]``: communes shared unevenly among the
    provinces, people unevenly among provinces and communes, each province titling its own
    share of people (25% to 55%)."""
    rnd = random.Random(seed)
    codes = [f"P{i:02d}" for i in range(1, provinces + 1)]
    weights = [rnd.uniform(0.6, 1.4) for _ in codes]
    counts = _shares(communes, weights)
    size = {p: rnd.lognormvariate(0, 0.5) for p in codes}
    rate = {p: rnd.uniform(0.25, 0.55) for p in codes}
    units = []
    for province, n in zip(codes, counts):
        for j in range(1, max(1, n) + 1):
            units.append((province, f"{province}.{j:03d}",
                          size[province] * (0.2 + rnd.random() ** 1.5)))
    heads = _shares(people, [w for _, _, w in units])
    return [(p, c, n, rate[p]) for (p, c, _), n in zip(units, heads)]


def _shares(total, weights):
    """``total`` split in proportion to ``weights`` (largest remainders): sums exactly."""
    raw = [total * w / sum(weights) for w in weights]
    found = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: found[i] - raw[i])[:total - sum(found)]:
        found[i] += 1
    return found


def generate(engine, units, targets):
    """The rows, set-based: units, people, recognition facts; then the counters."""
    levels = {i: sorted(rules.digital_rules(targets)[i].levels)
              for i in ("titled_with_digital_skills", "titled_digitally_proficient")}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SELECT setseed(0.42)"))
        provinces = sorted({p for p, _, _, _ in units})
        conn.execute(text(
            "INSERT INTO unit_paths (unit_code, path) SELECT u.code, string_to_array(u.path, "
            "'/') FROM unnest(CAST(:codes AS varchar[]), CAST(:paths AS text[])) AS u(code, "
            "path)"), {"codes": provinces + [c for _, c, _, _ in units],
                       "paths": provinces + [f"{p}/{c}" for p, c, _, _ in units]})
        conn.execute(text(
            "INSERT INTO unit_names (unit_code, unit_name, kind, closed) SELECT u.code, "
            "u.name, u.kind, false FROM unnest(CAST(:codes AS varchar[]), "
            "CAST(:names AS varchar[]), CAST(:kinds AS varchar[])) AS u(code, name, kind)"),
            {"codes": provinces + [c for _, c, _, _ in units],
             "names": [f"Tỉnh {p}" for p in provinces] + [f"Xã {c}" for _, c, _, _ in units],
             "kinds": ["province"] * len(provinces) + ["commune"] * len(units)})
        conn.execute(text("CREATE TEMP TABLE bench_communes (code varchar PRIMARY KEY, "
                          "province varchar, first bigint, people int, rate float8)"))
        firsts, first = [], 1
        for _, _, n, _ in units:
            firsts.append(first)
            first += n
        conn.execute(text(
            "INSERT INTO bench_communes SELECT * FROM unnest(CAST(:codes AS varchar[]), "
            "CAST(:provinces AS varchar[]), CAST(:firsts AS bigint[]), CAST(:people AS int[]), "
            "CAST(:rates AS float8[]))"),
            {"codes": [c for _, c, _, _ in units], "provinces": [p for p, _, _, _ in units],
             "firsts": firsts, "people": [n for _, _, n, _ in units],
             "rates": [r for _, _, _, r in units]})
        # ids in order (a B-tree fed in key order): the reads measured never touch them
        conn.execute(text("""
            INSERT INTO people (person_id, unit_code, registered, removed, birth_year, roles,
                                target_group)
            SELECT CAST(lpad(to_hex(g), 32, '0') AS uuid), c.code, true, false,
                   1940 + floor(random() * 76)::int,
                   array_remove(ARRAY[
                       CASE WHEN random() < 0.05 THEN 'association_member' END,
                       CASE WHEN random() < 0.08 THEN 'unit_staff' END]::varchar[], NULL),
                   'resident'
            FROM bench_communes c, generate_series(c.first, c.first + c.people - 1) AS g
            ORDER BY g"""))
        conn.execute(text("""
            INSERT INTO recognition_facts (recognition_id, person_id, year, unit_path,
                                           digital_skills, granted_at)
            SELECT CAST('f' || substr(replace(CAST(t.person_id AS text), '-', ''), 2) AS uuid),
                   t.person_id, t.year, ARRAY[t.province, t.code]::varchar[],
                   (ARRAY['none', 'basic', 'basic', 'proficient'])[1 + floor(random() * 4)::int],
                   make_timestamptz(t.year, 1 + floor(random() * 12)::int,
                                    1 + floor(random() * 28)::int, 3, 0, 0, 'UTC')
            FROM (SELECT p.person_id, c.province, c.code,
                         CASE WHEN random() < 0.8 THEN :year ELSE :year - 1 END AS year
                  FROM people p JOIN bench_communes c ON c.code = p.unit_code
                  WHERE random() < c.rate) AS t
            ORDER BY t.person_id"""), {"year": YEAR})
        count_counters(conn, levels)


# What domain.person_tallies counts for a registered person with birth year, roles and at
# most one title (year, digital_skills), no groups, briefings or trainings (the digital
# rules without activities, as every_adult_targets sets them).
COMMUNE_DAYS = text("""
    CREATE TEMP TABLE bench_days AS
    SELECT unit_code, metric, key, day, sum(n)::bigint AS n FROM (
        SELECT p.unit_code, v.metric, v.key, CAST(:epoch AS date) AS day, count(*) AS n
        FROM people p CROSS JOIN LATERAL (VALUES
            ('people', p.birth_year, true),
            ('members', 0, p.roles && CAST(:association AS varchar[])),
            ('staff', 0, 'unit_staff' = ANY(p.roles))) AS v(metric, key, hit)
        WHERE p.registered AND NOT p.removed AND v.hit
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT p.unit_code, v.metric, r.year,
               CAST(r.granted_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS date), count(*)
        FROM recognition_facts r JOIN people p USING (person_id)
        CROSS JOIN LATERAL (VALUES
            ('titled', true),
            ('titled_digital', r.digital_skills = ANY(CAST(:digital AS varchar[]))),
            ('titled_proficient', r.digital_skills = ANY(CAST(:proficient AS varchar[]))),
            ('titled_adult', r.year - p.birth_year >= :adult),
            ('titled_staff', 'unit_staff' = ANY(p.roles))) AS v(metric, hit)
        WHERE r.revoked_at IS NULL AND p.registered AND NOT p.removed AND v.hit
        GROUP BY 1, 2, 3, 4) AS counted
    GROUP BY 1, 2, 3, 4
""")


def count_counters(conn, levels):
    """Per commune, then every unit of its path: the dated history, then its sums."""
    conn.execute(COMMUNE_DAYS, {"epoch": EPOCH, "association": sorted(domain.ASSOCIATION_ROLES),
                                "digital": levels["titled_with_digital_skills"],
                                "proficient": levels["titled_digitally_proficient"],
                                "adult": ADULT_AGE})
    conn.execute(text("""
        INSERT INTO tally_days (unit_code, metric, key, day, n)
        SELECT a.code, d.metric, d.key, d.day, sum(d.n)
        FROM bench_days d JOIN unit_paths u USING (unit_code)
        CROSS JOIN LATERAL unnest(u.path) AS a(code)
        GROUP BY 1, 2, 3, 4"""))
    conn.execute(text("""
        INSERT INTO tallies (unit_code, metric, key, n)
        SELECT unit_code, metric, key, sum(n) FROM tally_days GROUP BY 1, 2, 3
        HAVING sum(n) <> 0"""))


def check(engine, units, targets, samples=3, seed=2):
    """Whether the SQL counters agree with domain.person_tallies on every person of a few
    communes (the largest and random ones), and each province's with its communes' sum."""
    digital = rules.digital_rules(targets)
    rnd = random.Random(seed)
    largest = max(units, key=lambda u: u[2])[1]
    picked = [largest] + rnd.sample([c for _, c, _, _ in units], samples - 1)
    problems = []
    with engine.connect() as conn:
        for commune in picked:
            titles = {}
            for pid, year, skills in conn.execute(text(
                    "SELECT r.person_id, r.year, r.digital_skills FROM recognition_facts r "
                    "JOIN people p USING (person_id) WHERE p.unit_code = :c "
                    "AND r.revoked_at IS NULL"), {"c": commune}):
                titles.setdefault(pid, []).append((year, skills))
            expected = Counter()
            for pid, registered, removed, born, roles in conn.execute(text(
                    "SELECT person_id, registered, removed, birth_year, roles FROM people "
                    "WHERE unit_code = :c"), {"c": commune}):
                expected.update(domain.person_tallies(domain.PersonState(
                    registered=registered, removed=removed, birth_year=born,
                    roles=frozenset(roles), titles=tuple(sorted(titles.get(pid, ())))),
                    ADULT_AGE, digital))
            stored = {(m, k): n for m, k, n in conn.execute(text(
                "SELECT metric, key, n FROM tallies WHERE unit_code = :c AND n <> 0"),
                {"c": commune})}
            if stored != {k: n for k, n in expected.items() if n}:
                problems.append(commune)
        bad = conn.execute(text("""
            SELECT count(*) FROM (
                SELECT u.path[1] AS code, t.metric, t.key, sum(t.n) AS n
                FROM tallies t JOIN unit_paths u USING (unit_code)
                WHERE cardinality(u.path) = 2 GROUP BY 1, 2, 3) AS communes
            FULL JOIN (SELECT t.unit_code AS code, t.metric, t.key, t.n FROM tallies t
                       JOIN unit_paths u USING (unit_code) WHERE cardinality(u.path) = 1)
                 AS provinces USING (code, metric, key)
            WHERE communes.n IS DISTINCT FROM provinces.n""")).scalar()
    return picked, problems, bad


RECOUNT = text("""
    SELECT u.path[1] AS province,
           count(*) FILTER (WHERE :year - p.birth_year >= :adult) AS adults,
           count(r.person_id) FILTER (WHERE :year - p.birth_year >= :adult) AS adults_titled
    FROM people p JOIN unit_paths u USING (unit_code)
    LEFT JOIN recognition_facts r ON r.person_id = p.person_id AND r.year = :year
         AND r.revoked_at IS NULL
    WHERE p.registered AND NOT p.removed
    GROUP BY 1
""")

FIGURES = {}


def quantiles(samples, name):
    q = percentiles(samples)
    FIGURES[name] = {"p50": q["p50"], "p95": q["p95"]}
    return f"p50 {q['p50']:7.1f} ms   p95 {q['p95']:7.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--provinces", type=int, default=34)
    parser.add_argument("--communes", type=int, default=3_300)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    amqp = scratch_vhost(run)
    url = f"{PG}/cdht_bench_{run}_reporting"
    db.upgrade("reporting", url=url)
    engine = create_engine(url)
    procs = []
    try:
        targets_file = every_adult_targets()
        targets = domain.load_targets(targets_file)
        units = layout(args.provinces, args.communes, args.people)
        t0 = time.perf_counter()
        generate(engine, units, targets)
        t1 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            rows = {t: conn.scalar(text(f"SELECT count(*) FROM {t}"))  # noqa: S608
                    for t in ("people", "recognition_facts", "tallies", "tally_days")}
            size = conn.scalar(text("SELECT pg_database_size(current_database())"))
        t2 = time.perf_counter()
        generated = t1 - t0
        sizes = sorted(n for _, _, n, _ in units)
        print(f"synthetic nation:            {args.people:,} people, {args.provinces} "
              f"provinces, {len(units):,} communes ({sizes[0]:,} to {sizes[-1]:,} people "
              f"each); rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
        print(f"generated and counted (SQL): {generated:8.1f} s  (+ ANALYZE {t2 - t1:.1f} s); "
              f"database {size / 2**20:,.0f} MB")
        picked, problems, bad = check(engine, units, targets)
        print(f"counters checked:            domain.person_tallies on every person of "
              f"{', '.join(picked)}: {'agree' if not problems else 'DIFFER at ' + str(problems)}"
              f"; provinces = sum of their communes: "
              f"{'yes' if not bad else f'NO ({bad} counters differ)'}")

        port = free_port()
        env = {"AMQP_URI": amqp, "REPORTING_DATABASE_URL": url,
               "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
               "REPORTING_TARGETS_FILE": targets_file}
        procs = local.start_services(env, Path(tempfile.mkdtemp()) / "logs", ["reporting"])
        local.wait_healthy(procs)
        base = procs[0].base_url
        province = max({p for p, _, _, _ in units},
                       key=lambda p: sum(1 for q, _, _, _ in units if q == p))
        commune = max(units, key=lambda u: u[2])[1]
        communes_of = sum(1 for p, _, _, _ in units if p == province)
        calls = (("national", "national overview",
                  lambda: get(base, "/national", year=YEAR),
                  f"(every province's counters summed, {args.provinces} rows)"),
                 ("province", "province drill-down",
                  lambda: get(base, f"/units/{province}/breakdown", year=YEAR),
                  f"(breakdown of {province}, {communes_of} communes)"),
                 ("commune", "a commune's progress",
                  lambda: get(base, f"/units/{commune}/progress", year=YEAR),
                  f"({commune}, the largest)"))
        for key, name, call, note in calls:
            call()
            print(f"{name + ':':<29}{quantiles(timed(call, args.samples), key)}   {note}")

        t0 = time.perf_counter()
        with engine.connect() as conn:
            recount = {r.province: r for r in conn.execute(RECOUNT, {"year": YEAR,
                                                                      "adult": ADULT_AGE})}
        recount_ms = (time.perf_counter() - t0) * 1000
        body = get(base, "/national", year=YEAR)
        agree = all((c["numerator"], c["denominator"]) ==
                    (recount[c["unit_code"]].adults_titled, recount[c["unit_code"]].adults)
                    for c in body["children"]) and len(body["children"]) == len(recount)
        raw = (sum(r.adults_titled for r in recount.values()),
               sum(r.adults for r in recount.values()))
        print(f"recount from raw rows (SQL): {recount_ms:8.1f} ms once  (adults titled "
              f"{raw[0]:,} / {raw[1]:,}; the API says {body['total']['numerator']:,} / "
              f"{body['total']['denominator']:,}; every province agrees: "
              f"{'yes' if agree else 'NO'})")
        FIGURES.update(people=args.people, provinces=args.provinces, communes=len(units),
                       generate_s=generated, database_mb=size / 2**20, recount_ms=recount_ms,
                       agree=agree and not problems and not bad,
                       peak_rss_mb=peaks_of(procs))
        print(peaks_line(FIGURES["peak_rss_mb"]))
        emit(FIGURES)
    finally:
        local.stop_processes(procs)
        engine.dispose()
        db.drop_database(url)
        drop_vhost(run)


if __name__ == "__main__":
    main()
