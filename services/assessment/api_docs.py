"""The HTTP routes of the assessment service as its OpenAPI document shows them."""
from cdht.openapi import ListOf, Route, page_of
from services.assessment.schemas import (
    AssessmentQuerySchema, AssessmentViewSchema, ClosingSchema, CloseYearSchema,
    CriteriaSetSchema, DecisionRequestSchema, GroupRecognitionQuerySchema,
    GroupRecognitionViewSchema, PrefillSchema, RecognitionViewSchema, ReEvaluationSchema,
    ResubmissionSchema, ReviewSchema, RevocationSchema, SelfAssessmentSchema, YearQuerySchema,
)

ROUTES = (
    Route("GET", "/health", "Health of the database and the broker", errors=(503,),
          tag="service"),
    Route("GET", "/openapi.json", "This OpenAPI document", tag="service"),
    Route("GET", "/docs", "The API documentation as a web page", media_type="text/html",
          tag="service"),
    Route("GET", "/criteria", "Every criteria set loaded, individual and group",
          response=ListOf(CriteriaSetSchema), tag="criteria"),
    Route("GET", "/criteria/<path:version>", "One criteria set, with its indicators, forms "
          "per target group and evidence rules", response=CriteriaSetSchema, tag="criteria"),
    Route("POST", "/assessments", "Submit a self-assessment (by the citizen, or staff on "
          "their behalf)", body=SelfAssessmentSchema, response=AssessmentViewSchema,
          status=201, errors=(403, 409, 503), tag="workflow"),
    Route("GET", "/assessments", "List assessments (a reviewer's queue: status=submitted)",
          query=AssessmentQuerySchema, response=page_of(AssessmentViewSchema), tag="workflow"),
    Route("GET", "/assessments/<uuid:assessment_id>", "Read an assessment with its history",
          response=AssessmentViewSchema, tag="workflow"),
    Route("PUT", "/assessments/<uuid:assessment_id>/scores", "Resubmit the scores of an "
          "assessment sent back", body=ResubmissionSchema, response=AssessmentViewSchema,
          errors=(409,), tag="workflow"),
    Route("POST", "/assessments/<uuid:assessment_id>/review", "Review: accept, adjust scores "
          "with reasons, or send back", body=ReviewSchema, response=AssessmentViewSchema,
          errors=(403, 409, 503), tag="workflow"),
    Route("POST", "/assessments/<uuid:assessment_id>/decision", "The commune association "
          "recognises or refuses", body=DecisionRequestSchema, response=AssessmentViewSchema,
          errors=(403, 409, 503), tag="workflow"),
    Route("POST", "/assessments/<uuid:assessment_id>/re-evaluate", "Decide again under "
          "another criteria version (traced)", body=ReEvaluationSchema,
          response=AssessmentViewSchema, status=201, errors=(409,), tag="workflow"),
    Route("GET", "/people/<uuid:person_id>/prefill", "Scores suggested by the person's "
          "learning activities of the year", query=YearQuerySchema, response=PrefillSchema,
          tag="workflow"),
    Route("GET", "/recognitions", "List titles", query=AssessmentQuerySchema,
          response=page_of(RecognitionViewSchema), tag="titles"),
    Route("GET", "/recognitions/<uuid:recognition_id>", "Read a title",
          response=RecognitionViewSchema, tag="titles"),
    Route("POST", "/recognitions/<uuid:recognition_id>/revoke", "Revoke a title with a reason",
          body=RevocationSchema, response=RecognitionViewSchema, errors=(409,), tag="titles"),
    Route("GET", "/group-recognitions", "List group titles (families, clans, communities, "
          "learning units)", query=GroupRecognitionQuerySchema,
          response=page_of(GroupRecognitionViewSchema), tag="titles"),
    Route("POST", "/years/<int:year>/close", "Close a year for a unit's subtree: decide every "
          "open submission and every group (resumable)", body=CloseYearSchema,
          response=ClosingSchema, status=202, tag="closing"),
    Route("GET", "/closings/<uuid:closing_id>", "Progress and summary of a year closing",
          response=ClosingSchema, tag="closing"),
)
