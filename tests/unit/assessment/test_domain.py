"""The Learning Citizen pass rule, evidence, the review workflow and who may act (pure core)."""
import pytest

from services.assessment import criteria as criteria_sets
from services.assessment import domain

CRITERIA = criteria_sets.load_criteria()
C324 = CRITERIA["324/QĐ-KHVN"]
C244 = CRITERIA["244/QĐ-KHVN"]
CODES = [i.code for i in C324.indicators]


def scores(total=None, **overrides):
    """Ten scores, overrides by code with '_' for '.', padded to ``total`` when given."""
    s = {code: 8 for code in CODES}
    s.update({k.replace("_", "."): v for k, v in overrides.items()})
    if total is not None:
        rest = [c for c in CODES if c.replace(".", "_") not in overrides]
        fixed = sum(v for k, v in s.items() if k not in rest)
        base, extra = divmod(total - fixed, len(rest))
        for i, code in enumerate(rest):
            s[code] = base + (1 if i < extra else 0)
    return s


def activity(kind, year=2025, day="2025-03-20"):
    return domain.Activity(kind, year, f"{kind} {day}")


def test_the_set_has_three_competencies_and_ten_indicators():
    assert CODES == ["TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2", "TC2.3", "TC2.4",
                     "TC3.1", "TC3.2"]
    assert C324.min_total == 80 and C324.min_per_indicator == 5


@pytest.mark.parametrize("given, passed", [
    (scores(total=80), True),                    # exactly the minimum total
    (scores(total=79), False),                   # one point short
    (scores(total=100), True),
    (scores(total=85, TC2_1=5), True),           # an indicator exactly at the minimum
    (scores(total=85, TC2_1=4), False),          # one indicator under 5 fails a high total
    (scores(total=80, TC1_1=5), True),           # both boundaries at once
    (scores(total=79, TC1_1=5), False),
    (scores(total=90, TC3_2=0), False),
    (scores(total=0), False),
])
@pytest.mark.parametrize("criteria", [C324, C244], ids=["324", "244"])
def test_pass_rule_boundaries(criteria, given, passed):
    decision = domain.evaluate(criteria, given)
    assert sum(given.values()) == decision.total
    assert decision.passed is passed
    assert decision.criteria_version == criteria.version


def test_explanation_names_each_failing_indicator():
    decision = domain.evaluate(C324, scores(total=85, TC2_1=4))
    failing = [r for r in decision.results if not r.met]
    assert [r.reason for r in failing] == ["TC2.1: 4/10, under the minimum 5"]
    assert "TC2.1: 4/10, under the minimum 5" in decision.summary
    assert decision.failures == ["TC2.1: 4/10, under the minimum 5"]
    assert len(decision.results) == 10
    tc21 = next(r for r in decision.results if r.code == "TC2.1")
    assert (tc21.score, tc21.maximum, tc21.minimum, tc21.met) == (4, 10, 5, False)


def test_explanation_of_a_low_total_and_a_low_indicator():
    decision = domain.evaluate(C324, scores(total=70, TC3_1=3))
    assert decision.failures == ["total 70 is under 80", "TC3.1: 3/10, under the minimum 5"]
    assert decision.summary == ("not passed under 324/QĐ-KHVN: total 70 is under 80; "
                                "TC3.1: 3/10, under the minimum 5")


@pytest.mark.parametrize("bad, field, message", [
    ({"TC1.1": None}, "TC1.1", "whole number"),
    ({"TC1.1": 11}, "TC1.1", "whole number"),
    ({"TC1.1": -1}, "TC1.1", "whole number"),
    ({"TC1.1": 7.5}, "TC1.1", "whole number"),
    ({"TC1.1": "8"}, "TC1.1", "whole number"),
    ({"TC1.1": True}, "TC1.1", "whole number"),
    ({"TC9.9": 5}, "TC9.9", "not an indicator"),
])
def test_scores_out_of_range_or_unknown_are_rejected(bad, field, message):
    with pytest.raises(domain.InvalidScores) as err:
        domain.evaluate(C324, scores() | bad)
    assert message in err.value.errors[field][0]


def test_missing_score_is_rejected():
    given = scores()
    del given["TC3.2"]
    with pytest.raises(domain.InvalidScores) as err:
        domain.evaluate(C324, given)
    assert err.value.errors == {"TC3.2": ["missing score"]}


@pytest.mark.parametrize("tc21, level", [(4, "none"), (5, "basic"), (7, "basic"),
                                         (8, "proficient"), (10, "proficient")])
def test_digital_skill_level_from_tc21(tc21, level):
    assert domain.digital_skill_level(C324, scores(TC2_1=tc21)) == level


@pytest.mark.parametrize("tc21, kinds, level", [
    (4, ["digital_skills_basic"], "basic"),            # a course proves what the score did not
    (4, ["digital_skills_proficient"], "proficient"),
    (9, ["digital_skills_basic"], "proficient"),       # never lowers the level
    (6, ["course", "mooc"], "basic"),                  # other activities prove no level
    (6, ["digital_skills_basic", "digital_skills_proficient"], "proficient"),
])
def test_a_digital_skills_course_marks_the_level(tc21, kinds, level):
    decision = domain.evaluate(C324, scores(TC2_1=tc21), "resident",
                               [activity(k) for k in kinds])
    assert decision.digital_skills == level


def test_evidence_confirms_indicators_in_the_explanation():
    decision = domain.evaluate(C324, scores(), "worker",
                               [activity("digital_skills_basic"), activity("mooc")])
    by_code = {r.code: r for r in decision.results}
    assert by_code["TC2.1"].evidence == "confirmed by digital_skills_basic 2025-03-20"
    assert by_code["TC1.1"].evidence == "confirmed by mooc 2025-03-20"
    assert by_code["TC2.2"].evidence is None


def test_prefill_suggests_the_evidence_minimum():
    filled = domain.prefill(C324, [activity("digital_skills_proficient"),
                                   activity("digital_skills_basic"), activity("briefing")])
    assert filled["scores"]["TC2.1"] == 8 and filled["scores"]["TC1.3"] == 5
    assert filled["scores"]["TC3.1"] is None
    assert filled["digital_skills"] == "proficient"
    assert filled["evidence"]["TC2.1"] == ["digital_skills_basic 2025-03-20",
                                           "digital_skills_proficient 2025-03-20"]


def test_each_target_group_has_its_form():
    assert domain.evaluate(C324, scores(), "student").form.startswith("Mẫu 4")
    assert domain.evaluate(C324, scores(), "worker").form.startswith("Mẫu 2")
    student = {r.code: r.name for r in domain.evaluate(C324, scores(), "student").results}
    resident = {r.code: r.name for r in domain.evaluate(C324, scores(), "resident").results}
    assert "học tập" in student["TC2.3"] and "công việc" in resident["TC2.3"]


# -- the workflow ----------------------------------------------------------------------------

def test_review_accept_adjust_and_send_back():
    s = scores()
    assert domain.review("submitted", "accept", s, {}, C324) == ("reviewed", s, [])
    assert domain.review("submitted", "send_back", s, {}, C324) == ("returned", s, [])
    status, changed, notes = domain.review(
        "submitted", "adjust", s, {"TC2.1": {"score": 4, "reason": "no certificate"}}, C324)
    assert status == "reviewed" and changed["TC2.1"] == 4 and s["TC2.1"] == 8
    assert notes == ["TC2.1: 8 -> 4 (no certificate)"]


@pytest.mark.parametrize("adjustments, field", [
    ({"TC2.1": {"score": 11, "reason": "x"}}, "TC2.1"),
    ({"TC9.9": {"score": 5, "reason": "x"}}, "TC9.9"),
    ({}, "adjustments"),
])
def test_review_adjustments_are_checked(adjustments, field):
    with pytest.raises(domain.InvalidScores) as err:
        domain.review("submitted", "adjust", scores(), adjustments, C324)
    assert field in err.value.errors


@pytest.mark.parametrize("status", ["reviewed", "returned", "recognised", "refused",
                                    "superseded"])
def test_only_a_submitted_assessment_is_reviewed(status):
    with pytest.raises(domain.WorkflowError, match=f"this one is {status}"):
        domain.review(status, "accept", scores(), {}, C324)


REVIEWED_ONLY, EVERY_OPEN = domain.closing_decides("reviewed")[0], domain.OPEN


@pytest.mark.parametrize("status, verdict, passes, allowed, outcome", [
    ("reviewed", "recognise", True, REVIEWED_ONLY, "recognised"),
    ("reviewed", "refuse", True, REVIEWED_ONLY, "refused"),
    ("reviewed", "refuse", False, REVIEWED_ONLY, "refused"),
    ("reviewed", "recognise", False, REVIEWED_ONLY, "does not meet the criteria"),
    ("submitted", "recognise", True, REVIEWED_ONLY, "only a reviewed"),
    ("returned", "refuse", False, REVIEWED_ONLY, "only a reviewed"),
    ("recognised", "refuse", True, REVIEWED_ONLY, "only a reviewed"),
    ("refused", "recognise", True, EVERY_OPEN, "only a reviewed"),
    ("submitted", "recognise", True, EVERY_OPEN, "recognised"),   # CLOSE_DECIDES=submitted
    ("returned", "refuse", False, EVERY_OPEN, "refused"),
])
def test_decide(status, verdict, passes, allowed, outcome):
    decision = domain.evaluate(C324, scores(total=80 if passes else 79))
    if outcome in ("recognised", "refused"):
        new, reasons = domain.decide(status, verdict, decision, ["hồ sơ thiếu"],
                                     allowed=allowed)
        assert new == outcome
        if outcome == "refused":
            assert [(r["kind"], r["total"], r["minimum"], r["note"]) for r in reasons] == (
                [] if passes else [("total_below", 79, 80, None)]) + [
                ("reviewer", None, None, "hồ sơ thiếu")]
    else:
        with pytest.raises(domain.WorkflowError, match=outcome):
            domain.decide(status, verdict, decision, allowed=allowed)


def test_closing_decides_what_was_reviewed_unless_set_to_every_submission():
    """CLOSE_DECIDES: by default a year's closing decides only what a reviewer accepted, and
    leaves what is submitted or sent back open (listed); ``submitted`` decides them all."""
    assert domain.closing_decides("reviewed") == (("reviewed",), ("submitted", "returned"))
    assert domain.closing_decides("submitted") == (("submitted", "reviewed", "returned"), ())
    with pytest.raises(KeyError):
        domain.closing_decides("everything")


def test_resubmit_only_after_send_back():
    assert domain.resubmit("returned") == "submitted"
    with pytest.raises(domain.WorkflowError):
        domain.resubmit("submitted")


def test_re_evaluation_needs_a_decided_assessment_and_another_version():
    domain.re_evaluation("recognised", "244/QĐ-KHVN", C324)
    with pytest.raises(domain.WorkflowError, match="already decided under"):
        domain.re_evaluation("recognised", "324/QĐ-KHVN", C324)
    with pytest.raises(domain.WorkflowError, match="only a decided"):
        domain.re_evaluation("submitted", "244/QĐ-KHVN", C324)


# -- who may act -----------------------------------------------------------------------------
PATH = ["AG", "AG.LX", "AG.LX.P1"]


def position(unit, kind="commune_association", role="official", current=True):
    return {"body_kind": kind, "unit_code": unit, "role": role, "current": current}


def person(association=(), groups=()):
    return {"association": list(association), "groups": list(groups)}


def group(group_id, role="member", kind="learning_unit", current=True):
    return {"group_id": group_id, "role": role, "group_kind": kind, "current": current}


@pytest.mark.parametrize("reviewer, subject, allowed", [
    (person([position("AG.LX.P1", "branch")]), person(), True),
    (person([position("AG.LX")]), person(), True),              # an ancestor's official
    (person([position("AG.MB")]), person(), False),             # another commune
    (person([position("AG.LX.P1", role="member")]), person(), False),
    (person([position("AG.LX.P1", current=False)]), person(), False),
    (person(groups=[group("u1", "head")]), person(groups=[group("u1")]), True),
    (person(groups=[group("u1", "head")]), person(groups=[group("u2")]), False),
    (person(groups=[group("f1", "head", "family")]), person(groups=[group("f1")]), False),
    (None, person(), False),
])
def test_who_may_review(reviewer, subject, allowed):
    assert domain.may_review(reviewer, subject, PATH) is allowed


@pytest.mark.parametrize("decider, allowed", [
    (person([position("AG.LX")]), True),
    (person([position("AG.LX.P1", "branch")]), False),          # a branch reviews, not decides
    (person([position("AG.MB")]), False),
    (person([position("AG.LX", role="member")]), False),
    (None, False),
])
def test_who_may_decide(decider, allowed):
    assert domain.may_decide(decider, PATH) is allowed
