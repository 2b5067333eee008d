"""JSON over nameko's HTTP entrypoint: ``@api("POST", "/people")`` handlers return plain data.

A handler returns a dict/list (200) or ``(status, data)``; it raises ``ApiError`` for a clear
4xx. Bodies are parsed with a marshmallow schema by ``load_json``; every validation failure
is a 400 with a message per field, a body that is not JSON a 415/400, and an unexpected error
a 500 whose body names no internals (the traceback goes to the log only).

Every route needs ``Authorization: Bearer <token>`` (cdht.auth) except the open ones
(``auth.OPEN``: health, docs, openapi.json, the dashboard page): no or a bad token is a 401,
a role the route's permission (``auth.PERMISSIONS``) does not name a 403. The handler finds
the verified ``Caller`` at ``request.caller`` (``caller_of(request)``); scope inside the route
(the caller's unit subtree, a citizen's own records) is the handler's to check, with
``require_scope``. Error bodies are passed through ``redact``: no email or ID number leaves in
one.
"""
import json
import logging
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from marshmallow import ValidationError, fields
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from cdht import auth
from cdht.redact import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class ApiError(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class NotFound(ApiError):
    def __init__(self, what):
        super().__init__(404, f"{what} not found")


class Forbidden(ApiError):
    def __init__(self, message="this is outside your unit's scope"):
        super().__init__(403, message)


def caller_of(request):
    """The verified Caller of a request (set by the @api entrypoint); None on open routes."""
    return getattr(request, "caller", None)


def require_scope(request, unit_path, what="this"):
    """403 unless the unit (given by its path) is in the caller's subtree."""
    caller = caller_of(request)
    if caller is None or not auth.in_scope(caller, unit_path):
        raise Forbidden(f"{what} is outside your unit's scope")


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time with an offset, given back in UTC. Offsets beyond ±14:00 exist on no
    clock and PostgreSQL refuses them (a 500 found by schemathesis): a 400 here."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        offset = moment.utcoffset()
        if abs(offset.total_seconds()) > 14 * 3600:
            raise self.make_error("invalid", input=value, obj_type="datetime")
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type="datetime") from None


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def _default(value):
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(data, status=200, headers=None):
    return Response(json.dumps(data, default=_default, ensure_ascii=False), status=status,
                    headers=headers, mimetype="application/json")


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def load_json(request, schema):
    """Parse and validate the request body with ``schema``; raise ApiError otherwise."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if request.mimetype != "application/json":
        raise ApiError(415, "expected Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "body is not valid JSON")
    if _has_nul(body):  # PostgreSQL text cannot hold NUL: refuse it here, clearly
        raise ApiError(400, "text must not contain NUL characters")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid input", exc.messages) from None


def correlation_id(request):
    """The caller's X-Correlation-ID, or a new one: it follows the request through events."""
    found = getattr(request, "_cdht_correlation_id", None)
    if found is None:  # one per request, however often asked
        given = request.headers.get("X-Correlation-ID", "")
        found = given[:64] if given else str(uuid.uuid4())
        try:
            request._cdht_correlation_id = found
        except AttributeError:
            pass
    return found


class JsonHttpHandler(HttpRequestHandler):
    def setup(self):
        # a service without a signing key would have to refuse every call: it does not start
        self.secret = auth.check_secret(self.container.config.get("AUTH_SECRET"))
        super().setup()

    @property
    def is_open(self):
        return (self.method.upper(), self.url) in auth.OPEN

    def authenticate(self, request):
        """Set request.caller from the bearer token; a 401/403 response when refused."""
        request.caller = None
        if self.is_open:
            return None
        try:
            caller = auth.verify_token(self.secret, auth.bearer_token(
                request.headers.get("Authorization")))
        except auth.TokenError as exc:
            return json_response({"error": str(exc)}, 401,
                                 headers={"WWW-Authenticate": 'Bearer realm="cdht"'})
        if not auth.allowed(self.container.service_name, self.method, self.url, caller.role):
            return json_response({"error": f"the role {caller.role} may not call "
                                           f"{self.method} {self.url}"}, 403)
        request.caller = caller
        return None

    def handle_request(self, request):
        refused = self.authenticate(request)
        if refused is not None:
            return refused
        if any(_has_nul(k) or _has_nul(v) for k, v in request.args.items(multi=True)):
            return json_response({"error": "query parameters must not contain NUL characters"},
                                 400)
        return super().handle_request(request)

    def __init__(self, method, url, expected_exceptions=(), **kwargs):
        # An ApiError is the caller's mistake: nameko logs it as a warning, not a crash.
        super().__init__(method, url, expected_exceptions=(ApiError, *expected_exceptions),
                         **kwargs)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, payload = (result if isinstance(result, tuple) else (200, result))
        return json_response(payload, status)

    def response_from_exception(self, exc):
        if isinstance(exc, ApiError):
            body = {"error": exc.message}
            if exc.errors:
                body["errors"] = exc.errors
            return json_response(_redacted(body), exc.status)
        if isinstance(exc, HTTPException):
            return json_response({"error": redact(exc.description)}, exc.code or 400)
        log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return json_response({"error": "internal error"}, 500)


api = JsonHttpHandler.decorator


def health(db, amqp_uri):
    """(status, body) for GET /health: the database and the broker must both answer."""
    from kombu import Connection
    from sqlalchemy import text
    checks = {}
    try:
        with db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        with Connection(amqp_uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return (200 if healthy else 503), {"status": "ok" if healthy else "degraded", **checks}
