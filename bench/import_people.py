"""Benchmark: the registry's bulk import of N people beside PostgreSQL's own COPY of the file.

Prints, in one run on this machine:
- COPY: PostgreSQL loading the same CSV into a plain table of text columns (no validation,
  no constraints, no events): the floor nothing written in Python can beat;
- COPY into the people table: the imported people (the file's good rows, as stored) copied
  into an empty copy of ``people`` with its primary key, unique national ID, unit index,
  foreign key and generated ``name_folded``: what PostgreSQL can write into this schema,
  the honest limit of any importer of it;
- import: the full pipeline (cdht import people): header mapping, validation of
  every row (a chunk ahead of the writes, in a thread of its own), COPY into a temp table
  per chunk, the upsert by national ID, people_imported events in the outbox, the job's
  progress and error rows, in a child process whose peak RSS is measured
  (resource.getrusage);
- re-import of the same file (nothing changes, nothing is written but the job);
- the ratios to both COPYs, and where the import's time went (events =
  cdht.outbox.add_wire_events, validation = imports.runner.check_rows: it runs in
  the reader thread, overlapping the writes, so it is not part of the wall time it is
  printed beside).

    .venv/bin/python bench/import_people.py [--people 1000000] [--bad-fraction 0.01]
        [--data-dir var/bench] [--keep] [--no-reimport]

The CSV is generated once per (people, seed, bad fraction) by cdht_tools/generator
and reused. A scratch database is created and dropped. Figures, not assertions.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PG  # noqa: E402

REGISTRY_KIND = {"district_city": "district", "district_town": "district"}


def people_file(args):
    """The generated CSV (and its bad-row count), made on first use."""
    from cdht_tools import generator
    directory = Path(args.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"people-{args.people}-seed{args.seed}-bad{args.bad_fraction}.csv"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    started = time.monotonic()
    province = generator.build_province(args.seed, args.people)
    stream = generator.PeopleStream(province, args.people, args.seed, args.bad_fraction)
    generator.write_people_csv(path, stream)
    info = {"rows": args.people, "bad_rows": len(stream.bad_rows),
            "bytes": path.stat().st_size, "seconds": time.monotonic() - started}
    meta.write_text(json.dumps(info))
    return path, info


def scratch_database(name):
    from cdht import db
    url = f"{PG}/{name}"
    db.drop_database(url)
    db.upgrade("registry", url=url)
    from cdht_tools import generator
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.begin() as conn:
        for u in generator.unit_tree():
            conn.execute(text(
                "INSERT INTO units (code, name, kind, parent_code, valid_from, valid_to) "
                "VALUES (:code, :name, :kind, :parent, :valid_from, :valid_to)"),
                {"code": u.code, "name": u.full_name, "kind": REGISTRY_KIND.get(u.kind, u.kind),
                 "parent": u.parent_code, "valid_from": u.valid_from,
                 "valid_to": u.valid_to})
    engine.dispose()
    return url


def raw_connection(url):
    """A plain psycopg2 connection to ``url`` (COPY FROM STDIN without SQLAlchemy)."""
    import psycopg2
    from sqlalchemy.engine import make_url
    u = make_url(url)
    return psycopg2.connect(host=u.host, port=u.port or 5432, user=u.username,
                            password=u.password, dbname=u.database)


def postgres_copy(url, path):
    """Seconds for COPY ... FROM STDIN (CSV, header) of the file into a plain table."""
    conn = raw_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS copy_people")
            cur.execute("CREATE TABLE copy_people (national_id text, full_name text, "
                        "gender text, birth_date text, ethnicity text, phone text, email text, "
                        "unit_code text, target_group text, roles text)")
            conn.commit()
            started = time.monotonic()
            with open(path, "rb") as fh:
                cur.copy_expert("COPY copy_people FROM STDIN WITH (FORMAT csv, HEADER true)",
                                fh, size=1 << 20)
            conn.commit()
            seconds = time.monotonic() - started
            cur.execute("SELECT count(*) FROM copy_people")
            rows = cur.fetchone()[0]
            cur.execute("DROP TABLE copy_people")
            conn.commit()
    finally:
        conn.close()
    return rows, seconds


_PEOPLE_COLUMNS = ("national_id, full_name, gender, birth_date, ethnicity, phone, email, "
                   "unit_code, target_group, roles")


def people_copy(url):
    """Seconds for COPY ... FROM STDIN of the imported people (the file's good rows, as the
    table stores them) into an empty copy of the people table itself: its primary key, unique
    national ID, unit index, foreign key to units and generated ``name_folded``, an id drawn
    by gen_random_uuid() as the import draws it. What PostgreSQL can write of this file into
    this schema, with nothing checked, matched or announced."""
    import io

    conn = raw_connection(url)
    try:
        with conn.cursor() as cur:
            rows = io.BytesIO()
            cur.copy_expert(f"COPY (SELECT {_PEOPLE_COLUMNS} FROM people) TO STDOUT", rows)
            cur.execute("DROP TABLE IF EXISTS copy_people_table")
            cur.execute("CREATE TABLE copy_people_table (LIKE people INCLUDING ALL)")
            cur.execute("ALTER TABLE copy_people_table ALTER COLUMN id "
                        "SET DEFAULT gen_random_uuid(), ADD FOREIGN KEY (unit_code) "
                        "REFERENCES units (code)")
            conn.commit()
            rows.seek(0)
            started = time.monotonic()
            cur.copy_expert(f"COPY copy_people_table ({_PEOPLE_COLUMNS}) FROM STDIN", rows,
                            size=1 << 20)
            conn.commit()
            seconds = time.monotonic() - started
            cur.execute("SELECT count(*) FROM copy_people_table")
            count = cur.fetchone()[0]
            cur.execute("DROP TABLE copy_people_table")
            conn.commit()
    finally:
        conn.close()
    return count, seconds


def child_import(url, path):
    """Run in a child process: the full import; prints one JSON line of figures."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    import services.registry.imports.people as people_chunks
    from services.registry.imports import runner

    spent = {"events": 0.0, "validation": 0.0}

    def timed(function, key):
        def timed_function(*args, **kwargs):
            started = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.monotonic() - started
        return timed_function
    people_chunks.add_wire_events = timed(people_chunks.add_wire_events, "events")
    runner.check_rows = timed(runner.check_rows, "validation")

    engine = create_engine(url, pool_size=runner.connections(), max_overflow=0)
    importer = runner.Importer(sessionmaker(engine, expire_on_commit=False))
    started = time.monotonic()
    summary = importer.run(path, filename=Path(path).name)
    seconds = time.monotonic() - started
    with engine.connect() as conn:
        outbox = conn.scalar(text("SELECT count(*) FROM outbox"))
        people = conn.scalar(text("SELECT count(*) FROM people"))
    engine.dispose()
    print(json.dumps({
        "seconds": seconds, "events_seconds": spent["events"],
        "validation_seconds": spent["validation"], "rows": summary.rows_read,
        "good": summary.good, "bad": summary.bad, "registered": summary.registered,
        "unchanged": summary.unchanged, "events": summary.events, "outbox_rows": outbox,
        "people": people,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(url, path):
    done = subprocess.run([sys.executable, __file__, "--child-import", str(path), "--db", url],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit("the import failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bad-fraction", type=float, default=0.01)
    ap.add_argument("--data-dir", default=str(ROOT / "var" / "bench"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--no-reimport", action="store_true")
    ap.add_argument("--child-import", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_import:
        return child_import(args.db, args.child_import)

    path, info = people_file(args)
    print(f"file: {path} ({info['rows']:,} rows, {info['bad_rows']:,} broken, "
          f"{info['bytes'] / 1e6:.0f} MB)")
    name = f"cdht_bench_import_{os.getpid()}"
    url = scratch_database(name)
    try:
        rows, copy_seconds = postgres_copy(url, path)
        copy_rate = rows / copy_seconds
        print(f"PostgreSQL COPY into a plain table:  {rows:>10,} rows in {copy_seconds:7.1f} s "
              f"= {copy_rate:>9,.0f} rows/s")

        first = run_child(url, path)
        rate = first["rows"] / first["seconds"]
        print(f"import (validate + upsert + events): {first['rows']:>10,} rows in "
              f"{first['seconds']:7.1f} s = {rate:>9,.0f} rows/s")
        print(f"    {first['good']:,} good ({first['registered']:,} registered), "
              f"{first['bad']:,} bad; {first['events']} people_imported events; "
              f"people table {first['people']:,}")
        events_share = first["events_seconds"] / first["seconds"]
        rest = first["seconds"] - first["events_seconds"]
        print(f"    of which building the events (cdht.outbox.add_wire_events): "
              f"{first['events_seconds']:.1f} s ({events_share:.0%}); the rest "
              f"{first['rows'] / rest:,.0f} rows/s")
        print(f"    validating the rows (runner.check_rows): "
              f"{first['validation_seconds']:.1f} s "
              f"({first['validation_seconds'] / first['seconds']:.0%})")
        print(f"    peak RSS of the import process: {first['peak_rss_mb']:.0f} MB")
        table_rows, table_seconds = people_copy(url)
        table_rate = table_rows / table_seconds
        print(f"PostgreSQL COPY into the people table: {table_rows:>8,} rows in "
              f"{table_seconds:7.1f} s = {table_rate:>9,.0f} rows/s (the good rows, as "
              f"stored; its indexes, foreign key, generated column)")
        print(f"ratio: the import runs at 1/{copy_rate / rate:.1f} of COPY's speed "
              f"({rate / copy_rate:.1%}); at 1/{table_rate / rate:.1f} of COPY into the "
              f"people table ({rate / table_rate:.1%})")
        figures = {"rows": first["rows"], "seconds": first["seconds"], "rate": rate,
                   "copy_rate": copy_rate, "people_copy_rate": table_rate,
                   "events_share": events_share,
                   "validation_share": first["validation_seconds"] / first["seconds"],
                   "peak_rss_mb": first["peak_rss_mb"]}
        if not args.no_reimport:
            again = run_child(url, path)
            print(f"re-import of the same file:           {again['rows']:>10,} rows in "
                  f"{again['seconds']:7.1f} s = {again['rows'] / again['seconds']:>9,.0f} "
                  f"rows/s ({again['unchanged']:,} unchanged, {again['events']} events, "
                  f"outbox still {again['outbox_rows']:,} rows; peak RSS "
                  f"{again['peak_rss_mb']:.0f} MB)")
            figures["reimport_rate"] = again["rows"] / again["seconds"]
        from bench.common import emit
        emit(figures)
    finally:
        if args.keep:
            print(f"kept database {url}")
        else:
            from cdht import db
            db.drop_database(url)


if __name__ == "__main__":
    main()
