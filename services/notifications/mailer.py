"""The SMTP adapter: a nameko dependency that sends a ``domain.Message`` with smtplib.

Configuration (config.yaml): SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS,
MAIL_FROM, SMTP_TIMEOUT, SMTP_CA_FILE, SMTP_KEEPALIVE_SECONDS. STARTTLS and login happen only
when configured; the relay's certificate is verified (system trust store, or SMTP_CA_FILE for
a private CA). Sessions are kept open between messages (SmtpSessions).
Errors are raised as smtplib/socket raise them; ``domain.classify_smtp_error`` decides what
they mean.
"""
import smtplib
import ssl
import time
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


def open_session(settings):
    """A new SMTP session: connected, with STARTTLS and login when configured."""
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file or None))
        if settings.user:
            smtp.login(settings.user, settings.password)
    except BaseException:
        end_session(smtp)
        raise
    return smtp


def end_session(smtp):
    """QUIT if the relay still listens; the socket is closed either way."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class SmtpSessions:
    """The SMTP sessions of one service process, kept open between messages: a message sent
    on a kept session costs a NOOP instead of a connection, STARTTLS, a login and a QUIT.
    A session idle longer than ``keep_seconds``, or that no longer answers the NOOP, is
    ended and replaced; at most ``most`` are kept. keep_seconds 0: one session per message."""

    def __init__(self, settings, keep_seconds, most=10):
        self.settings, self.keep_seconds, self.most = settings, keep_seconds, most
        self.idle = []  # (session, when it was last used); greenlets share it

    def take(self):
        while self.idle:
            smtp, since = self.idle.pop()
            if time.monotonic() - since < self.keep_seconds:
                try:
                    if smtp.noop()[0] == 250:
                        return smtp
                except (smtplib.SMTPException, OSError):
                    pass
            end_session(smtp)
        return open_session(self.settings)

    def give_back(self, smtp):
        if self.keep_seconds > 0 and len(self.idle) < self.most:
            self.idle.append((smtp, time.monotonic()))
        else:
            end_session(smtp)

    def close(self):
        while self.idle:
            end_session(self.idle.pop()[0])


class SmtpMailer:
    def __init__(self, settings, sessions=None):
        self.settings = settings
        self.sessions = sessions or SmtpSessions(settings, keep_seconds=0)

    def send(self, message, delivery_id):
        """Send one message; raises smtplib/socket errors. A session that failed is ended,
        never kept."""
        settings = self.settings
        email = build_email(message, settings, delivery_id)
        smtp = self.sessions.take()
        try:
            smtp.send_message(email, from_addr=settings.sender, to_addrs=[message.to])
        except BaseException:
            smtp.close()
            raise
        self.sessions.give_back(smtp)
        return email["Message-ID"]


class Mailer(DependencyProvider):
    """nameko dependency: ``self.mailer.send(message, delivery_id)``, over the sessions this
    process keeps (SMTP_KEEPALIVE_SECONDS)."""

    def setup(self):
        config = self.container.config
        self.settings = SmtpSettings.from_config(config)
        try:
            self.settings.check()
        except ValueError as exc:  # fail at start, not at every message
            raise ConfigurationError(str(exc)) from None
        keep = config.get("SMTP_KEEPALIVE_SECONDS")
        self.sessions = SmtpSessions(self.settings, float(30 if keep in (None, "") else keep))

    def stop(self):
        self.sessions.close()

    def kill(self):
        self.sessions.close()

    def get_dependency(self, worker_ctx):
        return SmtpMailer(self.settings, self.sessions)
