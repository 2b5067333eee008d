"""A refusal's reasons as data (recognition_refused v2), the sentences of v1 derived from the
same data, and the approval settings: pure, no servers."""
import uuid

import pytest

from cdht.contracts.events import RecognitionRefusedV1, RecognitionRefusedV2, RefusalReason
from services.assessment import approval, domain, reasons, titles
from services.assessment.criteria import load_criteria

C324 = load_criteria()["324/QĐ-KHVN"]
CODES = [i.code for i in C324.indicators]
WEAK = {code: 8 for code in CODES} | {"TC1.3": 3, "TC2.1": 4, "TC3.1": 5, "TC3.2": 5}  # 65


def test_a_failed_rule_is_refused_with_each_broken_part_as_data():
    decision = domain.evaluate(C324, WEAK)
    status, found = domain.decide("reviewed", "refuse", decision, ["Thiếu minh chứng"])
    assert status == domain.REFUSED
    assert found == [
        {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
         "minimum": 80, "total": 65, "note": None},
        {"kind": "indicator_below", "indicator": "TC1.3", "score": 3, "maximum": 10,
         "minimum": 5, "total": None, "note": None},
        {"kind": "indicator_below", "indicator": "TC2.1", "score": 4, "maximum": 10,
         "minimum": 5, "total": None, "note": None},
        {"kind": "reviewer", "indicator": None, "score": None, "maximum": None,
         "minimum": None, "total": None, "note": "Thiếu minh chứng"}]
    for reason in found:
        assert RefusalReason().validate(reason) == {}


def test_version_1_keeps_its_sentences_word_for_word():
    decision = domain.evaluate(C324, WEAK)
    _, found = domain.decide("reviewed", "refuse", decision, ["Thiếu minh chứng"])
    assert reasons.sentences(found) == [
        "total 65 is under 80", "TC1.3: 3/10, under the minimum 5",
        "TC2.1: 4/10, under the minimum 5", "Thiếu minh chứng"]
    assert decision.failures == reasons.sentences(found)[:3]


def test_a_note_repeating_the_rules_sentence_is_not_said_twice():
    decision = domain.evaluate(C324, WEAK)
    _, found = domain.decide("reviewed", "refuse", decision,
                             ["total 65 is under 80", "Hồ sơ thiếu", "Hồ sơ thiếu"])
    assert [r["kind"] for r in found] == ["total_below", "indicator_below", "indicator_below",
                                          "reviewer"]


def test_a_refusal_of_a_passing_assessment_carries_only_the_reviewers_words():
    decision = domain.evaluate(C324, {code: 8 for code in CODES})
    _, found = domain.decide("reviewed", "refuse", decision, ["Khai sai chứng chỉ"])
    assert found == [reasons.reviewer("Khai sai chứng chỉ")]


def test_both_versions_of_the_event_state_the_same_facts_and_meet_their_contracts():
    decision = domain.evaluate(C324, WEAK)
    notes = ["x" * 600] + [f"ghi chú {i}" for i in range(30)]
    _, found = domain.decide("reviewed", "refuse", decision, notes)
    facts = {"unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"],
             "assessment_id": str(uuid.uuid4()), "person_id": str(uuid.uuid4()),
             "year": 2025, "criteria_version": C324.version, "total_score": 65}
    versions = titles.refusal_events(facts, found)
    assert set(versions) == {1, 2}
    assert RecognitionRefusedV1().validate(versions[1]) == {}
    assert RecognitionRefusedV2().validate(versions[2]) == {}
    assert len(versions[1]["reasons"]) == len(versions[2]["reasons"]) == 20
    assert versions[1]["reasons"][:3] == reasons.sentences(versions[2]["reasons"][:3])
    assert {k: v for k, v in versions[1].items() if k != "reasons"} == \
        {k: v for k, v in versions[2].items() if k != "reasons"}


def test_the_view_of_a_refusal_decided_before_reasons_were_data():
    assert reasons.view(["total 70 is under 80"]) == (None, ["total 70 is under 80"])
    data = [reasons.total_below(70, 80)]
    assert reasons.view(data) == (data, ["total 70 is under 80"])
    assert reasons.view(None) == (None, None)


# -- approval settings -------------------------------------------------------------------------
PATH = ["AG", "AG.LX", "AG.LX.P1"]


def official(unit):
    return {"association": [{"body_kind": "commune_association", "unit_code": unit,
                             "role": "official", "current": True}], "groups": []}


def test_settings_default_to_the_commune_and_the_calendar_year():
    assert approval.from_config({}) == approval.Approval("commune", "calendar_year")
    assert approval.from_config({"APPROVAL_LEVEL": " Province "}).level == "province"
    assert approval.from_config({}).close_decides == "reviewed"
    assert approval.from_config({"CLOSE_DECIDES": "Submitted"}).close_decides == "submitted"


@pytest.mark.parametrize("config, name", [({"APPROVAL_LEVEL": "district"}, "APPROVAL_LEVEL"),
                                          ({"ASSESSMENT_CYCLE": "school_year"},
                                           "ASSESSMENT_CYCLE"),
                                          ({"CLOSE_DECIDES": "all"}, "CLOSE_DECIDES")])
def test_a_setting_the_service_cannot_honour_stops_it(config, name):
    with pytest.raises(approval.SettingError, match=name):
        approval.from_config(config)


@pytest.mark.parametrize("level, decider, allowed", [
    ("commune", official("AG.LX"), True),
    ("commune", official("AG"), True),
    ("province", official("AG.LX"), False),    # the commune no longer decides
    ("province", official("AG"), True),
    ("province", official("BG"), False),
])
def test_who_decides_follows_the_approval_level(level, decider, allowed):
    assert domain.may_decide(decider, PATH, level) is allowed


def test_a_year_to_come_cannot_be_closed():
    from datetime import date
    today = date(2026, 12, 2)
    assert approval.year_closable(2025, today) and approval.year_closable(2026, today)
    assert not approval.year_closable(2027, today)
    assert not approval.year_closable(2099, today)


def test_at_province_level_a_year_is_closed_for_the_whole_province_only():
    assert approval.may_close(["AG", "AG.LX"], "commune")
    assert not approval.may_close(["AG", "AG.LX"], "province")
    assert approval.may_close(["AG"], "province")


def test_the_systems_own_note_reads_vietnamese_and_keeps_its_version_1_sentence():
    decision = domain.evaluate(C324, {code: 8 for code in CODES})
    _, found = domain.decide("reviewed", "refuse", decision, [reasons.ALREADY_TITLED])
    assert [r["note"] for r in found] == ["Đã được công nhận danh hiệu Công dân học tập của "
                                          "năm này"]
    assert reasons.sentences(found) == ["already holds the title for this year"]


def test_refusing_an_assessment_that_meets_the_rule_needs_the_reviewers_reasons():
    """The events carry at least one reason: a refusal with none was a broken contract."""
    decision = domain.evaluate(C324, {code: 8 for code in CODES})
    with pytest.raises(domain.InvalidScores, match="reasons"):
        domain.decide("reviewed", "refuse", decision, [])
