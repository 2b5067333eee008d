"""The SMTP adapter: a nameko dependency that sends a ``domain.Message`` with smtplib.

Configuration (config.yaml): SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS,
MAIL_FROM, SMTP_TIMEOUT, SMTP_CA_FILE. STARTTLS and login happen only when configured; the
relay's certificate is verified (system trust store, or SMTP_CA_FILE for a private CA).
Errors are raised as smtplib/socket raise them; ``domain.classify_smtp_error`` decides what
they mean.
"""
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider

TRUE_WORDS = ("1", "true", "yes", "on")


def as_bool(value):
    """A config flag: YAML gives a bool for true/false/yes/no, a str or int otherwise."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS if value is not None else False


def as_text(value):
    """A config string: YAML turns an empty ``${VAR:}`` into None and ``123`` into an int."""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    mail_from: str = "khuyenhoc@example.org"
    timeout: float = 30.0
    ca_file: str = ""

    @classmethod
    def from_config(cls, config):
        return cls(host=as_text(config.get("SMTP_HOST")) or cls.host,
                   port=int(config.get("SMTP_PORT") or cls.port),
                   user=as_text(config.get("SMTP_USER")),
                   password=as_text(config.get("SMTP_PASSWORD")),
                   starttls=as_bool(config.get("SMTP_STARTTLS")),
                   mail_from=as_text(config.get("MAIL_FROM")) or cls.mail_from,
                   timeout=float(config.get("SMTP_TIMEOUT") or cls.timeout),
                   ca_file=as_text(config.get("SMTP_CA_FILE")))

    def check(self):
        """Raise ValueError for settings that would fail every send."""
        if not (self.user.isascii() and self.password.isascii()):
            # smtplib encodes credentials as ASCII: a UnicodeEncodeError at every login
            raise ValueError("SMTP_USER and SMTP_PASSWORD must be ASCII")
        if self.password and not self.user:
            raise ValueError("SMTP_PASSWORD is set but SMTP_USER is empty")
        if "@" not in self.sender:
            raise ValueError("MAIL_FROM must contain an email address")

    @property
    def sender(self):
        """The envelope sender: the address part of MAIL_FROM (which may carry a name)."""
        return parseaddr(self.mail_from)[1] or self.mail_from

    def __repr__(self):  # never print the password
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.user!r}, "
                f"starttls={self.starttls}, mail_from={self.mail_from!r})")


def message_id(delivery_id, sender):
    """A Message-ID derived from the delivery: a resend after a crash carries the same id,
    so mail clients and archives can recognise the duplicate."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{delivery_id}@{domain}>"


def build_email(message, settings, delivery_id):
    """The MIME message: plain text with an HTML alternative, UTF-8 throughout."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = settings.mail_from
    email["To"] = message.to
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = message_id(delivery_id, settings.sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    # quoted-printable keeps the message 7-bit clean: no reliance on the relay's 8BITMIME
    email.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    email.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # The bodies are encoded above (quoted-printable, short lines). Headers are folded when
    # the message is written: CPython's folder drops the space where it splits a long
    # non-ASCII Subject into two encoded words ("tiến độ Công" arrives as "tiến độCông"), so
    # headers are written unfolded (one encoded word; well under SMTP's 998-byte line).
    email.policy = email.policy.clone(max_line_length=998)
    return email


class SmtpMailer:
    def __init__(self, settings):
        self.settings = settings

    def send(self, message, delivery_id):
        """Send one message (one SMTP session); raises smtplib/socket errors."""
        settings = self.settings
        email = build_email(message, settings, delivery_id)
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(
                    cafile=settings.ca_file or None))
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(email, from_addr=settings.sender, to_addrs=[message.to])
        return email["Message-ID"]


class Mailer(DependencyProvider):
    """nameko dependency: ``self.mailer.send(message, delivery_id)``."""

    def setup(self):
        self.settings = SmtpSettings.from_config(self.container.config)
        try:
            self.settings.check()
        except ValueError as exc:  # fail at start, not at every message
            raise ConfigurationError(str(exc)) from None

    def get_dependency(self, worker_ctx):
        return SmtpMailer(self.settings)
