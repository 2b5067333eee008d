"""Benchmark: closing a year for the whole province with N open submissions and their groups.

Loads, with COPY, N self-assessments waiting for a decision (about 70% pass), families of
four and learning units of fifty (with about 90% of members passing, so level thresholds are
crossed both ways) into a scratch assessment database, then runs the same closing the CLI
runs (`cdht close-year` in a child process: batches, evaluation of every assessment against its
criteria set, titles, steps and outbox events in one transaction per batch, then every group
from one aggregate) and prints:
- the load (COPY) time, as the floor of writing that many rows;
- the submissions phase: decisions/s, recognised, refused, outbox rows written;
- the groups phase: groups/s, granted per kind;
- the total against the 3-minute goal, and the closing process's peak RSS;
- the WAL the closing wrote and the checkpoints it caused, beside the server's settings.

    .venv/bin/python bench/close_year.py [--people 1000000] [--batch-size 2000] [--keep]
                                         [--server machine|compose]

``--server compose`` runs it on a scratch PostgreSQL server with the settings the compose
stack gives its own (bench/postgres_server.py); by default, on the machine's (CDHT_BENCH_PG)
as it is set up.

Publishing the outbox (the relay) is not part of the closing; bench/event_flow.py measures it.
Figures, not assertions.
"""
import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import postgres_server  # noqa: E402
from bench.common import PG, cpu_seconds, peak_rss_mb  # noqa: E402

CODES = ["TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2", "TC2.3", "TC2.4", "TC3.1",
         "TC3.2"]
GROUPS = ("resident", "worker", "employee_business", "student")


def scores(rng, passing):
    if passing:
        return {c: rng.choice((8, 8, 9, 9, 10)) for c in CODES}
    s = {c: rng.choice((6, 7, 8)) for c in CODES}
    s[rng.choice(CODES)] = rng.choice((3, 4))
    return s


def family(pid):
    """``pid`` and its child processes (the closing's helpers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def backends(database):
    """The pids of the PostgreSQL backends serving ``database`` (when the server runs on
    this machine; empty otherwise)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"postgres {database} " in \
                    (entry / "cmdline").read_text().replace("\0", " ") + " ":
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def copy(conn, table, columns, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(r"\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def load(engine, people, seed):
    """N open assessments, families of 4, learning units of 50: returns the counts."""
    rng = random.Random(seed)
    communes = [f"AG.X{i:03d}" for i in range(102)]
    assessments, members = [], []
    families = units = 0
    person_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(people)]
    staff_from = people - people // 10  # the last tenth work in learning units
    for i, pid in enumerate(person_ids):
        commune = communes[i % len(communes)]
        passing = rng.random() < (0.95 if i >= staff_from else 0.7)
        s = json.dumps(scores(rng, passing))
        assessments.append((uuid.uuid4(), pid, 2025, commune, "{AG," + commune + "}",
                            rng.choice(GROUPS), "324/QĐ-KHVN", "submitted", s, s,
                            80, True, "{}"))
    for start in range(0, people - people % 4 - people // 10, 4):  # 90% of people in families
        family = uuid.uuid4()
        families += 1
        commune = communes[start % len(communes)]
        for pid in person_ids[start:start + 4]:
            members.append((uuid.uuid4(), family, "family", pid, commune,
                            "{AG," + commune + "}", "2020-01-01", None))
    for start in range(0, people // 10, 50):  # 10% in learning units of 50
        unit = uuid.uuid4()
        units += 1
        commune = communes[start % len(communes)]
        for pid in person_ids[staff_from + start:][:50]:
            members.append((uuid.uuid4(), unit, "learning_unit", pid, commune,
                            "{AG," + commune + "}", "2020-01-01", None))
    raw = engine.raw_connection()
    try:
        copy(raw.driver_connection, "assessments",
             ("id", "person_id", "year", "unit_code", "unit_path", "target_group",
              "criteria_version", "status", "self_scores", "scores", "total", "passed",
              "explanation"), assessments)
        copy(raw.driver_connection, "group_members",
             ("membership_id", "group_id", "group_kind", "person_id", "unit_code", "unit_path",
              "joined_on", "left_on"), members)
        raw.commit()
        with raw.cursor() as cur:
            cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return {"families": families, "learning_units": units, "memberships": len(members)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--server", choices=("machine", "compose"), default="machine",
                        help="the machine's PostgreSQL (CDHT_BENCH_PG) as it is set up, or a "
                             "scratch server with the compose stack's settings")
    args = parser.parse_args()
    if args.server == "compose":
        settings = postgres_server.compose_settings()
        with postgres_server.scratch_server(settings) as server:
            print("a scratch PostgreSQL server with the compose stack's settings: "
                  + ", ".join(f"{k}={v}" for k, v in settings.items()))
            measure(args, server)
    else:
        measure(args, PG)


def measure(args, server):
    """Load, close and print the figures, on the PostgreSQL server at ``server``."""
    from sqlalchemy import text

    from cdht import db as cdht_db
    from cdht.db import make_engine

    url = f"{server}/cdht_bench_close_year"
    cdht_db.drop_database(url)
    cdht_db.upgrade("assessment", url=url)
    engine = make_engine(url)
    try:
        started = time.monotonic()
        shape = load(engine, args.people, args.seed)
        loaded = time.monotonic() - started
        print(f"loaded {args.people:,} open submissions and {shape['memberships']:,} "
              f"memberships ({shape['families']:,} families, {shape['learning_units']:,} "
              f"learning units): generated and loaded with COPY in {loaded:.1f} s")

        # the generated submissions are not reviewed: decide them all, as before
        env = dict(os.environ, ASSESSMENT_DATABASE_URL=url, EVENTLET_TESTS="1",
                   CLOSE_DECIDES="submitted")
        with engine.connect() as conn:
            settings = postgres_server.server_settings(conn)
            wal_before, checkpoints_before = _wal_and_checkpoints(conn)
        began = time.monotonic()
        closing = subprocess.Popen(
            [sys.executable, "-m", "cdht_tools", "close-year", "2025", "--unit", "AG",
             "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--quiet"],
            env=env, cwd=ROOT)
        rss = 0.0  # VmHWM of the closing process and its helpers, read while they run (a
        cpu = {"closing": {}, "postgres": {}}  # forked child's ru_maxrss counts this one's
        while closing.poll() is None:  # memory); CPU time of those and of the database's
            rss = max([rss, *(peak_rss_mb(pid) or 0 for pid in family(closing.pid))])
            for kind, pids in (("closing", family(closing.pid)),  # backends: on a shared
                               ("postgres", backends("cdht_bench_close_year"))):  # machine,
                for pid in pids:                                  # wall time says little
                    cpu[kind][pid] = cpu_seconds(pid) or cpu[kind].get(pid, 0)
            time.sleep(0.2)
        if closing.returncode:
            raise SystemExit(f"cdht close-year exited with {closing.returncode}")
        total = time.monotonic() - began
        client_cpu, pg_cpu = (sum(cpu[kind].values()) for kind in ("closing", "postgres"))
        with engine.connect() as conn:
            run = conn.execute(text("SELECT * FROM year_closings")).mappings().one()
            groups_started = conn.scalar(text(
                "SELECT min(granted_at) FROM group_recognitions"))
            outbox = dict(conn.execute(text(
                "SELECT event_type, count(*) FROM outbox GROUP BY event_type")).all())
            by_kind = dict(conn.execute(text(
                "SELECT group_kind || coalesce(' level ' || level, ''), count(*) "
                "FROM group_recognitions WHERE revoked_at IS NULL GROUP BY 1")).all())
            wal_after, checkpoints_after = _wal_and_checkpoints(conn)
        wal_gb = (wal_after - wal_before) / 1e9
        checkpoints = checkpoints_after - checkpoints_before
        decided_in = ((groups_started or run["finished_at"]) - run["started_at"]).total_seconds()
        groups_in = (run["finished_at"] - (groups_started or run["finished_at"])).total_seconds()
        print(f"submissions: {run['decided']:,} decided in {decided_in:.1f} s "
              f"({run['decided'] / decided_in:,.0f}/s): {run['recognised']:,} recognised, "
              f"{run['refused']:,} refused (batches of {args.batch_size}, "
              f"{args.workers} processes)")
        print(f"groups:      {run['groups_evaluated']:,} evaluated in about {groups_in:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items())))
        print("outbox:      " + ", ".join(f"{k} {v:,}" for k, v in sorted(outbox.items())))
        print(f"total:       {total:.1f} s for `cdht close-year` (goal: under 180 s; "
              f"{'met' if total < 180 else 'NOT met'})")
        print(f"peak RSS of the closing process: {rss:.0f} MB")
        print(f"CPU:         closing processes {client_cpu:.1f} s, PostgreSQL backends "
              f"{pg_cpu:.1f} s (sampled every 0.2 s: a lower bound); per submission "
              f"{(client_cpu + pg_cpu) / max(args.people, 1) * 1e6:.0f} µs")
        print(f"PostgreSQL:  {wal_gb:.2f} GB of WAL written, {checkpoints} checkpoints during "
              f"the closing; " + ", ".join(f"{k} {v}" for k, v in settings.items()))
        from bench.common import emit
        emit({"people": args.people, "seconds": total, "decided": run["decided"],
              "decided_per_s": run["decided"] / decided_in, "groups": run["groups_evaluated"],
              "groups_seconds": groups_in, "workers": args.workers, "peak_rss_mb": rss,
              "client_cpu_s": client_cpu, "postgres_cpu_s": pg_cpu, "wal_gb": wal_gb,
              "checkpoints": checkpoints, "server": args.server, "settings": settings})
    finally:
        engine.dispose()
        if not args.keep:
            cdht_db.drop_database(url)


def _wal_and_checkpoints(conn):
    """The server's WAL position in bytes and its checkpoints so far (the whole server's:
    run nothing else on it meanwhile)."""
    from sqlalchemy import text
    return tuple(conn.execute(text(
        "SELECT CAST(pg_current_wal_lsn() - '0/0' AS bigint), "
        "checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")).one())


if __name__ == "__main__":
    main()
