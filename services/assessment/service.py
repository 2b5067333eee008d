"""The assessment service: self-assessments are decided by the criteria in force; a pass
grants the Learning Citizen title, announced by recognition_granted (through the outbox).
"""
import uuid
from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cdht.db import Database
from cdht.outbox import add_event
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import ApiError, NotFound, api, correlation_id, health, load_json
from services.assessment import domain
from services.assessment.models import Assessment, Recognition
from services.assessment.schemas import DecisionSchema, RevocationSchema, SelfAssessmentSchema

CRITERIA = domain.load_criteria()


class AssessmentService:
    name = "assessment"
    db = Database(relay=True)
    config = Config()
    registry = RpcProxy("registry")

    @api("GET", "/health")
    def health(self, request):
        return health(self.db, self.config["AMQP_URI"])

    @api("GET", "/criteria")
    def list_criteria(self, request):
        return [{"version": c.version, "title": c.title, "issued_by": c.issued_by,
                 "effective_from": c.effective_from, "effective_to": c.effective_to,
                 "min_total": c.min_total, "min_per_indicator": c.min_per_indicator,
                 "indicators": [i.__dict__ for i in c.indicators]}
                for c in CRITERIA.values()]

    @api("POST", "/assessments")
    def submit(self, request):
        data = load_json(request, SelfAssessmentSchema())
        try:
            criteria = domain.criteria_for_year(CRITERIA, data["year"])
            decision = domain.evaluate(criteria, data["scores"])
        except LookupError as exc:
            raise ApiError(400, "invalid input", {"year": [str(exc)]}) from None
        except domain.InvalidScores as exc:
            raise ApiError(400, "invalid input", {"scores": exc.errors}) from None

        try:
            with deadline(self.config.get("REGISTRY_TIMEOUT"), "registry.profile"):
                profile = self.registry.profile(str(data["person_id"]))
        except RpcUnavailable as exc:
            raise ApiError(503, f"registry unavailable: {exc}") from None
        if profile is None:
            raise ApiError(400, "invalid input", {"person_id": ["unknown person"]})

        explanation = DecisionSchema().dump(decision)
        corr = correlation_id(request)
        try:
            with self.db.transaction() as session:
                if decision.passed and session.scalar(select(Recognition.id).where(
                        Recognition.person_id == data["person_id"],
                        Recognition.year == data["year"])):
                    raise ApiError(409, "invalid input", {"year": [
                        "this person already holds the title for this year"]})
                assessment = Assessment(
                    id=uuid.uuid4(), person_id=data["person_id"], year=data["year"],
                    unit_code=profile["unit_code"], unit_path=profile["unit_path"],
                    target_group=profile["target_group"], criteria_version=criteria.version,
                    scores=data["scores"], total=decision.total, passed=decision.passed,
                    explanation=explanation)
                session.add(assessment)
                placed = {"unit_code": profile["unit_code"], "unit_path": profile["unit_path"]}
                add_event(session, "assessment_submitted", placed | {
                    "assessment_id": assessment.id, "person_id": assessment.person_id,
                    "year": assessment.year, "criteria_version": criteria.version,
                    "total_score": decision.total, "passed": decision.passed,
                }, producer=self.name, correlation_id=corr)
                recognition = None
                if decision.passed:
                    recognition = Recognition(
                        id=uuid.uuid4(), person_id=assessment.person_id, year=assessment.year,
                        assessment_id=assessment.id, unit_code=profile["unit_code"],
                        unit_path=profile["unit_path"], criteria_version=criteria.version,
                        digital_skills=decision.digital_skills)
                    session.add(recognition)
                    session.flush()
                    add_event(session, "recognition_granted", placed | {
                        "recognition_id": recognition.id, "assessment_id": assessment.id,
                        "person_id": assessment.person_id,
                        "target_group": profile["target_group"], "year": assessment.year,
                        "criteria_version": criteria.version, "total_score": decision.total,
                        "digital_skills": decision.digital_skills,
                    }, producer=self.name, correlation_id=corr)
        except IntegrityError:  # a concurrent submission won the (person, year) title
            raise ApiError(409, "invalid input", {"year": [
                "this person already holds the title for this year"]}) from None
        return 201, {"assessment_id": assessment.id,
                     "recognition_id": recognition.id if recognition else None,
                     "decision": explanation}

    @api("GET", "/assessments/<uuid:assessment_id>")
    def get_assessment(self, request, assessment_id):
        with self.db.read() as session:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None:
                raise NotFound("assessment")
            return {"assessment_id": assessment.id, "person_id": assessment.person_id,
                    "year": assessment.year, "unit_code": assessment.unit_code,
                    "decision": assessment.explanation}

    @api("POST", "/recognitions/<uuid:recognition_id>/revoke")
    def revoke(self, request, recognition_id):
        data = load_json(request, RevocationSchema())
        with self.db.transaction() as session:
            recognition = session.get(Recognition, recognition_id, with_for_update=True)
            if recognition is None:
                raise NotFound("recognition")
            if recognition.revoked_at:
                raise ApiError(409, "this title is already revoked")
            recognition.revoked_at = datetime.now(timezone.utc)
            recognition.revoke_reason = data["reason"]
            add_event(session, "recognition_revoked", {
                "recognition_id": recognition.id, "person_id": recognition.person_id,
                "year": recognition.year, "unit_code": recognition.unit_code,
                "unit_path": recognition.unit_path, "reason": data["reason"],
            }, producer=self.name, correlation_id=correlation_id(request))
        return {"recognition_id": recognition.id, "revoked_at": recognition.revoked_at}
