"""The bulk-import runner: a file read in chunks, each written in ONE transaction by its kind
(people.py, groups.py), with the job's progress, counts and error report kept as it goes.

Per chunk: the rows are validated (the kind's validator), written with the events that
announce what changed (outbox), and the bad rows' errors and the job's counts recorded. The
file is read and checked ahead of the writes, in a thread of its own (pipeline.ReadAhead).
A kind whose chunks are independent (people: a national ID appears in one chunk only)
writes ``writers`` chunks at once, each in its own transaction; the groups' chunks are
written one by one. While a set of chunks is written, an advisory lock held in a
transaction of its own keeps every other import's chunks out, so two imports naming the same
person never write at once. A failure stops the import once the chunks being written have
ended: those that committed stay (importing the file again completes it). A dry run writes
and counts each chunk exactly as a real run would, then rolls it back. The runner yields to
eventlet between chunks (``pause``) so that a service keeps its heartbeats; the service runs
it in a greenthread of its own (background.py), the command line directly (cli.py).
"""
import logging
import time
import uuid
from contextlib import contextmanager
from functools import partial
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import islice

from sqlalchemy import func, select, update

from cdht import observability
from cdht.redact import redact
from services.registry.handlers import audit_row
from services.registry.imports.chunks import Units, lock_imports
from services.registry.imports.files import ImportFileError, read_rows
from services.registry.imports.groups import GroupChunks
from services.registry.imports.models import ImportJob, ImportRowError
from services.registry.imports.people import PeopleChunks
from services.registry.imports.pipeline import ReadAhead, together

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000
WRITERS = 2
"""Chunks written at once by a kind whose chunks are independent (people): on two cores one
writer left a core idle while PostgreSQL wrote."""

SYSTEM = ("system", "system")
"""The audit's actor of an import nobody named (the command line names its operator)."""
MEMORY_ERRORS = 100_000      # a dry run keeps at most this many errors to show
KINDS = {chunks.kind: chunks for chunks in (PeopleChunks, GroupChunks)}


def connections(writers=WRITERS):
    """The database connections one import may hold at once: its writers, the transaction
    holding the imports' lock around them, and the reader's (it keeps the statistics). A
    pool smaller than this for each import running makes writers wait for a connection
    that another import, itself waiting for the lock, holds."""
    return writers + 2


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


class Importer:
    """Runs imports of one kind (``people`` or ``groups``) against the registry database.

    ``sessions`` is a SQLAlchemy sessionmaker; ``on_commit`` is called after each committed
    chunk that wrote events (the service wakes its outbox relay); ``pause`` after each chunk
    (eventlet.sleep(0) in a service, so that heartbeats go on). ``within``: the unit whose
    subtree the importer may write to (None: all, an admin or the command line); rows of
    other units are row errors, and ``on_refused(count)`` is told of the national IDs
    refused because they are held outside it (it may stop the import: ImportFileError).
    ``writers``: chunks written at once, where the kind's chunks are independent.
    """

    def __init__(self, sessions, *, kind="people", on_commit=None, pause=None,
                 chunk_rows=CHUNK_ROWS, today=None, within=None, on_refused=None,
                 actor=SYSTEM, restore=False, writers=None):
        self.within = within
        self.actor, self.restore, self.job_id = actor, restore, None
        self.on_refused = on_refused or (lambda count: None)
        self.chunks = KINDS[kind]
        self.kind = kind
        self.sessions = sessions
        self.on_commit = on_commit
        self.pause = pause or (lambda: None)
        self.chunk_rows = min(chunk_rows, self.chunks.max_rows or chunk_rows)
        self.writers = max(1, writers or WRITERS) if self.chunks.independent else 1
        self.today = today

    def summary_lines(self, summary):
        """What the command line prints of the counts, beside rows, errors and events."""
        return self.chunks.summary_lines(summary)

    def audit(self, session, action, person_ids, fields, dry_run=False):
        """One row of the personal data audit for a chunk, in its transaction: who imports
        (``actor``: subject and role), the fields the file carries, every person it changed
        ('import') or restored ('restore')."""
        if dry_run or not person_ids:
            return
        subject, role = self.actor
        session.add(audit_row(subject, role, action, import_id=self.job_id, fields=fields,
                              people=len(person_ids), person_ids=sorted(person_ids),
                              correlation=observability.current_correlation_id(),
                              purpose=f"import {self.kind}"))
        session.flush()

    def inspect(self, path):
        """The file's Layout under this kind's headers (ImportFileError if it has none)."""
        return self.chunks.inspect(path, pause=self.pause)

    # -- jobs ------------------------------------------------------------------------------
    def create_job(self, filename, *, size_bytes=None, layout=None, correlation_id=None):
        job_id = uuid.uuid4()
        with self.transaction() as session:
            session.add(ImportJob(
                id=job_id, kind=self.kind, source_filename=(filename or "upload")[:255],
                status="queued",
                size_bytes=size_bytes, format=layout.format if layout else None,
                layout=layout_dict(layout) if layout else None,
                rows_total=layout.total_estimate if layout else None,
                correlation_id=correlation_id))
        return job_id

    def fail_job(self, job_id, failure):
        with self.transaction() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                status="failed", failure=failure, finished_at=_now(), heartbeat_at=_now()))

    def fail_interrupted(self, older_than=timedelta(minutes=2)):
        """Jobs left queued or running by a process that died: failed, so nobody waits on
        them forever (the committed chunks stay; importing the file again completes it)."""
        with self.transaction() as session:
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
    def transaction(self, commit=True):
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
        counts are exact and nothing is written at all. The run's events and log lines carry
        ``correlation_id`` (the request's, when a service runs the import in a greenthread
        of its own).
        """
        bound = observability.bind_correlation_id(correlation_id) if correlation_id else None
        try:
            return self._run(path, filename, job_id, dry_run, layout, correlation_id, progress)
        finally:
            if bound is not None:
                observability.unbind_correlation_id(bound)

    def _run(self, path, filename, job_id, dry_run, layout, correlation_id, progress):
        started = time.monotonic()
        summary = Summary(import_id=job_id, filename=filename or str(path), dry_run=dry_run)
        if job_id is None and not dry_run:
            job_id = summary.import_id = self.create_job(
                summary.filename, correlation_id=correlation_id)
        self.job_id = job_id
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
            self._run_chunks(path, layout, job_id, summary, dry_run, progress)
        except ImportFileError as exc:
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
        with self.transaction() as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    def _run_chunks(self, path, layout, job_id, summary, dry_run, progress):
        today = self.today or date.today()
        with self.transaction(commit=False) as session:
            units = Units.load(session, today, self.within)
        chunks = self.chunks(self, layout, units, today, job_id=job_id, dry_run=dry_run)
        reading = partial(self._checked_chunks, path, layout, chunks)
        with ReadAhead(reading, depth=self.writers) as checked:
            numbered = enumerate(checked)
            while batch := list(islice(numbered, self.writers)):
                self.pause()  # the reader's CPU work: let the hub run before the writes
                with self.transaction(commit=False) as lock:
                    lock_imports(lock)  # no other import's chunk until all these ended
                    outcomes = together([partial(self._write_chunk, chunks, job_id, dry_run,
                                                 index, item) for index, item in batch])
                failure = next((exc for _, exc in outcomes if exc is not None), None)
                for outcome, exc in outcomes:
                    if exc is None:
                        self._count(summary, *outcome, progress=progress,
                                    keep_errors=dry_run or job_id is None)
                if failure is not None:
                    raise failure
                self.pause()

    def _write_chunk(self, chunks, job_id, dry_run, index, item):
        """One chunk in its own transaction: its writes, events, errors and the job's
        counts; (the chunk's counts, its errors)."""
        read, records, numbers, errors, staged = item
        with self.transaction(commit=not dry_run) as session:
            delta = chunks.write(session, records, errors, numbers, staged, index=index)
            delta.update(rows_read=read, bad=read - delta["good"], error_count=len(errors))
            if job_id is not None and not dry_run:
                self._record_chunk(session, job_id, errors, delta)
        return delta, errors

    def _count(self, summary, delta, errors, *, progress, keep_errors):
        """A written chunk in the summary (its errors too where no job keeps them)."""
        for key, value in delta.items():
            setattr(summary, key, getattr(summary, key) + value)
        if keep_errors:
            room = MEMORY_ERRORS - len(summary.errors)
            summary.errors.extend(errors[:max(0, room)])
        if progress:
            progress(summary)

    def _checked_chunks(self, path, layout, chunks):
        """(rows read, records, row numbers, errors, staged) of each chunk, in the file's
        order: run a chunk ahead of the writes (pipeline.ReadAhead). ``staged``: what the
        kind prepares of the records outside the transaction (people: their COPY text)."""
        prepare = getattr(chunks, "prepare", lambda records: None)
        rows = read_rows(path, layout)
        try:
            while True:
                chunk = list(islice(rows, self.chunk_rows))
                if not chunk:
                    return
                records, numbers, errors = check_rows(chunks.validator, chunk)
                staged = prepare(records)
                chunks.before(records)
                yield len(chunk), records, numbers, errors, staged
        finally:
            rows.close()

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


def check_rows(validator, chunk):
    """(records, row numbers, errors) of a chunk of (row number, cells), in the file's
    order: the validator's check() of each row (it runs a chunk ahead of the writes,
    pipeline.py, so it is not what an import waits for)."""
    records, numbers, errors = [], [], []
    for number, cells in chunk:
        record, row_errors = validator.check(number, cells)
        if record is None:
            errors.extend(row_errors)
        else:
            records.append(record)
            numbers.append(number)
    return records, numbers, errors


# -- reading jobs back (GET /imports) -----------------------------------------------------
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


def latest_jobs(session, limit):
    return session.scalars(select(ImportJob).order_by(ImportJob.created_at.desc())
                           .limit(limit)).all()


def find_job(session, import_id):
    return session.get(ImportJob, import_id)
