"""The people import's writes, one chunk per transaction (the runner's loop, runner.py):

1. the good rows (people_rows.RowValidator: national ID rules, names, dates, unit codes known
   in the units table; duplicates across the whole file; checked, and their COPY text made,
   a chunk ahead of the writes: ``prepare``, runner.py) go into a temporary table with COPY;
2. rows equal to the person already recorded are dropped (a re-import changes nothing);
3. the people the rest name are locked (``FOR UPDATE``; steps 2 and 3 are skipped when the
   chunk names nobody recorded, as in a first import) and one statement
   ``INSERT ... SELECT FROM the temp table ON CONFLICT (national_id) DO UPDATE ... WHERE
   something actually changed RETURNING ...`` upserts them, reporting, for each person that
   changed, whether it was registered, updated or moved (a changed unit), with the countable
   facts before the change;
4. those changes leave as ``people_imported`` events (<= 5000 people each, countable facts and
   unit paths only, no personal data) through the transactional outbox.
"""
import math
import threading

from sqlalchemy import text

from cdht.outbox import add_wire_events
from services.registry.imports import people_rows
from services.registry.imports.chunks import (
    ESCAPE, EVENT_ITEMS, PRODUCER, copy_into,
)
from services.registry.models import Person

_STAGE_COLUMNS = {
    "national_id": "varchar(12)", "full_name": "varchar(200)", "gender": "varchar(10)",
    "birth_date": "date", "ethnicity": "varchar(50)", "phone": "varchar(20)",
    "email": "varchar(254)", "unit_code": "varchar(64)", "target_group": "varchar(20)",
    "roles": "varchar(30)[]",
}
_CREATE_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS import_stage (" +
                 ", ".join(f"{c} {t}" for c, t in _STAGE_COLUMNS.items()) +
                 ") ON COMMIT DELETE ROWS")


def _copy_line(record):
    national_id, full_name, gender, birth_date, ethnicity, phone, email, unit_code, \
        target_group, roles = record
    return "\t".join((
        national_id, full_name.translate(ESCAPE), gender, birth_date.isoformat(),
        ethnicity.translate(ESCAPE) if ethnicity else "\\N",
        phone.translate(ESCAPE) if phone else "\\N",
        email.translate(ESCAPE) if email else "\\N",
        unit_code.translate(ESCAPE), target_group,
        "{" + ",".join(roles) + "}")) + "\n"


def _changing(present):
    return [c for c in people_rows.FIELDS if c in present and c != "national_id"]


def _row(prefix, columns):
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


def _drop_unchanged_sql(present):
    """Take out of the chunk every row equal to the person already recorded (a re-import):
    only new and changed people go on to be locked and upserted."""
    changing = _changing(present)
    return f"""
        DELETE FROM import_stage s USING people p
        WHERE p.national_id = s.national_id AND p.deleted_at IS NULL
          AND {_row('p', changing)} IS NOT DISTINCT FROM {_row('s', changing)}
    """


def _upsert_sql(present, has_updated_at):
    """The upsert for the columns the file has: a column the file lacks keeps its value."""
    cols = ["national_id"] + _changing(present)
    changing = _changing(present)
    set_clause = [f"{c} = EXCLUDED.{c}" for c in changing] + ["deleted_at = NULL"]
    if has_updated_at:
        set_clause.append("updated_at = now()")
    return f"""
        WITH old AS (
            SELECT p.national_id, p.unit_code, p.target_group, p.roles, p.birth_date,
                   p.deleted_at
            FROM people p JOIN import_stage s ON s.national_id = p.national_id
        ), up AS (
            INSERT INTO people AS p (id, {', '.join(cols)})
            SELECT gen_random_uuid(), {', '.join('s.' + c for c in cols)}
            FROM import_stage s ORDER BY s.national_id
            ON CONFLICT (national_id) DO UPDATE SET {', '.join(set_clause)}
            WHERE p.deleted_at IS NOT NULL
               OR {_row('p', changing)} IS DISTINCT FROM {_row('EXCLUDED', changing)}
            RETURNING p.id, p.national_id, p.unit_code, p.target_group, p.roles,
                      p.birth_date
        )
        SELECT up.id::text AS id, up.unit_code, up.target_group, up.roles,
               date_part('year', up.birth_date)::int AS birth_year,
               (old.national_id IS NULL OR old.deleted_at IS NOT NULL) AS registered,
               (old.deleted_at IS NOT NULL) AS restored,
               old.unit_code AS old_unit_code, old.target_group AS old_target_group,
               old.roles AS old_roles, date_part('year', old.birth_date)::int AS old_birth_year
        FROM up LEFT JOIN old ON old.national_id = up.national_id
        ORDER BY up.national_id
    """


_RECORDED = ("SELECT national_id, deleted_at FROM people "
             "WHERE national_id = ANY(CAST(:ids AS varchar[]))")

_HOLDERS = ("SELECT national_id, unit_code FROM people "
            "WHERE national_id = ANY(CAST(:ids AS varchar[]))")

_LOCK_PEOPLE = """
    SELECT count(*) FROM (
        SELECT 1 FROM people p JOIN import_stage s ON s.national_id = p.national_id
        ORDER BY p.national_id FOR UPDATE OF p
    ) locked
"""


def changes_to_people(rows, units):
    """people_imported entries (and counts) from the upsert's RETURNING rows."""
    people, counts = [], {"registered": 0, "updated": 0, "moved": 0}
    for r in rows:
        facts = {"person_id": r.id, "unit_code": r.unit_code,
                 "unit_path": units.path(r.unit_code), "target_group": r.target_group,
                 "roles": list(r.roles or []), "birth_year": r.birth_year}
        if r.registered:
            change, from_path, previous = "registered", None, None
        else:
            previous = ({"target_group": r.old_target_group, "roles": list(r.old_roles or []),
                         "birth_year": r.old_birth_year}
                        if r.old_unit_code is not None else None)
            if r.old_unit_code is not None and r.old_unit_code != r.unit_code:
                change, from_path = "moved", units.path(r.old_unit_code)
            else:
                change, from_path = "updated", None
                if previous is None:  # a row updated that no read saw: inserted concurrently
                    previous = {k: facts[k] for k in ("target_group", "roles", "birth_year")}
        counts[change] += 1
        facts["change"] = change
        if from_path is not None:  # both default to null in the contract: leave them out
            facts["from_unit_path"] = from_path
        if previous is not None:
            facts["previous"] = previous
        people.append(facts)
    return people, counts


class PeopleChunks:
    """Writes the chunks of one people import (see the module's docstring)."""
    kind = "people"
    max_rows = None
    independent = True  # a national ID is in one chunk only (people_rows: duplicates)
    inspect = staticmethod(people_rows.inspect)

    def __init__(self, importer, layout, units, today, *, job_id, dry_run):
        self.importer, self.units, self.job_id, self.dry_run = importer, units, job_id, dry_run
        self.validator = people_rows.RowValidator(layout, units.valid, today=today,
                                                  in_scope=units.in_scope)
        self.upsert = text(_upsert_sql(set(layout.fields), "updated_at" in Person.__table__.c))
        self.drop_unchanged = text(_drop_unchanged_sql(set(layout.fields)))
        self.fields = sorted(set(layout.fields))
        self.national_id_column = layout.column_of("national_id")
        self.counting = threading.Lock()
        self.inserted = 0
        self.stats = None  # (people rows at the last ANALYZE, rows this import had inserted)

    @staticmethod
    def summary_lines(summary):
        """What the command line prints of the counts, beside rows, errors and events."""
        return (("registered", summary.registered), ("updated", summary.updated),
                ("moved", summary.moved), ("unchanged", summary.unchanged))

    def before(self, records):
        """Outside the chunk's transaction: keep the table's statistics up to date."""
        if records and not self.dry_run:
            self._keep_statistics()

    @staticmethod
    def prepare(records):
        """The records' COPY text, made ahead of the chunk's transaction (runner.py)."""
        return "".join(map(_copy_line, records))

    def write(self, session, records, errors, numbers=None, staged=None, *, index=0):
        """The chunk's upsert and events; its counts. ``numbers``: the records' rows;
        ``staged``: their COPY text (``prepare``), if made ahead; ``index``: the chunk's
        place in the file (its events' batch numbers follow it, whatever order the chunks
        written at once commit in)."""
        checked = len(records)
        people, counts, restored = [], {"registered": 0, "updated": 0, "moved": 0}, []
        recorded = True  # whether anyone the chunk names may be recorded already
        if records:
            row_of = {r[0]: n for n, r in zip(numbers or (), records)}
            if self.units.within is not None:
                records = self._held_elsewhere(session, records, numbers, errors)
            if records and not self.importer.restore:
                records, recorded = self._removed(session, records, row_of, errors)
        if records:
            if staged is None or len(records) != checked:  # some were dropped just now
                staged = self.prepare(records)
            copy_into(session, _CREATE_STAGE, "import_stage", _STAGE_COLUMNS, staged)
            # nobody recorded (a first import): nothing to find unchanged or to lock first
            if not recorded or session.execute(self.drop_unchanged).rowcount < len(records):
                if recorded:
                    session.execute(text(_LOCK_PEOPLE))
                rows = session.execute(self.upsert).all()
                restored = {r.id for r in rows if r.restored}
                people, counts = changes_to_people(rows, self.units)
        events = 0
        first_batch = index * math.ceil(self.importer.chunk_rows / EVENT_ITEMS) + 1
        for start in range(0, len(people), EVENT_ITEMS):
            batch = first_batch + events
            events += 1
            if start:
                self.importer.pause()  # (validating an event's 5000 people takes a while)
            if not self.dry_run:
                # built as JSON gives it back (ids as text): no JSON round trip of 1 MB
                add_wire_events(session, "people_imported", [{
                    "import_id": str(self.job_id), "batch": batch,
                    "people": people[start:start + EVENT_ITEMS]}], producer=PRODUCER)
        # the audit last: its chain's head stays locked until the chunk commits, and a
        # chunk written beside this one waits for it
        self.importer.audit(session, "import", [p["person_id"] for p in people
                                                if p["person_id"] not in restored],
                            self.fields, self.dry_run)
        self.importer.audit(session, "restore", restored, self.fields, self.dry_run)
        with self.counting:  # (chunks are written at once: not a bare +=)
            self.inserted += counts["registered"]
        return {"good": len(records), **counts, "unchanged": len(records) - len(people),
                "events": events}

    def _removed(self, session, records, row_of, errors):
        """The records without those whose national ID belongs to a removed person: an
        import restores nobody unless it is asked to (``Importer.restore``); each is a row
        error saying how. Also whether any of the records' national IDs is recorded."""
        found = session.execute(text(_RECORDED), {"ids": [r[0] for r in records]}).all()
        removed = {national_id: at for national_id, at in found if at is not None}
        if not removed:
            return records, bool(found)
        vi, en = people_rows.MESSAGES["national_id.removed"]
        for national_id, at in removed.items():
            on = at.date().isoformat()
            errors.append(people_rows.RowError(
                row_of.get(national_id, 0), "national_id", self.national_id_column,
                "national_id.removed", vi.format(on=on), en.format(on=on)))
        errors.sort(key=lambda e: e.row)
        return [r for r in records if r[0] not in removed], len(found) > len(removed)

    def _held_elsewhere(self, session, records, numbers, errors):
        """The records without those whose national ID a person outside the importer's scope
        holds: each is a row error worded as POST /people's 409 (no unit, no person), and
        counts against the importer's refusals (``on_refused`` may stop the import)."""
        held = dict(session.execute(text(_HOLDERS), {"ids": [r[0] for r in records]}).all())
        kept, refused = [], []
        for number, record in zip(numbers, records):
            unit = held.get(record[0])
            if unit is not None and not self.units.in_scope(unit):
                refused.append(self.validator.unavailable(number))
            else:
                kept.append(record)
        if refused:
            self.importer.on_refused(len(refused))
            errors.extend(refused)
            errors.sort(key=lambda e: e.row)
        return kept

    def _keep_statistics(self):
        """ANALYZE people when this import has grown it a lot since its statistics were taken.

        A chunk meets the table through joins on the national ID; with statistics that lag
        far behind (autovacuum has not got to a table that grew by a million rows in a few
        minutes) the planner misjudges which side is small, and one chunk can cost a scan
        of the whole table per row. Re-analysing each time the table grew by half keeps the
        cost O(n log n) overall (a few ANALYZEs of a 30,000-row sample)."""
        if self.stats is not None:
            known, inserted_then = self.stats
            if self.inserted - inserted_then < max(20_000, known // 2):
                return
        with self.importer.transaction() as session:
            session.execute(text("SELECT refresh_statistics('people')"))  # as the owner
            known = session.scalar(text(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                "WHERE oid = 'people'::regclass"))
        self.stats = (known or 0, self.inserted)
