"""The bulk-import pipeline against the registry's database (the adapter of importing.py).

A file is read in chunks of ``chunk_rows`` rows. Per chunk, in ONE transaction:

1. the rows are validated (importing.RowValidator: national ID rules, names, dates, unit codes
   known in the units table, read once in bulk; duplicates across the whole file);
2. the good rows go into a temporary table with COPY (psycopg2 ``copy_expert``);
3. the people they name are locked (``FOR UPDATE``) and one statement
   ``INSERT ... SELECT FROM the temp table ON CONFLICT (national_id) DO UPDATE ... WHERE
   something actually changed RETURNING ...`` upserts them, reporting, for each person that
   changed, whether it was registered, updated or moved (a changed unit), with the countable
   facts before the change;
4. those changes leave as ``people_imported`` events (<= 5000 people each, countable facts and
   unit paths only, no personal data) through the transactional outbox;
5. the bad rows' errors and the job's progress and counts are recorded.

Re-importing a file therefore changes nothing: no row is updated and no event is written.
Chunks of concurrent imports are serialised by an advisory lock, and the pipeline yields to
eventlet between chunks (``pause``) so that a service keeps its heartbeats.
"""
import io
import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import islice

from sqlalchemy import func, select, text, update

from cdht.outbox import add_event
from cdht.redact import redact
from services.registry import domain, importing
from services.registry.import_models import ImportJob, ImportRowError
from services.registry.models import Person, Unit

log = logging.getLogger(__name__)

PRODUCER = "registry"
CHUNK_ROWS = 5000
EVENT_PEOPLE = 5000          # the people_imported contract's limit per event
MEMORY_ERRORS = 100_000      # a dry run keeps at most this many errors to show
_LOCK_KEY = 0x43444854494D50  # pg_advisory_xact_lock key of people imports ("CDHTIMP")

_STAGE_COLUMNS = {
    "national_id": "varchar(12)", "full_name": "varchar(200)", "gender": "varchar(10)",
    "birth_date": "date", "ethnicity": "varchar(50)", "phone": "varchar(20)",
    "email": "varchar(254)", "unit_code": "varchar(64)", "target_group": "varchar(20)",
    "roles": "varchar(30)[]",
}
_CREATE_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS import_stage (" +
                 ", ".join(f"{c} {t}" for c, t in _STAGE_COLUMNS.items()) +
                 ") ON COMMIT DELETE ROWS")
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass
class Summary:
    """What an import did (also what the CLI prints and GET /imports/<id> shows)."""
    import_id: uuid.UUID | None
    filename: str
    status: str = "queued"
    format: str | None = None
    dry_run: bool = False
    rows_total: int | None = None
    rows_read: int = 0
    good: int = 0
    bad: int = 0
    registered: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    error_count: int = 0
    events: int = 0
    members_joined: int = 0      # groups imports only
    titles_recorded: int = 0     # groups imports only
    seconds: float = 0.0
    failure: dict | None = None
    layout: dict | None = None
    errors: list = field(default_factory=list)  # dry runs only (in memory)

    def counts(self):
        return {k: getattr(self, k) for k in ("good", "bad", "registered", "updated", "moved",
                                              "unchanged", "error_count", "events")}

    def as_dict(self):
        data = asdict(self)
        data.pop("errors")
        return data


def layout_dict(layout):
    return {"format": layout.format, "header_row": layout.header_row,
            "columns": {name: layout.column_of(name) for name in layout.fields},
            "ignored": layout.ignored, "sheet": layout.sheet, "delimiter": layout.delimiter}


def _now():
    return datetime.now(timezone.utc)


@contextmanager
def blocking_copy():
    """psycopg2 refuses COPY while a wait callback is installed (eventlet's green mode).
    Remove it for the duration of one COPY from memory: nothing in between yields to the
    hub, so no other greenthread can run a query meanwhile; the COPY of a chunk takes
    milliseconds, far below the heartbeat interval."""
    import psycopg2.extensions as ext
    callback = ext.get_wait_callback()
    if callback is None:
        yield
        return
    ext.set_wait_callback(None)
    try:
        yield
    finally:
        ext.set_wait_callback(callback)


def _copy_line(record):
    national_id, full_name, gender, birth_date, ethnicity, phone, email, unit_code, \
        target_group, roles = record
    return "\t".join((
        national_id, full_name.translate(_ESCAPE), gender, birth_date.isoformat(),
        ethnicity.translate(_ESCAPE) if ethnicity else "\\N",
        phone.translate(_ESCAPE) if phone else "\\N",
        email.translate(_ESCAPE) if email else "\\N",
        unit_code.translate(_ESCAPE), target_group,
        "{" + ",".join(roles) + "}")) + "\n"


def _copy_into_stage(session, records):
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(_CREATE_STAGE)
        buffer = io.StringIO("".join(map(_copy_line, records)))
        with blocking_copy():
            cur.copy_expert("COPY import_stage (" + ", ".join(_STAGE_COLUMNS) +
                            ") FROM STDIN", buffer)


def _changing(present):
    return [c for c in importing.FIELDS if c in present and c != "national_id"]


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
               old.unit_code AS old_unit_code, old.target_group AS old_target_group,
               old.roles AS old_roles, date_part('year', old.birth_date)::int AS old_birth_year
        FROM up LEFT JOIN old ON old.national_id = up.national_id
        ORDER BY up.national_id
    """


_LOCK_PEOPLE = """
    SELECT count(*) FROM (
        SELECT 1 FROM people p JOIN import_stage s ON s.national_id = p.national_id
        ORDER BY p.national_id FOR UPDATE OF p
    ) locked
"""


class Units:
    """The unit tree, read once per import: which codes exist, which are valid today, paths."""

    def __init__(self, rows, today):
        self.parents = {}
        self.valid = {}  # code -> valid today; a deleted unit is unknown
        for code, parent, valid_from, valid_to, deleted in rows:
            self.parents[code] = parent
            if not deleted:
                self.valid[code] = ((valid_from is None or valid_from <= today) and
                                    (valid_to is None or today <= valid_to))
        self._paths = {}

    @classmethod
    def load(cls, session, today):
        deleted = "deleted_at IS NOT NULL" if "deleted_at" in Unit.__table__.c else "false"
        rows = session.execute(text(
            f"SELECT code, parent_code, valid_from, valid_to, {deleted} FROM units")).all()
        return cls(rows, today)

    def path(self, code):
        found = self._paths.get(code)
        if found is None:
            found = self._paths[code] = domain.unit_path(self.parents, code)
        return found


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


class Importer:
    """Runs imports against the registry database.

    ``sessions`` is a SQLAlchemy sessionmaker; ``on_commit`` is called after each committed
    chunk that wrote events (the service wakes its outbox relay); ``pause`` after each chunk
    (eventlet.sleep(0) in a service, so that heartbeats go on).
    """

    def __init__(self, sessions, *, on_commit=None, pause=None, chunk_rows=CHUNK_ROWS,
                 today=None):
        self.sessions = sessions
        self.on_commit = on_commit
        self.pause = pause or (lambda: None)
        self.chunk_rows = chunk_rows
        self.today = today
        self._has_updated_at = "updated_at" in Person.__table__.c
        self._stats = None  # (people rows at the last ANALYZE, rows this import had inserted)

    # -- jobs ------------------------------------------------------------------------------
    kind = "people"

    @staticmethod
    def summary_lines(summary):
        """What the command line prints of the counts, beside rows, errors and events."""
        return (("registered", summary.registered), ("updated", summary.updated),
                ("moved", summary.moved), ("unchanged", summary.unchanged))

    def inspect(self, path):
        """The file's Layout under this importer's headers (ImportFileError if it has none)."""
        return importing.inspect(path, pause=self.pause)

    def create_job(self, filename, *, size_bytes=None, layout=None, correlation_id=None):
        job_id = uuid.uuid4()
        with self._transaction() as session:
            session.add(ImportJob(
                id=job_id, kind=self.kind, source_filename=(filename or "upload")[:255],
                status="queued",
                size_bytes=size_bytes, format=layout.format if layout else None,
                layout=layout_dict(layout) if layout else None,
                rows_total=layout.total_estimate if layout else None,
                correlation_id=correlation_id))
        return job_id

    def fail_job(self, job_id, failure):
        with self._transaction() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                status="failed", failure=failure, finished_at=_now(), heartbeat_at=_now()))

    def fail_interrupted(self, older_than=timedelta(minutes=2)):
        """Jobs left queued or running by a process that died: failed, so nobody waits on
        them forever (the committed chunks stay; importing the file again completes it)."""
        with self._transaction() as session:
            result = session.execute(
                update(ImportJob)
                .where(ImportJob.status.in_(("queued", "running")),
                       func.coalesce(ImportJob.heartbeat_at, ImportJob.created_at)
                       < _now() - older_than)
                .values(status="failed", finished_at=_now(), failure={
                    "code": "interrupted",
                    "reason_vi": "Việc nhập bị gián đoạn (dịch vụ đã khởi động lại); "
                                 "hãy nhập lại tệp, các dòng đã lưu sẽ không bị thay đổi",
                    "reason_en": "the import was interrupted (the service restarted); "
                                 "import the file again: rows already saved stay unchanged"}))
            return result.rowcount

    @contextmanager
    def _transaction(self, commit=True):
        session = self.sessions()
        try:
            session.begin()
            yield session
            if commit:
                session.commit()
                wrote = session.info.pop("outbox_rows", 0)
            else:
                session.rollback()
                wrote = 0
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if wrote and self.on_commit:
            self.on_commit()

    # -- the pipeline ----------------------------------------------------------------------
    def run(self, path, *, filename=None, job_id=None, dry_run=False, layout=None,
            correlation_id=None, progress=None):
        """Import ``path``; returns a Summary. Raises ImportFileError for a file that can't
        be imported at all (nothing is written but the job's failure).

        Without ``job_id`` a job row is created, unless ``dry_run``: a dry run validates and
        upserts every chunk exactly as a real run would, then rolls each chunk back, so the
        counts are exact and nothing is written at all.
        """
        started = time.monotonic()
        self._stats = None
        summary = Summary(import_id=job_id, filename=filename or str(path), dry_run=dry_run)
        if job_id is None and not dry_run:
            job_id = summary.import_id = self.create_job(
                summary.filename, correlation_id=correlation_id)
        if job_id is not None:
            self._update_job(job_id, status="running", started_at=_now(),
                             heartbeat_at=_now())
        summary.status = "running"
        try:
            if layout is None:
                layout = self.inspect(path)
            summary.format = layout.format
            summary.layout = layout_dict(layout)
            summary.rows_total = layout.total_estimate
            if job_id is not None:
                self._update_job(job_id, format=layout.format, layout=summary.layout,
                                 rows_total=layout.total_estimate)
            self._run_chunks(path, layout, job_id, summary, dry_run, correlation_id,
                             progress)
        except importing.ImportFileError as exc:
            summary.status, summary.failure = "failed", exc.as_dict()
            if job_id is not None:
                self.fail_job(job_id, summary.failure)
            raise
        except BaseException as exc:
            summary.status = "failed"
            summary.failure = {"code": "internal",
                               "reason_vi": "Lỗi hệ thống khi nhập; các phần đã lưu vẫn giữ "
                                            "nguyên, hãy nhập lại tệp",
                               "reason_en": redact(f"{type(exc).__name__}: {exc}")[:500]}
            if job_id is not None:
                try:
                    self.fail_job(job_id, summary.failure)
                except Exception:
                    log.warning("could not record the failure of import %s", job_id,
                                exc_info=True)
            raise
        summary.status = "done"
        summary.rows_total = summary.rows_read
        summary.seconds = time.monotonic() - started
        if job_id is not None:
            self._update_job(job_id, status="done", finished_at=_now(), heartbeat_at=_now(),
                             rows_total=summary.rows_read)
        return summary

    def _update_job(self, job_id, **values):
        with self._transaction() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    def _run_chunks(self, path, layout, job_id, summary, dry_run, correlation_id, progress):
        today = self.today or date.today()
        with self._transaction(commit=False) as session:
            units = Units.load(session, today)
        validator = importing.RowValidator(layout, units.valid, today=today)
        upsert = text(_upsert_sql(set(layout.fields), self._has_updated_at))
        drop_unchanged = text(_drop_unchanged_sql(set(layout.fields)))
        rows = importing.read_rows(path, layout)
        batch = 0
        try:
            while True:
                chunk = list(islice(rows, self.chunk_rows))
                if not chunk:
                    break
                records, errors = [], []
                for number, cells in chunk:
                    record, row_errors = validator.check(number, cells)
                    if record is None:
                        errors.extend(row_errors)
                    else:
                        records.append(record)
                self.pause()  # validation is CPU work: let the hub run before the writes
                if records and not dry_run:
                    self._keep_statistics(summary.registered)
                with self._transaction(commit=not dry_run) as session:
                    people, counts = [], {"registered": 0, "updated": 0, "moved": 0}
                    if records:
                        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                        {"k": _LOCK_KEY})
                        _copy_into_stage(session, records)
                        if session.execute(drop_unchanged).rowcount < len(records):
                            session.execute(text(_LOCK_PEOPLE))
                            people, counts = changes_to_people(session.execute(upsert),
                                                               units)
                    events = 0
                    for start in range(0, len(people), EVENT_PEOPLE):
                        batch += 1
                        events += 1
                        if start:
                            self.pause()  # (validating an event's 5000 people takes a while)
                        if not dry_run:
                            add_event(session, "people_imported", {
                                "import_id": job_id, "batch": batch,
                                "people": people[start:start + EVENT_PEOPLE],
                            }, producer=PRODUCER, correlation_id=correlation_id)
                    delta = {"rows_read": len(chunk), "good": len(records),
                             "bad": len(chunk) - len(records), **counts,
                             "unchanged": len(records) - len(people),
                             "error_count": len(errors), "events": events}
                    if job_id is not None and not dry_run:
                        self._record_chunk(session, job_id, errors, delta)
                for key, value in delta.items():
                    setattr(summary, key, getattr(summary, key) + value)
                if dry_run or job_id is None:
                    room = MEMORY_ERRORS - len(summary.errors)
                    summary.errors.extend(errors[:max(0, room)])
                if progress:
                    progress(summary)
                self.pause()
        finally:
            rows.close()

    def _keep_statistics(self, inserted):
        """ANALYZE people when this import has grown it a lot since its statistics were taken.

        A chunk meets the table through joins on the national ID; with statistics that lag
        far behind (autovacuum has not got to a table that grew by a million rows in a few
        minutes) the planner misjudges which side is small, and one chunk can cost a scan
        of the whole table per row. Re-analysing each time the table grew by half keeps the
        cost O(n log n) overall (a few ANALYZEs of a 30,000-row sample)."""
        if self._stats is not None:
            known, inserted_then = self._stats
            if inserted - inserted_then < max(20_000, known // 2):
                return
        with self._transaction() as session:
            session.execute(text("ANALYZE people"))
            known = session.scalar(text(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                "WHERE oid = 'people'::regclass"))
        self._stats = (known or 0, inserted)

    def _record_chunk(self, session, job_id, errors, delta):
        if errors:
            from psycopg2.extras import execute_values
            raw = session.connection().connection.driver_connection
            with raw.cursor() as cur:
                execute_values(
                    cur, 'INSERT INTO import_errors (import_id, "row", "column", field, code, '
                         'reason_vi, reason_en) VALUES %s',
                    [(str(job_id), e.row, e.column[:200], e.field, e.code, e.reason_vi,
                      e.reason_en) for e in errors], page_size=1000)
        t = ImportJob.__table__
        session.execute(t.update().where(t.c.id == job_id).values(
            heartbeat_at=func.now(),
            **{k: t.c[k] + v for k, v in delta.items()}))


# -- reading jobs back -------------------------------------------------------------------------
def job_status(job):
    """GET /imports/<id>: status, progress and counts of one job."""
    total = job.rows_total
    percent = None
    if job.status == "done":
        percent = 100.0
    elif total:
        percent = round(min(100.0, 100.0 * job.rows_read / total), 1)
    return {
        "import_id": job.id, "kind": job.kind, "status": job.status,
        "filename": job.source_filename,
        "format": job.format,
        "progress": {"rows_read": job.rows_read, "rows_total": total, "percent": percent},
        "counts": {"total": job.rows_read, "good": job.good, "bad": job.bad,
                   "registered": job.registered, "updated": job.updated, "moved": job.moved,
                   "unchanged": job.unchanged, "errors": job.error_count,
                   "events": job.events,
                   **({"members_joined": job.members_joined,
                       "titles_recorded": job.titles_recorded} if job.kind == "groups" else {})},
        "layout": job.layout, "failure": job.failure,
        "created_at": job.created_at, "started_at": job.started_at,
        "finished_at": job.finished_at,
        "seconds": ((job.finished_at - job.started_at).total_seconds()
                    if job.finished_at and job.started_at else None),
    }


def error_rows(session, import_id, *, offset=None, limit=None, batch=5000):
    """(row, column, reason_vi, reason_en) of a job's report, in sheet order, streamed."""
    e = ImportRowError
    stmt = (select(e.row, e.column, e.reason_vi, e.reason_en)
            .where(e.import_id == import_id).order_by(e.row, e.id)
            .offset(offset).limit(limit)
            .execution_options(yield_per=batch))
    for row in session.execute(stmt):
        yield tuple(row)


# -- the command line: python -m cdht import people FILE [--dry-run] ----------------------------
def cli_import_people(args, database_url=None, console=None, importer_class=None):
    """Run an import against the registry database of ``services/registry/config.yaml``,
    with a progress bar; print a summary. Exit status: 0 imported (bad rows are in the
    report), 2 the file can't be imported at all, 1 anything else."""
    import os
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.table import Table
    from rich.text import Text
    from sqlalchemy.orm import sessionmaker

    from cdht.config import load_config
    from cdht.db import make_engine

    console = console or Console(stderr=False, highlight=False)
    errors_console = Console(stderr=True, highlight=False)
    if not os.path.isfile(args.file):
        errors_console.print(f"[red]error:[/] no such file: {escape(args.file)}")
        return 2
    url = database_url or load_config("registry")["DATABASE_URL"]
    engine = make_engine(url, pool_size=2, max_overflow=0)
    importer = (importer_class or Importer)(sessionmaker(engine, expire_on_commit=False),
                                            chunk_rows=getattr(args, "chunk_rows", CHUNK_ROWS))
    name = os.path.basename(args.file)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=errors_console, transient=False)
    task = progress.add_task(escape(f"{'checking' if args.dry_run else 'importing'} {name}"),
                             total=None)

    def on_progress(summary):
        total = max(summary.rows_total or 0, summary.rows_read) or None
        progress.update(task, completed=summary.rows_read, total=total)

    try:
        with progress:
            summary = importer.run(args.file, filename=name, dry_run=args.dry_run,
                                   progress=on_progress)
    except importing.ImportFileError as exc:
        errors_console.print(f"[red]error:[/] {escape(exc.reason_vi)}\n       "
                             f"{escape(exc.reason_en)}")
        return 2
    except Exception as exc:
        errors_console.print(f"[red]error:[/] {escape(redact(f'{type(exc).__name__}: {exc}'))}")
        return 1
    finally:
        engine.dispose()

    table = Table(title=Text(f"{'Dry run' if args.dry_run else 'Import'} of {name}"),
                  show_header=False)
    rate = summary.rows_read / summary.seconds if summary.seconds else 0
    for label, value in (
            ("import id", summary.import_id or "(dry run: nothing written)"),
            ("format", summary.format), ("rows", summary.rows_read),
            ("good / bad", f"{summary.good} / {summary.bad}"),
            *importer.summary_lines(summary),
            ("errors reported", summary.error_count),
            ("events" if not args.dry_run else "events (would be)", summary.events),
            ("time", f"{summary.seconds:.1f} s ({rate:,.0f} rows/s)")):
        table.add_row(label, Text(str(value)))
    console.print(table)
    if summary.layout and summary.layout.get("ignored"):
        console.print(Text("columns ignored: " + ", ".join(summary.layout["ignored"])))

    def report():
        if summary.import_id is None:
            return ((e.row, e.column, e.reason_vi, e.reason_en) for e in summary.errors)
        engine2 = make_engine(url, pool_size=1, max_overflow=0)
        session = sessionmaker(engine2)()

        def rows():
            try:
                yield from error_rows(session, summary.import_id)
            finally:
                session.close()
                engine2.dispose()
        return rows()

    if summary.error_count and args.show_errors:
        shown = Table("row", "column", "lý do", "reason")
        for i, (row, column, vi, en) in enumerate(report()):
            if i >= args.show_errors:
                break
            shown.add_row(str(row), Text(column), Text(vi), Text(en))  # no markup from files
        console.print(shown)
        if summary.error_count > args.show_errors:
            console.print(f"... {summary.error_count - args.show_errors} more")
    if args.errors:
        if args.errors.lower().endswith(".xlsx"):
            importing.write_report_xlsx(report(), args.errors)
        else:
            with open(args.errors, "w", encoding="utf-8", newline="") as fh:
                for chunk in importing.report_csv(report()):
                    fh.write(chunk)
        console.print(f"error report written to {args.errors}")
    elif summary.import_id and summary.error_count:
        console.print(f"full report: GET /imports/{summary.import_id}/errors?format=csv "
                      "(or xlsx)")
    sys.stdout.flush()
    return 0
