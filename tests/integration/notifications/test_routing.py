"""Who is told: reviewers of a self-assessment (the nearest unit with officials), commune
staff by daily digest, province staff by weekly summary; with the real registry (officials,
contacts) and, for the summary, the real reporting service (figures)."""
import uuid

import eventlet
import pytest
from sqlalchemy import text

from services.reporting.service import ReportingService
from tests.integration.notifications.helpers import (
    citizen, deliveries, event, finished, official, outbox_events,
)
from tests.support import wait_for


def submitted(unit, path, total_score=86):
    return event("assessment_submitted", "assessment", assessment_id=uuid.uuid4(),
                 person_id=uuid.uuid4(), year=2025, criteria_version="324/QĐ-KHVN",
                 total_score=total_score, passed=total_score >= 80, unit_code=unit,
                 unit_path=path)


def target(kind, indicator="adults_titled", unit="AG.MB", share=0.5, target_share=0.4,
           numerator=50, denominator=100, **extra):
    return event(kind, "reporting", year=2025, indicator=indicator, target_year=2025,
                 numerator=numerator, denominator=denominator, share=share,
                 target=target_share, cause_event_id=uuid.uuid4(), unit_code=unit,
                 unit_path=["AG", unit], **extra)


def digest_items(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT person_id, event_type, delivery_id FROM digest_items")
                            ).all()


def test_reviewers_of_the_unit_or_the_nearest_unit_above_are_told(
        registry, notifications, mail, publish, engine):
    notifications()
    ward_vi, ward_vi_email = official(registry, "AG.LX", full_name="Phạm Văn Cường")
    ward_en, ward_en_email = official(registry, "AG.LX", language="en",
                                      full_name="Đỗ Thị Mai")
    province, province_email = official(registry, "AG", full_name="Võ Minh Tâm")

    in_ward = submitted("AG.LX", ["AG", "AG.LX"])
    publish("assessment", in_ward.to_message())
    wait_for(finished(engine, count=2), message="the ward's reviewers")
    by_address = {tuple(e.rcpt_tos): m for e, m in zip(mail.envelopes, mail.messages())}
    assert set(by_address) == {(ward_vi_email,), (ward_en_email,)}
    assert by_address[(ward_vi_email,)]["Subject"] == \
        "Bản tự đánh giá năm 2025 tại Phường Long Xuyên đang chờ xét duyệt"
    assert by_address[(ward_en_email,)]["Subject"] == \
        "A 2025 self-assessment in Phường Long Xuyên awaits your review"
    body = by_address[(ward_vi_email,)].get_body(("plain",)).get_content()
    assert "Kính gửi Ông/Bà Phạm Văn Cường" in body and str(in_ward.data["assessment_id"]) in body
    assert "86/100" in body and "đạt ngưỡng công nhận" in body

    # AG.MB has no officials: the province's are told
    publish("assessment", submitted("AG.MB", ["AG", "AG.MB"], total_score=60).to_message())
    wait_for(finished(engine, count=3), message="the province's reviewer")
    eventlet.sleep(0.3)
    assert [e.rcpt_tos for e in mail.envelopes[2:]] == [[province_email]]
    assert "chưa đạt ngưỡng" in mail.messages()[2].get_body(("plain",)).get_content()
    assert {str(r["person_id"]) for r in deliveries(engine)} == {ward_vi, ward_en, province}
    assert {r["category"] for r in deliveries(engine)} == {"review_requests"}


def test_target_changes_go_out_as_one_daily_digest_per_recipient(
        registry, notifications, mail, publish, engine):
    http, _ = notifications()
    staff, staff_email = official(registry, "AG.MB", full_name="Huỳnh Thị Thu")
    quiet, _ = official(registry, "AG.MB", full_name="Lý Văn Nam")
    assert http.put(f"/preferences/{quiet}/target_alerts").status_code == 200

    changes = [
        target("target_reached", "adults_titled", share=0.45, numerator=45),
        target("target_at_risk", "titled_with_digital_skills", share=0.5, target_share=0.7,
               warning_line=0.6, numerator=5, denominator=10),
        target("target_reached", "briefed_members", share=1.0, target_share=1.0,
               numerator=20, denominator=20),
    ]
    for change in changes:
        publish("reporting", change.to_message())
    wait_for(lambda: len(digest_items(engine)) == 3, message="three digest items")
    assert {str(item.person_id) for item in digest_items(engine)} == {staff}
    assert [(r["status"], str(r["person_id"])) for r in deliveries(engine)] == \
        [("skipped", quiet)] * 3  # one per change, none sent
    assert mail.envelopes == []

    early = http.post("/digests/flush", json={"now": "2025-07-01T06:30:00+07:00"}).json()
    assert early == {"day": None, "digests": 0, "items": 0}
    flushed = http.post("/digests/flush", json={"now": "2025-07-01T08:00:00+07:00"}).json()
    assert flushed == {"day": "2025-07-01", "digests": 1, "items": 3}
    [digest] = wait_for(finished(engine, person_id=uuid.UUID(staff)), message="the digest")
    assert digest["status"] == "sent" and str(digest["person_id"]) == staff
    [message] = mail.messages()
    assert mail.envelopes[0].rcpt_tos == [staff_email]
    assert message["Subject"] == "Tiến độ các chỉ tiêu Công dân học tập ngày 2025-07-01: 3 thay đổi"
    body = message.get_body(("plain",)).get_content()
    assert "Người lớn đạt danh hiệu Công dân học tập: 45,0% (45/100), ĐÃ ĐẠT chỉ tiêu 40,0%" in body
    assert "Người đạt danh hiệu có kỹ năng số: 50,0% (5/10), CÓ NGUY CƠ" in body
    assert "dưới ngưỡng cảnh báo 60,0%" in body
    assert "Cán bộ, hội viên được quán triệt mô hình: 100,0%" in body

    # the same day again, even with a new change: nothing more today
    later = target("target_at_risk", "adults_titled", share=0.3, warning_line=0.35,
                   numerator=30)
    publish("reporting", later.to_message())
    wait_for(lambda: len(digest_items(engine)) == 4, message="the fourth item")
    again = http.post("/digests/flush", json={"now": "2025-07-01T20:00:00+07:00"}).json()
    assert again == {"day": "2025-07-01", "digests": 0, "items": 0}
    eventlet.sleep(0.3)
    assert len(mail.envelopes) == 1

    # the next day: one more mail, with the one change that waited
    next_day = http.post("/digests/flush", json={"now": "2025-07-02T07:00:00+07:00"}).json()
    assert next_day == {"day": "2025-07-02", "digests": 1, "items": 1}
    wait_for(lambda: len(mail.envelopes) == 2, message="the second digest")
    assert "1 thay đổi" in mail.messages()[1]["Subject"]
    assert "30,0% (30/100)" in mail.messages()[1].get_body(("plain",)).get_content()
    assert [kind for kind, _ in outbox_events(engine)] == ["notification_sent"] * 2
    assert all(item.delivery_id is not None for item in digest_items(engine))

    # redelivered target events change nothing
    for change in changes:
        publish("reporting", change.to_message())
    eventlet.sleep(0.5)
    assert len(digest_items(engine)) == 4


def test_the_weekly_summary_reaches_the_province_officials_once_a_week(
        registry, notifications, mail, publish, engine, container_factory, service_config,
        web_session):
    reporting_config = service_config("reporting")
    container_factory(ReportingService, reporting_config).start()
    reporting = web_session(reporting_config)
    http, _ = notifications()
    registry.post("/association/bodies", {"kind": "commune_association", "unit_code": "AG",
                                          "name": "Hội Khuyến học tỉnh An Giang"})
    chair, chair_email = official(registry, "AG", full_name="Nguyễn Văn Hùng")
    deputy, deputy_email = official(registry, "AG", language="en", full_name="Lâm Thị Hương")
    assert http.put(f"/preferences/{deputy}/weekly_summary").status_code == 200
    http.delete(f"/preferences/{deputy}/weekly_summary")
    for _ in range(3):
        citizen(registry, unit="AG.LX")
    # the registry's person_registered events reach reporting: 5 adults in the province
    wait_for(lambda: _adults(reporting) == 5, timeout=20, message="reporting's figures")

    first = http.post("/summaries/weekly", json={"now": "2025-07-07T08:00:00+07:00",
                                                  "year": 2025})
    assert first.status_code == 200, first.text
    assert first.json() == {"week": "2025-W28", "province": "AG", "recipients": 2,
                            "created": 2}
    wait_for(finished(engine, count=2), message="the summaries")
    by_address = {tuple(e.rcpt_tos): m for e, m in zip(mail.envelopes, mail.messages())}
    vi = by_address[(chair_email,)]
    en = by_address[(deputy_email,)]
    assert vi["Subject"] == ("Tổng hợp tuần 2025-W28: tiến độ Công dân học tập của Tỉnh An "
                             "Giang năm 2025")
    assert en["Subject"] == ("Weekly summary 2025-W28: Learning Citizen progress of Tỉnh An "
                             "Giang in 2025")
    assert "Trân trọng,\r\nHội Khuyến học tỉnh An Giang\r\n" in \
        vi.get_body(("plain",)).get_content()
    # the figures as reporting states them (which adults it counts is reporting's setting)
    adults = next(i for i in reporting.get("/units/AG/progress", params={"year": 2025})
                  .json()["indicators"] if i["indicator"] == "adults_titled")
    counted = f"({adults['numerator']}/{adults['denominator']})"
    assert f"Người lớn đạt danh hiệu Công dân học tập: 0,0% {counted}" in \
        vi.get_body(("plain",)).get_content()
    assert f"Adults holding the Learning Citizen title: 0.0% {counted}; 2025 target: 40.0% " \
           "(not yet)" in en.get_body(("plain",)).get_content()

    again = http.post("/summaries/weekly", json={"now": "2025-07-09T18:00:00+07:00",
                                                  "year": 2025}).json()
    assert (again["week"], again["created"]) == ("2025-W28", 0)
    eventlet.sleep(0.3)
    assert len(mail.envelopes) == 2
    assert {r["rule"] for r in deliveries(engine)} == {"weekly_summary"}


def _adults(reporting):
    answer = reporting.get("/units/AG/progress", params={"year": 2025})
    return answer.json().get("adults") if answer.status_code == 200 else None


def test_the_timers_send_due_digests_and_the_weeks_summary_by_themselves(
        registry, notifications, mail, publish, engine, container_factory, service_config):
    container_factory(ReportingService, service_config("reporting")).start()
    _, staff_email = official(registry, "AG.MB")
    _, chair_email = official(registry, "AG")
    # due at any time of any day: the first clock check (every 0.2 s) finds both due
    notifications(SCHEDULE_POLL_SECONDS=0.2, DIGEST_HOUR=0, WEEKLY_SUMMARY_WEEKDAY=1,
                  WEEKLY_SUMMARY_HOUR=0)
    publish("reporting", target("target_reached").to_message())

    wait_for(lambda: {tuple(e.rcpt_tos) for e in mail.envelopes} ==
             {(staff_email,), (chair_email,)}, timeout=20, message="digest and summary")
    eventlet.sleep(1.0)  # the next ticks send nothing more: one digest a day, one summary a week
    assert len(mail.envelopes) == 2
    by_address = {tuple(e.rcpt_tos): m for e, m in zip(mail.envelopes, mail.messages())}
    assert "1 thay đổi" in by_address[(staff_email,)]["Subject"]
    assert by_address[(chair_email,)]["Subject"].startswith("Tổng hợp tuần")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, recipients FROM schedule_runs")).all() == \
            [("weekly_summary", 1)]


@pytest.mark.parametrize("since, status", [
    ("2025-01-01T00:00:00+07:00", 200),
    ("0954-01-13T08:20:29+17:55", 400),   # an offset no clock has (PostgreSQL refuses it)
    ("0001-01-01T00:00:00+14:00", 400),   # before year 1 once in UTC
    ("2025-01-01T00:00:00", 400),         # no offset
])
def test_delivery_log_times_are_checked_at_the_edge(notifications, since, status):
    """Found by schemathesis: a far-fetched offset in a filter was a 500."""
    http, _ = notifications()
    response = http.get("/deliveries", params={"since": since})
    assert response.status_code == status, response.text
