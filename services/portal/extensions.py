"""What the portal's pages share: its settings, the templates, the OpenID provider (one per
process: its discovery document and keys are cached) and its database."""
from pathlib import Path

import jinja2
import requests
from nameko.extensions import DependencyProvider

from cdht import oidc
from cdht.db import StoreDatabase
from services.portal.backend import SERVICES, Backend
from services.portal.pages import Visit
from services.portal.rate_limits import VerificationLimits
from services.portal.signin import Client
from services.portal.store import PortalStore

HERE = Path(__file__).resolve().parent


class PortalDatabase(StoreDatabase):
    store_class = PortalStore


def template_environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["date_vi"] = date_vi
    return env


def date_vi(value):
    """``2026-05-04`` (or a datetime's ISO text) as 04/05/2026, the way dates are written here."""
    text = str(value or "")
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text


class PortalSettings:
    def __init__(self, config):
        self.config = config
        self.public_url = str(config.get("PUBLIC_URL") or "").rstrip("/")
        self.urls = {s: str(config.get(f"{s.upper()}_URL") or "") for s in SERVICES}
        self.timeout = float(config.get("API_TIMEOUT") or 15)
        self.client = Client(
            issuer=str(config.get("OIDC_ISSUER") or ""),
            client_id=str(config.get("OIDC_CLIENT_ID") or ""),
            client_secret=str(config.get("OIDC_CLIENT_SECRET") or ""),
            redirect_uri=f"{self.public_url}/signin/callback",
            scopes=str(config.get("OIDC_SCOPES") or "openid"),
            audience=str(config.get("OIDC_AUDIENCE") or "cdht"),
            role_claim=str(config.get("OIDC_ROLE_CLAIM") or "cdht_role"),
            unit_claim=str(config.get("OIDC_UNIT_CLAIM") or "cdht_unit"),
            subject_claim=str(config.get("OIDC_PERSON_CLAIM") or "sub"))
        if not self.client.issuer:
            raise ValueError("OIDC_ISSUER is empty: the portal signs people in through an "
                             "OpenID provider (docs/operator-guide.md, Sign-in)")
        self.provider = oidc.Provider(self.client.issuer, audience=self.client.audience,
                                      leeway=int(config.get("OIDC_LEEWAY") or 60))
        self.templates = template_environment()
        self.session_seconds = int(float(config.get("SESSION_HOURS") or 8) * 3600)
        self.verification = VerificationLimits.from_config(config)

    def check_provider(self):
        """Raise unless the provider answers now: a browser sent to a provider that is down
        would meet its own error page, not ours."""
        response = requests.get(f"{self.client.issuer.rstrip('/')}/.well-known/openid-configuration",
                                timeout=3)
        if response.status_code >= 500:
            raise oidc.ProviderUnavailable(f"discovery answered {response.status_code}")

    def backend(self, token):
        return Backend(self.urls, token, self.timeout)

    @staticmethod
    def is_provider_failure(exc):
        return isinstance(exc, (oidc.ProviderUnavailable, requests.RequestException))

    def visit(self, request, db):
        return Visit(self, request, db)


class Portal(DependencyProvider):
    def setup(self):
        self.settings = PortalSettings(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
