"""Notification rules: which message a person gets, in which language, and what an SMTP error
means for the next attempt.

Pure functions (DESIGN.md §2.5): no nameko, no database, no network. The service module looks
the contact up, calls ``compose`` and hands the ``Message`` to the mailer.
"""
import re
import smtplib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")
PARTS = ("subject", "txt", "html")

# event type -> template name (the routing table; one entry per kind of notification)
TEMPLATE_FOR_EVENT = {"recognition_granted": "recognition_granted"}

TRANSIENT = "transient"
PERMANENT = "permanent"


@dataclass(frozen=True)
class Message:
    """An e-mail ready to send. Lives in memory only: the address is never stored or logged."""
    to: str
    subject: str
    text: str
    html: str

    def __repr__(self):  # keep the address out of tracebacks and debug logs
        return f"Message(to={mask_email(self.to)!r}, subject={self.subject!r})"


# -- templates ------------------------------------------------------------------------------
class Templates:
    """The ``<name>.<language>.<part>.j2`` files of a directory, rendered with jinja2.

    Subject and plain text are rendered without escaping, HTML with autoescape on, so a name
    like ``<Lê & Co>`` is shown as written and can't inject markup. Missing variables raise.
    """

    def __init__(self, directory=TEMPLATES_DIR):
        loader = FileSystemLoader(str(directory), encoding="utf-8")
        common = dict(loader=loader, undefined=StrictUndefined, keep_trailing_newline=True)
        self._plain = Environment(autoescape=False, **common)
        self._html = Environment(autoescape=True, **common)

    @staticmethod
    def filename(template, language, part):
        return f"{template}.{language}.{part}.j2"

    def has(self, template, language):
        """True when every part (subject, txt, html) of this language variant exists."""
        names = set(self._plain.list_templates())
        return all(self.filename(template, language, part) in names for part in PARTS)

    def render(self, template, language, context):
        """(subject, text, html) of one variant; raises TemplateNotFound if a part is missing."""
        subject = self._plain.get_template(self.filename(template, language, "subject"))
        text = self._plain.get_template(self.filename(template, language, "txt"))
        html = self._html.get_template(self.filename(template, language, "html"))
        return (one_line(subject.render(context)), text.render(context), html.render(context))


_DEFAULT_TEMPLATES = None


def default_templates():
    global _DEFAULT_TEMPLATES
    if _DEFAULT_TEMPLATES is None:
        _DEFAULT_TEMPLATES = Templates()
    return _DEFAULT_TEMPLATES


def one_line(text):
    """A header value: whitespace (newlines included) collapsed, so nothing can be injected."""
    return " ".join(text.split())


def contact_language(contact):
    """The language a contact asked for, normalised; the default when none or unknown."""
    language = str((contact or {}).get("language") or "").strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def choose_template(event_type, contact, templates=None):
    """(template, language) for an event sent to ``contact``.

    The contact's language when that variant exists, else Vietnamese. Raises KeyError for an
    event type that has no notification.
    """
    templates = templates or default_templates()
    template = TEMPLATE_FOR_EVENT[event_type]
    language = contact_language(contact)
    if not templates.has(template, language):
        language = DEFAULT_LANGUAGE
    if not templates.has(template, language):
        raise TemplateNotFound(Templates.filename(template, language, "*"))
    return template, language


def recognition_context(data, contact):
    """Template variables for a recognition_granted event: the event's facts + the name."""
    return {
        "full_name": unicodedata.normalize("NFC", " ".join(str(contact["full_name"]).split())),
        "year": data["year"],
        "total_score": data["total_score"],
        "target_group": data.get("target_group"),
        "digital_skills": data.get("digital_skills"),
    }


def compose(event_type, data, contact, templates=None):
    """(Message, template, language) for ``contact``; the contact must have an email."""
    templates = templates or default_templates()
    template, language = choose_template(event_type, contact, templates)
    subject, text, html = templates.render(template, language, recognition_context(data, contact))
    return Message(to=contact["email"].strip(), subject=subject, text=text, html=html), \
        template, language


_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\"]+$")


def missing_contact_reason(contact):
    """Why this contact can't get an email (None when it can)."""
    if not contact:
        return "no contact: person unknown to the registry or deleted"
    address = (contact.get("email") or "").strip()
    if not address:
        return "no email address on record"
    if not _ADDRESS.match(address):
        return "email address on record is malformed"
    return None


# -- personal data out of logs ----------------------------------------------------------------
_EMAIL = re.compile(r"[^\s<>()\[\]{},;:\"'@]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def mask_email(address):
    """``nguyen@example.org`` -> ``n***@example.org``: enough to recognise, not to contact."""
    if not address:
        return ""
    local, sep, domain = str(address).strip().rpartition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def redact(text):
    """``text`` with every email address in it masked (SMTP replies often echo the address)."""
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), str(text))


# -- SMTP errors --------------------------------------------------------------------------------
def classify_smtp_code(code):
    """4xx: try again later (transient); 5xx: the server refuses for good (permanent)."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return TRANSIENT
    return PERMANENT if 500 <= code <= 599 else TRANSIENT


# Replies that are 5xx but say our side is misconfigured, not that this message is bad:
# 530 authentication required, 534/535 credentials rejected, 538 encryption required. Failing
# every notification for good because of a wrong password would lose them; as transient
# errors they end in the dead-letter queue, to be replayed once the configuration is fixed.
CONFIGURATION_CODES = frozenset({530, 534, 535, 538})


def classify_smtp_error(exc):
    """``TRANSIENT`` or ``PERMANENT`` for an exception raised while sending with smtplib.

    - connection refused/reset/timed out, server disconnected, greeting or HELO refused,
      4xx replies: transient;
    - 5xx replies (recipient unknown, message rejected): permanent, except the configuration
      codes above (authentication, encryption), which are transient;
    - recipients refused: by the codes given per recipient (permanent only if all are 5xx);
    - anything else (unexpected): transient, so that retries and the dead-letter queue decide.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in (exc.recipients or {}).values()]
        if codes and all(classify_smtp_code(c) == PERMANENT and c not in CONFIGURATION_CODES
                         for c in codes):
            return PERMANENT
        return TRANSIENT
    if isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)):
        return TRANSIENT  # the server (not this message) is unwilling: greeting or HELO refused
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data error, auth, ...
        if exc.smtp_code in CONFIGURATION_CODES:
            return TRANSIENT
        return classify_smtp_code(exc.smtp_code)
    # SMTPServerDisconnected, ConnectionError, socket.timeout, other OSError, the unexpected
    return TRANSIENT


def describe_smtp_error(exc):
    """A short reason for the delivery log and events, with addresses masked."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = [f"{code} {_decode(msg)}" for code, msg in (exc.recipients or {}).values()]
        text = "recipient refused: " + "; ".join(replies)
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.smtp_code} {_decode(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(one_line(text))[:500]


def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
