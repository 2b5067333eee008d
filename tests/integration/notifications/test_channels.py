"""Email and SMS end to end: the real registry (contacts), the notifications service, an
aiosmtpd server and an HTTP SMS gateway started here; events published on RabbitMQ as the
assessment service's relay publishes them."""
import uuid

import eventlet
import pytest

from cdht.contracts import make_envelope
from tests.integration.notifications.helpers import (
    citizen, deliveries, event, finished, outbox_events, service_log,
)
from tests.support import wait_for

PHONE = "0912345678"


TOTAL_72 = {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
            "minimum": 80, "total": 72, "note": None}
TC22_4 = {"kind": "indicator_below", "indicator": "TC2.2", "score": 4, "maximum": 10,
          "minimum": 5, "total": None, "note": None}


def refused(person_id, unit="AG.LX", reasons=(TOTAL_72, TC22_4), version=2):
    """recognition_refused as assessment publishes it: version 2, reasons as data (version
    1, beside it, carries them as sentences)."""
    if version == 1:
        reasons = ["total 72 is under 80", "TC2.2: 4/10, under the minimum 5"]
    return make_envelope("recognition_refused", {
        "assessment_id": uuid.uuid4(), "person_id": person_id, "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 72, "reasons": list(reasons),
        "unit_code": unit, "unit_path": ["AG", unit]}, producer="assessment",
        schema_version=version, correlation_id=str(uuid.uuid4()))


def test_a_closings_refusals_tell_each_citizen_their_own_reasons_in_their_language(
        registry, notifications, mail, publish, engine):
    """A closing's recognitions_refused: one mail per person, as a recognition_refused."""
    notifications()
    lan, lan_email = citizen(registry, language="vi", full_name="Trần Thị Lan")
    minh, minh_email = citizen(registry, language="en", full_name="Lê Văn Minh")
    refusals = [refused(lan).data, refused(minh, reasons=(TOTAL_72,)).data]
    envelope = make_envelope("recognitions_refused", {
        "closing_id": uuid.uuid4(), "refusals": refusals}, producer="assessment")
    publish("assessment", envelope.to_message())

    rows = wait_for(finished(engine, count=2), message="the two deliveries")
    assert {(str(r["person_id"]), r["status"], r["language"], r["rule"], r["source_event_id"])
            for r in rows} == {(lan, "sent", "vi", "recognition_refused", envelope.event_id),
                               (minh, "sent", "en", "recognition_refused", envelope.event_id)}
    by_address = {m["To"]: m.get_body(("plain",)).get_content() for m in mail.messages()}
    assert "Kính gửi Ông/Bà Trần Thị Lan" in by_address[lan_email]
    assert "Chỉ số 2.2 (Ngoại ngữ) đạt 4/10" in by_address[lan_email]
    assert "Dear Lê Văn Minh" in by_address[minh_email]
    assert "Total 72 is under the required 80" in by_address[minh_email]
    assert "Indicator 2.2" not in by_address[minh_email]


def granted(person_id, unit="AG.LX"):
    return event("recognition_granted", "assessment", recognition_id=uuid.uuid4(),
                 assessment_id=uuid.uuid4(), person_id=person_id, target_group="resident",
                 year=2025, criteria_version="324/QĐ-KHVN", total_score=88,
                 digital_skills="basic", unit_code=unit, unit_path=["AG", unit])


@pytest.mark.parametrize("language, subject, greeting, reason_line", [
    ("vi", "Kết quả xét công nhận danh hiệu Công dân học tập năm 2025",
     "Kính gửi Ông/Bà Trần Thị Lan",
     "  - Chỉ số 2.2 (Ngoại ngữ) đạt 4/10, dưới mức tối thiểu 5"),
    ("en", "Your Learning Citizen assessment for 2025: not recognised this time",
     "Dear Trần Thị Lan",
     "  - Indicator 2.2 (foreign language) scored 4/10, under the minimum of 5"),
])
def test_a_refusal_tells_the_citizen_why_in_their_language(
        registry, notifications, mail, publish, engine, caplog, language, subject, greeting,
        reason_line):
    notifications()
    person_id, email = citizen(registry, language=language, full_name="Trần Thị Lan")
    envelope = refused(person_id)
    publish("assessment", refused(person_id, version=1).to_message())  # acked, not handled
    publish("assessment", envelope.to_message())

    [delivery] = wait_for(finished(engine), message="the delivery")
    assert (delivery["status"], delivery["channel"], delivery["language"],
            delivery["template"], delivery["category"]) == \
        ("sent", "email", language, "recognition_refused", "recognition_decisions")
    [mail_message] = mail.messages()
    assert mail.envelopes[0].rcpt_tos == [email]
    assert mail_message["Subject"] == subject
    text = mail_message.get_body(("plain",)).get_content()
    assert greeting in text and reason_line in text and "72/100" in text
    total = {"vi": "Tổng điểm 72, chưa đạt mức 80 điểm",
             "en": "Total 72 is under the required 80"}[language]
    assert f"<li>{total}</li>" in mail_message.get_body(("html",)).get_content()
    assert "Hội Khuyến học phường Long Xuyên" in text
    [(kind, data)] = outbox_events(engine)
    assert kind == "notification_sent" and data["source_event_id"] == str(envelope.event_id)
    assert email not in service_log(caplog)


def test_a_gateway_that_fails_twice_then_works_sends_one_sms(
        registry, notifications, mail, gateway, publish, engine, caplog):
    notifications()
    gateway.fail_next = 2
    person_id, _ = citizen(registry, email=None, phone=PHONE, full_name="Nguyễn Thị Hoà")
    envelope = granted(person_id)
    publish("assessment", envelope.to_message())

    rows = wait_for(finished(engine, count=2), message="both deliveries")
    email, sms = sorted(rows, key=lambda r: r["channel"])
    assert (email["channel"], email["status"], email["last_error"], email["attempts"]) == \
        ("email", "failed", "no email address on record", 0)
    assert (sms["channel"], sms["status"], sms["attempts"], sms["address_masked"]) == \
        ("sms", "sent", 3, "***78")
    assert len(gateway.requests) == 3
    [body] = gateway.sent
    assert body["to"] == "+84912345678"
    assert body["sender"] == "KHUYENHOC"
    assert body["reference"] == str(sms["id"])
    # folded to GSM-7 for the gateway: no diacritics left, within two SMS
    assert body["text"] == ("Hoi Khuyen hoc phuong Long Xuyen chuc mung Nguyen Thi Hoa dat "
                            "danh hieu Cong dan hoc tap nam 2025 (88/100 diem).")
    assert mail.envelopes == []
    assert [kind for kind, _ in outbox_events(engine)] == ["notification_failed",
                                                           "notification_sent"]
    assert outbox_events(engine)[1][1]["channel"] == "sms"
    logged = service_log(caplog)
    assert "attempt 1 failed: SMS gateway answered 503" in logged
    assert PHONE not in logged and "912345678" not in logged
    assert "gateway-secret-pw" not in logged


def test_a_gateway_that_always_fails_is_recorded_and_announced_without_a_retry_storm(
        registry, notifications, gateway, publish, engine):
    notifications()
    gateway.always_fail = True
    person_id, _ = citizen(registry, email=None, phone=PHONE)
    envelope = refused(person_id)
    publish("assessment", envelope.to_message())

    wait_for(lambda: [r for r in deliveries(engine, channel="sms")
                             if r["status"] == "failed"], message="the SMS to give up")
    [sms] = deliveries(engine, channel="sms")
    assert sms["attempts"] == 4  # SEND_MAX_ATTEMPTS
    assert sms["last_error"] == "gave up after 4 attempts: SMS gateway answered 503 " \
                                "Service Unavailable"
    failed = [data for kind, data in outbox_events(engine) if kind == "notification_failed"]
    assert [(d["channel"], d["attempts"]) for d in failed] == [("email", 0), ("sms", 4)]
    assert failed[1]["reason"] == sms["last_error"]
    assert failed[1]["source_event_id"] == str(envelope.event_id)
    # longer than the whole retry schedule again: not one request more
    eventlet.sleep(2.0)
    assert len(gateway.requests) == 4
    assert deliveries(engine, channel="sms")[0]["attempts"] == 4


def test_a_gateway_refusing_the_number_fails_at_once(
        registry, notifications, gateway, publish, engine):
    notifications()
    gateway.always_fail, gateway.fail_status = True, 400
    person_id, _ = citizen(registry, email=None, phone=PHONE)
    publish("assessment", refused(person_id).to_message())
    wait_for(finished(engine, count=2), message="both deliveries")
    [sms] = deliveries(engine, channel="sms")
    assert (sms["status"], sms["attempts"], sms["last_error"]) == \
        ("failed", 1, "SMS gateway answered 400 Bad Request")
    assert len(gateway.requests) == 1


def test_email_refused_for_good_falls_back_to_sms(
        registry, notifications, mail, gateway, publish, engine):
    notifications()
    mail.refuse = "550 5.1.1 Recipient address rejected"
    person_id, _ = citizen(registry, phone="+84987654321", language="en",
                           full_name="Lê Văn Bình")
    envelope = granted(person_id)
    publish("assessment", envelope.to_message())

    rows = wait_for(finished(engine, count=2), message="both deliveries")
    email, sms = sorted(rows, key=lambda r: r["channel"])
    assert (email["status"], email["attempts"]) == ("failed", 1)
    assert email["last_error"].startswith("recipient refused: 550")
    assert (sms["status"], sms["attempts"], sms["language"]) == ("sent", 1, "en")
    [body] = gateway.sent
    assert body["to"] == "+84987654321"
    assert body["text"] == ("Hoi Khuyen hoc phuong Long Xuyen congratulates Le Van Binh: "
                            "Learning Citizen of 2025 (88/100 points).")
    assert mail.envelopes == []
    assert [(kind, data["channel"]) for kind, data in outbox_events(engine)] == \
        [("notification_failed", "email"), ("notification_sent", "sms")]


def test_no_fallback_without_a_phone_or_when_email_works(
        registry, notifications, mail, gateway, publish, engine):
    notifications()
    with_phone, _ = citizen(registry, phone=PHONE)
    refused_no_phone, _ = citizen(registry)
    mail.refuse = None
    publish("assessment", granted(with_phone).to_message())
    wait_for(finished(engine, person_id=uuid.UUID(with_phone)), message="the mail")
    mail.refuse = "550 5.1.1 Recipient address rejected"
    publish("assessment", granted(refused_no_phone).to_message())
    wait_for(finished(engine, person_id=uuid.UUID(refused_no_phone)),
                    message="the refusal")
    eventlet.sleep(0.5)
    assert [(r["channel"], r["status"]) for r in deliveries(engine)] == \
        [("email", "sent"), ("email", "failed")]
    assert gateway.requests == []


def test_a_duplicate_event_sends_one_sms(registry, notifications, gateway, publish, engine):
    notifications()
    person_id, _ = citizen(registry, email=None, phone=PHONE)
    envelope = granted(person_id)
    for _ in range(3):
        publish("assessment", envelope.to_message())
    wait_for(finished(engine, count=2), message="the deliveries")
    eventlet.sleep(1.0)
    assert len(gateway.sent) == 1
    assert len(deliveries(engine)) == 2
    assert [kind for kind, _ in outbox_events(engine)] == ["notification_failed",
                                                           "notification_sent"]


def test_an_opted_out_recipient_gets_nothing_unless_the_category_is_mandatory(
        registry, notifications, mail, gateway, publish, engine):
    http, _ = notifications()
    person_id, email = citizen(registry, phone=PHONE)

    assert http.put(f"/preferences/{person_id}/congratulations").json() == \
        {"person_id": person_id, "category": "congratulations", "opted_out": True}
    refused_mandatory = http.put(f"/preferences/{person_id}/recognition_decisions")
    assert refused_mandatory.status_code == 409
    assert "mandatory" in refused_mandatory.json()["errors"]["category"][0]
    assert http.put(f"/preferences/{person_id}/newsletters").status_code == 404
    prefs = http.get(f"/preferences/{person_id}").json()
    assert {c["name"]: (c["mandatory"], c["opted_out"]) for c in prefs["categories"]} == {
        "congratulations": (False, True), "recognition_decisions": (True, False),
        "review_requests": (True, False), "target_alerts": (False, False),
        "weekly_summary": (False, False)}

    congratulation = granted(person_id)
    publish("assessment", congratulation.to_message())
    [skipped] = wait_for(finished(engine), message="the skipped delivery")
    assert (skipped["status"], skipped["last_error"], skipped["attempts"]) == \
        ("skipped", "opted out of congratulations", 0)

    publish("assessment", refused(person_id).to_message())  # mandatory: sent all the same
    wait_for(finished(engine, count=2), message="the refusal")
    eventlet.sleep(0.5)
    assert [m["Subject"] for m in mail.messages()] == \
        ["Kết quả xét công nhận danh hiệu Công dân học tập năm 2025"]
    assert gateway.requests == []
    assert [kind for kind, _ in outbox_events(engine)] == ["notification_sent"]

    assert http.delete(f"/preferences/{person_id}/congratulations").json()["opted_out"] is False
    publish("assessment", granted(person_id).to_message())
    wait_for(finished(engine, count=3), message="the congratulation")
    assert len(mail.envelopes) == 2
    skipped_log = http.get("/deliveries", params={"status": "skipped"}).json()
    assert [(i["person_id"], i["category"]) for i in skipped_log["items"]] == \
        [(person_id, "congratulations")]
    assert email not in str(http.get("/deliveries").json())


def test_the_sms_rate_limit_postpones_sends_without_counting_attempts(
        registry, notifications, gateway, publish, engine, caplog):
    notifications(RATE_LIMIT_SMS_PER_MINUTE=120)  # one every half second, bursts of 2
    people = [citizen(registry, email=None, phone=f"09123456{n:02d}")[0] for n in range(4)]
    for person_id in people:
        publish("assessment", granted(person_id).to_message())
    wait_for(lambda: len([r for r in deliveries(engine, channel="sms")
                                 if r["status"] == "sent"]) == 4, timeout=20,
                    message="four SMS")
    assert len(gateway.requests) == 4
    assert all(r["attempts"] == 1 for r in deliveries(engine, channel="sms"))
    assert "sms rate limit reached" in service_log(caplog)


def test_the_api_is_documented(notifications):
    from cdht.openapi import entrypoint_routes, openapi_path
    from services.notifications.service import NotificationsService
    http, _ = notifications()
    doc = http.get("/openapi.json").json()
    served = {(method.lower(), openapi_path(rule)[0])
              for method, rule in entrypoint_routes(NotificationsService)}
    assert {(m, p) for p, item in doc["paths"].items() for m in item} == served
    assert not any(op.get("x-undeclared") for item in doc["paths"].values()
                   for op in item.values())
    page = http.get("/docs")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "/preferences/{person_id}/{category}" in page.text and "<script" not in page.text
    assert http.post("/digests/flush", data="x",
                     headers={"Content-Type": "text/plain"}).status_code == 415
    assert http.post("/digests/flush", json={"now": "2025-07-01T08:00:00"}).status_code == 400
