"""Messages of every rule in both languages, SMS composition, addresses per channel, and the
SMS gateway adapter's settings and request body: no network."""
import uuid

import pytest

from services.notifications import domain, rules
from services.notifications.domain import Sms, Templates
from services.notifications.gateway import HttpSmsGateway, SmsSettings, parse_fields

CONTACT = {"person_id": "p", "full_name": "Nguyễn Thị Hoa", "email": "hoa@example.org",
           "phone": "0912345678", "language": "vi"}
REFUSED = {"assessment_id": str(uuid.uuid4()), "person_id": "p", "year": 2025,
           "criteria_version": "324/QĐ-KHVN", "total_score": 72,
           "reasons": ["tổng điểm dưới 80", "TC2.2 dưới 5"], "unit_code": "AG.LX",
           "unit_path": ["AG", "AG.LX"]}
ITEMS = [
    {"event_id": "e2", "event_type": "target_at_risk", "occurred_at": "2025-07-01T03:00:00+00:00",
     "data": {"indicator": "titled_with_digital_skills", "unit_code": "AG.LX", "year": 2025,
              "target_year": 2025, "numerator": 5, "denominator": 10, "share": 0.5,
              "target": 0.7, "warning_line": 0.6}},
    {"event_id": "e1", "event_type": "target_reached", "occurred_at": "2025-07-01T01:00:00+00:00",
     "data": {"indicator": "adults_titled", "unit_code": "AG.LX", "year": 2025,
              "target_year": 2030, "numerator": 61, "denominator": 100, "share": 0.61,
              "target": 0.6}},
]
PROGRESS = {"unit_code": "AG", "year": 2025, "indicators": {
    "titled_with_digital_skills": {"numerator": 7, "denominator": 10, "share": 0.7,
                                   "targets": {"2025": 0.7, "2030": 0.9}},
    "adults_titled": {"numerator": 3, "denominator": 10, "share": 0.3,
                      "targets": {"2025": 0.4, "2030": 0.6}},
    "some_new_indicator": {"numerator": 1, "denominator": 2, "share": 0.5, "targets": {}}}}


def test_every_rule_has_its_templates_in_both_languages():
    table = rules.load_rules()
    templates = Templates()
    for rule in (*table.events.values(), *table.schedules.values()):
        for language in domain.LANGUAGES:
            assert templates.has(rule.template, language), (rule.template, language)
            if "sms" in rule.channels:
                assert templates.has(rule.template, language, domain.SMS_PARTS), rule.template


@pytest.mark.parametrize("language, subject, line", [
    ("vi", "Kết quả xét công nhận danh hiệu Công dân học tập năm 2025", "  - TC2.2 dưới 5"),
    ("en", "Your Learning Citizen assessment for 2025: not recognised this time",
     "  - TC2.2 dưới 5"),
])
def test_refusal_lists_the_reasons(language, subject, line):
    message, used = domain.compose_email("recognition_refused", REFUSED,
                                         CONTACT | {"language": language})
    assert used == language and message.subject == subject
    assert line in message.text and "72/100" in message.text
    assert "<li>tổng điểm dưới 80</li>" in message.html


def test_the_digest_lists_every_change_oldest_first_in_the_recipients_language():
    data = {"day": "2025-07-01", "items": ITEMS}
    vi, _ = domain.compose_email("target_digest", data, CONTACT)
    assert vi.subject == "Tiến độ các chỉ tiêu Công dân học tập ngày 2025-07-01: 2 thay đổi"
    first = vi.text.index("Người lớn đạt danh hiệu")
    second = vi.text.index("Người đạt danh hiệu có kỹ năng số")
    assert first < second
    assert "61,0% (61/100), ĐÃ ĐẠT chỉ tiêu 60,0% của năm 2030" in vi.text
    assert "CÓ NGUY CƠ không đạt chỉ tiêu 70,0% của năm 2025 (dưới ngưỡng cảnh báo 60,0%)" \
        in vi.text
    en, _ = domain.compose_email("target_digest", data, CONTACT | {"language": "en"})
    assert en.subject == "Learning Citizen targets on 2025-07-01: 2 changes"
    assert "REACHED the 2030 target of 60.0%" in en.text


def test_the_weekly_summary_in_programme_order_with_unknown_indicators_last():
    rows = domain.summary_view(PROGRESS, "en")
    assert [r["indicator"] for r in rows] == ["adults_titled", "titled_with_digital_skills",
                                              "some_new_indicator"]
    assert rows[0]["targets"] == [{"year": "2025", "target": "40.0%", "reached": False},
                                  {"year": "2030", "target": "60.0%", "reached": False}]
    assert rows[1]["targets"][0]["reached"] is True
    assert rows[2]["label"] == "some_new_indicator"
    data = {"province": "AG", "week": "2025-W28", "year": 2025, "progress": PROGRESS}
    message, _ = domain.compose_email("weekly_summary", data, CONTACT)
    assert "Người lớn đạt danh hiệu Công dân học tập: 30,0% (3/10); chỉ tiêu 2025: 40,0% " \
           "(chưa đạt)" in message.text
    empty, _ = domain.compose_email("weekly_summary", data | {"progress": None},
                                    CONTACT | {"language": "en"})
    assert "No figures yet." in empty.text


def test_sms_is_folded_and_fitted_for_the_gateway():
    sms, language = domain.compose_sms("recognition_refused", REFUSED, CONTACT,
                                       gsm7_only=True, max_parts=1)
    assert language == "vi" and sms.to == "+84912345678"
    assert sms.text.startswith("Hoi Khuyen hoc: ban tu danh gia nam 2025 cua Nguyen Thi Hoa")
    assert len(sms.text) <= 160
    unicode_sms, _ = domain.compose_sms("recognition_refused", REFUSED, CONTACT,
                                        gsm7_only=False, max_parts=3)
    assert "Nguyễn Thị Hoa" in unicode_sms.text and unicode_sms.text.endswith("TC2.2 dưới 5")
    assert "0912345678" not in repr(sms) and "***78" in repr(sms)


@pytest.mark.parametrize("contact, channel, reason", [
    (None, "sms", "no contact"),
    (CONTACT | {"phone": None}, "sms", "no phone number on record"),
    (CONTACT | {"phone": "  "}, "sms", "no phone number on record"),
    (CONTACT | {"phone": "12"}, "sms", "phone number on record is malformed"),
    (CONTACT, "sms", None),
    (CONTACT | {"email": None}, "email", "no email address on record"),
    (CONTACT, "email", None),
])
def test_missing_address_reason(contact, channel, reason):
    found = domain.missing_address_reason(contact, channel)
    assert (found is None) if reason is None else found.startswith(reason)


def test_masked_address():
    assert domain.masked_address(CONTACT, "email") == "h***@example.org"
    assert domain.masked_address(CONTACT, "sms") == "***78"
    assert domain.masked_address(None, "sms") is None


@pytest.mark.parametrize("share, language, text", [
    (0.625, "vi", "62,5%"), (0.625, "en", "62.5%"), (1, "vi", "100,0%"), (None, "en", None),
])
def test_percent(share, language, text):
    assert domain.percent(share, language) == text


# -- the SMS gateway adapter ---------------------------------------------------------------------
def test_settings_from_config_and_secrets_kept_out_of_repr():
    settings = SmsSettings.from_config({
        "SMS_GATEWAY_URL": "https://sms.example.vn/send?key=abc123", "SMS_GATEWAY_USER": None,
        "SMS_GATEWAY_PASSWORD": None, "SMS_GATEWAY_TOKEN": "tok-secret",
        "SMS_BODY_FORMAT": "FORM", "SMS_BODY_FIELDS": "to=Phone, text=Content",
        "SMS_SENDER": "KHUYENHOC", "SMS_GSM7": "false", "SMS_MAX_PARTS": "3",
        "SMS_TIMEOUT": 5})
    settings.check()
    assert (settings.enabled, settings.body_format, settings.gsm7_only, settings.max_parts,
            settings.user) == (True, "form", False, 3, "")
    assert settings.fields == {"to": "Phone", "text": "Content", "sender": "sender",
                               "reference": "reference"}
    assert "abc123" not in repr(settings) and "tok-secret" not in repr(settings)
    assert SmsSettings.from_config({}).enabled is False


@pytest.mark.parametrize("config, problem", [
    ({"SMS_GATEWAY_URL": "sms.example.vn"}, "http"),
    ({"SMS_GATEWAY_URL": "http://sms.example.vn/send"}, "must be https://"),
    ({"SMS_GATEWAY_URL": "https://x", "SMS_BODY_FORMAT": "xml"}, "json or form"),
    ({"SMS_GATEWAY_URL": "https://x", "SMS_GATEWAY_PASSWORD": "p"}, "USER is empty"),
    ({"SMS_GATEWAY_URL": "https://x", "SMS_MAX_PARTS": 11}, "SMS_MAX_PARTS"),
])
def test_settings_that_would_fail_every_send_are_refused(config, problem):
    with pytest.raises(ValueError, match=problem):
        SmsSettings.from_config(config).check()


@pytest.mark.parametrize("config", [
    {"SMS_GATEWAY_URL": "https://sms.example.vn/send"},
    {"SMS_GATEWAY_URL": "http://127.0.0.1:8085/send"},       # a gateway on this machine
    {"SMS_GATEWAY_URL": "http://sms-relay:8080/send", "SMS_GATEWAY_ALLOW_HTTP": "true"},
])
def test_plain_http_only_to_this_machine_or_when_allowed(config):
    SmsSettings.from_config(config).check()


def test_settings_without_a_url_are_not_checked():
    SmsSettings.from_config({"SMS_BODY_FORMAT": "xml"}).check()


@pytest.mark.parametrize("value", ["to", "phone=x", "to=", "to=a,,text"])
def test_bad_field_mappings(value):
    with pytest.raises(ValueError, match="SMS_BODY_FIELDS"):
        parse_fields(value)


def test_request_body_uses_the_configured_field_names():
    settings = SmsSettings(url="https://x", fields=parse_fields("to=Phone,text=Content,"
                                                                "reference=RequestId"),
                           sender="KHUYENHOC")
    body = HttpSmsGateway(settings).body(Sms("+84912345678", "Xin chao"), "d-1")
    assert body == {"Phone": "+84912345678", "Content": "Xin chao", "RequestId": "d-1",
                    "sender": "KHUYENHOC"}
    no_sender = HttpSmsGateway(SmsSettings(url="https://x")).body(Sms("+8491", "t"), "d")
    assert no_sender == {"to": "+8491", "text": "t", "reference": "d"}
