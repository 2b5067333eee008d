"""The SMS adapter: an interface any provider's adapter implements, and a generic HTTP one.

``SmsGateway`` is what the service needs: ``send(sms, reference)`` that returns the provider's
message id (or None) and raises ``SmsError`` whose ``kind`` says whether to try again. A
Vietnamese provider with its own API (eSMS, SpeedSMS, Viettel, VNPT brandname) gets an
adapter class implementing it, chosen in ``SmsGatewayProvider.make``.

``HttpSmsGateway`` covers the usual "POST the message as JSON or a form" gateways:
SMS_GATEWAY_URL, basic auth (SMS_GATEWAY_USER / SMS_GATEWAY_PASSWORD) or a bearer token
(SMS_GATEWAY_TOKEN), the body as ``json`` or ``form`` (SMS_BODY_FORMAT) with field names from
SMS_BODY_FIELDS (``to=phone,text=content,sender=brandname,reference=client_ref``), the sender
name (SMS_SENDER), GSM-7 only or not (SMS_GSM7), parts allowed (SMS_MAX_PARTS), SMS_TIMEOUT.
An empty SMS_GATEWAY_URL turns SMS off. Secrets and numbers never reach a log or a reason:
reasons name the exception type or the HTTP status only, never the URL (some providers put
keys in it) nor the response body (some echo the number).
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider

from services.notifications import sms as sms_text
from services.notifications.mailer import as_bool, as_text

DEFAULT_FIELDS = {"to": "to", "text": "text", "sender": "sender", "reference": "reference"}


class SmsError(Exception):
    """A send that failed; ``kind`` is sms.TRANSIENT or sms.PERMANENT, the message is safe to
    log (no number, no secret)."""

    def __init__(self, kind, reason):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class SmsGateway(ABC):
    """What a provider's adapter offers the service."""
    gsm7_only = True     # the route takes GSM-7 only: the text is folded (no diacritics)
    max_parts = 1        # SMS parts one message may take

    @abstractmethod
    def send(self, sms, reference):
        """Send ``sms`` (a domain.Sms, number in E.164); ``reference`` (the delivery id) lets a
        provider that supports it drop a duplicate. Returns the provider's id or None; raises
        SmsError."""


def parse_fields(value):
    """``to=phone,text=content`` -> the field names of the body, defaults for the rest."""
    names = dict(DEFAULT_FIELDS)
    for pair in filter(None, (p.strip() for p in as_text(value).split(","))):
        key, sep, name = pair.partition("=")
        if not sep or key.strip() not in DEFAULT_FIELDS or not name.strip():
            raise ValueError(f"SMS_BODY_FIELDS: expected key=name with key one of "
                             f"{', '.join(DEFAULT_FIELDS)}, got {pair!r}")
        names[key.strip()] = name.strip()
    return names


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class SmsSettings:
    url: str = ""
    user: str = ""
    password: str = ""
    token: str = ""
    body_format: str = "json"
    fields: dict = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    sender: str = ""
    gsm7_only: bool = True
    max_parts: int = 1
    timeout: float = 10.0
    allow_http: bool = False

    @classmethod
    def from_config(cls, config):
        return cls(url=as_text(config.get("SMS_GATEWAY_URL")).strip(),
                   user=as_text(config.get("SMS_GATEWAY_USER")),
                   password=as_text(config.get("SMS_GATEWAY_PASSWORD")),
                   token=as_text(config.get("SMS_GATEWAY_TOKEN")),
                   body_format=(as_text(config.get("SMS_BODY_FORMAT")) or "json").lower(),
                   fields=parse_fields(config.get("SMS_BODY_FIELDS")),
                   sender=as_text(config.get("SMS_SENDER")),
                   gsm7_only=as_bool(config.get("SMS_GSM7", True)),
                   max_parts=int(config.get("SMS_MAX_PARTS") or 1),
                   timeout=float(config.get("SMS_TIMEOUT") or 10),
                   allow_http=as_bool(config.get("SMS_GATEWAY_ALLOW_HTTP", False)))

    @property
    def enabled(self):
        return bool(self.url)

    def check(self):
        if not self.enabled:
            return
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("SMS_GATEWAY_URL must be an http:// or https:// URL")
        host = urlsplit(self.url).hostname or ""
        if self.url.startswith("http://") and host not in LOOPBACK and not self.allow_http:
            # phone numbers, texts and the gateway's credentials would cross the network bare
            raise ValueError("SMS_GATEWAY_URL must be https:// (plain http:// only to this "
                             "machine, or with SMS_GATEWAY_ALLOW_HTTP=true for a relay on a "
                             "private network)")
        if self.body_format not in ("json", "form"):
            raise ValueError("SMS_BODY_FORMAT must be json or form")
        if self.password and not self.user:
            raise ValueError("SMS_GATEWAY_PASSWORD is set but SMS_GATEWAY_USER is empty")
        if not 1 <= self.max_parts <= 10:
            raise ValueError("SMS_MAX_PARTS must be between 1 and 10")

    def __repr__(self):  # never print credentials, nor the URL (it may carry a key)
        return (f"SmsSettings(enabled={self.enabled}, format={self.body_format}, "
                f"gsm7_only={self.gsm7_only}, max_parts={self.max_parts})")


class HttpSmsGateway(SmsGateway):
    def __init__(self, settings, session=None):
        self.settings = settings
        self.gsm7_only = settings.gsm7_only
        self.max_parts = settings.max_parts
        self.session = session  # None: one connection per send (no state shared by workers)

    def body(self, sms, reference):
        names = self.settings.fields
        body = {names["to"]: sms.to, names["text"]: sms.text,
                names["reference"]: str(reference)}
        if self.settings.sender:
            body[names["sender"]] = self.settings.sender
        return body

    def send(self, sms, reference):
        settings = self.settings
        body = self.body(sms, reference)
        kwargs = {"json": body} if settings.body_format == "json" else {"data": body}
        headers = {"Accept": "application/json"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        auth = (settings.user, settings.password) if settings.user else None
        try:
            post = self.session.post if self.session is not None else requests.post
            response = post(settings.url, headers=headers, auth=auth,
                                         timeout=settings.timeout, **kwargs)
        except requests.RequestException as exc:  # refused, reset, timed out, TLS
            raise SmsError(sms_text.TRANSIENT, f"SMS gateway unreachable: "
                                               f"{type(exc).__name__}") from None
        kind = sms_text.classify_http_status(response.status_code)
        if kind is not None:
            raise SmsError(kind, f"SMS gateway answered {response.status_code} "
                                 f"{response.reason or ''}".strip())
        try:
            answer = response.json()
        except ValueError:
            return None
        if isinstance(answer, dict):
            found = answer.get("id") or answer.get("message_id") or answer.get("SMSID")
            return str(found)[:100] if found is not None else None
        return None


class SmsGatewayProvider(DependencyProvider):
    """nameko dependency: ``self.sms`` is the configured gateway, or None when SMS is off."""

    def setup(self):
        try:
            self.settings = SmsSettings.from_config(self.container.config)
            self.settings.check()
        except ValueError as exc:  # fail at start, not at every message
            raise ConfigurationError(str(exc)) from None
        self.gateway = self.make(self.settings) if self.settings.enabled else None

    @staticmethod
    def make(settings):
        """The adapter for the configured gateway (a provider-specific one goes here)."""
        return HttpSmsGateway(settings)

    def get_dependency(self, worker_ctx):
        return self.gateway
