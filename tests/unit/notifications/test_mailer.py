"""The SMTP adapter's pure parts: settings from config and the MIME message."""
import uuid
from email import message_from_bytes, policy

import pytest

from services.notifications.domain import Message
from services.notifications.mailer import SmtpSettings, as_bool, build_email, message_id


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (None, False), ("", False), ("true", True), ("TRUE", True),
    ("yes", True), ("on", True), ("1", True), (1, True), (0, False), ("false", False),
    ("no", False), ("off", False),
])
def test_as_bool(value, expected):
    assert as_bool(value) is expected


def test_settings_from_yaml_values():
    # what nameko's parser makes of ${SMTP_USER:} (None), digits (int), true (bool)
    settings = SmtpSettings.from_config({
        "SMTP_HOST": "smtp.example.org", "SMTP_PORT": "587", "SMTP_USER": None,
        "SMTP_PASSWORD": 12345, "SMTP_STARTTLS": "yes",
        "MAIL_FROM": "Hội Khuyến học <khuyenhoc@example.org>"})
    assert (settings.host, settings.port, settings.user, settings.password, settings.starttls) \
        == ("smtp.example.org", 587, "", "12345", True)
    assert settings.sender == "khuyenhoc@example.org"
    assert "12345" not in repr(settings)


def test_settings_defaults():
    settings = SmtpSettings.from_config({})
    assert (settings.host, settings.port, settings.user, settings.starttls) == \
        ("127.0.0.1", 25, "", False)


def test_message_id_is_derived_from_the_delivery():
    delivery_id = uuid.UUID("0b6f3c1e-8a4d-4e53-9d0c-6f1f6b7a2c11")
    assert message_id(delivery_id, "khuyenhoc@example.org") == \
        "<0b6f3c1e-8a4d-4e53-9d0c-6f1f6b7a2c11@example.org>"


def test_build_email_is_utf8_with_text_and_html():
    delivery_id = uuid.uuid4()
    settings = SmtpSettings(mail_from="Hội Khuyến học <khuyenhoc@example.org>")
    message = Message("hoa@example.org", "Chúc mừng Nguyễn Thị Hoa", "Kính gửi Ông/Bà",
                      "<p>Kính gửi</p>")
    raw = build_email(message, settings, delivery_id).as_bytes()
    raw.decode("ascii")  # headers encoded, bodies transfer-encoded: 7-bit clean on the wire
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Chúc mừng Nguyễn Thị Hoa"
    assert parsed["From"] == "Hội Khuyến học <khuyenhoc@example.org>"
    assert parsed["To"] == "hoa@example.org"
    assert parsed["Message-ID"] == f"<{delivery_id}@example.org>"
    assert parsed.get_body(("plain",)).get_content().strip() == "Kính gửi Ông/Bà"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Kính gửi</p>"


def test_build_email_writes_the_lines_the_relay_receives_as_the_email_package_reads_them():
    """Written directly (the email package's composition cost more than the rest of a send):
    CRLF lines under 998 bytes, 7-bit, read back as the email package reads its own."""
    settings = SmtpSettings(mail_from="Hội Khuyến học <khuyenhoc@example.org>")
    subject = "Tiến độ Công dân học tập: phường Long Xuyên đã đạt chỉ tiêu năm 2025 " * 2
    text = "Kính gửi Ông/Bà,\n" + "Dòng rất dài " * 20 + "  \n.\nFrom here\n"
    message = Message("hoa@example.org", subject.strip(), text, "<p>Kính gửi</p>\n")
    raw = build_email(message, settings, uuid.uuid4()).as_bytes()
    raw.decode("ascii")
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and max(map(len, lines)) < 998
    parsed = message_from_bytes(raw, policy=policy.default)
    assert not parsed.defects
    assert parsed["Subject"] == subject.strip()  # no space lost between words
    assert parsed["From"] == "Hội Khuyến học <khuyenhoc@example.org>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == text
    assert html.get_content().replace("\r\n", "\n") == "<p>Kính gửi</p>\n"
    assert (plain["Content-Transfer-Encoding"], plain.get_content_charset()) == (
        "quoted-printable", "utf-8")


@pytest.mark.parametrize("subject", [
    "Chúc mừng",
    "Tiến độ Công dân học tập: phường Long Xuyên đã đạt chỉ tiêu năm 2025 " * 3,
    "ổ" * 40 + " 😀 " + "a" * 30,  # three- and four-byte characters across word boundaries
])
def test_a_non_ascii_subject_is_rfc_2047_words_of_at_most_75_on_lines_of_at_most_78(subject):
    """Mail clients may refuse or garble an encoded word over 75 characters; every character,
    spaces included, must come back as it was sent."""
    message = Message("hoa@example.org", subject, "x\n", "<p>x</p>\n")
    raw = build_email(message, SmtpSettings(), uuid.uuid4()).as_bytes()
    lines = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("Subject: "))
    last = next(i for i in range(first + 1, len(lines)) if not lines[i].startswith(" "))
    words = " ".join(lines[first:last])[len("Subject: "):].split()
    assert all(w.startswith("=?utf-8?b?") and len(w) <= 75 for w in words)
    assert all(len(line) <= 78 for line in lines[first:last])
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject


@pytest.mark.parametrize("field", ["subject", "to"])
def test_a_line_break_in_a_header_is_refused_not_sent(field):
    values = {"to": "hoa@example.org", "subject": "Chúc mừng", "text": "x", "html": "x"}
    values[field] += "\r\nBcc: someone@example.org"
    with pytest.raises(ValueError):
        build_email(Message(**values), SmtpSettings(), uuid.uuid4()).as_bytes()


@pytest.mark.parametrize("config, problem", [
    ({"SMTP_USER": "khuyenhoc", "SMTP_PASSWORD": "mật khẩu"}, "must be ASCII"),
    ({"SMTP_USER": "", "SMTP_PASSWORD": "secret"}, "SMTP_USER is empty"),
    ({"MAIL_FROM": "Hội Khuyến học"}, "must contain an email address"),
])
def test_settings_that_would_fail_every_send_are_refused(config, problem):
    with pytest.raises(ValueError, match=problem):
        SmtpSettings.from_config(config).check()


def test_good_settings_pass_the_check():
    SmtpSettings.from_config({"SMTP_USER": "kh", "SMTP_PASSWORD": "s3cret",
                              "MAIL_FROM": "Hội Khuyến học <kh@example.org>"}).check()
    SmtpSettings.from_config({}).check()
