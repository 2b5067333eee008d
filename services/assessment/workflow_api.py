"""The individual workflow over HTTP: a self-assessment is submitted, reviewed (accepted,
adjusted or sent back and resubmitted), then recognised or refused by the commune
association; a decided one may be re-evaluated under another criteria version.

Mixed into AssessmentService (service.py); it is not a module attribute there, since
``nameko run`` starts every class of the service's module that has entrypoints.
"""
from cdht.auth import EVERYONE, PROVINCE, REVIEWERS, STAFF, STAFF_AND_CITIZEN
from cdht.openapi import page_of
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import (
    UNPROCESSABLE, ApiError, Forbidden, api, caller_of, found, load_json, own_or_in_scope,
    query_of, require_scope,
)
from services.assessment import criteria as criteria_sets
from services.assessment import decisions, domain
from services.assessment.api_support import (
    actor, assessment_view, invalid, list_page, workflow_errors,
)
from services.assessment.schemas import (
    AssessmentQuerySchema, AssessmentViewSchema, DecisionRequestSchema, PrefillSchema,
    ReEvaluationSchema, ResubmissionSchema, ReviewSchema, SelfAssessmentSchema,
    YearQuerySchema, review_problems,
)
from services.assessment.store import Conflict


class WorkflowApi:
    """The routes of /assessments and /people/<id>/prefill."""

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
            raise invalid("criteria_version" if version else "year", str(exc)) from None
        return criteria

    @staticmethod
    def _evaluate(store, criteria, scores, person_id, year, target_group):
        with workflow_errors("scores"):
            return decisions.evaluate(store, criteria, scores, person_id, year, target_group)

    @staticmethod
    def _locked(store, assessment_id):
        return found(store.assessment(assessment_id, lock=True), "assessment")

    def _official(self, request, data, field):
        """Who acts (``data[field]``, the token's subject unless an admin names someone) and
        that person's positions in the registry, asked before the step's transaction opens:
        no database connection or row lock is held while the registry answers."""
        data[field] = actor(request, data[field], field, required=True)
        return self._ask_registry("memberships", str(data[field]))

    def _official_step(self, request, store, assessment_id):
        """In the step's transaction: the assessment, locked, its unit in the caller's scope."""
        assessment = self._locked(store, assessment_id)
        require_scope(request, assessment.unit_path, "the assessment")
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
        with workflow_errors("scores"):
            domain.check_scores(criteria, data["scores"])
        caller = caller_of(request)
        if caller.is_citizen and data["person_id"] != caller.person_id:
            raise Forbidden("a citizen submits only their own self-assessment")
        by = actor(request, data["submitted_by"], "submitted_by")
        on_behalf = by is not None and by != data["person_id"]
        if on_behalf:  # one round trip for the person and who acts for them
            asked = self._ask_registry("profile_and_memberships", str(data["person_id"]),
                                       str(by))
            profile, staff = asked["profile"], asked["memberships"]
        else:
            profile = self._ask_registry("profile", str(data["person_id"]))
        if profile is None:
            raise invalid("person_id", "unknown person")
        if not caller.is_citizen:
            require_scope(request, profile["unit_path"], "the person")
        if on_behalf:
            if not domain.may_act_for(staff, profile["unit_path"]):
                raise ApiError(403, "submitted_by is not an official of the association at the "
                                    "person's unit or above")
        try:
            with self.db.store(write=True) as store:
                if store.current_title(data["person_id"], data["year"]):
                    raise invalid("year", "this person already holds the title for this year",
                                  409)
                decision = self._evaluate(store, criteria, data["scores"], data["person_id"],
                                          data["year"], profile["target_group"])
                assessment = store.add_assessment(
                    person_id=data["person_id"], year=data["year"],
                    unit_code=profile["unit_code"], unit_path=profile["unit_path"],
                    target_group=profile["target_group"], criteria_version=criteria.version,
                    status=domain.SUBMITTED, self_scores=data["scores"], scores=data["scores"],
                    total=decision.total, passed=decision.passed,
                    explanation=domain.explanation(decision), submitted_by=by)
                store.record_criteria(criteria)
                store.step(assessment.id, "submitted", by or data["person_id"],
                           scores=data["scores"], summary=decision.summary)
                store.announce_submission(assessment)
        except Conflict:  # a concurrent submission for the same person and year
            raise invalid("year", "an assessment of this person for this year is already "
                                  "open", 409) from None
        return 201, assessment_view(assessment)

    @api("GET", "/assessments",
         roles=EVERYONE,
         summary="List assessments (a reviewer's queue: status=submitted)",
         query=AssessmentQuerySchema,
         response=page_of(AssessmentViewSchema),
         tag="workflow")
    def list_assessments(self, request):
        return list_page(self.db, request, "assessments", AssessmentQuerySchema,
                         ("year", "status", "person_id", "unit_code"), assessment_view)

    @api("GET", "/assessments/<uuid:assessment_id>",
         roles=EVERYONE,
         summary="Read an assessment with its history",
         response=AssessmentViewSchema,
         tag="workflow")
    def get_assessment(self, request, assessment_id):
        with self.db.store() as store:
            assessment = found(store.assessment(assessment_id), "assessment")
            own_or_in_scope(request, assessment.person_id, assessment.unit_path,
                            "the assessment")
            return assessment_view(assessment, store.history(assessment_id))

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
        with self.db.store(write=True) as store:
            assessment = self._locked(store, assessment_id)
            own_or_in_scope(request, assessment.person_id, assessment.unit_path,
                            "the assessment")
            by = actor(request, data["submitted_by"], "submitted_by")
            with workflow_errors():
                status = domain.resubmit(assessment.status)
            criteria = criteria_sets.known(self.criteria, assessment.criteria_version)
            decision = self._evaluate(store, criteria, data["scores"], assessment.person_id,
                                      assessment.year, assessment.target_group)
            decisions.rescore(assessment, data["scores"], decision, status)
            assessment.self_scores = data["scores"]
            store.step(assessment.id, "resubmitted", by or assessment.person_id,
                       scores=data["scores"], summary=decision.summary)
            store.announce_submission(assessment)
        return assessment_view(assessment)

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
        problems = review_problems(data)
        if problems:
            raise ApiError(UNPROCESSABLE, "invalid input", problems)
        adjustments = {code: dict(change) for code, change in data["adjustments"].items()}
        reviewer = self._official(request, data, "reviewer_id")
        with self.db.store(write=True) as store:
            assessment = self._official_step(request, store, assessment_id)
            # the person's own groups count only for a reviewer who is not an official there
            path = assessment.unit_path
            if not domain.may_review(reviewer, None, path) and not domain.may_review(
                    reviewer, self._ask_registry("memberships", str(assessment.person_id)),
                    path):
                raise ApiError(403, "the reviewer is not an official of the association at "
                                    "the person's unit or above, nor the head of the "
                                    "person's unit")
            criteria = criteria_sets.known(self.criteria, assessment.criteria_version)
            with workflow_errors("adjustments"):
                status, scores, notes = domain.review(assessment.status, data["action"],
                                                      assessment.scores, adjustments, criteria)
            decision = self._evaluate(store, criteria, scores, assessment.person_id,
                                      assessment.year, assessment.target_group)
            decisions.rescore(assessment, scores, decision, status)
            assessment.reviewed_by = data["reviewer_id"]
            store.step(assessment.id, "sent_back" if data["action"] == "send_back"
                       else "reviewed", data["reviewer_id"], verdict=data["action"],
                       adjustments=notes, reason=data["reason"], summary=decision.summary)
        return assessment_view(assessment)

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
        decider = self._official(request, data, "decided_by")
        try:
            with workflow_errors(), self.db.store(write=True) as store:
                assessment = self._official_step(request, store, assessment_id)
                if not domain.may_decide(decider, assessment.unit_path, self.approval.level):
                    raise ApiError(403, f"decided_by is not an official of the association "
                                        f"that decides ({self.approval.deciding_body}) for "
                                        f"the person")
                result = decisions.decide_one(store, self.criteria, assessment,
                                              data["decision"], data["reasons"],
                                              data["decided_by"])
        except Conflict:
            raise invalid("year", "this person already holds the title for this year",
                          409) from None
        return assessment_view(assessment) | {"recognition_id": result}

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
        with self.db.store(write=True) as store:
            old = self._locked(store, assessment_id)
            require_scope(request, old.unit_path, "the assessment")
            data["requested_by"] = actor(request, data["requested_by"], "requested_by")
            scores = data["scores"] if data["scores"] is not None else old.scores
            with workflow_errors("scores"):
                new = decisions.re_evaluate(store, self.criteria, old, new_criteria, scores,
                                            data["reason"], data["requested_by"])
            return 201, assessment_view(new, store.history(new.id))

    @api("GET", "/people/<uuid:person_id>/prefill",
         roles=EVERYONE,
         summary="Scores suggested by the person's "
                 "learning activities of the year",
         query=YearQuerySchema,
         response=PrefillSchema,
         tag="workflow")
    def prefill(self, request, person_id):
        """Suggested scores from the person's learning activities of the year."""
        query = query_of(request, YearQuerySchema())
        caller = caller_of(request)
        if caller.is_citizen:
            own_or_in_scope(request, person_id, (), "the person")
        elif not caller.is_admin:
            profile = found(self._ask_registry("profile", str(person_id)), "person")
            require_scope(request, profile["unit_path"], "the person")
        criteria = self._individual_criteria(query["year"])
        with self.db.store() as store:
            activities = store.activities_of([person_id], query["year"])
        return {"person_id": person_id, "year": query["year"],
                "criteria_version": criteria.version,
                **domain.prefill(criteria, activities.get(person_id, ()))}
