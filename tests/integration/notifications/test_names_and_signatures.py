"""Messages name units and are signed by the deciding association, and a refusal states its
reasons in the reader's language: the real registry (units, association bodies, contacts,
export_units), the notifications service, the SMTP server and the SMS gateway of
conftest.py, events on RabbitMQ."""
import re
import uuid

import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from tests.integration.notifications.helpers import (
    citizen, event, finished, official, service_log,
)
from tests.support import wait_for

ENGLISH = ("under", "total", "minimum", "is", "the", "of", "and", "reasons", "score",
           "indicator", "required", "association", "regards", "not", "was", "recognised")
REASONS = [
    {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
     "minimum": 80, "total": 72, "note": None},
    {"kind": "indicator_below", "indicator": "TC1.3", "score": 3, "maximum": 10,
     "minimum": 5, "total": None, "note": None},
    {"kind": "reviewer", "indicator": None, "score": None, "maximum": None, "minimum": None,
     "total": None, "note": "Chưa nộp minh chứng"}]


def english_words(text_):
    words = re.findall(r"[A-Za-zÀ-ỹ]+", re.sub(r"<[^>]+>", " ", text_))
    return sorted({w for w in words if w.lower() in ENGLISH})


def body(message, kind="plain"):
    return message.get_body((kind,)).get_content().replace("\r\n", "\n")


def refused(person_id, unit):
    return make_envelope("recognition_refused", {
        "assessment_id": uuid.uuid4(), "person_id": person_id, "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 72, "reasons": REASONS,
        "unit_code": unit, "unit_path": ["AG", unit]}, producer="assessment",
        schema_version=2, correlation_id=str(uuid.uuid4()))


def known(engine, table, column, value):
    def check():
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT * FROM {table} WHERE {column} = :v"),
                                {"v": value}).mappings().all()
    return check


def test_a_refusal_by_mail_and_sms_is_vietnamese_and_signed_by_the_commune_association(
        registry, notifications, mail, gateway, publish, engine):
    notifications(SMS_MAX_PARTS=4)
    # told live by the registry's events: a ward named without its kind word, and its
    # association under its own (abbreviated) name
    registry.unit("AG.BD", kind="ward", name="Bình Đức")
    registry.post("/association/bodies", {"kind": "commune_association", "unit_code": "AG.BD",
                                          "name": "Hội Khuyến học P. Bình Đức"})
    wait_for(known(engine, "units", "unit_code", "AG.BD"), message="unit_changed")
    wait_for(known(engine, "association_bodies", "unit_code", "AG.BD"),
             message="association_body_changed")
    by_mail, address = citizen(registry, unit="AG.BD", full_name="Trần Thị Lan")
    by_sms, _ = citizen(registry, unit="AG.BD", email=None, phone="0912345678",
                        full_name="Lê Văn Bình")
    publish("assessment", refused(by_mail, "AG.BD").to_message())
    publish("assessment", refused(by_sms, "AG.BD").to_message())
    wait_for(finished(engine, count=3), message="the mail, and the SMS after no address")

    [message] = mail.to(address)
    plain = body(message)
    html = body(message, "html")
    for part in (message["Subject"], plain, html):
        assert english_words(part) == [], part
    assert "  - Tổng điểm 72, chưa đạt mức 80 điểm" in plain
    assert ("  - Chỉ số 1.3 (Tham gia học tập cộng đồng) đạt 3/10, dưới mức tối thiểu 5"
            in plain)
    assert "  - Chưa nộp minh chứng" in plain
    assert plain.startswith("Kính gửi Ông/Bà Trần Thị Lan,\n\nHội Khuyến học P. Bình Đức "
                            "thông báo")
    assert "Trân trọng,\nHội Khuyến học P. Bình Đức\n" in plain
    assert "AG.BD" not in plain + html

    [sms] = gateway.sent
    assert sms["text"].startswith("Hoi Khuyen hoc P. Binh Duc: ban tu danh gia nam 2025 cua "
                                  "Le Van Binh (72/100)")
    assert ("Ly do: Tong diem 72, chua dat muc 80 diem; Chi so 1.3 (Tham gia hoc tap cong "
            "dong) dat 3/10, duoi muc toi thieu 5; Chua nop minh chung") in sms["text"]
    assert english_words(sms["text"]) == []


def test_units_announced_before_are_asked_of_the_registry_once(
        registry, notifications, mail, publish, engine, caplog):
    reviewer, address = official(registry, "AG.MB", full_name="Phạm Văn Tâm")
    notifications()  # AG, AG.LX, AG.MB were created before it listened
    publish("assessment", event(
        "assessment_submitted", "assessment", assessment_id=uuid.uuid4(),
        person_id=uuid.uuid4(), year=2025, criteria_version="324/QĐ-KHVN", total_score=81,
        passed=True, unit_code="AG.MB", unit_path=["AG", "AG.MB"]).to_message())
    wait_for(finished(engine, person_id=uuid.UUID(reviewer)), message="the review request")
    [message] = mail.to(address)
    assert message["Subject"] == ("Bản tự đánh giá năm 2025 tại Xã Mỹ Hòa Hưng đang chờ xét "
                                  "duyệt")
    plain = body(message)
    assert "Một công dân tại đơn vị Xã Mỹ Hòa Hưng" in plain
    assert "Trân trọng,\nHội Khuyến học xã Mỹ Hòa Hưng\n" in plain  # no body known: the unit
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT unit_code, unit_name FROM units")).all())
    assert names == {"AG": "Tỉnh An Giang", "AG.LX": "Phường Long Xuyên",
                     "AG.MB": "Xã Mỹ Hòa Hưng"}
    assert "unit names: 3 units from the registry's export_units" in service_log(caplog)


def test_the_daily_digest_names_its_units(registry, notifications, mail, publish, engine):
    staff, address = official(registry, "AG.MB", full_name="Phạm Văn Tâm")
    http, _ = notifications()
    publish("reporting", event(
        "target_reached", "reporting", year=2025, indicator="adults_titled", target_year=2025,
        numerator=50, denominator=100, share=0.5, target=0.4, cause_event_id=uuid.uuid4(),
        unit_code="AG.MB", unit_path=["AG", "AG.MB"]).to_message())
    wait_for(known(engine, "digest_items", "person_id", staff), message="the digest item")
    assert http.post("/digests/flush", json={"now": "2025-07-01T08:00:00+07:00"}).json()[
        "digests"] == 1
    wait_for(finished(engine, person_id=uuid.UUID(staff)), message="the digest")
    [message] = mail.to(address)
    plain = body(message)
    assert "  - Xã Mỹ Hòa Hưng, năm 2025: Người lớn đạt danh hiệu" in plain
    assert "Trân trọng,\nHội Khuyến học xã Mỹ Hòa Hưng\n" in plain
    assert "AG.MB" not in plain + body(message, "html")


def test_at_province_level_the_province_association_signs(registry, notifications, mail,
                                                          publish, engine):
    notifications(APPROVAL_LEVEL="province")
    person_id, address = citizen(registry, unit="AG.LX", full_name="Trần Thị Lan")
    publish("assessment", refused(person_id, "AG.LX").to_message())
    wait_for(finished(engine), message="the refusal")
    plain = body(mail.to(address)[0])
    assert plain.startswith("Kính gửi Ông/Bà Trần Thị Lan,\n\nHội Khuyến học tỉnh An Giang "
                            "thông báo")
    assert "Trân trọng,\nHội Khuyến học tỉnh An Giang\n" in plain


def test_an_approval_level_it_cannot_honour_stops_the_service(notifications):
    with pytest.raises(ValueError, match="APPROVAL_LEVEL"):
        notifications(APPROVAL_LEVEL="district")
