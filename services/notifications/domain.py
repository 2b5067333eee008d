"""Notification content and outcomes: which message a person gets, in which language, what an
SMTP error means for the next attempt, and how contact data is masked.

Pure functions (docs/architecture.md §D7): no nameko, no database, no network. Routing rules live in
rules.yaml (rules.py), SMS text rules in sms.py, retry and schedule arithmetic in timing.py.
The service looks the contact up, calls ``compose_email`` / ``compose_sms`` and hands the
message to the mailer or the SMS gateway.
"""
import re
import smtplib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from services.notifications import sms as sms_text
from services.notifications import wording
from services.notifications.rules import load_rules

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")
PARTS = ("subject", "txt", "html")
SMS_PARTS = ("sms",)

# event type -> template name, from rules.yaml (the routing table)
TEMPLATE_FOR_EVENT = {name: rule.template for name, rule in load_rules().events.items()}

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


@dataclass(frozen=True)
class Sms:
    """An SMS ready to send (E.164 number); in memory only, like Message."""
    to: str
    text: str

    def __repr__(self):
        return f"Sms(to={sms_text.mask_phone(self.to)!r}, parts={sms_text.parts(self.text)})"


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
        # listed once: walking the directory for every message was a tenth of a closing's mail
        self._names = frozenset(self._plain.list_templates())

    @staticmethod
    def filename(template, language, part):
        return f"{template}.{language}.{part}.j2"

    def has(self, template, language, parts=PARTS):
        """True when every part (subject, txt, html; or sms) of this language variant exists."""
        return all(self.filename(template, language, part) in self._names for part in parts)

    def render(self, template, language, context):
        """(subject, text, html) of one variant; raises TemplateNotFound if a part is missing."""
        subject = self._plain.get_template(self.filename(template, language, "subject"))
        text = self._plain.get_template(self.filename(template, language, "txt"))
        html = self._html.get_template(self.filename(template, language, "html"))
        return (one_line(subject.render(context)), text.render(context), html.render(context))

    def render_sms(self, template, language, context):
        return self._plain.get_template(self.filename(template, language, "sms")).render(context)


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


def choose_language(template, contact, templates=None, parts=PARTS):
    """The contact's language when that variant of ``template`` exists, else Vietnamese;
    TemplateNotFound when neither exists."""
    templates = templates or default_templates()
    language = contact_language(contact)
    if not templates.has(template, language, parts):
        language = DEFAULT_LANGUAGE
    if not templates.has(template, language, parts):
        raise TemplateNotFound(Templates.filename(template, language, "*"))
    return language


def choose_template(event_type, contact, templates=None):
    """(template, language) for an event sent to ``contact`` by email. Raises KeyError for an
    event type that has no notification."""
    template = TEMPLATE_FOR_EVENT[event_type]
    return template, choose_language(template, contact, templates)


def person_name(contact):
    return unicodedata.normalize("NFC", " ".join(str(contact["full_name"]).split()))


# -- what the templates see ------------------------------------------------------------------------
INDICATOR_LABELS = {
    "briefed_members": ("Cán bộ, hội viên được quán triệt mô hình",
                        "Association officials and members briefed on the model"),
    "adults_titled": ("Người lớn đạt danh hiệu Công dân học tập",
                      "Adults holding the Learning Citizen title"),
    "unit_staff_titled": ("Cán bộ, công chức, viên chức, người lao động đạt danh hiệu",
                          "Staff of learning units holding the title"),
    "titled_with_digital_skills": ("Người đạt danh hiệu có kỹ năng số",
                                   "Title holders with digital skills"),
    "titled_digitally_proficient": ("Người đạt danh hiệu thành thạo kỹ năng số",
                                    "Title holders proficient in digital skills"),
    "families_recognised": ("Gia đình học tập được công nhận", "Learning Families recognised"),
    "clans_recognised": ("Dòng họ học tập được công nhận", "Learning Clans recognised"),
    "communities_recognised": ("Cộng đồng học tập được công nhận",
                               "Learning Communities recognised"),
    "learning_units_recognised": ("Đơn vị học tập được công nhận", "Learning Units recognised"),
}


def indicator_label(name, language):
    labels = INDICATOR_LABELS.get(name)
    if not labels:
        return name
    return labels[0] if language == "vi" else labels[1]


def percent(share, language):
    """0.625 -> "62,5%" (vi) or "62.5%" (en); None stays None."""
    if share is None:
        return None
    text = f"{float(share) * 100:.1f}%"
    return text.replace(".", ",") if language == "vi" else text


def digest_view(items, language, places=None):
    """The changes of a target digest as the template lists them, oldest first."""
    places = places or wording.Places()
    rows = []
    for item in sorted(items, key=lambda i: (i.get("occurred_at") or "", i.get("event_id", ""))):
        data = item["data"]
        rows.append({
            "reached": item["event_type"] == "target_reached",
            "indicator": data["indicator"],
            "label": indicator_label(data["indicator"], language),
            "unit_code": data["unit_code"], "unit_name": places.name(data["unit_code"]),
            "year": data["year"],
            "target_year": data["target_year"],
            "numerator": data["numerator"], "denominator": data["denominator"],
            "share": percent(data["share"], language),
            "target": percent(data["target"], language),
            "warning_line": percent(data.get("warning_line"), language),
        })
    return rows


def summary_view(progress, language):
    """The indicators of reporting's ``progress`` answer as the weekly summary lists them:
    in the programme's order, with shares and targets as percentages."""
    indicators = (progress or {}).get("indicators") or {}
    order = list(INDICATOR_LABELS) + sorted(set(indicators) - set(INDICATOR_LABELS))
    rows = []
    for name in order:
        figures = indicators.get(name)
        if figures is None:
            continue
        targets = figures.get("targets") or {}
        share = figures.get("share") or 0.0
        rows.append({
            "indicator": name, "label": indicator_label(name, language),
            "numerator": figures.get("numerator"), "denominator": figures.get("denominator"),
            "share": percent(share, language),
            "targets": [{"year": year, "target": percent(target, language),
                         "reached": share >= target}
                        for year, target in sorted(targets.items())],
        })
    return rows


def unit_paths(template, data):
    """The places a message is about: the event's unit, a digest's units, a summary's
    province."""
    if template == "target_digest":
        return [item["data"].get("unit_path") or [item["data"]["unit_code"]]
                for item in data.get("items") or ()]
    if template == "weekly_summary":
        return [[data["province"]]]
    if data.get("unit_path"):
        return [data["unit_path"]]
    return [[data["unit_code"]]] if data.get("unit_code") else []


def template_context(template, data, contact, language, places=None):
    """The variables of ``template`` for one recipient: their name, the facts of the event
    (or of the digest, or of the summary), units by name, the deciding association's
    signature, a refusal's reasons in ``language``. Stored facts hold no contact data."""
    places = places or wording.Places()
    where = wording.common_path(unit_paths(template, data))
    context = {"full_name": person_name(contact), "language": language,
               "association": places.association(where),
               "signature": places.signature(where, language or "vi")}
    if template == "target_digest":
        context.update(day=data["day"], items=digest_view(data["items"], language, places))
    elif template == "weekly_summary":
        context.update(province=data["province"], province_name=places.name(data["province"]),
                       week=data["week"], year=data["year"],
                       indicators=summary_view(data.get("progress"), language))
    else:
        context.update({key: value for key, value in data.items() if key != "full_name"})
        if data.get("unit_code"):
            context["unit_name"] = places.name(data["unit_code"])
        if "reasons" in data:
            context["reasons"] = wording.reason_texts(data["reasons"], language or "vi")
    return context


def recognition_context(data, contact):
    """Template variables for a recognition_granted event: the event's facts + the name."""
    return template_context("recognition_granted", data, contact, None)


def compose_email(template, data, contact, templates=None, places=None):
    """(Message, language) of ``template`` for ``contact``; the contact must have an email.
    ``places``: what is known of the units (wording.Places), for names and the signature."""
    templates = templates or default_templates()
    language = choose_language(template, contact, templates)
    subject, text, html = templates.render(
        template, language, template_context(template, data, contact, language, places))
    return Message(to=contact["email"].strip(), subject=subject, text=text, html=html), language


def compose_sms(template, data, contact, templates=None, *, gsm7_only=True, max_parts=1,
                places=None):
    """(Sms, language) of ``template`` for ``contact``, fitted for the gateway (sms.fit);
    the contact must have a phone number."""
    templates = templates or default_templates()
    language = choose_language(template, contact, templates, SMS_PARTS)
    text = templates.render_sms(template, language,
                                template_context(template, data, contact, language, places))
    return Sms(to=sms_text.normalise_phone(contact["phone"]),
               text=sms_text.fit(text, gsm7_only=gsm7_only, max_parts=max_parts)), language


def compose(event_type, data, contact, templates=None, places=None):
    """(Message, template, language) of an event's email for ``contact``."""
    template = TEMPLATE_FOR_EVENT[event_type]
    message, language = compose_email(template, data, contact, templates, places)
    return message, template, language


_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\"]+$")
NO_CONTACT = "no contact: person unknown to the registry or deleted"


def missing_contact_reason(contact):
    """Why this contact can't get an email (None when it can)."""
    if not contact:
        return NO_CONTACT
    address = (contact.get("email") or "").strip()
    if not address:
        return "no email address on record"
    if not _ADDRESS.match(address):
        return "email address on record is malformed"
    return None


def missing_address_reason(contact, channel):
    """Why this contact can't be reached on ``channel`` (None when it can)."""
    if channel == "email":
        return missing_contact_reason(contact)
    if not contact:
        return NO_CONTACT
    if not (contact.get("phone") or "").strip():
        return "no phone number on record"
    if sms_text.normalise_phone(contact["phone"]) is None:
        return "phone number on record is malformed"
    return None


def masked_address(contact, channel):
    """What the delivery log shows of the address used: ``h***@example.org``, ``***78``."""
    if not contact:
        return None
    if channel == "email":
        return mask_email(contact.get("email")) or None
    return sms_text.mask_phone(contact.get("phone")) or None


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
