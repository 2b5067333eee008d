"""Rebuild: recompute every projection of reporting from the source services, and print the
drift it corrected.

    .venv/bin/python -m services.reporting.rebuild [--dry-run]

Pages through the registry's ``export_people``, ``export_memberships``, ``export_activities``,
``export_association_bodies``, ``export_group_titles`` (and one ``export_units`` call) and
assessment's ``export_recognitions``, ``export_group_recognitions`` (RPC over RabbitMQ),
counts them with the same pure functions the event handlers use (domain.rebuild), then, in
one transaction that holds the projection tables locked (event handlers wait meanwhile),
replaces the facts and the counters. The dated history (monthly series, "as of") keeps
what it recorded; a counter it never recorded is dated by its facts, and a drifted one gets
a correction dated today.

Events applied between the export and the replacement are lost from the projection: run it
when the sources are quiet, or run it twice. The exit status is 0 whether or not it
corrected drift (2 when a source does not answer).
"""
import argparse
import sys
import time
from collections import Counter
from datetime import date, datetime, timezone

from sqlalchemy import text

from cdht.config import load_config
from cdht.db import make_engine
from cdht.rpc import RpcUnavailable, deadline
from services.reporting import domain, projection as proj, rules
from services.reporting.unit_events import save_units

SOURCES = (("registry", "export_people", "people"),
           ("registry", "export_memberships", "memberships"),
           ("registry", "export_activities", "activities"),
           ("registry", "export_association_bodies", "bodies"),
           ("registry", "export_group_titles", "group_titles"),
           ("assessment", "export_recognitions", "recognitions"),
           ("assessment", "export_group_recognitions", "group_recognitions"))
PAGE = 5000
CHUNK = 20000


def fetch(config, progress=None):
    """The sources' snapshot, page by page (``progress(what, count)`` after each page)."""
    from nameko.standalone.rpc import ClusterRpcProxy
    seconds = float(config.get("REBUILD_RPC_TIMEOUT") or 120)
    snapshot = domain.Snapshot()
    with ClusterRpcProxy(config) as cluster:
        with deadline(seconds, "registry.export_units"):
            snapshot.units = cluster.registry.export_units()  # a few hundred: one call
        if progress:
            progress("units", len(snapshot.units))
        for service, method, field in SOURCES:
            items, after = getattr(snapshot, field), None
            while True:
                with deadline(seconds, f"{service}.{method}"):
                    page = getattr(getattr(cluster, service), method)(after_id=after,
                                                                      limit=PAGE)
                items.extend(page["items"])
                if progress:
                    progress(field, len(items))
                after = page["next_after"]
                if after is None:
                    break
    return snapshot


def _chunks(rows):
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _insert(conn, sql, rows, columns):
    for chunk in _chunks(rows):
        conn.execute(text(sql), {c: [r[i] for r in chunk] for i, c in enumerate(columns)})


def apply(engine, snapshot, config, dry_run=False, today=None):
    """Replace the projections with what ``snapshot`` implies; returns the drift
    ``{(unit, metric, key): (was, now)}``."""
    today = today or date.today()
    adult_age = proj.adult_age_of(config)
    targets = domain.load_targets(config.get("TARGETS_FILE") or None)
    tallies, days, people, groups, paths = domain.rebuild(snapshot, adult_age, today,
                                                          rules.digital_rules(targets))
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE people, memberships, briefings, trainings, groups, "
                          "recognition_facts, group_titles, tallies, tally_days, unit_paths, "
                          "unit_names, association_bodies IN EXCLUSIVE MODE"))
        current = {(u, m, k): n for u, m, k, n in conn.execute(text(
            "SELECT unit_code, metric, key, n FROM tallies WHERE n <> 0"))}
        found = domain.drift(current, tallies)
        if dry_run:
            return found
        recorded = {(u, m, k): n for u, m, k, n in conn.execute(text(
            "SELECT unit_code, metric, key, sum(n)::bigint FROM tally_days "
            "GROUP BY unit_code, metric, key"))}
        dated = {}
        for (u, m, k, d), n in days.items():
            if (u, m, k) not in recorded:  # never recorded: dated by its facts
                dated[(u, m, k, d)] = n
        for key in set(recorded) | set(tallies):
            if key in recorded and recorded[key] != tallies.get(key, 0):
                dated[(*key, today)] = tallies.get(key, 0) - recorded[key]

        # -- facts -------------------------------------------------------------------------
        granted = {str(r): (g, v) for r, g, v in conn.execute(text(
            "SELECT recognition_id, granted_at, revoked_at FROM recognition_facts"))}
        group_granted = {str(r): (g, v) for r, g, v in conn.execute(text(
            "SELECT group_recognition_id, granted_at, revoked_at FROM group_titles"))}
        merged = dict(conn.execute(text(
            "SELECT unit_code, merged_into FROM unit_paths WHERE merged_into IS NOT NULL")).all())
        # revoked titles stay known, so a late duplicate revocation finds its grant
        revoked = conn.execute(text("SELECT * FROM recognition_facts "
                                    "WHERE revoked_at IS NOT NULL")).all()
        group_revoked = conn.execute(text("SELECT * FROM group_titles "
                                          "WHERE revoked_at IS NOT NULL")).all()
        conn.execute(text("TRUNCATE people, memberships, briefings, trainings, groups, "
                          "recognition_facts, group_titles, tallies, association_bodies"))
        rows = [(pid, domain.resolve(merged, unit), s.registered, s.removed, s.birth_year,
                 ",".join(sorted(s.roles)), None) for pid, (unit, s) in people.items()]
        _insert(conn, """INSERT INTO people (person_id, unit_code, registered, removed,
                                             birth_year, roles, target_group)
            SELECT id, unit, reg, rem, by, string_to_array(roles, ','), tg FROM unnest(
                CAST(:id AS uuid[]), CAST(:unit AS varchar[]), CAST(:reg AS bool[]),
                CAST(:rem AS bool[]), CAST(:by AS int[]), CAST(:roles AS text[]),
                CAST(:tg AS varchar[])) AS p(id, unit, reg, rem, by, roles, tg)""",
                rows, ("id", "unit", "reg", "rem", "by", "roles", "tg"))
        target_groups = [(str(p["person_id"]), p["target_group"]) for p in snapshot.people]
        _insert(conn, """UPDATE people SET target_group = t.tg FROM unnest(
            CAST(:id AS uuid[]), CAST(:tg AS varchar[])) AS t(id, tg)
            WHERE people.person_id = t.id""", target_groups, ("id", "tg"))
        _insert(conn, """INSERT INTO memberships SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:person AS uuid[]), CAST(:grp AS uuid[]),
            CAST(:kind AS varchar[]), CAST(:cur AS bool[]))""",
                [(str(m["membership_id"]), str(m["person_id"]), str(m["group_id"]),
                  m["group_kind"], m.get("left_on") is None) for m in snapshot.memberships],
                ("id", "person", "grp", "kind", "cur"))
        _insert(conn, """INSERT INTO briefings SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:person AS uuid[]), CAST(:on AS date[]))""",
                [(str(a["activity_id"]), str(a["person_id"]), a["started_on"])
                 for a in snapshot.activities if a["kind"] == "briefing"],
                ("id", "person", "on"))
        _insert(conn, """INSERT INTO trainings SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:person AS uuid[]), CAST(:kind AS varchar[]),
            CAST(:done AS bool[]))""",
                [(str(a["activity_id"]), str(a["person_id"]), a["kind"],
                  a.get("ended_on") is not None)
                 for a in snapshot.activities if a["kind"] in rules.ACTIVITY_TRAINING],
                ("id", "person", "kind", "done"))
        _insert(conn, """INSERT INTO groups SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:kind AS varchar[]), CAST(:unit AS varchar[]),
            CAST(:members AS int[]))""",
                [(gid, s.kind, domain.resolve(merged, unit), s.members)
                 for gid, (unit, s) in groups.items()], ("id", "kind", "unit", "members"))
        now = datetime.now(timezone.utc)
        seen = set()
        facts = []
        for r in snapshot.recognitions:
            rid = str(r["recognition_id"])
            seen.add(rid)
            at = granted.get(rid, (None,))[0] or _moment(r, now)
            facts.append((rid, str(r["person_id"]), int(r["year"]), "/".join(r["unit_path"]),
                          r["digital_skills"], at, None))
        facts += [(str(r.recognition_id), str(r.person_id), r.year, "/".join(r.unit_path),
                   r.digital_skills, r.granted_at, r.revoked_at)
                  for r in revoked if str(r.recognition_id) not in seen]
        _insert(conn, """INSERT INTO recognition_facts (recognition_id, person_id, year,
                unit_path, digital_skills, granted_at, revoked_at)
            SELECT id, person, year, string_to_array(path, '/'), skills, at, rev FROM unnest(
                CAST(:id AS uuid[]), CAST(:person AS uuid[]), CAST(:year AS int[]),
                CAST(:path AS text[]), CAST(:skills AS varchar[]), CAST(:at AS timestamptz[]),
                CAST(:rev AS timestamptz[])) AS f(id, person, year, path, skills, at, rev)""",
                facts, ("id", "person", "year", "path", "skills", "at", "rev"))
        titles = []
        for g in snapshot.group_recognitions:
            gid = str(g["group_recognition_id"])
            at = group_granted.get(gid, (None,))[0] or _moment(g, now)
            titles.append((gid, str(g["group_id"]), g["group_kind"], int(g["year"]),
                           g.get("level"), at, None))
        titles = [(*t, "computed", None) for t in titles]
        for g in snapshot.group_titles:
            tid = str(g["title_id"])
            at = group_granted.get(tid, (None,))[0] or now
            titles.append((tid, str(g["group_id"]), g["group_kind"], int(g["year"]), None, at,
                           None, "recorded", g.get("decision_number")))
        seen = {t[0] for t in titles}
        titles += [(str(t.group_recognition_id), str(t.group_id), t.group_kind, t.year,
                    t.level, t.granted_at, t.revoked_at, t.source, t.decision_number)
                   for t in group_revoked if str(t.group_recognition_id) not in seen]
        _insert(conn, """INSERT INTO group_titles SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:grp AS uuid[]), CAST(:kind AS varchar[]),
            CAST(:year AS int[]), CAST(:level AS smallint[]), CAST(:at AS timestamptz[]),
            CAST(:rev AS timestamptz[]), CAST(:src AS varchar[]), CAST(:dec AS varchar[]))""",
                titles, ("id", "grp", "kind", "year", "level", "at", "rev", "src", "dec"))
        _insert(conn, """INSERT INTO association_bodies SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:kind AS varchar[]), CAST(:name AS varchar[]),
            CAST(:unit AS varchar[]), CAST(:parent AS uuid[]), CAST(:removed AS bool[]))""",
                [(str(b["body_id"]), b["kind"], b["body_name"],
                  domain.resolve(merged, b["unit_code"]), b.get("parent_id"),
                  b.get("change") == "removed") for b in snapshot.bodies],
                ("id", "kind", "name", "unit", "parent", "removed"))
        save_units(conn, snapshot.units)

        # -- units and counters ------------------------------------------------------------
        codes = sorted(paths)
        _insert(conn, """INSERT INTO unit_paths (unit_code, path)
            SELECT code, string_to_array(path, '/') FROM unnest(
                CAST(:code AS varchar[]), CAST(:path AS text[])) AS u(code, path)
            ON CONFLICT (unit_code) DO UPDATE SET path = EXCLUDED.path""",
                [(c, "/".join(paths[c])) for c in codes], ("code", "path"))
        keys = sorted(tallies)
        _insert(conn, """INSERT INTO tallies SELECT * FROM unnest(
            CAST(:unit AS varchar[]), CAST(:metric AS varchar[]), CAST(:key AS int[]),
            CAST(:n AS bigint[]))""",
                [(*k, tallies[k]) for k in keys], ("unit", "metric", "key", "n"))
        dated = domain.nonzero(dated)
        _insert(conn, """INSERT INTO tally_days SELECT * FROM unnest(
            CAST(:unit AS varchar[]), CAST(:metric AS varchar[]), CAST(:key AS int[]),
            CAST(:day AS date[]), CAST(:n AS bigint[]))
            ON CONFLICT (unit_code, metric, key, day) DO UPDATE
            SET n = tally_days.n + EXCLUDED.n""",
                [(*k, n) for k, n in dated.items()], ("unit", "metric", "key", "day", "n"))
    return found


def _moment(item, fallback):
    for key in ("granted_at", "granted_on"):
        if item.get(key):
            value = item[key]
            return datetime.fromisoformat(value) if isinstance(value, str) else value
    return fallback


def report(found, out=print, limit=40):
    """Print the drift: a summary per metric, then the largest corrections."""
    if not found:
        out("No drift: every counter already matched the sources.")
        return
    per_metric = Counter()
    for (_, metric, _), (was, now) in found.items():
        per_metric[metric] += now - was
    out(f"Corrected {len(found)} counter(s) across "
        f"{len({u for u, _, _ in found})} unit(s).")
    out("net change per metric: " + ", ".join(f"{m} {n:+d}" for m, n in
                                              sorted(per_metric.items())))
    biggest = sorted(found.items(), key=lambda kv: (-abs(kv[1][1] - kv[1][0]), kv[0]))
    out(f"{'unit':<16} {'metric':<26} {'key':>6} {'was':>10} {'now':>10}")
    for (unit, metric, key), (was, now) in biggest[:limit]:
        out(f"{unit:<16} {metric:<26} {key:>6} {was:>10} {now:>10}")
    if len(biggest) > limit:
        out(f"... and {len(biggest) - limit} more")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Recompute reporting's projections from "
                                                 "registry and assessment; print the drift.")
    parser.add_argument("--dry-run", action="store_true",
                        help="compute and print the drift, change nothing")
    args = parser.parse_args(argv)
    import eventlet  # RPC deadlines need the green hub (docs/architecture.md §D9)
    eventlet.monkey_patch()
    config = load_config("reporting")
    config.pop("LOGGING", None)
    started = time.monotonic()
    try:
        from rich.progress import Progress
        with Progress(transient=True) as bar:
            tasks = {}

            def progress(what, count):
                if what not in tasks:
                    tasks[what] = bar.add_task(f"fetching {what}", total=None)
                bar.update(tasks[what], completed=count,
                           description=f"fetching {what}: {count:,}")
            snapshot = fetch(config, progress)
    except RpcUnavailable as exc:
        print(f"rebuild: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(config["DATABASE_URL"])
    try:
        found = apply(engine, snapshot, config, dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(f"Fetched {len(snapshot.people):,} people, {len(snapshot.memberships):,} "
          f"memberships, {len(snapshot.activities):,} activities, "
          f"{len(snapshot.recognitions):,} titles, {len(snapshot.group_recognitions):,} "
          f"group titles computed and {len(snapshot.group_titles):,} recorded, "
          f"{len(snapshot.units):,} units, {len(snapshot.bodies):,} association bodies "
          f"in {time.monotonic() - started:.1f}s.")
    report(found)
    if args.dry_run:
        print("(dry run: nothing changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
