"""The SMTP adapter: a nameko dependency that sends a ``domain.Message`` with smtplib.

Configuration (config.yaml): SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS,
MAIL_FROM, SMTP_TIMEOUT, SMTP_CA_FILE, SMTP_KEEPALIVE_SECONDS. STARTTLS and login happen only
when configured; the relay's certificate is verified (system trust store, or SMTP_CA_FILE for
a private CA). Sessions are kept open between messages (SmtpSessions).
Errors are raised as smtplib/socket raise them; ``domain.classify_smtp_error`` decides what
they mean.
"""
import base64
import binascii
import random
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.utils import formataddr, formatdate, parseaddr

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


class Email:
    """A message as the relay receives it: ``as_bytes()`` (CRLF lines, 7-bit) and its headers
    by name (``email["Message-ID"]``)."""

    def __init__(self, headers, body):
        self.headers, self.body = headers, body

    def __getitem__(self, name):
        return dict(self.headers).get(name)

    def as_bytes(self):
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        return head.encode("ascii") + b"\r\n" + self.body


def _header(value):
    """A header value: ASCII as it is, else RFC 2047 encoded words (UTF-8, base64) of at most
    75 characters each, folded onto lines of at most 78. Every character, spaces included,
    sits inside a word: the folding white space between words is dropped when read, so
    nothing is lost (CPython's own folder drops the space where it splits a non-ASCII Subject:
    "tiến độ Công" arrives as "tiến độCông"). A line break in a value is refused, as the email
    package refuses it: it would start a header of its own."""
    value = str(value)
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    if value.isascii():
        return value
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?="
                         for chunk in _utf8_chunks(value, _WORD_BYTES))


_WORD_BYTES = 42
"""UTF-8 bytes per encoded word: base64 makes 56 characters of them, 68 with "=?utf-8?b?"
and "?=" (RFC 2047 allows 75), so that even "Subject: " and the first word fit in 78."""


def _utf8_chunks(value, most):
    """``value`` as UTF-8, cut into runs of at most ``most`` bytes, never inside a character
    (RFC 2047: each encoded word must hold whole characters)."""
    chunk, size = [], 0
    for char in value:
        data = char.encode("utf-8")
        if size + len(data) > most:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(data)
        size += len(data)
    if chunk:
        yield b"".join(chunk)


def _address(value):
    """``Name <addr@host>`` with the name encoded when it is not ASCII; a bare address as is."""
    name, addr = parseaddr(str(value))
    if not addr or not addr.isascii() or "\r" in str(value) or "\n" in str(value):
        return _header(value)
    return formataddr((name, addr), charset="utf-8")


def _part(content, subtype):
    """One text part, UTF-8, quoted-printable (7-bit clean: no reliance on the relay's
    8BITMIME), lines of at most 76 characters, ending with a line break."""
    data = content.replace("\r\n", "\n").replace("\r", "\n")
    if not data.endswith("\n"):
        data += "\n"
    encoded = binascii.b2a_qp(data.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + encoded


def build_email(message, settings, delivery_id):
    """The MIME message: plain text with an HTML alternative, UTF-8 throughout, written
    directly (the email package's headers and generator cost more than the rest of a send)."""
    boundary = f"==============={random.getrandbits(64):020d}=="  # "=" never starts a QP line
    headers = [("Subject", _header(message.subject)),
               ("From", _address(settings.mail_from)),
               ("To", _address(message.to)),
               ("Date", formatdate(localtime=False, usegmt=True)),
               ("Message-ID", message_id(delivery_id, settings.sender)),
               ("Auto-Submitted", "auto-generated"),  # RFC 3834: no auto-replies, please
               ("MIME-Version", "1.0"),
               ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
    mark = f"--{boundary}\r\n".encode("ascii")
    body = (mark + _part(message.text, "plain") + b"\r\n" + mark + _part(message.html, "html")
            + f"\r\n--{boundary}--\r\n".encode("ascii"))
    return Email(headers, body)


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
            smtp.sendmail(settings.sender, [message.to], email.as_bytes())
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
