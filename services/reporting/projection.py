"""The SQL side of reporting's projections: load the facts a change touches, lock them, store
them back, and apply the counter deltas domain.py computes, in the caller's transaction.

Every function takes a SQLAlchemy session (inside ``db.transaction()``). Counters are touched
with one statement per table for any number of rows, in key order, and as late as possible in
the transaction (the province's rows are shared by every event).
"""
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from typing import NamedTuple

from sqlalchemy import text

from cdht.inbox import resolve_consumer
from services.reporting import domain

# -- units ----------------------------------------------------------------------------------------
_REMEMBER_PATHS = text("""
    INSERT INTO unit_paths (unit_code, path)
    SELECT u.code, string_to_array(u.path, '/')
    FROM unnest(CAST(:codes AS varchar[]), CAST(:paths AS text[])) AS u(code, path)
    ORDER BY u.code
    ON CONFLICT (unit_code) DO UPDATE SET path = EXCLUDED.path
    WHERE unit_paths.path IS DISTINCT FROM EXCLUDED.path AND unit_paths.merged_into IS NULL
""")


def remember_paths(session, unit_paths):
    """Every unit on ``unit_paths`` with its path from the root, in one statement."""
    rows = {}
    for path in dict.fromkeys(tuple(p) for p in unit_paths if p):  # each path once, in order
        for i, code in enumerate(path):
            rows.setdefault(code, "/".join(path[:i + 1]))
    if rows:
        codes = sorted(rows)
        session.execute(_REMEMBER_PATHS, {"codes": codes, "paths": [rows[c] for c in codes]})


def placements(session, codes):
    """``{code: (today's unit code, its path)}``: a merged unit resolves to its successor."""
    merged, paths = {}, {}
    wanted = set(codes)
    while wanted:
        found = session.execute(text(
            "SELECT unit_code, path, merged_into FROM unit_paths "
            "WHERE unit_code = ANY(:codes)"), {"codes": sorted(wanted)}).all()
        for code, path, into in found:
            paths[code], merged[code] = list(path), into
        wanted = {into for _, _, into in found if into and into not in paths}
    placed = {}
    for code in codes:
        today = domain.resolve(merged, code)
        placed[code] = (today, paths.get(today, [today]))
    return placed


def path_of(session, code):
    return placements(session, [code])[code][1]


# -- people ---------------------------------------------------------------------------------------
_STUB_PEOPLE = text("""
    INSERT INTO people (person_id, unit_code, registered, removed, roles)
    SELECT p.id, p.unit, false, false, '{}'
    FROM unnest(CAST(:ids AS uuid[]), CAST(:units AS varchar[])) AS p(id, unit)
    ORDER BY p.id
    ON CONFLICT (person_id) DO NOTHING
""")

_SAVE_PEOPLE = text("""
    UPDATE people SET unit_code = p.unit, registered = p.registered, removed = p.removed,
           birth_year = p.birth_year, roles = string_to_array(p.roles, ','),
           target_group = p.target_group
    FROM unnest(CAST(:ids AS uuid[]), CAST(:units AS varchar[]), CAST(:registered AS bool[]),
                CAST(:removed AS bool[]), CAST(:birth_years AS int[]), CAST(:roles AS text[]),
                CAST(:groups AS varchar[]))
         AS p(id, unit, registered, removed, birth_year, roles, target_group)
    WHERE people.person_id = p.id
""")


def load_people(session, units_by_id):
    """The people ``units_by_id`` names (id -> unit to place a person not yet known), locked
    in id order, each a dict with their facts, current membership kinds, briefing, titles.
    Ids come back as text: a batch's thousand UUIDs parsed and printed again cost more than
    the statements."""
    units = {str(i): unit for i, unit in units_by_id.items()}
    ids = sorted(units)
    if not ids:
        return {}
    session.execute(_STUB_PEOPLE, {"ids": ids, "units": [units[i] for i in ids]})
    people = {}
    for pid, unit, registered, removed, birth_year, roles, group in session.execute(text(
            "SELECT person_id::text, unit_code, registered, removed, birth_year, roles, "
            "target_group FROM people WHERE person_id = ANY(CAST(:ids AS uuid[])) "
            "ORDER BY person_id FOR UPDATE"), {"ids": ids}):
        people[pid] = {"person_id": pid, "unit_code": unit, "registered": registered,
                       "removed": removed, "birth_year": birth_year,
                       "roles": frozenset(roles or ()), "target_group": group,
                       "kinds": defaultdict(int), "briefed": False, "titles": [],
                       "recognised": set(), "trainings": set()}
    for pid, kind in session.execute(text(
            "SELECT person_id::text, group_kind FROM memberships "
            "WHERE person_id = ANY(CAST(:ids AS uuid[])) AND current"), {"ids": ids}):
        people[pid]["kinds"][kind] += 1
    for (pid,) in session.execute(text(
            "SELECT DISTINCT person_id::text FROM briefings "
            "WHERE person_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}):
        people[pid]["briefed"] = True
    for pid, year, skills in session.execute(text(
            "SELECT person_id::text, year, digital_skills FROM recognition_facts "
            "WHERE person_id = ANY(CAST(:ids AS uuid[])) AND revoked_at IS NULL"), {"ids": ids}):
        people[pid]["titles"].append((year, skills))
    for pid, years in recognised_years(session, ids).items():
        people[pid]["recognised"] = years
    for pid, kind, done in session.execute(text(
            "SELECT person_id::text, kind, completed FROM trainings "
            "WHERE person_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}):
        people[pid]["trainings"].add((kind, done))
    return people


def recognised_years(session, ids):
    """``{person id: {year}}``: the years a family, clan or community the person currently
    belongs to holds a title (computed or recorded, not revoked or withdrawn)."""
    found = {str(i): set() for i in ids}
    for pid, year in session.execute(text(
            "SELECT DISTINCT m.person_id::text, t.year FROM memberships m "
            "JOIN group_titles t ON t.group_id = m.group_id AND t.revoked_at IS NULL "
            "WHERE m.person_id = ANY(CAST(:ids AS uuid[])) AND m.current "
            "AND m.group_kind IN ('family', 'clan', 'community')"), {"ids": sorted(found)}):
        found[pid].add(year)
    return found


def refresh_recognised(session, rows):
    """Re-read the recognised years of loaded ``rows`` (after memberships or group titles
    changed in this transaction)."""
    for pid, years in recognised_years(session, list(rows)).items():
        rows[pid]["recognised"] = years


def record_activity(session, activity_id, person_id, kind, started_on, finished, training):
    """A learning activity as its latest learning_activity_recorded says: a briefing, a
    training of one of the ``training`` kinds (finished or not), or nothing counted."""
    forget_activity(session, activity_id)
    params = {"id": str(activity_id), "person": str(person_id), "on": started_on,
              "kind": kind, "done": finished}
    if kind == "briefing":
        session.execute(text("INSERT INTO briefings VALUES (:id, :person, :on)"), params)
    elif kind in training:
        session.execute(text("INSERT INTO trainings VALUES (:id, :person, :kind, :done)"),
                        params)


def forget_activity(session, activity_id):
    """What a learning activity counted for, gone (withdrawn, or about to be replaced)."""
    params = {"id": str(activity_id)}
    session.execute(text("DELETE FROM briefings WHERE activity_id = :id"), params)
    session.execute(text("DELETE FROM trainings WHERE activity_id = :id"), params)


def learning_of(session, person_id):
    """Whether a person is briefed, and their trainings as (kind, finished) pairs."""
    params = {"person": str(person_id)}
    briefed = bool(session.scalar(text(
        "SELECT 1 FROM briefings WHERE person_id = :person LIMIT 1"), params))
    trainings = {(k, d) for k, d in session.execute(text(
        "SELECT kind, completed FROM trainings WHERE person_id = :person"), params)}
    return briefed, trainings


def group_members(session, group_ids):
    """``{person id: unit}`` of the current members of family, clan or community groups."""
    return {str(pid): unit for pid, unit in session.execute(text(
        "SELECT DISTINCT m.person_id, p.unit_code FROM memberships m "
        "JOIN people p ON p.person_id = m.person_id "
        "WHERE m.group_id = ANY(CAST(:ids AS uuid[])) AND m.current "
        "AND m.group_kind IN ('family', 'clan', 'community')"),
        {"ids": sorted(str(g) for g in group_ids)})}


def person_state(row):
    return domain.PersonState(*state_key(row))


def state_key(row):
    """A loaded person's PersonState fields, in order, as a tuple: people in the same state
    are counted once per batch (people_deltas)."""
    return (row["registered"], row["removed"], row["birth_year"], frozenset(row["roles"]),
            frozenset(k for k, n in row["kinds"].items() if n > 0), row["briefed"],
            tuple(sorted(row["titles"])), frozenset(row.get("recognised") or ()),
            frozenset(row.get("trainings") or ()))


def _stored(row):
    """What ``save_people`` writes of a person: a row whose columns did not change (a title
    granted to a registered person) is not written again."""
    return (row["unit_code"], row["registered"], row["removed"], row["birth_year"],
            frozenset(row["roles"]), row["target_group"])


def save_people(session, people):
    if not people:
        return
    rows = [people[k] for k in sorted(people)]
    session.execute(_SAVE_PEOPLE, {
        "ids": [str(r["person_id"]) for r in rows], "units": [r["unit_code"] for r in rows],
        "registered": [r["registered"] for r in rows], "removed": [r["removed"] for r in rows],
        "birth_years": [r["birth_year"] for r in rows],
        "roles": [",".join(sorted(r["roles"])) for r in rows],
        "groups": [r["target_group"] for r in rows]})


# -- groups ---------------------------------------------------------------------------------------
def load_group(session, group_id, kind, unit_code):
    """A group, locked (created as known from an event if new), with its title years."""
    session.execute(text(
        "INSERT INTO groups (group_id, kind, unit_code, members) VALUES (:id, :kind, :unit, 0) "
        "ON CONFLICT (group_id) DO NOTHING"), {"id": str(group_id), "kind": kind,
                                                "unit": unit_code})
    row = dict(session.execute(text(
        "SELECT group_id, kind, unit_code, members FROM groups WHERE group_id = :id "
        "FOR UPDATE"), {"id": str(group_id)}).mappings().one())
    row["years"] = set(session.scalars(text(
        "SELECT DISTINCT year FROM group_titles WHERE group_id = :id AND revoked_at IS NULL"),
        {"id": str(group_id)}))
    return row


_STUB_GROUPS = text("""
    INSERT INTO groups (group_id, kind, unit_code, members)
    SELECT g.id, g.kind, g.unit, 0
    FROM unnest(CAST(:ids AS uuid[]), CAST(:kinds AS varchar[]), CAST(:units AS varchar[]))
         AS g(id, kind, unit)
    ORDER BY g.id
    ON CONFLICT (group_id) DO NOTHING
""")


def load_groups(session, wanted):
    """``{group id: row}`` for ``wanted`` ({id: (kind, unit)}), created if new, locked in id
    order, each with its title years: load_group for a batch, in four statements."""
    ids = sorted(str(g) for g in wanted)
    if not ids:
        return {}
    session.execute(_STUB_GROUPS, {"ids": ids, "kinds": [wanted[i][0] for i in ids],
                                   "units": [wanted[i][1] for i in ids]})
    rows = {str(r["group_id"]): dict(r, years=set()) for r in session.execute(text(
        "SELECT group_id, kind, unit_code, members FROM groups "
        "WHERE group_id = ANY(CAST(:ids AS uuid[])) ORDER BY group_id FOR UPDATE"),
        {"ids": ids}).mappings()}
    refresh_group_years(session, rows)
    return rows


def refresh_group_years(session, rows):
    for row in rows.values():
        row["years"] = set()
    for gid, year in session.execute(text(
            "SELECT DISTINCT group_id, year FROM group_titles "
            "WHERE group_id = ANY(CAST(:ids AS uuid[])) AND revoked_at IS NULL"),
            {"ids": sorted(rows)}):
        rows[str(gid)]["years"].add(year)


def save_groups(session, rows):
    if rows:
        ids = sorted(rows)
        session.execute(text(
            "UPDATE groups SET members = g.members FROM unnest(CAST(:ids AS uuid[]), "
            "CAST(:members AS int[])) AS g(id, members) WHERE groups.group_id = g.id"),
            {"ids": ids, "members": [rows[i]["members"] for i in ids]})


def group_state(row):
    return domain.GroupState(row["kind"], row["members"], frozenset(row["years"]))


def save_group(session, row):
    session.execute(text("UPDATE groups SET members = :members, unit_code = :unit "
                         "WHERE group_id = :id"),
                    {"members": row["members"], "unit": row["unit_code"],
                     "id": str(row["group_id"])})


# -- counters -------------------------------------------------------------------------------------
_ADD_TALLIES = text("""
    INSERT INTO tallies (unit_code, metric, key, n)
    SELECT * FROM unnest(CAST(:units AS varchar[]), CAST(:metrics AS varchar[]),
                         CAST(:keys AS int[]), CAST(:ns AS bigint[]))
    ON CONFLICT (unit_code, metric, key) DO UPDATE SET n = tallies.n + EXCLUDED.n
""")
_ADD_DAYS = text("""
    INSERT INTO tally_days (unit_code, metric, key, day, n)
    SELECT * FROM unnest(CAST(:units AS varchar[]), CAST(:metrics AS varchar[]),
                         CAST(:keys AS int[]), CAST(:days AS date[]), CAST(:ns AS bigint[]))
    ON CONFLICT (unit_code, metric, key, day) DO UPDATE SET n = tally_days.n + EXCLUDED.n
""")


def _add(session, statement, columns, deltas):
    """Add ``{key tuple: n}`` with one statement, the key tuples' parts as the ``columns``
    arrays, in the deltas' order."""
    deltas = domain.nonzero(deltas)
    if deltas:
        keys = list(deltas)
        session.execute(statement, {name: [k[i] for k in keys]
                                    for i, name in enumerate(columns)}
                        | {"ns": [deltas[k] for k in keys]})


def add_tallies(session, deltas):
    """Add ``{(unit, metric, key): n}`` to the counters: one statement, key order."""
    _add(session, _ADD_TALLIES, ("units", "metrics", "keys"), deltas)


def add_days(session, deltas):
    """Add ``{(unit, metric, key, day): n}`` to the dated history."""
    _add(session, _ADD_DAYS, ("units", "metrics", "keys", "days"), deltas)


def apply(session, deltas, day):
    """The counter deltas of one change, dated ``day`` in the history."""
    deltas = domain.nonzero(deltas)
    add_days(session, {(u, m, k, day): n for (u, m, k), n in deltas.items()})
    add_tallies(session, deltas)  # the shared rows last: their locks are held the least
    return deltas


def tallies_of(session, units):
    """``{unit: {(metric, key): n}}`` for ``units`` (read from the counters only)."""
    found = {u: {} for u in units}
    for unit, metric, key, n in session.execute(text(
            "SELECT unit_code, metric, key, n FROM tallies WHERE unit_code = ANY(:units) "
            "AND n <> 0"), {"units": list(units)}):
        found[unit][(metric, key)] = n
    return found


def tallies_as_of(session, unit, day):
    return {(m, k): n for m, k, n in session.execute(text(
        "SELECT metric, key, sum(n)::bigint FROM tally_days WHERE unit_code = :unit "
        "AND day <= :day "
        "GROUP BY metric, key HAVING sum(n) <> 0"), {"unit": unit, "day": day})}


def history(session, unit, until):
    return [tuple(r) for r in session.execute(text(
        "SELECT metric, key, day, sum(n)::bigint FROM tally_days WHERE unit_code = :unit "
        "AND day <= :until GROUP BY metric, key, day"), {"unit": unit, "until": until})]


# -- targets --------------------------------------------------------------------------------------
def check_targets(session, deltas, targets, config, today=None):
    """The statuses of the indicators the ``deltas`` may have moved, stored; returns the
    target events ``[(event_type, data)]`` their crossings call for (cause_event_id left to
    the caller). Years looked at: the title years changed, and this year for the rest."""
    if not deltas:
        return []
    today = today or date.today()
    units, years = set(), set()
    for unit, metric, key in deltas:
        units.add(unit)
        years.add(key if metric in domain.YEAR_METRICS else today.year)
    units = sorted(units)
    # one status writer per unit at a time: a crossing is published once (locks taken in
    # unit order, all in one round trip)
    session.execute(text(
        "SELECT count(pg_advisory_xact_lock(hashtext(u))) "
        "FROM (SELECT u FROM unnest(CAST(:units AS text[])) AS u ORDER BY u) AS ordered"),
        {"units": units})
    counters = tallies_of(session, units)
    paths = placements(session, units)
    statuses = {(u, y, i): s for u, y, i, s in session.execute(text(
        "SELECT unit_code, year, indicator, status FROM target_status "
        "WHERE unit_code = ANY(:units) AND year = ANY(:years)"),
        {"units": units, "years": sorted(years)})}
    adult_age, ratio = adult_age_of(config), warning_ratio_of(config)
    events, rows = [], []
    for unit in units:
        path = paths[unit][1]
        for year in sorted(years):
            for p in domain.unit_progress(targets, path, year, counters[unit], adult_age, ratio):
                before = statuses.get((unit, year, p.indicator))
                if p.alert == before:
                    continue
                rows.append({"unit": unit, "year": year, "indicator": p.indicator,
                             "status": p.alert, "share": p.share})
                kind = domain.crossing(before, p.alert)
                if kind:
                    data = {"unit_code": unit, "unit_path": path, "year": year,
                            "indicator": p.indicator, "target_year": p.target_year,
                            "numerator": min(p.numerator, p.denominator),
                            "denominator": p.denominator,
                            "share": min(1.0, p.share or 0.0), "target": p.target}
                    if kind == "target_at_risk":
                        data["warning_line"] = p.warning_line
                    events.append((kind, data))
    if rows:
        session.execute(text("""
            INSERT INTO target_status (unit_code, year, indicator, status, share, updated_at)
            VALUES (:unit, :year, :indicator, :status, :share, now())
            ON CONFLICT (unit_code, year, indicator) DO UPDATE
            SET status = EXCLUDED.status, share = EXCLUDED.share, updated_at = now()"""), rows)
    return events


def adult_age_of(config):
    return int(config.get("ADULT_AGE") or domain.ADULT_AGE)


def warning_ratio_of(config):
    return float(config.get("WARNING_RATIO") or domain.WARNING_RATIO)


# -- lag ------------------------------------------------------------------------------------------
def record_applied(session, occurred_at, count=1):
    """Count ``count`` events applied by the handler this worker runs for (GET /lag), the
    newest having occurred at ``occurred_at``."""
    session.execute(text("""
        INSERT INTO consumer_lag (consumer, applied, last_occurred_at, last_applied_at)
        VALUES (:c, :n, :t, now())
        ON CONFLICT (consumer) DO UPDATE SET applied = consumer_lag.applied + EXCLUDED.applied,
            last_occurred_at = greatest(consumer_lag.last_occurred_at, EXCLUDED.last_occurred_at),
            last_applied_at = now()"""),
        {"c": resolve_consumer(), "t": occurred_at, "n": count})


def now():
    return datetime.now(timezone.utc)


# -- batches (cdht.batching) ----------------------------------------------------------------------
def people_deltas(session, people, mutate, adult_age, digital=None):
    """Deltas of changing ``people`` (loaded rows) with ``mutate(rows)``: what each counted
    for before, taken off along its old path; what it counts for now, added along its
    (merge-resolved) new one. The rows that changed are stored back. People who make the
    same change (from one unit and state to one unit and state) are counted together: a
    batch of grants is a few changes made by many."""
    before = {pid: (r["unit_code"], state_key(r)) for pid, r in people.items()}
    stored = {pid: _stored(r) for pid, r in people.items()}
    mutate(people)
    placed = placements(session, sorted({r["unit_code"] for r in people.values()} |
                                        {u for u, _ in before.values()}))
    changes = Counter()
    for pid, row in people.items():
        unit = row["unit_code"]
        row["unit_code"] = placed[unit][0]
        changes[before[pid] + (unit, state_key(row))] += 1
    tallies = {}

    def counted(key, times):
        if key not in tallies:
            tallies[key] = domain.person_tallies(domain.PersonState(*key), adult_age, digital)
        return {k: n * times for k, n in tallies[key].items()}

    deltas = {}
    for (old_unit, old, unit, new), times in changes.items():
        domain.change_deltas(placed[old_unit][1], counted(old, times), placed[unit][1],
                             counted(new, times), deltas)
    save_people(session, {pid: r for pid, r in people.items() if _stored(r) != stored[pid]})
    return deltas


_ADD_FACTS = text("""
    INSERT INTO recognition_facts (recognition_id, person_id, year, unit_path, digital_skills,
                                   granted_at)
    SELECT f.id, f.person, f.year, string_to_array(f.path, '/'), f.skills, f.at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:persons AS uuid[]), CAST(:years AS int[]),
                CAST(:paths AS text[]), CAST(:skills AS varchar[]),
                CAST(:ats AS timestamptz[])) AS f(id, person, year, path, skills, at)
""")


class Granted(NamedTuple):
    """One item of a closing's bulk event (a recognition of recognitions_granted, a group
    title of group_recognitions_granted), shaped as the single event it stands for: its
    batch event's id, time and correlation id."""
    event_id: object
    occurred_at: object
    correlation_id: object
    data: dict


def items_of(event, key):
    """The items of a closing's bulk ``event`` (``data[key]``), each as its single event:
    ``items_of(e, "recognitions")`` of a recognitions_granted are recognition_granted."""
    return [Granted(event.event_id, event.occurred_at, event.correlation_id, item)
            for item in event.data[key]]


def grant_recognitions(session, events, adult_age, digital=None):
    """Apply recognition_granted ``events`` (inbox already checked): the facts stored, every
    person's counters moved, one dated history entry per report day. Returns
    ``(deltas, grants)``: the summed counter deltas and ``[(event, unit where the title now
    counts)]`` for the new grants (a recognition already known, or twice in the batch, counts
    once)."""
    firsts = {}  # recognition id -> its first event in the batch
    for event in events:
        firsts.setdefault(str(event.data["recognition_id"]), event)
    known = set(session.scalars(text(
        "SELECT recognition_id::text FROM recognition_facts "
        "WHERE recognition_id = ANY(CAST(:ids AS uuid[]))"), {"ids": sorted(firsts)}))
    by_day = {}
    for rid, event in firsts.items():
        if rid not in known:
            by_day.setdefault(domain.report_day(event.occurred_at), []).append(
                (rid, str(event.data["person_id"]), event))
    total, applied = {}, []
    for day in sorted(by_day):  # one pass per report day (a batch rarely spans midnight)
        grants = by_day[day]
        units = {}
        for _, pid, e in grants:
            units.setdefault(pid, e.data["unit_code"])
        people = load_people(session, units)
        session.execute(_ADD_FACTS, {
            "ids": [rid for rid, _, _ in grants],
            "persons": [pid for _, pid, _ in grants],
            "years": [e.data["year"] for _, _, e in grants],
            "paths": ["/".join(e.data["unit_path"]) for _, _, e in grants],
            "skills": [e.data["digital_skills"] for _, _, e in grants],
            "ats": [e.occurred_at for _, _, e in grants]})

        def mutate(rows, grants=grants):
            for _, pid, e in grants:
                row = rows[pid]
                if not row["registered"]:
                    row["unit_code"] = e.data["unit_code"]
                row["titles"].append((e.data["year"], e.data["digital_skills"]))
        deltas = apply(session, people_deltas(session, people, mutate, adult_age, digital),
                       day)
        for key, n in deltas.items():
            total[key] = total.get(key, 0) + n
        applied += [(e, people[pid]["unit_code"]) for _, pid, e in grants]
    return domain.nonzero(total), applied


def statistics_of(session, units_years, adult_age):
    """``statistics_updated`` data (without cause) for each ``(unit, year)``."""
    counters = tallies_of(session, sorted({u for u, _ in units_years}))
    found = {}
    for unit, year in units_years:
        summary = domain.population_summary(counters[unit], year, adult_age)
        found[(unit, year)] = {
            "unit_code": unit, "year": year, "people": summary["people"],
            "adults": summary["adults"], "titled": summary["titled"],
            "titled_digitally_skilled": summary["titled_digitally_skilled"],
            "titled_digitally_proficient": summary["titled_digitally_proficient"]}
    return found
