"""The registry's bulk imports over HTTP (a mixin of RegistryService):

    POST /imports                     the file as the body (text/csv or the XLSX type; or a
                                      multipart form with a ``file`` field); the file name in
                                      ``?filename=`` or ``X-Filename`` -> 202 {import_id}
    POST /imports/groups              the same, for a file of groups, members and titles
    GET  /imports                     the latest jobs
    GET  /imports/<id>                status, progress, counts
    GET  /imports/<id>/errors?format=csv|xlsx|json   the error report

The file is checked (format, headers) before the 202, so a file that can't be imported at
all is a 4xx and nothing is written. Only province-wide callers (admins, province staff of a
province) import and read imports, and a province's staff only into their province: a row of
another unit, or naming a national ID held outside it, is a row error; each chunk leaves a
row in the personal data audit (the fields the file carries, every person it changed). A row
naming a removed person is a row error unless ``?restore_removed=true`` (audited as 'restore').
The rows are then imported in the background (background.py).
"""
import os
import re
import tempfile

import eventlet
from marshmallow import Schema, ValidationError, fields, validate

from cdht.auth import PROVINCE
from cdht.web import (
    UNPROCESSABLE, ApiError, Forbidden, api, attachment, caller_of, correlation_id, found,
    json_response, query_of,
)
from services.registry.disclosure import NATIONAL_ID_REFUSALS
from services.registry.imports import group_rows, people_rows
from services.registry.imports.background import ImportRunner
from services.registry.imports.files import (
    XLSX_MIME, ImportFileError, report_csv, write_report_xlsx,
)
from services.registry.imports.runner import error_rows, find_job, job_status, latest_jobs

CSV_TYPES = ("text/csv", "application/csv", "text/plain")
XLSX_TYPES = (XLSX_MIME,)
SNIFFED_TYPES = ("application/octet-stream",)


def _filename(request):
    name = request.args.get("filename") or request.headers.get("X-Filename")
    if not name:
        disposition = request.headers.get("Content-Disposition", "")
        match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
        name = match.group(1) if match else None
    name = os.path.basename((name or "upload").replace("\\", "/")).strip()
    return name[:255] or "upload"


_INSPECT = {"people": people_rows.inspect, "groups": group_rows.inspect}
# A file that is no table (or not one we read) is a 415, one too large a 413; any other
# refusal of a file's content (empty, no rows, missing or repeated columns, a broken CSV) a
# 422: the upload is what the document asks for, its content is not importable.
_FILE_STATUS = {"not_a_table": 415, "xls_unsupported": 415, "not_utf8": 415,
                "bad_xlsx": 415, "xlsx_too_large": 413}


def _file_error(exc):
    return ApiError(_FILE_STATUS.get(exc.code, UNPROCESSABLE), exc.reason_en,
                    {"file": [exc.reason_en], "file_vi": [exc.reason_vi], "code": exc.code,
                     **({"details": exc.details} if exc.details else {})})


# -- what the documentation (OpenAPI) shows of these endpoints ------------------------------
class GroupImportUploadQuery(Schema):
    filename = fields.String(metadata={"description": "the file's name, for the job (or the "
                                                      "X-Filename header)"})


class ImportUploadQuery(GroupImportUploadQuery):
    restore_removed = fields.Boolean(load_default=False, metadata={
        "description": "people imports: restore a removed person a row names (audited as "
                       "'restore'); without it such a row is a row error"})


def _restore_removed(request, kind):
    """?restore_removed=true (people imports only; the groups import does not document
    it): a 400 for anything else."""
    raw = request.args.get("restore_removed")
    if raw is None:
        return False
    try:
        restore = ImportUploadQuery().fields["restore_removed"].deserialize(raw)
    except ValidationError:
        raise ApiError(400, "invalid query", {"restore_removed": ["not a boolean"]}) from None
    if restore and kind != "people":
        raise ApiError(400, "invalid query",
                       {"restore_removed": ["only people imports restore removed people"]})
    return restore


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
    "text/csv": _BINARY, XLSX_MIME: _BINARY, "application/octet-stream": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}}


_UPLOAD_ROUTE = dict(roles=PROVINCE, body=ImportUploadQuery, response=ImportAcceptedSchema,
                     status=202, errors=(413, 429), tag="imports",
                     extra={"requestBody": _UPLOAD})
"""What the people and the groups upload routes both declare: the same file, the same 202
(a file that is no table a 415, one whose content cannot be imported a 422)."""


class ImportEndpoints:
    imports = ImportRunner()

    def _province_wide(self, request):
        """A file may name any unit: 403 unless the caller's scope is a whole province."""
        caller = caller_of(request)
        if caller.is_admin:
            return
        with self.store.read() as store:
            root = store.is_root(caller.unit_code)
        if not root:
            raise Forbidden("imports may write to any unit of the file: only an admin or the "
                            "province's staff import")

    @api("POST", "/imports",
         summary="Import a commune's spreadsheet of people (CSV or XLSX)",
         description="The body is the file. It is checked (format, headers) before the "
                     "answer: a file that can't be imported is a 4xx and nothing is written. "
                     "The rows are then imported in the background: follow GET "
                     "/imports/{import_id}.",
         query=ImportUploadQuery, **_UPLOAD_ROUTE)
    def start_import(self, request):
        return self._start_import(request, "people")

    @api("POST", "/imports/groups",
         summary="Import groups, their members and their titles (CSV or XLSX, a row per member)",
         description="Columns: Mã nhóm, Loại nhóm, Tên nhóm, Mã đơn vị, Số định danh cá nhân "
                     "(a registered person), Vai trò trong nhóm, and optionally Cấp, Ngày tham "
                     "gia, Năm công nhận, Số quyết định, Ngày quyết định, Cơ quan công nhận. "
                     "Groups are keyed by (kind, code); an import adds and updates, it never "
                     "ends a membership. Follow GET /imports/{import_id}.",
         query=GroupImportUploadQuery, **_UPLOAD_ROUTE)
    def start_group_import(self, request):
        return self._start_import(request, "groups")

    def _start_import(self, request, kind):
        self._province_wide(request)
        wait = NATIONAL_ID_REFUSALS.retry_after(caller_of(request).subject)
        if wait and not caller_of(request).is_admin:
            return json_response({"error": "too many national IDs refused; try again later",
                                  "errors": {"code": "national_id_refusals_exhausted"}}, 429,
                                 headers={"Retry-After": str(wait)})
        runner = self.imports
        if request.content_length is not None and request.content_length > runner.max_bytes:
            raise ApiError(413, f"file larger than {runner.max_bytes} bytes")
        filename = _filename(request)
        restore = _restore_removed(request, kind)
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
            raise ApiError(415, "send the file as text/csv or " + XLSX_MIME,
                           {"file": ["expected Content-Type text/csv or " +
                                     XLSX_MIME]})
        path, size = runner.save(stream)
        try:
            try:
                layout = _INSPECT[kind](path, pause=lambda: eventlet.sleep(0))
            except ImportFileError as exc:
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
        runner.submit(job_id, path, layout, filename, correlation, caller_of(request), kind,
                      restore)
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
        limit = query_of(request, ImportListQuery())["limit"]
        with self.db.read() as session:
            return {"imports": [job_status(job) for job in latest_jobs(session, limit)]}

    @api("GET", "/imports/<uuid:import_id>",
         roles=PROVINCE,
         summary="An import's status, progress and counts",
         response=ImportStatusSchema,
         tag="imports")
    def get_import(self, request, import_id):
        self._province_wide(request)
        with self.db.read() as session:
            return job_status(found(find_job(session, import_id), "import"))

    @api("GET", "/imports/<uuid:import_id>/errors",
         roles=PROVINCE,
         summary="An import's error report (row, column, reason in Vietnamese and English)",
         query=ImportErrorsQuery,
         response=ImportErrorsPageSchema,
         tag="imports",
         description="format=csv (default) or xlsx: a download of the whole report; "
                     "format=json: one page of it.",
         extra={"x-media-types": ["text/csv", XLSX_MIME, "application/json"]})
    def get_import_errors(self, request, import_id):
        self._province_wide(request)
        query = query_of(request, ImportErrorsQuery())
        fmt = query["format"]
        with self.db.read() as session:
            status = found(find_job(session, import_id), "import").status
        headers = {"X-Import-Status": status}
        name = f"import-{import_id}-errors.{fmt}"
        sessions = self.imports.sessions
        if fmt == "json":
            return self._errors_json(import_id, status, query["offset"], query["limit"])
        if fmt == "csv":
            def body():
                with sessions() as session:
                    yield from report_csv(error_rows(session, import_id))
            return attachment(body(), name, "text/csv", headers,
                              content_type="text/csv; charset=utf-8")
        spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)
        with sessions() as session:
            write_report_xlsx(error_rows(session, import_id), spool)
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
        return attachment(chunks(), name, XLSX_MIME, headers)

    def _errors_json(self, import_id, status, offset, limit):
        with self.db.read() as session:
            page = [dict(zip(("row", "column", "reason_vi", "reason_en"), row))
                    for row in error_rows(session, import_id, offset=offset, limit=limit)]
        return {"import_id": import_id, "status": status, "offset": offset, "limit": limit,
                "errors": page}

