"""Deciding one assessment (decisions.py) on an in-memory store: the title and its groups,
the refusal and its reasons, re-evaluation, a later digital-skills course, a revocation and a
membership change. No PostgreSQL: tests/unit/assessment/fakes.py."""
import inspect
import uuid
from datetime import date

import pytest

from services.assessment import criteria as criteria_sets
from services.assessment import decisions, domain
from services.assessment import reasons as refusal_reasons
from services.assessment.store import AssessmentStore
from tests.unit.assessment.fakes import FakeStore

SETS = criteria_sets.load_criteria()
C324, C244 = "324/QĐ-KHVN", "244/QĐ-KHVN"
PASSING = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
           "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}  # 81: passes; TC2.1 8: proficient
FAILING = PASSING | {"TC2.1": 4}  # 77, and TC2.1 under 5
BASIC = PASSING | {"TC2.1": 5, "TC1.1": 10, "TC1.2": 10}  # 81 again; TC2.1 5: basic
CHAIR = uuid.uuid4()


@pytest.fixture
def store():
    return FakeStore()


def reviewed(store, scores=PASSING, version=C324, **columns):
    return store.put_assessment(**({
        "person_id": uuid.uuid4(), "year": 2025, "unit_code": "AG.LX",
        "unit_path": ["AG", "AG.LX"], "target_group": "resident", "criteria_version": version,
        "status": domain.REVIEWED, "self_scores": scores, "scores": scores,
        "total": sum(scores.values()), "passed": None, "explanation": {}} | columns))


def test_the_fake_store_has_every_method_of_the_store():
    """The fake keeps up with the real store: the same public methods and parameters."""
    real = {name: inspect.signature(f) for name, f in vars(AssessmentStore).items()
            if callable(f) and not name.startswith("_")}
    fake = {name: inspect.signature(getattr(FakeStore, name)) for name in real
            if hasattr(FakeStore, name)}
    assert fake == real


def test_recognising_grants_the_title_and_decides_the_person_s_groups_again(store):
    assessment = reviewed(store)
    family = uuid.uuid4()
    store.groups[assessment.person_id] = {family}

    recognition_id = decisions.decide_one(store, SETS, assessment, "recognise", [], CHAIR)

    title = store.recognitions[recognition_id]
    assert (assessment.status, assessment.decided_by, assessment.total) == (
        domain.RECOGNISED, CHAIR, 81)
    assert assessment.explanation["passed"] is True and assessment.refusal_reasons is None
    assert (title.person_id, title.year, title.digital_skills, title.criteria_version) == (
        assessment.person_id, 2025, "proficient", C324)
    assert store.actions(assessment.id) == ["recognised"]
    assert store.evaluated == [(2025, [family])]
    assert [kind for kind, _ in store.events] == ["recognition_granted"]


def test_refusing_a_failing_assessment_states_the_rule_s_reasons_and_the_reviewer_s(store):
    assessment = reviewed(store, FAILING)

    assert decisions.decide_one(store, SETS, assessment, "refuse",
                                ["Chưa nộp minh chứng"], CHAIR) is None

    assert assessment.status == domain.REFUSED and not store.recognitions
    [refused] = store.of_type("recognition_refused")
    assert [r["kind"] for r in refused["reasons"]] == [
        refusal_reasons.TOTAL_BELOW, refusal_reasons.INDICATOR_BELOW, refusal_reasons.REVIEWER]
    assert refused["sentences"] == ["total 77 is under 80", "TC2.1: 4/10, under the minimum 5",
                                    "Chưa nộp minh chứng"]
    assert assessment.refusal_reasons == refusal_reasons.stored(refused["reasons"])
    [(_, action, actor, detail)] = store.steps
    assert (action, actor, detail["reasons"]) == ("refused", CHAIR, refused["sentences"])
    assert store.evaluated == []  # no title changed: no group to decide again


def test_refusing_an_assessment_that_passes_needs_the_reviewer_s_reasons(store):
    assessment = reviewed(store)
    with pytest.raises(domain.InvalidScores, match="reasons"):
        decisions.decide_one(store, SETS, assessment, "refuse", [], CHAIR)
    assert assessment.status == domain.REVIEWED and not store.events and not store.steps


@pytest.mark.parametrize("status, scores, verdict, message", [
    (domain.RECOGNISED, PASSING, "recognise", "only a reviewed assessment can be decided"),
    (domain.SUBMITTED, PASSING, "recognise", "only a reviewed assessment can be decided"),
    (domain.REVIEWED, FAILING, "recognise", "does not meet the criteria: total 77 is under 80"),
])
def test_what_cannot_be_decided_so_is_a_workflow_error_that_writes_nothing(
        store, status, scores, verdict, message):
    assessment = reviewed(store, scores, status=status)
    with pytest.raises(domain.WorkflowError, match=message):
        decisions.decide_one(store, SETS, assessment, verdict, [], CHAIR)
    assert assessment.status == status and not store.events and not store.recognitions


def recognised(store, scores=PASSING):
    assessment = reviewed(store, scores)
    decisions.decide_one(store, SETS, assessment, "recognise", [], CHAIR)
    store.events.clear()
    store.evaluated.clear()
    return assessment


def test_re_evaluation_that_changes_nothing_keeps_the_title(store):
    old = recognised(store)
    [title] = store.recognitions.values()

    new = decisions.re_evaluate(store, SETS, old, SETS[C244], old.scores, "rà soát", CHAIR)

    assert (old.status, new.status, new.supersedes_id) == (domain.SUPERSEDED,
                                                          domain.RECOGNISED, old.id)
    assert title.revoked_at is None and list(store.recognitions.values()) == [title]
    assert store.actions(old.id)[-1] == "superseded"
    assert store.actions(new.id) == ["re-evaluated", "title_kept"]
    assert store.events == [] and store.evaluated == []
    assert C244 in store.recorded_criteria()


def test_re_evaluation_that_fails_revokes_the_title_and_decides_the_groups_again(store):
    old = recognised(store)
    store.groups[old.person_id] = {"family-1"}

    new = decisions.re_evaluate(store, SETS, old, SETS[C244], FAILING, "khai sai", CHAIR)

    assert new.status == domain.REFUSED
    assert store.current_title(old.person_id, 2025) is None
    [revoked] = store.of_type("recognition_revoked")
    assert revoked["reason"] == f"re-evaluated under {C244}: khai sai"
    assert [kind for kind, _ in store.events] == ["recognition_revoked", "recognition_refused"]
    assert store.evaluated == [(2025, ["family-1"])]


def test_re_evaluation_at_another_digital_level_grants_the_title_again(store):
    old = recognised(store, PASSING)  # proficient
    new = decisions.re_evaluate(store, SETS, old, SETS[C244], BASIC, "sửa điểm TC2.1", CHAIR)
    current = store.current_title(old.person_id, 2025)
    assert (current.assessment_id, current.digital_skills) == (new.id, "basic")
    assert [kind for kind, _ in store.events] == ["recognition_revoked", "recognition_granted"]


@pytest.mark.parametrize("status, version, message", [
    (domain.REVIEWED, C324, "only a decided assessment can be re-evaluated"),
    (domain.RECOGNISED, C244, "already decided under 244"),
])
def test_what_cannot_be_re_evaluated(store, status, version, message):
    old = reviewed(store, version=version, status=status)
    with pytest.raises(domain.WorkflowError, match=message):
        decisions.re_evaluate(store, SETS, old, SETS[C244], PASSING, "x", CHAIR)
    assert old.status == status and len(store.assessments) == 1


def test_a_digital_skills_course_after_the_title_raises_its_level(store):
    assessment = recognised(store, BASIC)
    person = assessment.person_id
    store.record_evidence(uuid.uuid4(), person, "digital_skills_proficient", date(2025, 9, 1))

    assert decisions.confirm_digital_skills(store, SETS, person, 2025) is True
    assert store.current_title(person, 2025).digital_skills == "proficient"
    assert [kind for kind, _ in store.events] == ["recognition_revoked", "recognition_granted"]
    assert store.actions(assessment.id)[-1] == "digital_confirmed"

    store.events.clear()  # the same level again, or no title: nothing to do
    assert decisions.confirm_digital_skills(store, SETS, person, 2025) is False
    assert decisions.confirm_digital_skills(store, SETS, uuid.uuid4(), 2025) is False
    assert store.events == []


def test_revoking_a_title_decides_its_groups_again_and_twice_is_refused(store):
    assessment = recognised(store)
    store.groups[assessment.person_id] = {"clan-1"}
    title = store.current_title(assessment.person_id, 2025)

    decisions.revoke(store, SETS, title, "Khai man", CHAIR)
    assert title.revoke_reason == "Khai man" and store.evaluated == [(2025, ["clan-1"])]
    assert store.actions(assessment.id)[-1] == "revoked"
    with pytest.raises(domain.WorkflowError, match="already revoked"):
        decisions.revoke(store, SETS, title, "lần nữa", CHAIR)
    assert len(store.of_type("recognition_revoked")) == 1


def test_a_membership_change_decides_only_a_group_already_decided(store):
    assert decisions.membership_changed(store, SETS, "family-1", ["AG"], 2025) is False
    store.decided_groups.add(("family-1", 2025))
    assert decisions.membership_changed(store, SETS, "family-1", ["AG"], 2025) is True
    assert store.evaluated == [(2025, ["family-1"])]
