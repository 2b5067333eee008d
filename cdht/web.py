"""JSON over nameko's HTTP entrypoint: ``@api("POST", "/people", roles=STAFF, ...)`` handlers
return plain data.

The decorator is a route's one declaration: method, path, who may call it (``roles``, or
``public=True`` for the few routes without a token), and what the API documents show of it
(``summary``, ``query``, ``body``, ``response``, ``status``, ``errors``, ``description``,
``tag``, ``media_type``: the fields of cdht.openapi.Route). The OpenAPI document and the role
table are derived from it; ``/health``, ``/metrics``, ``/openapi.json`` and ``/docs`` come
with the ``Observed`` base class.

A handler returns a dict/list (200) or ``(status, data)``; it raises ``ApiError`` for a clear
4xx. Bodies are parsed with a marshmallow schema by ``load_json``, query strings by
``query_of``; every validation failure is a 400 with a message per field (the request breaks
the OpenAPI document), a body that is not JSON a 415/400, and an unexpected error a 500 whose
body names no internals (the traceback goes to the log only). Well-formed input that a rule
the document cannot state refuses (a reference to nothing recorded, a rule between fields or
against stored state) is an ``UNPROCESSABLE`` (422), with the same body.

Every route needs ``Authorization: Bearer <token>`` (cdht.auth; or an access token of the
OpenID provider named by OIDC_ISSUER, cdht.oidc) except the public ones
(health, metrics, docs, openapi.json, the dashboard page): no or a bad token is a 401, a role
the route's ``roles`` do not name a 403 (admin may call every route). The handler finds
the verified ``Caller`` at ``request.caller`` (``caller_of(request)``); scope inside the route
(the caller's unit subtree, a citizen's own records) is the handler's to check, with
``require_scope`` and ``own_or_in_scope`` (a list's: ``list_scope``). Error bodies are passed
through ``redact``: no email or ID number leaves in one.

Every request has a correlation id (``X-Correlation-Id``, taken from the request when it is
acceptable, else made; echoed in the response): the worker runs with it in its context data,
so the events it stages and the RPC calls it makes carry it on (cdht.observability). Each
request is timed into ``cdht_http_request_seconds`` and logged as one "handled" line.
"""
import base64
import functools
import hashlib
import json
import logging
import os
import re
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial

from eventlet.event import Event
from marshmallow import ValidationError, fields
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from cdht import auth, observability, oidc, openapi
from cdht.openapi import Route
from cdht.redact import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# A request the document allows, refused by a rule it cannot state: an unknown unit or person
# named in a body or query, a ward under a commune, an end before its start, a year without a
# criteria set. 400 stays for what breaks the document.
UNPROCESSABLE = 422


class ApiError(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class NotFound(ApiError):
    def __init__(self, what):
        super().__init__(404, f"{what} not found")


def found(value, what):
    """``value``, unless it is None (a lookup that found nothing): then a 404 naming ``what``."""
    if value is None:
        raise NotFound(what)
    return value


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


def own_or_in_scope(request, person_id, unit_path, what,
                    refusal="a citizen may only see and change their own records"):
    """A citizen reaches only their own records (``person_id`` theirs); anyone else those
    placed in their subtree (``unit_path``)."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person_id != caller.person_id:
            raise Forbidden(refusal)
        return
    require_scope(request, unit_path, what)


def list_scope(request):
    """What a list shows the caller, as the stores' pages take it: everything to an admin
    (None), a citizen's own rows (``("person", id)``), the rows of their subtree to staff
    (``("unit", code)``)."""
    caller = caller_of(request)
    if caller.is_admin:
        return None
    if caller.is_citizen:
        return ("person", caller.person_id)
    return ("unit", caller.unit_code)


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time with an offset, given back in UTC. Offsets beyond ±14:00 exist on no
    clock and PostgreSQL refuses them (a 500 found by schemathesis): a 400 here. ``PATTERN``
    is what is accepted, stated in the OpenAPI document and checked here, so the two agree."""

    PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
               r"(Z|[+-](0[0-9]|1[0-3])(:?[0-5][0-9])?|[+-]14(:?00)?)$")
    _ACCEPTED = re.compile(PATTERN)

    def __init__(self, *args, **kwargs):
        kwargs["metadata"] = {"pattern": self.PATTERN, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self._ACCEPTED.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type="datetime")
        moment = super()._deserialize(value, attr, data, **kwargs)
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


def attachment(body, filename, mimetype, headers=None, **kwargs):
    """A file to download: ``body`` (bytes, or an iterable of them to stream) saved as
    ``filename``."""
    return Response(body, mimetype=mimetype, **kwargs, headers={
        **(headers or {}), "Content-Disposition": f'attachment; filename="{filename}"'})


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def json_body(request):
    """The request's JSON body, not yet validated; ApiError (413, 415, 400) for a body too
    large, not JSON, or holding a NUL character."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if request.mimetype != "application/json":
        raise ApiError(415, "expected Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "body is not valid JSON")
    if _has_nul(body):  # PostgreSQL text cannot hold NUL: refuse it here, clearly
        raise ApiError(400, "text must not contain NUL characters")
    return body


def load_json(request, schema):
    """Parse and validate the request body with ``schema``; raise ApiError otherwise."""
    body = json_body(request)
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid input", exc.messages) from None


def query_of(request, schema):
    """Load the query string with ``schema``; unknown or malformed parameters are a 400."""
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid query", exc.messages) from None


CORRELATION_HEADER = "X-Correlation-Id"
# Polled by orchestrators and Prometheus: their "handled" lines only at DEBUG.
QUIET_ROUTES = frozenset({("GET", "/health"), ("GET", "/metrics")})


def correlation_id(request):
    """The caller's X-Correlation-Id (short and printable), or a new one: it follows the
    request through RPC calls and events."""
    found = getattr(request, "_cdht_correlation_id", None)
    if found is None:  # one per request, however often asked
        found = observability.accepted_correlation_id(request.headers.get(CORRELATION_HEADER))
        try:
            request._cdht_correlation_id = found
        except AttributeError:
            pass
    return found


# What a browser may do with an answer: JSON and text load nothing and may not be framed; an
# HTML page (html_page) names the one inline script it runs by its hash.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
NO_SCRIPT = "'none'"


def harden(response, *, personal):
    """The security headers of every answer; ``personal`` ones (any route behind a token may
    hold personal data) are not to be kept by browsers or proxies."""
    response.headers.setdefault("Content-Security-Policy", API_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if personal:
        response.headers["Cache-Control"] = "no-store"
    return response


def html_page(html):
    """A page whose inline scripts are allowed by their SHA-256 (and nothing else is): a
    script injected into it would not run. Styles may be inline (the pages set widths and
    positions in style attributes); data is fetched from the page's own origin only."""
    return Response(html, mimetype="text/html",
                    headers={"Content-Security-Policy": _page_policy(html)})


@functools.lru_cache(maxsize=16)
def _page_policy(html):
    """The policy of a page, computed once per page (the same few pages are served again and
    again)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _SCRIPT.findall(html))
    return (f"default-src 'none'; script-src {hashes or NO_SCRIPT}; "
            "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class JsonErrorsWsgiApp(WsgiApp):
    """nameko's WSGI app, except that a path no route matches (404: e.g. a malformed id
    in a ``<uuid:...>`` segment) or a method no route takes (405) is answered in JSON, as
    the OpenAPI documents promise, not with werkzeug's HTML page."""

    def __call__(self, environ, start_response):
        adapter = self.url_map.bind_to_environ(environ)
        try:
            adapter.match()
        except HTTPException as exc:
            return self._refused(environ, adapter, exc)(environ, start_response)
        return super().__call__(environ, start_response)

    @staticmethod
    def _refused(environ, adapter, exc):
        """The JSON answer to a request no route takes, and its one "handled" line (no handler
        runs, so JsonHttpHandler logs none); the path is not logged: it is the caller's text."""
        corr = observability.accepted_correlation_id(environ.get("HTTP_X_CORRELATION_ID"))
        headers = {CORRELATION_HEADER: corr}
        if isinstance(exc, MethodNotAllowed):
            headers["Allow"] = ", ".join(documented_methods(adapter, exc.valid_methods))
        bound = observability.bind_correlation_id(corr)
        try:
            log.info("handled", extra={
                "entrypoint": "routing", "method": environ.get("REQUEST_METHOD", "")[:16],
                "route": None, "status": exc.code, "duration_ms": 0.0, "outcome": "refused"})
        finally:
            observability.unbind_correlation_id(bound)
        return harden(json_response({"error": exc.description}, exc.code, headers=headers),
                      personal=False)


def documented_methods(adapter, valid_methods):
    """The methods the OpenAPI document lists for the path a 405 was asked of. werkzeug's own
    Allow is the union over every rule the path matches (``/units/merge`` also fits
    ``/units/<code>``) plus HEAD and OPTIONS, which no document lists; the document's path is
    the most literal of those rules, as OpenAPI matches paths. HEAD is still answered wherever
    GET is (werkzeug, as HTTP requires), OPTIONS nowhere: neither is listed."""
    rules = [adapter.match(method=method, return_rule=True)[0] for method in valid_methods]
    path = min(rules, key=lambda rule: len(rule.arguments)).rule
    return sorted({method for rule in rules if rule.rule == path
                   for method in rule.methods} - {"HEAD", "OPTIONS"})


class JsonWebServer(WebServer):
    def get_wsgi_app(self):  # nameko's documented override point
        return JsonErrorsWsgiApp(self)


class QuietRefusals(logging.Filter):
    """nameko logs every expected exception of a worker, an ApiError (the caller's mistake:
    a 4xx) included, as a WARNING with its traceback, and werkzeug's own 4xx (a form it cannot
    parse) as an error: thousands of them buried the real faults. The request's one "handled"
    line (outcome "refused", its status) says it all, so those records are dropped; every
    other one passes."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ApiError)
                    or isinstance(exc, HTTPException) and (exc.code or 500) < 500)


_quiet_refusals = QuietRefusals()


class JsonHttpHandler(HttpRequestHandler):
    server = JsonWebServer()  # every CDHT HTTP entrypoint is a JsonHttpHandler: one server

    def setup(self):
        containers_log = logging.getLogger("nameko.containers")
        if _quiet_refusals not in containers_log.filters:
            containers_log.addFilter(_quiet_refusals)
        # without a public key every call would be refused, and with a signing key whoever
        # reads this service's settings could mint tokens: either way it does not start
        self.keys = auth.service_keys(self.container.config, os.environ)
        self.oidc = oidc.settings_from_config(self.container.config)
        super().setup()

    def caller_of_token(self, token):
        """The Caller of a bearer token: the OpenID provider's (OIDC_ISSUER) when the token
        names it as its issuer, else one the operator's tooling minted (AUTH_PUBLIC_KEYS)."""
        if self.oidc is not None and oidc.unverified_issuer(token) == self.oidc.issuer:
            claims = oidc.provider_for(self.oidc).verify(token)
            return oidc.caller_from_claims(claims, role_claim=self.oidc.role_claim,
                                           unit_claim=self.oidc.unit_claim,
                                           subject_claim=self.oidc.subject_claim)
        return auth.verify_token(self.keys, token)

    def authenticate(self, request):
        """Set request.caller from the bearer token; a 401/403 response when refused (a 503
        when the identity provider that would check it does not answer)."""
        request.caller = None
        if self.route.public:
            return None
        try:
            caller = self.caller_of_token(
                auth.bearer_token(request.headers.get("Authorization")))
        except oidc.ProviderUnavailable as exc:
            log.warning("identity provider unavailable: %s", exc)
            return json_response({"error": f"{exc}; try again shortly"}, 503,
                                 headers={"Retry-After": "30"})
        except auth.TokenError as exc:
            return json_response({"error": str(exc)}, 401,
                                 headers={"WWW-Authenticate": 'Bearer realm="cdht"'})
        if not self.route.allows(caller.role):
            return json_response({"error": f"the role {caller.role} may not call "
                                           f"{self.method} {self.url}"}, 403)
        request.caller = caller
        return None

    def handle_request(self, request):
        started = time.perf_counter()
        corr = correlation_id(request)
        bound = observability.bind_correlation_id(corr)  # for the lines logged here
        try:
            response = self._respond(request, corr)
            response.headers[CORRELATION_HEADER] = corr
            harden(response, personal=not self.route.public)
            self._observe(response.status_code, time.perf_counter() - started)
        finally:
            observability.unbind_correlation_id(bound)
        return response

    def _respond(self, request, corr):
        """nameko's handle_request, behind the token check, with the correlation id in the
        worker's context data."""
        request.shallow = False
        refused = self.authenticate(request)
        if refused is not None:
            return refused
        if any(_has_nul(k) or _has_nul(v) for k, v in request.args.items(multi=True)):
            return json_response({"error": "query parameters must not contain NUL characters"},
                                 400)
        try:
            context_data = dict(self.server.context_data_from_headers(request),
                                correlation_id=corr)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = Event()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, done))
            return self.response_from_result(done.wait())
        except Exception as exc:
            return self.response_from_exception(exc)

    def _observe(self, status, seconds):
        service = self.container.service_name
        observability.metrics(service).http_seconds.labels(
            self.method.upper(), self.url, str(status)).observe(seconds)
        quiet = (self.method.upper(), self.url) in QUIET_ROUTES and status < 400
        log.log(logging.DEBUG if quiet else logging.INFO, "handled", extra={
            "entrypoint": f"{service}.{self.method_name}",
            "method": self.method.upper(), "route": self.url, "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "outcome": "ok" if status < 400 else "error" if status >= 500 else "refused"})

    def __init__(self, method, url, *, roles=(), public=False, expected_exceptions=(),
                 **documented):
        if bool(roles) == bool(public):
            raise TypeError(f"@api({method!r}, {url!r}): give roles=... or public=True")
        unknown = set(roles) - set(auth.ROLES)
        if unknown:
            raise TypeError(f"@api({method!r}, {url!r}): unknown roles {sorted(unknown)}")
        self.route = Route(method.upper(), url, roles=tuple(roles), public=public, **documented)
        # An ApiError is the caller's mistake: nameko logs it as a warning, not a crash.
        super().__init__(method, url, expected_exceptions=(ApiError, *expected_exceptions))

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


class Observed:
    """Base of every service: the built-in routes ``GET /health``, ``/metrics`` (Prometheus
    text format), ``/openapi.json`` and ``/docs`` (public), and the Observability dependency
    (correlation id bound per worker, "handled" lines).

    The service's database is ``self.db`` and its settings ``self.config``; ``api_schemas``
    lists extra schema classes for its OpenAPI document (one only referenced from a field's
    metadata). A service whose class defines ``observe_metrics(self, metrics)`` sets its own
    scrape-time figures there (reporting: its lag). The routes are given to each service
    class as it is defined (``name`` set), not to the base: ``nameko run`` would take any class
    of the service's module that has an entrypoint for a service of its own."""
    telemetry = observability.Observability()
    api_version = "1.0.0"
    api_schemas = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "name", None):
            return
        cls._document = None
        service = dict(public=True, tag="service")

        def health(self, request):
            """Health of the database and the broker."""
            return health_of(self.db, self.config["AMQP_URI"])

        def metrics(self, request):
            """Metrics in the Prometheus text format."""
            return self.metrics_response()

        def openapi_json(self, request):
            """This OpenAPI document."""
            return self.openapi_document()

        def docs(self, request):
            """The API documentation as a web page."""
            return html_page(openapi.render_html(self.openapi_document()))

        cls.health = api("GET", "/health", errors=(503,), **service)(health)
        cls.metrics = api("GET", "/metrics", media_type="text/plain", **service)(metrics)
        cls.openapi_json = api("GET", "/openapi.json", **service)(openapi_json)
        cls.docs = api("GET", "/docs", media_type="text/html", **service)(docs)

    @classmethod
    def openapi_document(cls):
        """The service's OpenAPI document, built once from its routes' declarations."""
        if cls._document is None:
            cls._document = openapi.service_document(
                cls, title=f"CDHT {cls.name}", version=cls.api_version,
                schemas=cls.api_schemas)
        return cls._document

    def metrics_response(self):
        figures = self.telemetry
        db = getattr(self, "db", None)
        if db is not None:
            figures.outbox_backlog.set(outbox_backlog(db))
        hook = getattr(self, "observe_metrics", None)
        if hook is not None:
            try:
                hook(figures)
            except Exception as exc:  # a figure missing now is no reason to fail the scrape
                log.warning("metrics: %s could not be read (%s: %s)", hook.__name__,
                            type(exc).__name__, exc)
        body, content_type = figures.exposition()
        return Response(body, status=200, content_type=content_type)


def outbox_backlog(db):
    """Unpublished outbox rows, or NaN when the database does not answer."""
    from cdht.outbox import backlog
    try:
        with db.read() as session:
            return backlog(session.connection())
    except Exception as exc:
        log.warning("metrics: outbox backlog unknown (%s)", type(exc).__name__)
        return float("nan")


# A new AMQP connection per /health call costs a handshake on a busy broker (and was the
# slow part of /health under load); a success is trusted this long, a failure never.
BROKER_OK_FOR_SECONDS = 3.0
_broker_ok_at = {}


def health_of(db, amqp_uri):
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
    if time.monotonic() - _broker_ok_at.get(amqp_uri, float("-inf")) < BROKER_OK_FOR_SECONDS:
        checks["broker"] = "ok"
    else:
        try:
            with Connection(amqp_uri, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
            _broker_ok_at[amqp_uri] = time.monotonic()
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return (200 if healthy else 503), {"status": "ok" if healthy else "degraded", **checks}
