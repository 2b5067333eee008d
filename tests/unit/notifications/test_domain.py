"""The notification rules, without RabbitMQ, a database or an SMTP server."""
import smtplib
import socket
import unicodedata
import uuid

import pytest
from jinja2 import TemplateNotFound

from services.notifications import domain
from services.notifications.domain import PERMANENT, TRANSIENT, Message, Templates

EVENT = {"recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
         "person_id": uuid.uuid4(), "target_group": "resident", "year": 2025,
         "criteria_version": "324/QĐ-KHVN", "total_score": 87, "digital_skills": "basic",
         "unit_code": "AG-LX", "unit_path": ["AG", "AG-LX"]}


def contact(**overrides):
    return {"person_id": str(EVENT["person_id"]), "full_name": "Nguyễn Thị Hoa",
            "email": "hoa.nguyen@example.org", "phone": None, "language": "vi"} | overrides


@pytest.fixture
def only_vi(tmp_path):
    """A template directory with the Vietnamese variant only."""
    for part in domain.PARTS:
        source = domain.TEMPLATES_DIR / Templates.filename("recognition_granted", "vi", part)
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return Templates(tmp_path)


# -- template and language ---------------------------------------------------------------------
@pytest.mark.parametrize("language, expected", [
    ("vi", "vi"), ("en", "en"), ("EN", "en"), (" en ", "en"), (None, "vi"), ("", "vi"),
    ("fr", "vi"), ("english", "en"),
])
def test_language_comes_from_the_contact_with_vietnamese_as_default(language, expected):
    assert domain.choose_template("recognition_granted", contact(language=language)) == \
        ("recognition_granted", expected)


def test_contact_without_a_language_key_gets_vietnamese():
    c = contact()
    del c["language"]
    assert domain.choose_template("recognition_granted", c) == ("recognition_granted", "vi")


def test_missing_variant_falls_back_to_vietnamese(only_vi):
    assert only_vi.has("recognition_granted", "vi")
    assert not only_vi.has("recognition_granted", "en")
    assert domain.choose_template("recognition_granted", contact(language="en"), only_vi) == \
        ("recognition_granted", "vi")
    message, template, language = domain.compose("recognition_granted", EVENT,
                                                  contact(language="en"), only_vi)
    assert language == "vi" and message.subject.startswith("Chúc mừng")


def test_a_variant_missing_one_part_counts_as_missing(only_vi, tmp_path):
    (tmp_path / "recognition_granted.en.subject.j2").write_text("Hi {{ full_name }}")
    assert not only_vi.has("recognition_granted", "en")
    assert domain.choose_template("recognition_granted", contact(language="en"), only_vi)[1] == "vi"


def test_no_vietnamese_variant_either_is_an_error(tmp_path):
    with pytest.raises(TemplateNotFound):
        domain.choose_template("recognition_granted", contact(), Templates(tmp_path))


def test_every_shipped_template_exists_in_both_languages():
    templates = Templates()
    for template in domain.TEMPLATE_FOR_EVENT.values():
        for language in domain.LANGUAGES:
            assert templates.has(template, language), (template, language)


def test_an_event_without_a_notification_is_refused():
    with pytest.raises(KeyError):
        domain.choose_template("statistics_updated", contact())


# -- rendering ---------------------------------------------------------------------------------
def test_vietnamese_message():
    message, template, language = domain.compose("recognition_granted", EVENT, contact())
    assert (template, language) == ("recognition_granted", "vi")
    assert message.to == "hoa.nguyen@example.org"
    assert message.subject == \
        "Chúc mừng Nguyễn Thị Hoa đạt danh hiệu Công dân học tập năm 2025"
    for body in (message.text, message.html):
        assert "Nguyễn Thị Hoa" in body
        assert "Công dân học tập" in body
        assert "2025" in body
        assert "87/100" in body
        assert "Hội Khuyến học" in body
        assert unicodedata.is_normalized("NFC", body)
    assert message.text.rstrip().endswith("xin vui lòng không trả lời.")
    assert '<html lang="vi">' in message.html


def test_english_message():
    message, _, language = domain.compose("recognition_granted", EVENT,
                                          contact(language="en", full_name="Trần Văn Bình"))
    assert language == "en"
    assert message.subject == "Congratulations, Trần Văn Bình: Learning Citizen of 2025"
    assert "Dear Trần Văn Bình," in message.text
    assert "87/100" in message.text and "2025" in message.text
    assert "Hội Khuyến học" in message.text
    assert '<html lang="en">' in message.html


def test_decomposed_names_are_rendered_composed():
    decomposed = unicodedata.normalize("NFD", "Lê  Thị   Ánh")
    assert decomposed != "Lê Thị Ánh"
    message, _, _ = domain.compose("recognition_granted", EVENT, contact(full_name=decomposed))
    assert "Lê Thị Ánh" in message.subject and "Lê Thị Ánh" in message.text


def test_html_is_escaped_and_text_is_not():
    message, _, _ = domain.compose("recognition_granted", EVENT,
                                   contact(full_name='<b onclick="x()">Lê & Co</b>'))
    assert "&lt;b onclick=&#34;x()&#34;&gt;Lê &amp; Co&lt;/b&gt;" in message.html
    assert "<b onclick" not in message.html
    assert '<b onclick="x()">Lê & Co</b>' in message.text
    assert "Lê & Co" in message.subject


def test_subject_is_one_line_whatever_the_name():
    message, _, _ = domain.compose("recognition_granted", EVENT,
                                   contact(full_name="Hoa\r\nBcc: evil@example.org"))
    assert "\n" not in message.subject and "\r" not in message.subject


def test_a_missing_variable_is_an_error_not_a_blank(tmp_path):
    for part in domain.PARTS:
        (tmp_path / Templates.filename("recognition_granted", "vi", part)).write_text(
            "{{ nickname }}", encoding="utf-8")
    with pytest.raises(Exception, match="nickname"):
        domain.compose("recognition_granted", EVENT, contact(), Templates(tmp_path))


# -- contacts and personal data ---------------------------------------------------------------
@pytest.mark.parametrize("given, reason", [
    (None, "no contact"), ({}, "no contact"),
    (contact(email=None), "no email"), (contact(email="  "), "no email"),
    (contact(email="hoa"), "email address on record is malformed"),
    (contact(email="hoa@example.org\r\nBcc: x@example.org"), "email address on record"),
    (contact(email="hoa@@example.org"), "email address on record is malformed"),
    (contact(email="Hoa <hoa@example.org>"), "email address on record is malformed"),
    (contact(), None), (contact(email=" hoa@example.org "), None),
    (contact(email="hoà@ví-dụ.vn"), None),
])
def test_missing_contact_reason(given, reason):
    found = domain.missing_contact_reason(given)
    assert (found is None) if reason is None else found.startswith(reason)


@pytest.mark.parametrize("address, masked", [
    ("nguyen@example.org", "n***@example.org"), ("x@y.vn", "x***@y.vn"),
    ("", ""), (None, ""), ("not-an-address", "***"),
])
def test_mask_email(address, masked):
    assert domain.mask_email(address) == masked


def test_redact_masks_every_address_in_a_text():
    text = "550 5.1.1 <hoa.nguyen@example.org>: unknown; cc binh@mail.example.vn too"
    assert domain.redact(text) == \
        "550 5.1.1 <h***@example.org>: unknown; cc b***@mail.example.vn too"


def test_message_repr_hides_the_address():
    message = Message("hoa.nguyen@example.org", "S", "t", "h")
    assert "hoa.nguyen" not in repr(message) and "h***@example.org" in repr(message)


# -- SMTP errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("code, kind", [
    (421, TRANSIENT), (450, TRANSIENT), (451, TRANSIENT), (452, TRANSIENT),
    (550, PERMANENT), (551, PERMANENT), (553, PERMANENT), (554, PERMANENT),
    (None, TRANSIENT), ("x", TRANSIENT), (-1, TRANSIENT),
])
def test_classify_smtp_code(code, kind):
    assert domain.classify_smtp_code(code) == kind


@pytest.mark.parametrize("exc, kind", [
    (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"5.1.1 no such user")}), PERMANENT),
    (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"4.2.0 greylisted")}), TRANSIENT),
    (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no"),
                                    "b@example.org": (451, b"later")}), TRANSIENT),
    (smtplib.SMTPRecipientsRefused({}), TRANSIENT),
    (smtplib.SMTPDataError(554, b"5.7.1 message rejected"), PERMANENT),
    (smtplib.SMTPDataError(451, b"4.3.0 try again"), TRANSIENT),
    (smtplib.SMTPSenderRefused(553, b"sender not allowed", "kh@example.org"), PERMANENT),
    (smtplib.SMTPSenderRefused(421, b"too busy", "kh@example.org"), TRANSIENT),
    (smtplib.SMTPResponseException(552, b"too big"), PERMANENT),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TRANSIENT),
    (smtplib.SMTPConnectError(554, b"no SMTP service here"), TRANSIENT),
    (smtplib.SMTPHeloError(501, b"bad helo"), TRANSIENT),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), TRANSIENT),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), TRANSIENT),
    (ConnectionRefusedError(111, "Connection refused"), TRANSIENT),
    (ConnectionResetError(104, "reset"), TRANSIENT),
    (socket.timeout("timed out"), TRANSIENT),
    (socket.gaierror(-2, "Name or service not known"), TRANSIENT),
    (OSError(101, "Network is unreachable"), TRANSIENT),
])
def test_classify_smtp_error(exc, kind):
    assert domain.classify_smtp_error(exc) == kind


def test_describe_smtp_error_masks_the_address():
    exc = smtplib.SMTPRecipientsRefused(
        {"hoa.nguyen@example.org": (550, b"5.1.1 <hoa.nguyen@example.org>: User unknown")})
    reason = domain.describe_smtp_error(exc)
    assert reason == "recipient refused: 550 5.1.1 <h***@example.org>: User unknown"
    assert "hoa.nguyen" not in reason
    assert domain.describe_smtp_error(smtplib.SMTPDataError(554, b"rejected\r\nby policy")) == \
        "SMTPDataError: 554 rejected by policy"
    assert domain.describe_smtp_error(ConnectionRefusedError(111, "Connection refused")) == \
        "ConnectionRefusedError: [Errno 111] Connection refused"
