"""The assessment service: self-assessment -> review -> recognition by the commune
association, under the criteria version in force; group titles from members' titles; closing
a year. Every change and its events (recognition_granted, recognition_refused, ...) commit
together through the outbox.
"""
import uuid

import eventlet
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from cdht.auth import EVERYONE, PROVINCE, REVIEWERS, STAFF, STAFF_AND_CITIZEN
from cdht.openapi import ListOf, page_of
from services.assessment.schemas import (
    AssessmentViewSchema, ClosingSchema, CriteriaSetSchema, GroupRecognitionViewSchema,
    PrefillSchema, RecognitionViewSchema,
)
from cdht.broker import RpcProxy, rpc  # nameko's, surviving a broker restart
from cdht.consumer import handle_event
from cdht.db import Database, make_engine
from cdht.inbox import first_delivery
from cdht.outbox import add_event
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import (
    ApiError, Forbidden, NotFound, Observed, api, caller_of, correlation_id, load_json,
    require_scope,
)
from services.assessment import approval, closing, domain, titles
from services.assessment import reasons as refusal_reasons
from services.assessment import criteria as criteria_sets
from services.assessment.models import (
    Assessment, AssessmentStep, CriteriaVersion, Evidence, GroupMember, GroupRecognition,
    Recognition, YearClosing,
)
from services.assessment.schemas import (
    AssessmentQuerySchema, CloseYearSchema, DecisionRequestSchema,
    GroupRecognitionQuerySchema, ReEvaluationSchema, ResubmissionSchema, ReviewSchema,
    RevocationSchema, SelfAssessmentSchema, YearQuerySchema,
)

EXPORT_MAX = 5000


class Criteria(DependencyProvider):
    """The criteria sets: the shipped ones and those in CRITERIA_DIRS, loaded when the service
    starts. A set already used for a decision whose file changed stops the start with a
    clear error (an edited set in use would silently change past decisions' meaning)."""

    def setup(self):
        config = self.container.config
        directories = [d for d in str(config.get("CRITERIA_DIRS") or "").split(":") if d]
        self.sets = criteria_sets.load_criteria(criteria_sets.CRITERIA_DIR, *directories)
        engine = make_engine(config["DATABASE_URL"])
        try:
            with engine.connect() as conn:
                recorded = dict(conn.execute(select(CriteriaVersion.version,
                                                    CriteriaVersion.fingerprint)).all())
        finally:
            engine.dispose()
        criteria_sets.check_unchanged(self.sets, recorded)

    def get_dependency(self, worker_ctx):
        return self.sets


class ApprovalSettings(DependencyProvider):
    """APPROVAL_LEVEL and ASSESSMENT_CYCLE (approval.py), checked when the service starts."""

    def setup(self):
        self.settings = approval.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


def _invalid(field, message, status=400):
    return ApiError(status, "invalid input", {field: [message] if isinstance(message, str)
                                               else message})


def _query(request, schema):
    from marshmallow import ValidationError
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid query", exc.messages) from None


# -- who acts, and on what (cdht.auth) ---------------------------------------------------------
def _subject_id(caller):
    try:
        return uuid.UUID(str(caller.subject))
    except ValueError:
        return None


def _actor(request, given, field, required=False):
    """Who acts: the token's subject (a registry person id). Given in the body, it must be
    the subject; only an admin records an act on someone else's behalf. Left out, it is the
    subject (for an operator's token naming no person: None, or a 400 when ``required``)."""
    caller = caller_of(request)
    subject = _subject_id(caller)
    if given is None:
        if subject is None and required:
            raise _invalid(field, "your token names no registry person: give the person id "
                                  "of who acts")
        return subject
    if given != subject and not caller.is_admin:
        raise Forbidden(f"{field} must be the token's subject")
    return given


def _own_or_in_scope(request, person_id, unit_path, what):
    """A citizen reaches only their own records; others those in their unit subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person_id != _subject_id(caller):
            raise Forbidden("a citizen may only see and change their own records")
        return
    require_scope(request, unit_path, what)


def _scope_rows(stmt, request, model):
    """A list keeps a citizen's own rows, and rows of the caller's subtree for staff."""
    caller = caller_of(request)
    if caller.is_admin:
        return stmt
    if caller.is_citizen:
        return stmt.where(model.person_id == _subject_id(caller))
    return stmt.where(model.unit_path.contains([caller.unit_code]))


def _unit_in_scope(request, session, unit_code):
    caller = caller_of(request)
    if caller.is_admin or unit_code == caller.unit_code:
        return
    require_scope(request, closing.known_path(session, unit_code) or [unit_code],
                  f"unit {unit_code}")


def _assessment_view(assessment, steps=None):
    details, sentences = refusal_reasons.view(assessment.refusal_reasons)
    view = {"assessment_id": assessment.id, "person_id": assessment.person_id,
            "year": assessment.year, "unit_code": assessment.unit_code,
            "target_group": assessment.target_group, "status": assessment.status,
            "criteria_version": assessment.criteria_version,
            "self_scores": assessment.self_scores, "scores": assessment.scores,
            "decision": assessment.explanation,
            "refusal_reasons": sentences, "refusal_details": details,
            "supersedes_id": assessment.supersedes_id,
            "submitted_by": assessment.submitted_by, "reviewed_by": assessment.reviewed_by,
            "decided_by": assessment.decided_by, "decided_at": assessment.decided_at,
            "created_at": assessment.created_at}
    if steps is not None:
        view["history"] = [{"action": s.action, "actor_id": s.actor_id, "at": s.at,
                            **s.detail} for s in steps]
    return view


def _recognition_view(r):
    return {"recognition_id": r.id, "person_id": r.person_id, "year": r.year,
            "assessment_id": r.assessment_id, "unit_code": r.unit_code,
            "unit_path": r.unit_path, "target_group": r.target_group,
            "total_score": r.total_score, "criteria_version": r.criteria_version,
            "digital_skills": r.digital_skills, "granted_at": r.granted_at,
            "revoked_at": r.revoked_at, "revoke_reason": r.revoke_reason}


def _group_view(g):
    return {"group_recognition_id": g.id, "group_id": g.group_id, "group_kind": g.group_kind,
            "year": g.year, "level": g.level, "criteria_version": g.criteria_version,
            "members": g.members, "members_titled": g.members_titled,
            "unit_code": g.unit_code, "unit_path": g.unit_path, "explanation": g.explanation,
            "granted_at": g.granted_at, "revoked_at": g.revoked_at,
            "revoke_reason": g.revoke_reason}


class AssessmentService(Observed):
    name = "assessment"
    db = Database(relay=True)
    config = Config()
    registry = RpcProxy("registry")
    criteria = Criteria()
    approval = ApprovalSettings()

    # -- service --------------------------------------------------------------------------------

    # -- criteria -------------------------------------------------------------------------------
    @api("GET", "/criteria",
         roles=EVERYONE,
         summary="Every criteria set loaded, individual and group",
         response=ListOf(CriteriaSetSchema),
         tag="criteria")
    def list_criteria(self, request):
        with self.db.read() as session:
            used = closing.recorded_criteria(session)
        return [c.describe() | {"in_use": c.version in used}
                for c in sorted(self.criteria.values(), key=lambda c: (c.kind, c.effective_from))]

    @api("GET", "/criteria/<path:version>",
         roles=EVERYONE,
         summary="One criteria set, with its indicators, forms "
                 "per target group and evidence rules",
         response=CriteriaSetSchema,
         tag="criteria")
    def get_criteria(self, request, version):
        criteria = self.criteria.get(version)
        if criteria is None:
            raise NotFound("criteria version")
        with self.db.read() as session:
            used = closing.recorded_criteria(session)
        return criteria.describe() | {"in_use": version in used}

    # -- helpers ---------------------------------------------------------------------------------
    def _ask_registry(self, method, *args):
        try:
            with deadline(self.config.get("REGISTRY_TIMEOUT"), f"registry.{method}"):
                return getattr(self.registry, method)(*args)
        except RpcUnavailable as exc:
            raise ApiError(503, f"registry unavailable: {exc}") from None

    def _individual_criteria(self, year, version=None):
        try:
            if version:
                criteria = criteria_sets.known(self.criteria, version)
            else:
                criteria = criteria_sets.in_force(self.criteria, criteria_sets.INDIVIDUAL, year)
        except LookupError as exc:
            raise _invalid("criteria_version" if version else "year", str(exc)) from None
        return criteria

    def _evaluate(self, session, criteria, scores, person_id, year, target_group):
        try:
            return domain.evaluate(criteria, scores, target_group,
                                   closing.activities_of(session, [person_id], year)
                                   .get(person_id, ()))
        except domain.InvalidScores as exc:
            raise _invalid("scores", exc.errors) from None

    def _locked(self, session, assessment_id):
        assessment = session.get(Assessment, assessment_id, with_for_update=True)
        if assessment is None:
            raise NotFound("assessment")
        return assessment

    # -- the individual workflow -----------------------------------------------------------------
    @api("POST", "/assessments",
         roles=STAFF_AND_CITIZEN,
         summary="Submit a self-assessment (by the citizen, or staff on "
                 "their behalf)",
         body=SelfAssessmentSchema,
         response=AssessmentViewSchema,
         status=201,
         errors=(403, 409, 503),
         tag="workflow")
    def submit(self, request):
        """A self-assessment, by the citizen or by staff on their behalf: evaluated at once
        (provisionally) and waiting for review."""
        data = load_json(request, SelfAssessmentSchema())
        criteria = self._individual_criteria(data["year"], data["criteria_version"])
        try:
            domain.check_scores(criteria, data["scores"])
        except domain.InvalidScores as exc:
            raise _invalid("scores", exc.errors) from None
        caller = caller_of(request)
        if caller.is_citizen and data["person_id"] != _subject_id(caller):
            raise Forbidden("a citizen submits only their own self-assessment")
        profile = self._ask_registry("profile", str(data["person_id"]))
        if profile is None:
            raise _invalid("person_id", "unknown person")
        if not caller.is_citizen:
            require_scope(request, profile["unit_path"], "the person")
        by = _actor(request, data["submitted_by"], "submitted_by")
        if by is not None and by != data["person_id"]:
            staff = self._ask_registry("memberships", str(by))
            if not domain.may_act_for(staff, profile["unit_path"]):
                raise ApiError(403, "submitted_by is not an official of the association at the "
                                    "person's unit or above")
        corr = correlation_id(request)
        try:
            with self.db.transaction() as session:
                if session.scalar(select(Recognition.id).where(
                        Recognition.person_id == data["person_id"],
                        Recognition.year == data["year"], Recognition.revoked_at.is_(None))):
                    raise _invalid("year", "this person already holds the title for this year",
                                   409)
                decision = self._evaluate(session, criteria, data["scores"], data["person_id"],
                                          data["year"], profile["target_group"])
                assessment = Assessment(
                    id=uuid.uuid4(), person_id=data["person_id"], year=data["year"],
                    unit_code=profile["unit_code"], unit_path=profile["unit_path"],
                    target_group=profile["target_group"], criteria_version=criteria.version,
                    status=domain.SUBMITTED, self_scores=data["scores"], scores=data["scores"],
                    total=decision.total, passed=decision.passed,
                    explanation=domain.explanation(decision), submitted_by=by)
                session.add(assessment)
                session.flush()
                titles.record_criteria(session, criteria)
                titles.step(session, assessment.id, "submitted", by or data["person_id"],
                            scores=data["scores"], summary=decision.summary)
                self._announce_submission(session, assessment, corr)
        except IntegrityError:  # a concurrent submission for the same person and year
            raise _invalid("year", "an assessment of this person for this year is already "
                                   "open", 409) from None
        return 201, _assessment_view(assessment)

    def _announce_submission(self, session, assessment, corr):
        add_event(session, "assessment_submitted", titles.placed(assessment) | {
            "assessment_id": assessment.id, "person_id": assessment.person_id,
            "year": assessment.year, "criteria_version": assessment.criteria_version,
            "total_score": assessment.total, "passed": assessment.passed,
        }, producer=self.name, correlation_id=corr)

    @api("GET", "/assessments",
         roles=EVERYONE,
         summary="List assessments (a reviewer's queue: status=submitted)",
         query=AssessmentQuerySchema,
         response=page_of(AssessmentViewSchema),
         tag="workflow")
    def list_assessments(self, request):
        query = _query(request, AssessmentQuerySchema())
        stmt = _scope_rows(select(Assessment), request, Assessment)
        if "year" in query:
            stmt = stmt.where(Assessment.year == query["year"])
        if "status" in query:
            stmt = stmt.where(Assessment.status == query["status"])
        if "person_id" in query:
            stmt = stmt.where(Assessment.person_id == query["person_id"])
        if "unit_code" in query:
            stmt = stmt.where(Assessment.unit_path.contains([query["unit_code"]]))
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = session.scalars(stmt.order_by(Assessment.created_at, Assessment.id)
                                   .limit(query["limit"]).offset(query["offset"])).all()
            return {"items": [_assessment_view(a) for a in rows], "total": total,
                    "limit": query["limit"], "offset": query["offset"]}

    @api("GET", "/assessments/<uuid:assessment_id>",
         roles=EVERYONE,
         summary="Read an assessment with its history",
         response=AssessmentViewSchema,
         tag="workflow")
    def get_assessment(self, request, assessment_id):
        with self.db.read() as session:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None:
                raise NotFound("assessment")
            _own_or_in_scope(request, assessment.person_id, assessment.unit_path,
                             "the assessment")
            steps = session.scalars(select(AssessmentStep)
                                    .where(AssessmentStep.assessment_id == assessment_id)
                                    .order_by(AssessmentStep.id)).all()
            return _assessment_view(assessment, steps)

    @api("PUT", "/assessments/<uuid:assessment_id>/scores",
         roles=STAFF_AND_CITIZEN,
         summary="Resubmit the scores of an "
                 "assessment sent back",
         body=ResubmissionSchema,
         response=AssessmentViewSchema,
         errors=(409,),
         tag="workflow")
    def resubmit(self, request, assessment_id):
        """New scores for an assessment sent back by its reviewer; it waits for review again."""
        data = load_json(request, ResubmissionSchema())
        corr = correlation_id(request)
        with self.db.transaction() as session:
            assessment = self._locked(session, assessment_id)
            _own_or_in_scope(request, assessment.person_id, assessment.unit_path,
                             "the assessment")
            by = _actor(request, data["submitted_by"], "submitted_by")
            try:
                status = domain.resubmit(assessment.status)
            except domain.WorkflowError as exc:
                raise ApiError(409, str(exc)) from None
            criteria = criteria_sets.known(self.criteria, assessment.criteria_version)
            decision = self._evaluate(session, criteria, data["scores"], assessment.person_id,
                                      assessment.year, assessment.target_group)
            self._set_scores(assessment, data["scores"], decision, status)
            assessment.self_scores = data["scores"]
            titles.step(session, assessment.id, "resubmitted",
                        by or assessment.person_id, scores=data["scores"],
                        summary=decision.summary)
            self._announce_submission(session, assessment, corr)
        return _assessment_view(assessment)

    def _set_scores(self, assessment, scores, decision, status):
        assessment.scores = scores
        assessment.total = decision.total
        assessment.passed = decision.passed
        assessment.explanation = domain.explanation(decision)
        assessment.status = status
        assessment.updated_at = titles.now()

    @api("POST", "/assessments/<uuid:assessment_id>/review",
         roles=REVIEWERS,
         summary="Review: accept, adjust scores "
                 "with reasons, or send back",
         body=ReviewSchema,
         response=AssessmentViewSchema,
         errors=(403, 409, 503),
         tag="workflow")
    def review(self, request, assessment_id):
        """The branch or unit reviews: accept, adjust scores (each with a reason), or send
        back to the citizen."""
        data = load_json(request, ReviewSchema())
        with self.db.read() as session:
            found = session.get(Assessment, assessment_id)
            if found is None:
                raise NotFound("assessment")
            person_id, unit_path = found.person_id, found.unit_path
        require_scope(request, unit_path, "the assessment")
        data["reviewer_id"] = _actor(request, data["reviewer_id"], "reviewer_id", required=True)
        reviewer = self._ask_registry("memberships", str(data["reviewer_id"]))
        subject = self._ask_registry("memberships", str(person_id))
        if not domain.may_review(reviewer, subject, unit_path):
            raise ApiError(403, "the reviewer is not an official of the association at the "
                                "person's unit or above, nor the head of the person's unit")
        adjustments = {code: dict(change) for code, change in data["adjustments"].items()}
        with self.db.transaction() as session:
            assessment = self._locked(session, assessment_id)
            criteria = criteria_sets.known(self.criteria, assessment.criteria_version)
            try:
                status, scores, notes = domain.review(assessment.status, data["action"],
                                                      assessment.scores, adjustments, criteria)
            except domain.WorkflowError as exc:
                raise ApiError(409, str(exc)) from None
            except domain.InvalidScores as exc:
                raise _invalid("adjustments", exc.errors) from None
            decision = self._evaluate(session, criteria, scores, assessment.person_id,
                                      assessment.year, assessment.target_group)
            self._set_scores(assessment, scores, decision, status)
            assessment.reviewed_by = data["reviewer_id"]
            titles.step(session, assessment.id, "sent_back" if data["action"] == "send_back"
                        else "reviewed", data["reviewer_id"], verdict=data["action"],
                        adjustments=notes, reason=data["reason"], summary=decision.summary)
        return _assessment_view(assessment)

    @api("POST", "/assessments/<uuid:assessment_id>/decision",
         roles=STAFF,
         summary="The commune association "
                 "recognises or refuses",
         body=DecisionRequestSchema,
         response=AssessmentViewSchema,
         errors=(403, 409, 503),
         tag="workflow")
    def decide(self, request, assessment_id):
        """The commune association recognises (recognition_granted) or refuses with reasons
        (recognition_refused)."""
        data = load_json(request, DecisionRequestSchema())
        with self.db.read() as session:
            found = session.get(Assessment, assessment_id)
            if found is None:
                raise NotFound("assessment")
            unit_path = found.unit_path
        require_scope(request, unit_path, "the assessment")
        data["decided_by"] = _actor(request, data["decided_by"], "decided_by", required=True)
        decider = self._ask_registry("memberships", str(data["decided_by"]))
        if not domain.may_decide(decider, unit_path, self.approval.level):
            raise ApiError(403, f"decided_by is not an official of the association that "
                                f"decides ({self.approval.deciding_body}) for the person")
        corr = correlation_id(request)
        try:
            with self.db.transaction() as session:
                assessment = self._locked(session, assessment_id)
                result = closing.decide_one(session, self.criteria, assessment,
                                            data["decision"], data["reasons"],
                                            data["decided_by"], corr)
        except domain.WorkflowError as exc:
            raise ApiError(409, str(exc)) from None
        except domain.InvalidScores as exc:
            raise ApiError(400, "invalid input", exc.errors) from None
        except IntegrityError:
            raise _invalid("year", "this person already holds the title for this year",
                           409) from None
        return _assessment_view(assessment) | {"recognition_id": result}

    @api("POST", "/assessments/<uuid:assessment_id>/re-evaluate",
         roles=PROVINCE,
         summary="Decide again under "
                 "another criteria version (traced)",
         body=ReEvaluationSchema,
         response=AssessmentViewSchema,
         status=201,
         errors=(409,),
         tag="workflow")
    def re_evaluate(self, request, assessment_id):
        """Decide a decided assessment again under another criteria version: a new assessment
        supersedes it; a title whose outcome changes is revoked and, if still earned, granted
        again under the new version."""
        data = load_json(request, ReEvaluationSchema())
        new_criteria = self._individual_criteria(0, data["criteria_version"])
        corr = correlation_id(request)
        with self.db.transaction() as session:
            old = self._locked(session, assessment_id)
            require_scope(request, old.unit_path, "the assessment")
            data["requested_by"] = _actor(request, data["requested_by"], "requested_by")
            try:
                domain.re_evaluation(old.status, old.criteria_version, new_criteria)
            except domain.WorkflowError as exc:
                raise ApiError(409, str(exc)) from None
            scores = data["scores"] if data["scores"] is not None else old.scores
            decision = self._evaluate(session, new_criteria, scores, old.person_id, old.year,
                                      old.target_group)
            new = closing.re_evaluate(session, self.criteria, old, new_criteria, scores, decision,
                                      data["reason"], data["requested_by"], corr)
            steps = session.scalars(select(AssessmentStep)
                                    .where(AssessmentStep.assessment_id == new.id)).all()
        return 201, _assessment_view(new, steps)

    @api("GET", "/people/<uuid:person_id>/prefill",
         roles=EVERYONE,
         summary="Scores suggested by the person's "
                 "learning activities of the year",
         query=YearQuerySchema,
         response=PrefillSchema,
         tag="workflow")
    def prefill(self, request, person_id):
        """Suggested scores from the person's learning activities of the year."""
        query = _query(request, YearQuerySchema())
        caller = caller_of(request)
        if caller.is_citizen:
            _own_or_in_scope(request, person_id, (), "the person")
        elif not caller.is_admin:
            profile = self._ask_registry("profile", str(person_id))
            if profile is None:
                raise NotFound("person")
            require_scope(request, profile["unit_path"], "the person")
        criteria = self._individual_criteria(query["year"])
        with self.db.read() as session:
            activities = closing.activities_of(session, [person_id], query["year"])
        return {"person_id": person_id, "year": query["year"],
                "criteria_version": criteria.version,
                **domain.prefill(criteria, activities.get(person_id, ()))}

    # -- titles ----------------------------------------------------------------------------------
    @api("GET", "/recognitions",
         roles=EVERYONE,
         summary="List titles",
         query=AssessmentQuerySchema,
         response=page_of(RecognitionViewSchema),
         tag="titles")
    def list_recognitions(self, request):
        query = _query(request, AssessmentQuerySchema())
        stmt = _scope_rows(select(Recognition), request, Recognition)
        if "year" in query:
            stmt = stmt.where(Recognition.year == query["year"])
        if "person_id" in query:
            stmt = stmt.where(Recognition.person_id == query["person_id"])
        if "unit_code" in query:
            stmt = stmt.where(Recognition.unit_path.contains([query["unit_code"]]))
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = session.scalars(stmt.order_by(Recognition.granted_at, Recognition.id)
                                   .limit(query["limit"]).offset(query["offset"])).all()
            return {"items": [_recognition_view(r) for r in rows], "total": total,
                    "limit": query["limit"], "offset": query["offset"]}

    @api("GET", "/recognitions/<uuid:recognition_id>",
         roles=EVERYONE,
         summary="Read a title",
         response=RecognitionViewSchema,
         tag="titles")
    def get_recognition(self, request, recognition_id):
        with self.db.read() as session:
            recognition = session.get(Recognition, recognition_id)
            if recognition is None:
                raise NotFound("recognition")
            _own_or_in_scope(request, recognition.person_id, recognition.unit_path,
                             "the title")
            return _recognition_view(recognition)

    @api("POST", "/recognitions/<uuid:recognition_id>/revoke",
         roles=STAFF,
         summary="Revoke a title with a reason",
         body=RevocationSchema,
         response=RecognitionViewSchema,
         errors=(409,),
         tag="titles")
    def revoke(self, request, recognition_id):
        data = load_json(request, RevocationSchema())
        corr = correlation_id(request)
        with self.db.transaction() as session:
            recognition = session.get(Recognition, recognition_id, with_for_update=True)
            if recognition is None:
                raise NotFound("recognition")
            require_scope(request, recognition.unit_path, "the title")
            data["revoked_by"] = _actor(request, data["revoked_by"], "revoked_by")
            if recognition.revoked_at:
                raise ApiError(409, "this title is already revoked")
            titles.revoke(session, recognition, data["reason"], corr)
            titles.step(session, recognition.assessment_id, "revoked", data["revoked_by"],
                        reason=data["reason"])
            titles.evaluate_groups(session, self.criteria, recognition.year,
                                   titles.groups_of(session, [recognition.person_id],
                                                    recognition.year), corr)
        return _recognition_view(recognition)

    @api("GET", "/group-recognitions",
         roles=REVIEWERS,
         summary="List group titles (families, clans, communities, "
                 "learning units)",
         query=GroupRecognitionQuerySchema,
         response=page_of(GroupRecognitionViewSchema),
         tag="titles")
    def list_group_recognitions(self, request):
        query = _query(request, GroupRecognitionQuerySchema())
        stmt = _scope_rows(select(GroupRecognition), request, GroupRecognition)
        for name in ("year", "group_id", "group_kind"):
            if name in query:
                stmt = stmt.where(getattr(GroupRecognition, name) == query[name])
        if "unit_code" in query:
            stmt = stmt.where(GroupRecognition.unit_path.contains([query["unit_code"]]))
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = session.scalars(stmt.order_by(GroupRecognition.granted_at,
                                                 GroupRecognition.id)
                                   .limit(query["limit"]).offset(query["offset"])).all()
            return {"items": [_group_view(g) for g in rows], "total": total,
                    "limit": query["limit"], "offset": query["offset"]}

    # -- closing a year --------------------------------------------------------------------------
    @api("POST", "/years/<int:year>/close",
         roles=STAFF,
         summary="Close a year for a unit's subtree: decide every "
                 "open submission and every group (resumable)",
         body=CloseYearSchema,
         response=ClosingSchema,
         status=202,
         tag="closing")
    def close_year(self, request, year):
        """Start (or resume) closing ``year`` for a unit's subtree; answers at once with the
        closing to follow at GET /closings/<id>."""
        data = load_json(request, CloseYearSchema())
        if not 2021 <= year <= 2100:
            raise _invalid("year", "must be between 2021 and 2100")
        sets = self.criteria
        with self.db.transaction() as session:
            _unit_in_scope(request, session, data["unit_code"])
            if not closing.may_close(session, data["unit_code"], self.approval.level):
                raise _invalid("unit_code", f"closing a year (khóa sổ năm) is the act of "
                                            f"the association that decides "
                                            f"({self.approval.deciding_body}): close it for "
                                            f"the province", 409)
            run = closing.start(session, year, data["unit_code"],
                                running_here=closing.ACTIVE)
        if run.id not in closing.ACTIVE:
            closing.ACTIVE.add(run.id)
            corr = correlation_id(request)

            def work():
                try:
                    closing.run(self.db, sets, run.id, corr=corr)
                finally:
                    closing.ACTIVE.discard(run.id)
            eventlet.spawn_n(work)
        return 202, closing.view(run)

    @api("GET", "/closings/<uuid:closing_id>",
         roles=STAFF,
         summary="Progress and summary of a year closing",
         response=ClosingSchema,
         tag="closing")
    def get_closing(self, request, closing_id):
        with self.db.read() as session:
            run = session.get(YearClosing, closing_id)
            if run is None:
                raise NotFound("closing")
            _unit_in_scope(request, session, run.unit_code)
            return closing.view(run)

    # -- events from the registry ----------------------------------------------------------------
    @handle_event("registry", "learning_activity_recorded")
    def on_learning_activity(self, event):
        """Evidence for the indicators it confirms (kept by activity id: a correction of the
        same activity replaces it). A title already granted for that year whose digital level
        the activity raises is granted again at the new level."""
        data = event.data
        ended = data["ended_on"] or data["started_on"]
        with self.db.transaction() as session:
            if not first_delivery(session, event, "assessment.on_learning_activity"):
                return
            stmt = insert(Evidence).values(activity_id=data["activity_id"],
                                           person_id=data["person_id"], kind=data["kind"],
                                           year=ended.year, ended_on=ended)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["activity_id"],
                set_={"kind": stmt.excluded.kind, "year": stmt.excluded.year,
                      "ended_on": stmt.excluded.ended_on}))
            closing.confirm_digital_skills(session, self.criteria, data["person_id"],
                                           ended.year, event.correlation_id)

    @handle_event("registry", "membership_changed")
    def on_membership_changed(self, event):
        """Keep who is in which group; a group already decided for the year is decided again."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event, "assessment.on_membership_changed"):
                return
            day = data["effective_on"]
            values = {"joined_on": day} if data["change"] == "joined" else {"left_on": day}
            stmt = insert(GroupMember).values(
                membership_id=data["membership_id"], group_id=data["group_id"],
                group_kind=data["group_kind"], person_id=data["person_id"],
                unit_code=data["unit_code"], unit_path=data["unit_path"], **values)
            session.execute(stmt.on_conflict_do_update(index_elements=["membership_id"],
                                                       set_=values))
            if closing.group_decided(session, data["group_id"], data["unit_path"], day.year):
                titles.evaluate_groups(session, self.criteria, day.year, {data["group_id"]},
                                       event.correlation_id)

    # -- RPC for the other services (rebuilds) ---------------------------------------------------
    @rpc
    def export_recognitions(self, after_id=None, limit=EXPORT_MAX):
        """One page of the current (not revoked) titles, ordered by id: call again with
        ``after_id=next_after`` until it is None."""
        return self._page(Recognition, after_id, limit, lambda r: {
            "recognition_id": str(r.id), "assessment_id": str(r.assessment_id),
            "person_id": str(r.person_id), "target_group": r.target_group, "year": r.year,
            "criteria_version": r.criteria_version, "total_score": r.total_score,
            "digital_skills": r.digital_skills, "unit_code": r.unit_code,
            "unit_path": list(r.unit_path), "granted_at": r.granted_at.isoformat()})

    @rpc
    def export_group_recognitions(self, after_id=None, limit=EXPORT_MAX):
        """One page of the current group titles, ordered by id (same paging)."""
        return self._page(GroupRecognition, after_id, limit, lambda g: {
            "group_recognition_id": str(g.id), "group_id": str(g.group_id),
            "group_kind": g.group_kind, "year": g.year, "criteria_version": g.criteria_version,
            "level": g.level, "members": g.members, "members_titled": g.members_titled,
            "unit_code": g.unit_code, "unit_path": list(g.unit_path),
            "granted_at": g.granted_at.isoformat()})

    def _page(self, model, after_id, limit, item):
        limit = int(limit)
        if not 1 <= limit <= EXPORT_MAX:
            raise ValueError(f"limit must be between 1 and {EXPORT_MAX}")
        stmt = (select(model).where(model.revoked_at.is_(None)).order_by(model.id)
                .limit(limit))
        if after_id is not None:
            stmt = stmt.where(model.id > uuid.UUID(str(after_id)))
        with self.db.read() as session:
            rows = session.scalars(stmt).all()
            items = [item(row) for row in rows]
            return {"items": items,
                    "next_after": str(rows[-1].id) if len(rows) == limit else None}
