"""Refusal reasons in each reader's language, units by name, and the deciding association's
signature in every message: pure, no servers."""
import re
import uuid

import pytest

from services.assessment.criteria import load_criteria
from services.notifications import domain, wording

CONTACT = {"person_id": "p", "full_name": "Nguyễn Thị Hoa", "email": "hoa@example.org",
           "phone": "0912345678", "language": "vi"}
TOTAL = {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
         "minimum": 80, "total": 72, "note": None}
INDICATOR = {"kind": "indicator_below", "indicator": "TC1.3", "score": 3, "maximum": 10,
             "minimum": 5, "total": None, "note": None}
NOTE = {"kind": "reviewer", "indicator": None, "score": None, "maximum": None,
        "minimum": None, "total": None, "note": "Chưa nộp minh chứng tin học"}
REFUSED = {"assessment_id": str(uuid.uuid4()), "person_id": "p", "year": 2025,
           "criteria_version": "324/QĐ-KHVN", "total_score": 72,
           "reasons": [TOTAL, INDICATOR, NOTE], "unit_code": "AG.LX.K1",
           "unit_path": ["AG", "AG.LX", "AG.LX.K1"]}
UNITS = {"AG": {"unit_name": "Tỉnh An Giang", "kind": "province"},
         "AG.LX": {"unit_name": "Phường Long Xuyên", "kind": "ward"},
         "AG.MB": {"unit_name": "Mỹ Hòa Hưng", "kind": "commune"}}
PLACES = wording.Places(UNITS)
# English words that must not appear in a Vietnamese message
ENGLISH = ("under", "total", "minimum", "is", "the", "of", "and", "reasons", "score",
           "indicator", "required", "association", "regards", "not")


def english_words(text):
    words = re.findall(r"[A-Za-zÀ-ỹ]+", re.sub(r"<[^>]+>", " ", text))
    return sorted({w for w in words if w.lower() in ENGLISH})


@pytest.mark.parametrize("reason, vi, en", [
    (TOTAL, "Tổng điểm 72, chưa đạt mức 80 điểm", "Total 72 is under the required 80"),
    (INDICATOR, "Chỉ số 1.3 (Tham gia học tập cộng đồng) đạt 3/10, dưới mức tối thiểu 5",
     "Indicator 1.3 (community learning) scored 3/10, under the minimum of 5"),
    (NOTE, "Chưa nộp minh chứng tin học", "Chưa nộp minh chứng tin học"),  # as written
    ("total 72 is under 80", "total 72 is under 80", "total 72 is under 80"),  # a v1 sentence
])
def test_each_kind_of_reason_in_each_language(reason, vi, en):
    assert wording.reason_text(reason, "vi") == vi
    assert wording.reason_text(reason, "en") == en


def test_an_indicator_no_name_is_known_for_is_given_by_its_number():
    assert wording.reason_text(INDICATOR | {"indicator": "TC9.9"}, "vi") == \
        "Chỉ số 9.9 đạt 3/10, dưới mức tối thiểu 5"


def test_the_indicator_names_agree_with_the_criteria_sets():
    """indicators.yaml copies the names of assessment's criteria files (wording before the
    English gloss in brackets, the gloss for English)."""
    for version in ("244/QĐ-KHVN", "324/QĐ-KHVN"):
        for indicator in load_criteria()[version].indicators:
            vi, _, en = indicator.name.partition(" (")
            assert wording.INDICATOR_NAMES[indicator.code] == {"vi": vi, "en": en.rstrip(")")}


@pytest.mark.parametrize("places, path, signed", [
    (PLACES, ["AG", "AG.LX", "AG.LX.K1"], "Hội Khuyến học phường Long Xuyên"),
    (PLACES, ["AG", "AG.MB"], "Hội Khuyến học xã Mỹ Hòa Hưng"),  # a name without its kind word
    (wording.Places(UNITS, {"AG.LX": "Hội Khuyến học P. Long Xuyên"}), ["AG", "AG.LX"],
     "Hội Khuyến học P. Long Xuyên"),                             # the body's own name
    (wording.Places(UNITS, level="province"), ["AG", "AG.LX"], "Hội Khuyến học tỉnh An Giang"),
    (PLACES, ["AG"], "Hội Khuyến học tỉnh An Giang"),             # a province-wide message
    (wording.Places(), ["AG", "AG.LX"], "Hội Khuyến học"),        # nothing known
])
def test_the_deciding_association_signs(places, path, signed):
    assert places.association(path) == signed


@pytest.mark.parametrize("name, kind, lowered", [
    ("Phường Long Xuyên", "ward", "phường Long Xuyên"),
    ("Xã Mỹ Hòa Hưng", "commune", "xã Mỹ Hòa Hưng"),
    ("Đặc khu Phú Quốc", "special_zone", "đặc khu Phú Quốc"),
    ("Thành phố Cần Thơ", "province", "thành phố Cần Thơ"),
    ("Phú Quốc", "special_zone", "đặc khu Phú Quốc"),
])
def test_the_kind_word_is_lower_cased(name, kind, lowered):
    assert wording.lowered_kind(name, kind) == lowered


def test_a_vietnamese_refusal_has_reasons_name_and_signature_and_no_english():
    message, language = domain.compose_email("recognition_refused", REFUSED, CONTACT,
                                             places=PLACES)
    assert language == "vi"
    for part in (message.subject, message.text, message.html):
        assert english_words(part) == [], part
    assert "  - Tổng điểm 72, chưa đạt mức 80 điểm" in message.text
    assert ("  - Chỉ số 1.3 (Tham gia học tập cộng đồng) đạt 3/10, dưới mức tối thiểu 5"
            in message.text)
    assert "<li>Chưa nộp minh chứng tin học</li>" in message.html
    assert message.text.count("Hội Khuyến học phường Long Xuyên") == 2  # says and signs
    assert "Trân trọng,<br>Hội Khuyến học phường Long Xuyên</p>" in message.html


def test_an_english_refusal_states_the_reasons_in_english():
    message, language = domain.compose_email("recognition_refused", REFUSED,
                                             CONTACT | {"language": "en"}, places=PLACES)
    assert language == "en"
    assert "  - Total 72 is under the required 80" in message.text
    assert "Indicator 1.3 (community learning) scored 3/10" in message.text
    assert "Hội Khuyến học phường Long Xuyên (Association for Promoting Education)" in \
        message.text


def test_a_vietnamese_refusal_sms_has_the_reasons_and_the_association():
    sms, _ = domain.compose_sms("recognition_refused", REFUSED, CONTACT, places=PLACES,
                                gsm7_only=False, max_parts=6)
    assert sms.text.startswith("Hội Khuyến học phường Long Xuyên: ")
    assert "Tổng điểm 72, chưa đạt mức 80 điểm" in sms.text
    assert english_words(sms.text) == []


def test_a_review_request_names_the_unit():
    data = {"assessment_id": str(uuid.uuid4()), "person_id": "p", "year": 2025,
            "criteria_version": "324/QĐ-KHVN", "total_score": 81, "passed": True,
            "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]}
    message, _ = domain.compose_email("assessment_submitted", data, CONTACT, places=PLACES)
    assert message.subject == "Bản tự đánh giá năm 2025 tại Phường Long Xuyên đang chờ xét duyệt"
    assert "AG.LX" not in message.text and "AG.LX" not in message.html
    bare, _ = domain.compose_email("assessment_submitted", data, CONTACT)
    assert "tại AG.LX" in bare.subject  # no name known: the code


def test_the_digest_and_the_weekly_summary_name_their_units():
    item = {"event_id": "e1", "event_type": "target_reached",
            "occurred_at": "2025-07-01T01:00:00+00:00",
            "data": {"indicator": "adults_titled", "unit_code": "AG.LX",
                     "unit_path": ["AG", "AG.LX"], "year": 2025, "target_year": 2030,
                     "numerator": 61, "denominator": 100, "share": 0.61, "target": 0.6}}
    digest, _ = domain.compose_email("target_digest", {"day": "2025-07-01", "items": [item]},
                                     CONTACT, places=PLACES)
    assert "  - Phường Long Xuyên, năm 2025" in digest.text and "AG.LX" not in digest.html
    assert "Trân trọng,\nHội Khuyến học phường Long Xuyên" in digest.text
    summary, _ = domain.compose_email("weekly_summary", {
        "province": "AG", "week": "2025-W27", "year": 2025, "progress": {"indicators": {}}},
        CONTACT, places=PLACES)
    assert summary.subject == ("Tổng hợp tuần 2025-W27: tiến độ Công dân học tập của "
                               "Tỉnh An Giang năm 2025")
    assert "Hội Khuyến học tỉnh An Giang" in summary.text and "AG" not in summary.html
