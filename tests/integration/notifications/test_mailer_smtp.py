"""The SMTP adapter against a real aiosmtpd server that requires STARTTLS and a login,
with a throw-away certificate made by the openssl command line tool."""
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import uuid
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifications import domain
from services.notifications.mailer import SmtpMailer, SmtpSessions, SmtpSettings

USER, PASSWORD = "khuyenhoc", "s3cret pass"

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl tool")


class Sink:
    def __init__(self):
        self.envelopes = []
        self.sessions = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.sessions.append(session.peer)  # one peer (client port) per SMTP session
        return "250 OK"


def authenticator(sink):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
        sink.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # let the server answer 235 or 535
    return check


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def server(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=authenticator(sink))
    controller.start()
    yield sink, port, str(cert)
    controller.stop()


SUBJECT = ("Chúc mừng Nguyễn Thị Hoa đạt danh hiệu Công dân học tập năm 2025 tại phường "
           "Long Xuyên")  # long enough to be folded into several encoded words
MESSAGE = domain.Message("hoa.nguyen@example.org", SUBJECT, "Kính gửi", "<p>Kính gửi</p>")


def test_starttls_and_login_when_configured(server):
    sink, port, ca_file = server
    settings = SmtpSettings.from_config({
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_USER": USER,
        "SMTP_PASSWORD": PASSWORD, "SMTP_STARTTLS": True, "SMTP_CA_FILE": ca_file,
        "MAIL_FROM": "Hội Khuyến học <khuyenhoc@example.org>", "SMTP_TIMEOUT": 5})
    delivery_id = uuid.uuid4()
    assert SmtpMailer(settings).send(MESSAGE, delivery_id) == f"<{delivery_id}@example.org>"
    assert sink.logins == [(USER, True)]
    [envelope] = sink.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == \
        ("khuyenhoc@example.org", ["hoa.nguyen@example.org"])
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == SUBJECT


def test_an_untrusted_certificate_is_refused(server):
    _, port, _ = server
    settings = SmtpSettings(host="127.0.0.1", port=port, user=USER, password=PASSWORD,
                            starttls=True, timeout=5)  # system trust store only
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        SmtpMailer(settings).send(MESSAGE, uuid.uuid4())
    assert domain.classify_smtp_error(caught.value) == domain.TRANSIENT


def test_a_wrong_password_is_a_configuration_problem_not_a_bounce(server):
    sink, port, ca_file = server
    settings = SmtpSettings(host="127.0.0.1", port=port, user=USER, password="wrong",
                            starttls=True, ca_file=ca_file, timeout=5)
    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        SmtpMailer(settings).send(MESSAGE, uuid.uuid4())
    assert caught.value.smtp_code == 535
    assert domain.classify_smtp_error(caught.value) == domain.TRANSIENT
    assert sink.envelopes == []


def test_no_starttls_where_the_relay_requires_it(server):
    sink, port, _ = server
    settings = SmtpSettings(host="127.0.0.1", port=port, timeout=5)  # no TLS, no login
    with pytest.raises(smtplib.SMTPResponseException) as caught:
        SmtpMailer(settings).send(MESSAGE, uuid.uuid4())
    assert caught.value.smtp_code == 530
    assert domain.classify_smtp_error(caught.value) == domain.TRANSIENT
    assert sink.envelopes == [] and sink.logins == []


def test_a_kept_session_carries_the_next_messages_with_one_login(server):
    sink, port, ca_file = server
    settings = SmtpSettings(host="127.0.0.1", port=port, user=USER, password=PASSWORD,
                            starttls=True, ca_file=ca_file, timeout=5)
    sessions = SmtpSessions(settings, keep_seconds=30)
    for _ in range(3):
        SmtpMailer(settings, sessions).send(MESSAGE, uuid.uuid4())
    sessions.close()
    assert len(sink.envelopes) == 3
    assert len(set(sink.sessions)) == 1 and sink.logins == [(USER, True)]


def test_a_session_the_relay_has_closed_is_replaced_without_losing_the_message():
    sink = Sink()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port, timeout=0.3)  # idle: closed
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, timeout=5)
        sessions = SmtpSessions(settings, keep_seconds=30)
        SmtpMailer(settings, sessions).send(MESSAGE, uuid.uuid4())
        time.sleep(1.0)  # the relay ends the idle session; the NOOP finds out
        SmtpMailer(settings, sessions).send(MESSAGE, uuid.uuid4())
        sessions.close()
    finally:
        controller.stop()
    assert len(sink.envelopes) == 2 and len(set(sink.sessions)) == 2
