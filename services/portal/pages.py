"""The portal's web layer: the ``@page`` entrypoint, and the ``Visit`` a page works with.

``@page("GET", "/people", roles=STAFF)`` is a route's one declaration: who may open it (the
roles of cdht.auth; an admin may open every staff page, ``opens``; ``public=True`` for the
few pages a stranger sees). The page function gets ``(self, visit, request, **url_args)`` and returns a
response (``visit.render``, ``visit.redirect``). Around it, the visit:

- finds the session from its cookie (HttpOnly, Secure, SameSite=Lax; the database keeps only
  the cookie's SHA-256) and sends a stranger through sign-in, then back to the page;
- refuses a POST whose CSRF token is not the session's (nothing is written), and keeps what
  was typed into a form whose session had ended, to give it back after sign-in;
- turns what the services answer into pages: a refusal into the form's errors, next to their
  fields; a service that does not answer into a clear page; a token they no longer accept into
  a new sign-in. Every response carries the security headers; no token ever reaches a URL.
"""
import functools
import hashlib
import hmac
import logging
import secrets
import time
from functools import partial
from urllib.parse import urlsplit

from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from cdht import auth, observability
from cdht.web import correlation_id
from services.portal import words
from services.portal.backend import Refused, SignInAgain, Unavailable

log = logging.getLogger(__name__)

COOKIE = "cdht_portal"
LANG_COOKIE = "cdht_lang"
# A stranger's session (between "sign in" and the provider's answer) lives this long.
SIGN_IN_SECONDS = 15 * 60
KEPT_FIELDS = 200  # a restored form keeps at most this many fields


def hashed(session_id):
    return hashlib.sha256(session_id.encode()).hexdigest()


class PageError(Exception):
    """A page that cannot be shown: ``status`` and the WORDS key of what to say."""

    def __init__(self, status, key, **params):
        super().__init__(key)
        self.status, self.key, self.params = status, key, params


NOT_FOUND = ("<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>Không tìm thấy</title><link rel=\"stylesheet\" href=\"/static/portal.css\">"
             "<main><h1>Không tìm thấy trang này</h1><p lang=\"en\">Page not found.</p>"
             "<p><a href=\"/\">Trang chủ</a></p></main></html>")


class PageWsgiApp(WsgiApp):
    """nameko's WSGI app, with an address no page has (or a method it does not take)
    answered by a short page in Vietnamese, not werkzeug's English one."""

    def __call__(self, environ, start_response):
        try:
            self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            response = Response(NOT_FOUND, status=exc.code or 404, mimetype="text/html")
            secure_headers(response, self.server.container.config)
            return response(environ, start_response)
        return super().__call__(environ, start_response)


class PageWebServer(WebServer):
    def get_wsgi_app(self):
        return PageWsgiApp(self)


class PageHandler(HttpRequestHandler):
    """nameko's HTTP entrypoint for pages: HTML errors, the security headers, the request's
    correlation id and its one "handled" log line."""
    server = PageWebServer()  # the one web server of the process

    def __init__(self, method, url, *, roles=(), public=False, **kwargs):
        if bool(roles) == bool(public):
            raise TypeError(f"@page({method!r}, {url!r}): give roles=... or public=True")
        unknown = set(roles) - set(auth.ROLES)
        if unknown:
            raise TypeError(f"@page({method!r}, {url!r}): unknown roles {sorted(unknown)}")
        self.roles, self.public = tuple(roles), public
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        started = time.perf_counter()
        corr = correlation_id(request)
        bound = observability.bind_correlation_id(corr)
        try:
            request.shallow = False
            request.page_route = self
            try:
                args, kwargs = self.get_entrypoint_parameters(request)
                self.check_signature(args, kwargs)
                done = Event()
                self.container.spawn_worker(self, args, kwargs,
                                            context_data={"correlation_id": corr},
                                            handle_result=partial(self.handle_result, done))
                response = self.response_from_result(done.wait())
            except Exception as exc:
                response = self.response_from_exception(exc)
            response.headers["X-Correlation-Id"] = corr
            secure_headers(response, self.container.config)
            status = response.status_code
            log.log(logging.DEBUG if self.url == "/health" and status < 400 else logging.INFO,
                    "handled", extra={
                        "entrypoint": f"portal.{self.method_name}", "method": self.method,
                        "route": self.url, "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "outcome": "ok" if status < 400 else
                        "error" if status >= 500 else "refused"})
            return response
        finally:
            observability.unbind_correlation_id(bound)

    def response_from_result(self, result):
        return result

    def response_from_exception(self, exc):
        log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return Response(PLAIN_500.format(ref=observability.current_correlation_id() or "-"),
                        status=500, mimetype="text/html")


PLAIN_500 = ("<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>Có lỗi</title>"
             "<h1>Có lỗi ngoài dự kiến</h1><p>Xin thử lại sau ít phút. Mã tra cứu: {ref}</p>"
             "<p lang=\"en\">An unexpected error occurred. Reference: {ref}</p></html>")


def secure_headers(response, config):
    """What a browser may do with a page: scripts and styles of this site only (no inline
    script runs), forms posted here (and, on sign-out, on to the provider), never framed."""
    provider = _origin(config.get("OIDC_ISSUER"))
    response.headers.setdefault("Content-Security-Policy", (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self' {provider}; base-uri 'none'; "
        "frame-ancestors 'none'").replace("  ", " "))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _origin(url):
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def opens(role, roles):
    """Whether ``role`` may open a page declared for ``roles``: an admin opens every staff
    page, but a citizen's own pages are a citizen's (an admin has no record to show)."""
    return role in roles or role == "admin" and any(r != "citizen" for r in roles)


def page(method, url, *, roles=(), public=False):
    """Declare a page (see the module's docstring)."""
    def decorate(fn):
        @functools.wraps(fn)
        def serve(self, request, **url_args):
            visit = self.portal.visit(request, self.db)
            return visit.serve(functools.partial(fn, self, visit, request, **url_args),
                               roles=roles, public=public)
        return PageHandler.decorator(method, url, roles=roles, public=public)(serve)
    return decorate


class Visit:
    """One request's session, language and way to the services (made by the Portal
    dependency, which holds the settings, the templates and the provider)."""

    def __init__(self, portal, request, db):
        self.portal, self.request, self.db = portal, request, db
        self.config = portal.config
        cookie = request.cookies.get(COOKIE) or ""
        self.session_id = cookie if 20 <= len(cookie) <= 100 else None
        self.data = None
        if self.session_id:
            with db.store() as store:
                self.data = store.load(hashed(self.session_id))
        if self.data is None:
            self.session_id = None
        self._dirty = False
        self._new_cookie = None
        self._clear_cookie = False
        self.lang = self._language()

    # -- who and in which language -----------------------------------------------------
    @property
    def user(self):
        return (self.data or {}).get("user")

    @property
    def role(self):
        return (self.user or {}).get("role")

    def _language(self):
        chosen = (self.data or {}).get("lang") or self.request.cookies.get(LANG_COOKIE)
        return chosen if chosen in words.LANGUAGES else "vi"

    def portal_menu(self):
        from services.portal.menu import menu_for
        return menu_for(self.role)

    def t(self, key, **params):
        text = words.word(key, self.lang)
        return text.format(**params) if params else text

    # -- serving a page ----------------------------------------------------------------
    def serve(self, page_fn, *, roles, public):
        try:
            if not public:
                if self.user is None:
                    return self.finish(self.to_sign_in())
                if not opens(self.role, roles):
                    raise PageError(403, "error_403")
            if self.request.method == "POST" and self.user is not None:
                self.check_csrf()
            response = page_fn()
        except PageError as exc:
            response = self.error_page(exc.status, exc.key, **exc.params)
        except SignInAgain:
            self.end_session()
            response = self.to_sign_in()
        except Unavailable as exc:
            response = self.error_page(503, "service_down",
                                       service=self.t(f"service_{exc.service}"))
        except Refused as exc:  # a refusal no form catches: not found, not allowed
            response = self.error_page(exc.status if exc.status in (403, 404) else 400,
                                       "error_403" if exc.status == 403 else "error_404"
                                       if exc.status == 404 else "error_title")
        return self.finish(response)

    def check_csrf(self):
        given = self.request.form.get("csrf") or ""
        if not hmac.compare_digest(given, (self.data or {}).get("csrf", "")):
            raise PageError(403, "error_csrf")

    def finish(self, response):
        if self._dirty and self.session_id:
            with self.db.store(write=True) as store:
                store.update(hashed(self.session_id), self.data)
        secure = self.secure_cookies
        if self._new_cookie:
            response.set_cookie(COOKIE, self._new_cookie[0], max_age=self._new_cookie[1],
                                httponly=True, secure=secure, samesite="Lax", path="/")
        elif self._clear_cookie:
            response.delete_cookie(COOKIE, httponly=True, secure=secure, samesite="Lax",
                                   path="/")
        return response

    @property
    def secure_cookies(self):
        return str(self.config.get("COOKIE_SECURE", "true")).lower() != "false"

    # -- sessions ----------------------------------------------------------------------
    def start_session(self, data, lifetime):
        """A new session id for ``data`` (a new one at each sign-in: a session fixed
        before sign-in is worth nothing after it)."""
        old = self.session_id
        self.session_id = secrets.token_urlsafe(32)
        data.setdefault("csrf", secrets.token_urlsafe(32))
        data.setdefault("lang", self.lang)
        self.data = data
        with self.db.store(write=True) as store:
            if old:
                store.drop(hashed(old))
            store.save(hashed(self.session_id), data, lifetime)
        self._new_cookie = (self.session_id, lifetime)
        self._dirty = False

    def end_session(self):
        if self.session_id:
            with self.db.store(write=True) as store:
                store.drop(hashed(self.session_id))
        self.session_id, self.data, self._dirty = None, None, False
        self._clear_cookie = True

    def remember(self, **values):
        """Keep values in the session (saved when the response is made)."""
        if self.data is None:
            return
        self.data.update(values)
        self._dirty = True

    def take(self, key):
        """A value kept for the next page only (a notice, a restored form)."""
        if not self.data or key not in self.data:
            return None
        self._dirty = True
        return self.data.pop(key)

    def to_sign_in(self, return_to=None):
        """Off to the provider; back to ``return_to`` (this page) after it. What a form held
        is kept for then."""
        from services.portal import signin
        return_to = return_to or self.request.full_path.rstrip("?")
        if self.request.method == "POST":
            return_to = self.request.path
        try:
            self.portal.check_provider()
            url, pending = signin.begin(self.portal.provider, self.portal.client, return_to)
        except Exception as exc:
            if not self.portal.is_provider_failure(exc):
                raise
            return self.error_page(503, "provider_down")
        data = {"pending": pending}
        if self.request.method == "POST":
            kept = {k: v for k, v in list(self.request.form.items())[:KEPT_FIELDS]
                    if k not in ("csrf", "form_id")}
            data["kept_form"] = {"path": self.request.path, "fields": kept}
        self.start_session(data, SIGN_IN_SECONDS)
        return self.redirect(url)

    # -- responses ---------------------------------------------------------------------
    def render(self, template, status=200, **context):
        body = self.portal.templates.get_template(template).render(
            visit=self, t=self.t, user=self.user, lang=self.lang, csrf=(self.data or {})
            .get("csrf", ""), notice=self.take("notice"), **context)
        return Response(body, status=status, mimetype="text/html")

    def redirect(self, url):
        return Response("", status=303, headers={"Location": url})

    def error_page(self, status, key, **params):
        return self.render("error.html", status=status, message=self.t(key, **params),
                           reference=observability.current_correlation_id() or "-")

    # -- the services ------------------------------------------------------------------
    @property
    def api(self):
        return self.portal.backend(self.data["access_token"])

    # -- forms: acted on once, errors beside their fields ------------------------------
    def form_id(self):
        return secrets.token_urlsafe(18)

    def restored_form(self):
        """What the user had typed into this page's form before signing in again, or None."""
        kept = (self.data or {}).get("kept_form")
        if not kept or kept.get("path") != self.request.path:
            return None
        self.take("kept_form")
        self.remember(notice="form_restored")
        return kept.get("fields") or {}

    def act(self, action, on_refused):
        """Run a form's ``action`` once per form id: it returns the URL of the result, shown
        after a 303. A second click, or a resent request, gets the first one's result; a
        refusal from a service gives ``on_refused(errors)`` (the form again, with its
        errors, nothing written) and frees the form id to be sent again."""
        form_id = self.request.form.get("form_id") or ""
        if not 16 <= len(form_id) <= 64:
            raise PageError(400, "error_csrf")
        with self.db.store(write=True) as store:
            first = store.claim_form(form_id, hashed(self.session_id))
        if not first:
            return self._earlier_result(form_id)
        try:
            result_url = action()
        except Refused as exc:
            with self.db.store(write=True) as store:
                store.release_form(form_id)
            if exc.status in (400, 409, 422):
                errors = words.field_errors(exc.errors, self.lang)
                if not errors:
                    errors = {"_form": [words.field_error(exc.message, self.lang)]}
                return on_refused(errors)
            raise
        except BaseException:
            with self.db.store(write=True) as store:
                store.release_form(form_id)
            raise
        with self.db.store(write=True) as store:
            store.finish_form(form_id, result_url)
        return self.redirect(result_url)

    def _earlier_result(self, form_id, wait_seconds=10.0):
        deadline = time.monotonic() + wait_seconds
        while True:
            with self.db.store() as store:
                claimed, url = store.form_result(form_id)
            if url or not claimed or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.remember(notice="already_sent")
        return self.redirect(url or self.request.path)
