"""Assessment's handlers on fakes of its own interfaces (nameko's worker_factory): the HTTP
workflow with its 409s and refusal reasons, and an event handler, without PostgreSQL or
RabbitMQ. The same routes against the real parts: tests/integration/assessment."""
import uuid
from datetime import date

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cdht.auth import Caller
from cdht.contracts import make_envelope
from cdht.web import ApiError
from services.assessment import approval, domain
from services.assessment import criteria as criteria_sets
from services.assessment.service import AssessmentService
from services.assessment.store import Conflict
from tests.unit.assessment.fakes import FakeDb, FakeRegistry, FakeStore

SETS = criteria_sets.load_criteria()
SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
          "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}  # 81: passes
FAILING = SCORES | {"TC2.1": 4}  # 77
PATH = ["AG", "AG.LX"]
CHAIR, REVIEWER, CITIZEN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def official(body_kind):
    return {"association": [{"current": True, "role": "official", "unit_code": "AG.LX",
                             "body_kind": body_kind}], "groups": []}


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def service(store):
    registry = FakeRegistry()
    registry.profiles[str(CITIZEN)] = {"unit_code": "AG.LX", "unit_path": PATH,
                                       "target_group": "resident"}
    registry.positions[str(CHAIR)] = official("commune_association")
    registry.positions[str(REVIEWER)] = official("branch")
    return worker_factory(AssessmentService, db=FakeDb(store), registry=registry,
                          criteria=SETS, approval=approval.from_config({}),
                          config={"REGISTRY_TIMEOUT": 5})


def request(body=None, *, who=CHAIR, role="commune_staff", query=None):
    """A request as the @api entrypoint hands it over: token checked, caller set."""
    built = Request(EnvironBuilder(method="POST" if body is not None else "GET", json=body,
                                   query_string=query).get_environ())
    built.caller = Caller(str(who), role, "AG.LX")
    return built


def refused(call, status=409):
    with pytest.raises(ApiError) as raised:
        call()
    assert raised.value.status == status, raised.value.errors
    return raised.value.message


def submit(service, scores=SCORES):
    status, view = service.submit(request({"person_id": str(CITIZEN), "year": 2025,
                                           "scores": scores}, who=CITIZEN, role="citizen"))
    assert status == 201
    return view["assessment_id"]


def review(service, assessment_id, action="accept", reason=None):
    return service.review(request({"reviewer_id": str(REVIEWER), "action": action,
                                   "reason": reason}, who=REVIEWER, role="reviewer"),
                          assessment_id)


def decide(service, assessment_id, decision="recognise", reasons=()):
    return service.decide(request({"decided_by": str(CHAIR), "decision": decision,
                                   "reasons": list(reasons)}), assessment_id)


def test_submit_review_and_recognise(service, store):
    assessment_id = submit(service)
    assert review(service, assessment_id)["status"] == domain.REVIEWED
    view = decide(service, assessment_id)
    assert view["status"] == domain.RECOGNISED and view["recognition_id"] in store.recognitions
    assert [kind for kind, _ in store.events] == ["assessment_submitted", "recognition_granted"]
    assert store.actions(assessment_id) == ["submitted", "reviewed", "recognised"]
    assert service.db.commits == 3


def test_each_step_asks_the_registry_once(service):
    """Staff entering a self-assessment get the person and their own positions in one RPC;
    an official's review needs no more than the reviewer's positions."""
    status, view = service.submit(request({"person_id": str(CITIZEN), "year": 2025,
                                           "scores": SCORES}))
    assert status == 201 and view["submitted_by"] == CHAIR
    assert service.registry.asked == ["profile_and_memberships"]
    review(service, view["assessment_id"])
    decide(service, view["assessment_id"])
    assert service.registry.asked == ["profile_and_memberships", "memberships", "memberships"]
    assert service.db.sessions == service.db.commits == 3  # one session per step


def test_a_refused_reviewer_or_decider_changes_nothing(service, store):
    assessment_id = submit(service)
    outsider = uuid.uuid4()
    service.registry.positions[str(outsider)] = {"association": [], "groups": []}
    assert "the reviewer is not an official" in refused(lambda: service.review(
        request({"reviewer_id": str(outsider), "action": "accept", "reason": None},
                who=outsider, role="reviewer"), assessment_id), 403)
    review(service, assessment_id)
    commits = service.db.commits
    assert "decided_by is not an official" in refused(lambda: service.decide(
        request({"decided_by": str(REVIEWER), "decision": "recognise", "reasons": []},
                who=REVIEWER), assessment_id), 403)  # a branch official does not recognise
    assert service.db.commits == commits and not store.recognitions
    assert decide(service, assessment_id)["status"] == domain.RECOGNISED


def test_the_head_of_the_persons_learning_unit_reviews_and_no_other_head(service):
    """A reviewer who is no official: the person's own groups are asked, and decide."""
    def head_of(group_id):
        return {"association": [], "groups": [{"current": True, "role": "head",
                                               "group_kind": "learning_unit",
                                               "group_id": group_id}]}
    head, other_head = uuid.uuid4(), uuid.uuid4()
    service.registry.positions[str(head)] = head_of("unit-1")
    service.registry.positions[str(other_head)] = head_of("unit-2")
    service.registry.positions[str(CITIZEN)] = {"association": [], "groups": [
        {"current": True, "role": "member", "group_kind": "learning_unit",
         "group_id": "unit-1"}]}
    assessment_id = submit(service)

    def review_by(who):
        return service.review(request({"reviewer_id": str(who), "action": "accept",
                                       "reason": None}, who=who, role="reviewer"),
                              assessment_id)
    assert "the reviewer is not an official" in refused(lambda: review_by(other_head), 403)
    assert review_by(head)["status"] == domain.REVIEWED


def test_a_refusal_shows_its_reasons_as_sentences_and_as_data(service, store):
    assessment_id = submit(service, FAILING)
    review(service, assessment_id)
    view = decide(service, assessment_id, "refuse", ["Thiếu minh chứng"])
    assert view["status"] == domain.REFUSED and view["recognition_id"] is None
    assert view["refusal_reasons"] == ["total 77 is under 80",
                                       "TC2.1: 4/10, under the minimum 5", "Thiếu minh chứng"]
    assert [r["kind"] for r in view["refusal_details"]] == [
        "total_below", "indicator_below", "reviewer"]
    assert service.get_assessment(request(), assessment_id)["history"][-1]["reasons"] == \
        view["refusal_reasons"]


def test_refusing_a_passing_assessment_without_reasons_is_a_422(service):
    assessment_id = submit(service)
    review(service, assessment_id)
    assert refused(lambda: decide(service, assessment_id, "refuse"), 422) == "invalid input"


def test_deciding_twice_is_a_409(service, store):
    assessment_id = submit(service)
    review(service, assessment_id)
    decide(service, assessment_id)
    commits = service.db.commits
    assert "only a reviewed assessment can be decided; this one is recognised" in refused(
        lambda: decide(service, assessment_id))
    assert service.db.commits == commits and len(store.recognitions) == 1


def test_deciding_what_is_not_reviewed_yet_or_does_not_pass_is_a_409(service):
    assessment_id = submit(service, FAILING)
    assert "this one is submitted" in refused(lambda: decide(service, assessment_id))
    review(service, assessment_id)
    assert "does not meet the criteria" in refused(lambda: decide(service, assessment_id))


def test_a_concurrent_title_at_commit_is_a_409(service, store):
    assessment_id = submit(service)
    review(service, assessment_id)

    def concurrent_twin(assessment, decision):
        raise Conflict("uq_recognitions_current")
    store.grant = concurrent_twin
    with pytest.raises(ApiError) as raised:
        decide(service, assessment_id)
    assert (raised.value.status, raised.value.errors) == (
        409, {"year": ["this person already holds the title for this year"]})


def test_submitting_for_a_year_already_titled_is_a_409(service, store):
    assessment_id = submit(service)
    review(service, assessment_id)
    decide(service, assessment_id)
    with pytest.raises(ApiError) as raised:
        submit(service)
    assert (raised.value.status, raised.value.errors) == (
        409, {"year": ["this person already holds the title for this year"]})
    assert len(store.assessments) == 1


def test_reviewing_or_resubmitting_out_of_turn_is_a_409(service):
    assessment_id = submit(service)
    resubmit = request({"scores": SCORES}, who=CITIZEN, role="citizen")
    assert "only an assessment sent back can be resubmitted" in refused(
        lambda: service.resubmit(resubmit, assessment_id))
    review(service, assessment_id, "send_back", "Bổ sung minh chứng")
    assert service.resubmit(resubmit, assessment_id)["status"] == domain.SUBMITTED
    review(service, assessment_id)
    assert "only a submitted assessment can be reviewed" in refused(
        lambda: review(service, assessment_id))


def test_re_evaluating_an_open_assessment_or_under_its_own_version_is_a_409(service):
    assessment_id = submit(service)
    again = request({"criteria_version": "244/QĐ-KHVN", "reason": "rà soát"},
                    role="province_staff")
    assert "only a decided assessment" in refused(
        lambda: service.re_evaluate(again, assessment_id))
    review(service, assessment_id)
    decide(service, assessment_id)
    same = request({"criteria_version": "324/QĐ-KHVN", "reason": "rà soát"},
                   role="province_staff")
    assert "already decided under 324" in refused(
        lambda: service.re_evaluate(same, assessment_id))
    status, view = service.re_evaluate(again, assessment_id)
    assert status == 201 and [h["action"] for h in view["history"]] == [
        "re-evaluated", "title_kept"]


def test_revoking_a_title_twice_is_a_409(service, store):
    assessment_id = submit(service)
    review(service, assessment_id)
    recognition_id = decide(service, assessment_id)["recognition_id"]
    revoke = request({"reason": "Khai man"})
    assert service.revoke(revoke, recognition_id)["revoke_reason"] == "Khai man"
    assert refused(lambda: service.revoke(revoke, recognition_id)) == \
        "this title is already revoked"


def test_a_citizen_reads_only_their_own_assessments(service):
    submit(service)
    mine = service.list_assessments(request(who=CITIZEN, role="citizen"))
    theirs = service.list_assessments(request(who=uuid.uuid4(), role="citizen"))
    assert (mine["total"], theirs["total"]) == (1, 0)


def test_a_learning_activity_is_applied_once(service, store):
    assessment_id = submit(service, SCORES | {"TC2.1": 5, "TC1.1": 10, "TC1.2": 10})
    review(service, assessment_id)
    decide(service, assessment_id)
    event = make_envelope("learning_activity_recorded", {
        "activity_id": uuid.uuid4(), "person_id": CITIZEN, "kind": "digital_skills_proficient",
        "started_on": date(2025, 9, 1), "ended_on": date(2025, 9, 30), "hours": 20,
        "unit_code": "AG.LX", "unit_path": PATH}, producer="registry")

    service.on_learning_activity(event)
    service.on_learning_activity(event)  # delivered again

    assert len(store.evidence[CITIZEN]) == 1
    assert store.current_title(CITIZEN, 2025).digital_skills == "proficient"
    assert len(store.of_type("recognition_revoked")) == 1
