"""HTTP endpoints of the registry's bulk import (see importing.py and imports.py).

A mixin of RegistryService, so that the import pipeline lives in its own modules.

    POST /imports                     the file as the body (text/csv or the XLSX type; or a
                                      multipart form with a ``file`` field); the file name in
                                      ``?filename=`` or ``X-Filename`` -> 202 {import_id}
    GET  /imports                     the latest jobs
    GET  /imports/<id>                status, progress, counts
    GET  /imports/<id>/errors?format=csv|xlsx|json   the error report

The file is checked (format, headers) before the 202, so a file that can't be imported at
all is a 4xx and nothing is written. A file may name any unit, so only province-wide callers
(admins, province staff of a province) import and read imports; each import leaves one row
in the personal data audit (the fields the file carries, the people it changed). The rows are then imported by a greenthread of the
container, which yields to eventlet between chunks.
"""
import logging
import os
import re
import tempfile
from functools import partial
from pathlib import Path

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from werkzeug.wrappers import Response

from marshmallow import Schema, ValidationError, fields, validate

from cdht.auth import PROVINCE
from cdht.db import Database, make_engine
from cdht.redact import redact
from cdht.web import ApiError, Forbidden, NotFound, api, caller_of, correlation_id, json_response
from services.registry import group_importing, importing
from services.registry.import_models import ImportJob
from services.registry.models import PersonalDataAudit, Unit
from services.registry.group_imports import GroupImporter
from services.registry.imports import Importer, error_rows, job_status

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 300 * 1024 * 1024  # ~2 million rows of the layout as CSV
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
XLSX_TYPES = (importing.XLSX_MIME,)
SNIFFED_TYPES = ("application/octet-stream",)


class ImportRunner(DependencyProvider):
    """Stores uploads and runs imports in managed threads of the service container.

    Config: ``IMPORT_MAX_BYTES`` (upload limit), ``IMPORT_DIR`` (where uploads wait),
    ``IMPORT_CONCURRENCY`` (imports running at once per process; more wait queued).
    """

    def setup(self):
        config = self.container.config
        self.max_bytes = int(config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)
        self.directory = Path(config.get("IMPORT_DIR") or
                              Path(tempfile.gettempdir()) / "cdht-imports")
        self.engine = make_engine(config["DATABASE_URL"], pool_size=2, max_overflow=2)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.slots = Semaphore(int(config.get("IMPORT_CONCURRENCY") or 1))
        self.running = {}
        self.stopping = False

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            failed = self.importer().fail_interrupted()
            if failed:
                log.warning("%d import(s) interrupted by an earlier stop marked failed", failed)
        except Exception:  # the tables may not be migrated yet: /health will say so
            log.warning("could not check for interrupted imports", exc_info=True)

    def stop(self):
        self.stopping = True
        for thread in list(self.running.values()):  # each stops at its next chunk
            with eventlet.Timeout(60, False):
                thread.wait()
        self.engine.dispose()

    def kill(self):
        self.stopping = True
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        return self

    # -- used by the endpoints -------------------------------------------------------------
    def importer(self, kind="people"):
        cls = GroupImporter if kind == "groups" else Importer
        return cls(self.sessions, on_commit=self._wake_relay, pause=self._pause)

    def _pause(self):
        eventlet.sleep(0)  # let the hub run: heartbeats, HTTP, other workers
        if self.stopping:
            raise ImportInterrupted()

    def _wake_relay(self):
        for dependency in self.container.dependencies:
            if isinstance(dependency, Database) and dependency.relay is not None:
                dependency.relay.wake()

    def save(self, stream):
        """Write the request body to a file of its own; ApiError 413 beyond the limit."""
        handle, path = tempfile.mkstemp(prefix="import-", suffix=".upload",
                                        dir=self.directory)
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    block = stream.read(1 << 20)
                    if not block:
                        break
                    size += len(block)
                    if size > self.max_bytes:
                        raise ApiError(413, f"file larger than {self.max_bytes} bytes")
                    out.write(block)
        except BaseException:
            os.unlink(path)
            raise
        return path, size

    def submit(self, job_id, path, layout, filename, correlation, caller=None, kind="people"):
        self.running[job_id] = self.container.spawn_managed_thread(
            partial(self._run, job_id, path, layout, filename, correlation, caller, kind),
            identifier=f"import-{job_id}")

    def audit(self, job_id, layout, caller, correlation):
        """One audit row for the import: who, the personal fields the file carries, how many
        people it registered, updated or moved (also for an import that stopped half way:
        its committed chunks stay)."""
        with self.sessions.begin() as session:
            job = session.get(ImportJob, job_id)
            changed = ((job.members_joined if job.kind == "groups" else
                        job.registered + job.updated + job.moved) if job else 0)
            session.add(PersonalDataAudit(
                actor=caller.subject, actor_role=caller.role, action="import", person_id=None,
                import_id=job_id, fields=sorted(set(layout.fields)), people=changed,
                correlation_id=correlation))

    def _run(self, job_id, path, layout, filename, correlation, caller=None, kind="people"):
        importer = self.importer(kind)
        try:
            with self.slots:
                if self.stopping:
                    raise ImportInterrupted()
                summary = importer.run(path, filename=filename, job_id=job_id, layout=layout,
                                       correlation_id=correlation)
                log.info("import %s done: %d rows, %d good, %d bad, %.1fs", job_id,
                         summary.rows_read, summary.good, summary.bad, summary.seconds)
        except ImportInterrupted:
            importer.fail_job(job_id, {
                "code": "interrupted",
                "reason_vi": "Việc nhập bị dừng vì dịch vụ tắt; hãy nhập lại tệp, các dòng "
                             "đã lưu sẽ không bị thay đổi",
                "reason_en": "the import stopped because the service shut down; import the "
                             "file again: rows already saved stay unchanged"})
        except importing.ImportFileError as exc:
            log.warning("import %s failed: %s", job_id, exc.reason_en)
        except Exception as exc:  # recorded on the job by Importer.run; no traceback here:
            # a driver's message can quote a row of the file (a national ID among it)
            log.error("import %s failed: %s", job_id, redact(f"{type(exc).__name__}: {exc}"))
        finally:
            self.running.pop(job_id, None)
            if caller is not None:
                try:
                    self.audit(job_id, layout, caller, correlation)
                except Exception as exc:
                    log.error("import %s: audit row not written: %s", job_id,
                              redact(f"{type(exc).__name__}: {exc}"))
            try:
                os.unlink(path)
            except OSError:
                pass


class ImportInterrupted(Exception):
    """The service is stopping: the import stops between two chunks."""


def _filename(request):
    name = request.args.get("filename") or request.headers.get("X-Filename")
    if not name:
        disposition = request.headers.get("Content-Disposition", "")
        match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
        name = match.group(1) if match else None
    name = os.path.basename((name or "upload").replace("\\", "/")).strip()
    return name[:255] or "upload"


_FILE_STATUS = {"not_a_table": 415, "xls_unsupported": 415, "not_utf8": 415,
                "bad_xlsx": 415}


def _query(request, schema):
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid input", exc.messages) from None


def _file_error(exc):
    return ApiError(_FILE_STATUS.get(exc.code, 400), exc.reason_en,
                    {"file": [exc.reason_en], "file_vi": [exc.reason_vi], "code": exc.code,
                     **({"details": exc.details} if exc.details else {})})


# -- what the documentation (OpenAPI) shows of these endpoints ------------------------------
class ImportUploadQuery(Schema):
    filename = fields.String(metadata={"description": "the file's name, for the job (or the "
                                                      "X-Filename header)"})


class ImportAcceptedSchema(Schema):
    import_id = fields.UUID()
    status = fields.String(metadata={"description": "queued"})
    filename = fields.String()
    format = fields.String(validate=validate.OneOf(("csv", "xlsx")))
    rows_estimate = fields.Integer(allow_none=True)
    status_url = fields.String()
    errors_url = fields.String()


class _Progress(Schema):
    rows_read = fields.Integer()
    rows_total = fields.Integer(allow_none=True, metadata={
        "description": "estimated until the import is done (physical lines of a CSV)"})
    percent = fields.Float(allow_none=True)


class _Counts(Schema):
    total = fields.Integer()
    good = fields.Integer()
    bad = fields.Integer()
    registered = fields.Integer()
    updated = fields.Integer()
    moved = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.Integer(metadata={"description": "lines of the error report"})
    events = fields.Integer(metadata={"description": "events written (people_imported; or "
                                                     "groups_imported, group_titles_recorded)"})
    members_joined = fields.Integer(metadata={"description": "groups imports: memberships "
                                                             "opened"})
    titles_recorded = fields.Integer(metadata={"description": "groups imports: titles recorded "
                                                              "or corrected"})


class _FileProblem(Schema):
    code = fields.String()
    reason_vi = fields.String()
    reason_en = fields.String()


class ImportStatusSchema(Schema):
    import_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(("people", "groups")))
    status = fields.String(validate=validate.OneOf(("queued", "running", "done", "failed")))
    filename = fields.String()
    format = fields.String(allow_none=True)
    progress = fields.Nested(_Progress)
    counts = fields.Nested(_Counts)
    layout = fields.Dict(allow_none=True, metadata={
        "description": "header row, the column found for each field, columns ignored"})
    failure = fields.Nested(_FileProblem, allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    seconds = fields.Float(allow_none=True)


class ImportListQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 200))


class ImportListSchema(Schema):
    imports = fields.List(fields.Nested(ImportStatusSchema))


class ImportErrorsQuery(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx", "json")))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1),
                            metadata={"description": "json only"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000),
                           metadata={"description": "json only"})


class _ReportLine(Schema):
    row = fields.Integer(metadata={"description": "the row as the sheet numbers it"})
    column = fields.String(metadata={"description": "the header as written in the file"})
    reason_vi = fields.String()
    reason_en = fields.String()


class ImportErrorsPageSchema(Schema):
    import_id = fields.UUID()
    status = fields.String()
    offset = fields.Integer()
    limit = fields.Integer()
    errors = fields.List(fields.Nested(_ReportLine))


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD = {"required": True, "content": {
    "text/csv": _BINARY, importing.XLSX_MIME: _BINARY, "application/octet-stream": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}}}}


class ImportEndpoints:
    imports = ImportRunner()

    def _province_wide(self, request):
        """A file may name any unit: 403 unless the caller's scope is a whole province."""
        caller = caller_of(request)
        if caller.is_admin:
            return
        with self.db.read() as session:
            root = session.scalar(select(Unit.code).where(Unit.code == caller.unit_code,
                                                          Unit.parent_code.is_(None)))
        if root is None:
            raise Forbidden("imports may write to any unit of the file: only an admin or the "
                            "province's staff import")

    @api("POST", "/imports",
         roles=PROVINCE,
         summary="Import a commune's spreadsheet of people (CSV or XLSX)",
         body=ImportUploadQuery,
         query=ImportUploadQuery,
         response=ImportAcceptedSchema,
         status=202,
         errors=(413,),
         tag="imports",
         description="The body is the file. It is checked (format, headers) before the "
                     "answer: a file that can't be imported is a 4xx and nothing is written. "
                     "The rows are then imported in the background: follow GET "
                     "/imports/{import_id}.",
         extra={"requestBody": _UPLOAD})
    def start_import(self, request):
        return self._start_import(request, "people")

    @api("POST", "/imports/groups",
         roles=PROVINCE,
         summary="Import groups, their members and their titles (CSV or XLSX, a row per member)",
         body=ImportUploadQuery,
         query=ImportUploadQuery,
         response=ImportAcceptedSchema,
         status=202,
         errors=(413,),
         tag="imports",
         description="Columns: Mã nhóm, Loại nhóm, Tên nhóm, Mã đơn vị, Số định danh cá nhân "
                     "(a registered person), Vai trò trong nhóm, and optionally Cấp, Ngày tham "
                     "gia, Năm công nhận, Số quyết định, Ngày quyết định, Cơ quan công nhận. "
                     "Groups are keyed by (kind, code); an import adds and updates, it never "
                     "ends a membership. Follow GET /imports/{import_id}.",
         extra={"requestBody": _UPLOAD})
    def start_group_import(self, request):
        return self._start_import(request, "groups")

    def _start_import(self, request, kind):
        self._province_wide(request)
        runner = self.imports
        if request.content_length is not None and request.content_length > runner.max_bytes:
            raise ApiError(413, f"file larger than {runner.max_bytes} bytes")
        filename = _filename(request)
        mimetype = request.mimetype
        if mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise ApiError(400, "invalid input", {"file": ["send the file in a 'file' field"]})
            stream, filename = upload.stream, os.path.basename(upload.filename or filename)
            mimetype = upload.mimetype or ""
        elif mimetype in CSV_TYPES + XLSX_TYPES + SNIFFED_TYPES:
            stream = request.stream
        else:
            raise ApiError(415, "send the file as text/csv or " + importing.XLSX_MIME,
                           {"file": ["expected Content-Type text/csv or " +
                                     importing.XLSX_MIME]})
        path, size = runner.save(stream)
        try:
            try:
                read = group_importing.inspect if kind == "groups" else importing.inspect
                layout = read(path, pause=lambda: eventlet.sleep(0))
            except importing.ImportFileError as exc:
                raise _file_error(exc) from None
            declared = ("xlsx" if mimetype in XLSX_TYPES else
                        "csv" if mimetype in CSV_TYPES else None)
            if declared and declared != layout.format:
                raise ApiError(415, f"Content-Type says {declared} but the file is "
                                    f"{layout.format}",
                               {"file": [f"the file is {layout.format}, not {declared}"]})
            correlation = correlation_id(request)
            job_id = runner.importer(kind).create_job(filename, size_bytes=size, layout=layout,
                                                      correlation_id=correlation)
        except BaseException:
            os.unlink(path)
            raise
        runner.submit(job_id, path, layout, filename, correlation, caller_of(request), kind)
        return json_response(
            {"import_id": job_id, "status": "queued", "filename": filename,
             "format": layout.format, "rows_estimate": layout.total_estimate,
             "status_url": f"/imports/{job_id}",
             "errors_url": f"/imports/{job_id}/errors?format=csv"},
            202, headers={"Location": f"/imports/{job_id}"})

    @api("GET", "/imports",
         roles=PROVINCE,
         summary="The latest imports",
         query=ImportListQuery,
         response=ImportListSchema,
         tag="imports")
    def list_imports(self, request):
        self._province_wide(request)
        limit = _query(request, ImportListQuery)["limit"]
        with self.db.read() as session:
            jobs = session.scalars(select(ImportJob).order_by(ImportJob.created_at.desc())
                                   .limit(limit)).all()
            return {"imports": [job_status(job) for job in jobs]}

    @api("GET", "/imports/<uuid:import_id>",
         roles=PROVINCE,
         summary="An import's status, progress and counts",
         response=ImportStatusSchema,
         tag="imports")
    def get_import(self, request, import_id):
        self._province_wide(request)
        with self.db.read() as session:
            job = session.get(ImportJob, import_id)
            if job is None:
                raise NotFound("import")
            return job_status(job)

    @api("GET", "/imports/<uuid:import_id>/errors",
         roles=PROVINCE,
         summary="An import's error report (row, column, reason in Vietnamese and English)",
         query=ImportErrorsQuery,
         response=ImportErrorsPageSchema,
         tag="imports",
         description="format=csv (default) or xlsx: a download of the whole report; "
                     "format=json: one page of it.",
         extra={"x-media-types": ["text/csv", importing.XLSX_MIME, "application/json"]})
    def get_import_errors(self, request, import_id):
        self._province_wide(request)
        query = _query(request, ImportErrorsQuery)
        fmt = query["format"]
        with self.db.read() as session:
            job = session.get(ImportJob, import_id)
            if job is None:
                raise NotFound("import")
            status = job.status
        headers = {"X-Import-Status": status}
        name = f"import-{import_id}-errors.{fmt}"
        sessions = self.imports.sessions
        if fmt == "json":
            return self._errors_json(import_id, status, query["offset"], query["limit"])
        if fmt == "csv":
            def body():
                with sessions() as session:
                    yield from importing.report_csv(error_rows(session, import_id))
            return Response(body(), mimetype="text/csv", content_type="text/csv; charset=utf-8",
                            headers=headers | {
                                "Content-Disposition": f'attachment; filename="{name}"'})
        spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)
        with sessions() as session:
            importing.write_report_xlsx(error_rows(session, import_id), spool)
        spool.seek(0)

        def chunks():
            try:
                while True:
                    block = spool.read(1 << 16)
                    if not block:
                        break
                    yield block
            finally:
                spool.close()
        return Response(chunks(), mimetype=importing.XLSX_MIME, headers=headers | {
            "Content-Disposition": f'attachment; filename="{name}"'})

    def _errors_json(self, import_id, status, offset, limit):
        with self.db.read() as session:
            page = [dict(zip(("row", "column", "reason_vi", "reason_en"), row))
                    for row in error_rows(session, import_id, offset=offset, limit=limit)]
        return {"import_id": import_id, "status": status, "offset": offset, "limit": limit,
                "errors": page}

