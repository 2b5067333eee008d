"""The portal: the web pages through which staff and citizens run the Learning Citizen
programme, signed in with OpenID Connect; every page calls the other services' APIs with the
signed-in user's access token, so what a user may see and do is what the services allow.

Pages are grouped by who uses them (the mixins below); this module holds sign-in and out,
the home page, the language switch, the static files and ``/health``.
"""
import json
import logging
import mimetypes
from pathlib import Path
from urllib.parse import quote

from nameko.timer import timer
from werkzeug.wrappers import Response

from cdht import oidc
from cdht.auth import ROLES
# the page mixins by module: `nameko run` starts every class of this module with entrypoints
from services.portal import (
    assessment_pages, citizen_pages, signin, staff_pages, verify_pages,
)
from services.portal.backend import Refused, SignInAgain, Unavailable
from services.portal.extensions import Portal, PortalDatabase
from services.portal.pages import LANG_COOKIE, PageError, page

log = logging.getLogger(__name__)
SESSIONS_PURGED_EVERY = 3600  # seconds
STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {p.name: p for p in STATIC.iterdir() if p.is_file()} if STATIC.exists() else {}


class PortalService(staff_pages.StaffPages, assessment_pages.AssessmentPages,
                    citizen_pages.CitizenPages, verify_pages.VerifyPages):
    """Web pages for staff and citizens."""
    name = "portal"
    db = PortalDatabase()
    portal = Portal()

    # -- signing in and out --------------------------------------------------------------
    @page("GET", "/signin", public=True)
    def sign_in(self, visit, request):
        return visit.to_sign_in(signin.safe_return(request.args.get("next") or "/"))

    @page("GET", "/signin/callback", public=True)
    def sign_in_callback(self, visit, request):
        pending = (visit.data or {}).get("pending")
        kept = (visit.data or {}).get("kept_form")
        try:
            session = signin.finish(self.portal.provider, self.portal.client, pending,
                                    request.args)
        except oidc.MissingClaims as exc:
            visit.end_session()
            missing = ", ".join(visit.t(f"claim_{m}") for m in exc.missing)
            raise PageError(403, "claims_missing", missing=missing) from None
        except signin.SignInFailed as exc:
            visit.end_session()
            return visit.render("signed_out.html", status=400,
                                message=visit.t("sign_in_failed", reason=exc.reason))
        except Exception as exc:
            if not self.portal.is_provider_failure(exc):
                raise
            raise PageError(503, "provider_down") from None
        lifetime = max(60, min(self.portal.session_seconds,
                               session["expires_at"] - int(_now())))
        if kept:
            session["kept_form"] = kept
        session["user"]["unit_name"] = self._unit_name(session)
        visit.start_session(session, lifetime)
        return visit.redirect(pending["return_to"])

    def _unit_name(self, session):
        """The name of the user's unit, shown beside theirs on every page (its code when
        the registry cannot say it now)."""
        unit = session["user"]["unit"]
        if not unit:
            return None
        try:
            return self.portal.backend(session["access_token"]).get(
                "registry", f"/units/{quote(unit)}")["name"]
        except (Refused, Unavailable, SignInAgain, KeyError, TypeError):
            return unit

    @page("POST", "/signout", roles=ROLES)  # every role, a machine client's too
    def sign_out(self, visit, request):
        id_token = visit.data.get("id_token")
        visit.end_session()
        after = f"{self.portal.public_url}/signed-out"
        return visit.redirect(signin.logout_url(self.portal.provider, self.portal.client,
                                                id_token, after))

    @page("GET", "/signed-out", public=True)
    def signed_out(self, visit, request):
        return visit.render("signed_out.html", message=visit.t("signed_out"))

    # -- the frame -----------------------------------------------------------------------
    @page("GET", "/", public=True)
    def home(self, visit, request):
        if visit.user is None:
            return visit.render("welcome.html")
        return visit.render("home.html")

    @page("GET", "/language/<string:lang>", public=True)
    def language(self, visit, request, lang):
        if lang not in ("vi", "en"):
            raise PageError(404, "error_404")
        visit.remember(lang=lang)
        response = visit.redirect(signin.safe_return(request.args.get("next") or "/"))
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax",
                            secure=visit.secure_cookies, httponly=True, path="/")
        return response

    @page("GET", "/static/<string:name>", public=True)
    def static(self, visit, request, name):
        path = STATIC_FILES.get(name)
        if path is None:
            raise PageError(404, "error_404")
        response = Response(path.read_bytes(),
                            mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @timer(interval=SESSIONS_PURGED_EVERY)
    def purge_sessions(self):
        """Sessions that have ended (and the forms sent in them) leave the database."""
        with self.db.store(write=True) as store:
            gone = store.drop_expired()
        if gone:
            log.info("purged ended sessions", extra={"sessions": gone})

    @page("GET", "/health", public=True)
    def health(self, visit, request):
        """200 when the portal's database and the provider's discovery answer, else 503."""
        checks = {}
        try:
            with self.db.store() as store:
                store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            self.portal.provider.metadata()
            checks["identity_provider"] = "ok"
        except Exception as exc:
            checks["identity_provider"] = f"unreachable: {type(exc).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return Response(json.dumps({"status": "ok" if healthy else "degraded", **checks}),
                        status=200 if healthy else 503, mimetype="application/json")


def _now():
    import time
    return time.time()
