"""Payloads of assessment's HTTP API.

Who acts (``submitted_by``, ``reviewer_id``, ``decided_by``, ``revoked_by``,
``requested_by``) is the bearer token's subject, a registry person id: given in the body it
must equal the subject (only an admin records an act on someone's behalf); left out, it is
the subject. The registry tells which units that person serves.
"""
from marshmallow import Schema, fields, validate

from cdht.contracts.events import RefusalReason
from cdht.openapi import PageQuery

FIRST_YEAR, LAST_YEAR = 2021, 2100  # the programme's years, and a bound far enough ahead
YEAR = dict(strict=True, validate=validate.Range(FIRST_YEAR, LAST_YEAR))
QUERY_YEAR = dict(validate=validate.Range(FIRST_YEAR, LAST_YEAR))  # query strings are text
REASON = validate.Length(min=1, max=500)


class _Strict(Schema):
    """Unknown fields are a 400: a misspelt field must not be silently ignored."""


class SelfAssessmentSchema(_Strict):
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, **YEAR)
    # Checked against the criteria set (services.assessment.domain.check_scores, a 422): which
    # indicators exist, and each one's range, depend on the version, not on this schema.
    scores = fields.Dict(keys=fields.String(),
                         values=fields.Raw(allow_none=True), required=True)
    submitted_by = fields.UUID(load_default=None, allow_none=True)
    criteria_version = fields.String(load_default=None, allow_none=True,
                                     validate=validate.Length(min=1, max=50))


class ResubmissionSchema(_Strict):
    scores = fields.Dict(keys=fields.String(),
                         values=fields.Raw(allow_none=True), required=True)
    submitted_by = fields.UUID(load_default=None, allow_none=True)


class AdjustmentSchema(_Strict):
    score = fields.Integer(required=True, strict=True)
    reason = fields.String(required=True, validate=REASON)


class ReviewSchema(_Strict):
    reviewer_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "default: the token's subject"})
    action = fields.String(required=True, validate=validate.OneOf(("accept", "adjust",
                                                                   "send_back")))
    adjustments = fields.Dict(keys=fields.String(),
                              values=fields.Nested(AdjustmentSchema), load_default=dict)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


def review_problems(review):
    """What each review action needs of the other fields ({field: [message]}, empty when
    none): a rule between fields, which the document cannot state (a 422)."""
    action, problems = review["action"], {}
    if action == "send_back" and not review.get("reason"):
        problems["reason"] = ["say why the assessment is sent back"]
    if action == "adjust" and not review.get("adjustments"):
        problems["adjustments"] = ["adjust needs at least one score"]
    if action != "adjust" and review.get("adjustments"):
        problems["adjustments"] = ["only for action adjust"]
    return problems


class DecisionRequestSchema(_Strict):
    decided_by = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "default: the token's subject"})
    decision = fields.String(required=True, validate=validate.OneOf(("recognise", "refuse")))
    reasons = fields.List(fields.String(validate=REASON), load_default=list,
                          validate=validate.Length(max=10))


class ReEvaluationSchema(_Strict):
    criteria_version = fields.String(required=True, validate=validate.Length(min=1, max=50))
    reason = fields.String(required=True, validate=REASON)
    requested_by = fields.UUID(load_default=None, allow_none=True)
    scores = fields.Dict(keys=fields.String(),
                         values=fields.Raw(allow_none=True), load_default=None,
                         allow_none=True)


class RevocationSchema(_Strict):
    reason = fields.String(required=True, validate=REASON)
    revoked_by = fields.UUID(load_default=None, allow_none=True)


class CloseYearSchema(_Strict):
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=64))


class AssessmentQuerySchema(PageQuery):
    year = fields.Integer(**QUERY_YEAR)
    unit_code = fields.String(validate=validate.Length(min=1, max=64))
    person_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(("submitted", "reviewed", "returned",
                                                    "recognised", "refused", "superseded")))


class ClosingQuerySchema(PageQuery):
    year = fields.Integer(**QUERY_YEAR)
    unit_code = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "only the closings of this unit itself (not of units below it)"})


class YearQuerySchema(_Strict):
    year = fields.Integer(required=True, **QUERY_YEAR)


class GroupRecognitionQuerySchema(PageQuery):
    year = fields.Integer(**QUERY_YEAR)
    unit_code = fields.String(validate=validate.Length(min=1, max=64))
    group_id = fields.UUID()
    group_kind = fields.String(validate=validate.OneOf(("family", "clan", "community",
                                                        "learning_unit")))


class IndicatorResultSchema(Schema):
    code = fields.String()
    name = fields.String()
    score = fields.Integer()
    maximum = fields.Integer()
    minimum = fields.Integer()
    met = fields.Boolean()
    reason = fields.String()
    evidence = fields.String(allow_none=True)


class DecisionSchema(Schema):
    criteria_version = fields.String()
    form = fields.String()
    total = fields.Integer()
    min_total = fields.Integer()
    passed = fields.Boolean()
    digital_skills = fields.String()
    summary = fields.String()
    results = fields.List(fields.Nested(IndicatorResultSchema))


# -- responses (for the OpenAPI document) ------------------------------------------------------

class StepSchema(Schema):
    """One step of an assessment's history; the details each action records."""
    action = fields.String()
    actor_id = fields.UUID(allow_none=True)
    at = fields.DateTime()
    summary = fields.String(allow_none=True, metadata={"description": "the decision's summary "
                                                                      "after the step"})
    scores = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "submitted, resubmitted: the scores as given"})
    verdict = fields.String(metadata={"description": "reviewed, sent_back: the review's action"})
    adjustments = fields.List(fields.String(), metadata={
        "description": "reviewed: each adjusted score, before -> after (reason)"})
    reason = fields.String(allow_none=True)
    reasons = fields.List(fields.String(), metadata={"description": "refused: as sentences"})
    details = fields.Raw(allow_none=True, metadata={"description": "refused: the reasons as "
                                                                   "data"})
    recognition_id = fields.String(metadata={"description": "recognised, title_kept, "
                                                            "digital_confirmed"})
    digital_skills = fields.String(metadata={"description": "digital_confirmed"})
    by = fields.String(metadata={"description": "superseded: the new assessment"})
    supersedes = fields.String(metadata={"description": "re-evaluated: the old assessment"})
    from_version = fields.String(metadata={"description": "re-evaluated: the old criteria "
                                                          "version"})


class AssessmentViewSchema(Schema):
    assessment_id = fields.UUID()
    person_id = fields.UUID()
    year = fields.Integer()
    unit_code = fields.String()
    target_group = fields.String()
    status = fields.String(metadata={"enum": ["submitted", "reviewed", "returned", "recognised",
                                              "refused", "superseded"]})
    criteria_version = fields.String()
    self_scores = fields.Dict(keys=fields.String(), values=fields.Integer())
    scores = fields.Dict(keys=fields.String(), values=fields.Integer())
    decision = fields.Nested(DecisionSchema)
    refusal_reasons = fields.List(fields.String(), allow_none=True, metadata={
        "description": "the reasons as sentences (the rule's in English, the reviewer's as "
                       "written), as recognition_refused version 1 carries them"})
    refusal_details = fields.List(fields.Nested(RefusalReason), allow_none=True, metadata={
        "description": "the same reasons as data (recognition_refused version 2); null for "
                       "a refusal decided before reasons were kept as data"})
    supersedes_id = fields.UUID(allow_none=True)
    submitted_by = fields.UUID(allow_none=True)
    reviewed_by = fields.UUID(allow_none=True)
    decided_by = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    history = fields.List(fields.Nested(StepSchema), metadata={
        "description": "every step with its details (scores, adjustments, reasons)"})
    recognition_id = fields.UUID(allow_none=True, metadata={"description": "after a decision"})


class _TitleViewSchema(Schema):
    """What a person's title and a group's title both show (api_support._title_view)."""
    year = fields.Integer()
    criteria_version = fields.String()
    unit_code = fields.String()
    unit_path = fields.List(fields.String())
    granted_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)


class RecognitionViewSchema(_TitleViewSchema):
    recognition_id = fields.UUID()
    person_id = fields.UUID()
    assessment_id = fields.UUID()
    target_group = fields.String()
    total_score = fields.Integer()
    digital_skills = fields.String()


class GroupRecognitionViewSchema(_TitleViewSchema):
    group_recognition_id = fields.UUID()
    group_id = fields.UUID()
    group_kind = fields.String()
    level = fields.Integer(allow_none=True)
    members = fields.Integer()
    members_titled = fields.Integer()
    explanation = fields.String()


class ClosingSchema(Schema):
    closing_id = fields.UUID()
    year = fields.Integer()
    unit_code = fields.String()
    status = fields.String(metadata={"enum": ["running", "interrupted", "failed", "finished"]})
    phase = fields.String(metadata={"enum": ["submissions", "groups", "done"]})
    to_decide = fields.Integer()
    decided = fields.Integer()
    recognised = fields.Integer()
    refused = fields.Integer()
    groups_evaluated = fields.Integer()
    groups_granted = fields.Integer()
    groups_revoked = fields.Integer()
    error = fields.String(allow_none=True)
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    seconds = fields.Float(allow_none=True)
    decides = fields.String(allow_none=True, metadata={
        "enum": ["reviewed", "submitted"],
        "description": "CLOSE_DECIDES when it ran: only what a reviewer accepted, or every "
                       "open submission"})
    closed_by = fields.String(allow_none=True, metadata={
        "description": "who started (or last resumed) it: the token's subject, or the "
                       "operator named by cdht close-year --by"})
    authority = fields.Dict(allow_none=True, metadata={
        "description": "as what: role, unit_code, approval_level"})
    left_open = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "submissions in scope it did not decide, by status (not reviewed)"})
    left_open_ids = fields.List(fields.UUID(), metadata={
        "description": "GET /closings/<id> only: the assessments still in a status it "
                       "leaves open, oldest first, at most 200"})


class CriteriaSetSchema(Schema):
    version = fields.String()
    kind = fields.String()
    title = fields.String()
    issued_by = fields.String()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    supersedes = fields.String(allow_none=True)
    fingerprint = fields.String(metadata={"description": "sha256 of the set's content"})
    in_use = fields.Boolean(metadata={"description": "a decision was made under it: it can "
                                                     "only be superseded, never edited"})
    # an individual set (kind learning_citizen)
    min_total = fields.Integer()
    min_per_indicator = fields.Integer()
    indicators = fields.List(fields.Dict(), metadata={"description": "code, name, max"})
    variants = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "per target group: its form and the indicators' names"})
    digital_skills = fields.Dict(metadata={
        "description": "indicator, and the scores for basic and proficient"})
    evidence = fields.List(fields.Dict(), metadata={
        "description": "activity, indicator, min_score and digital_skills of each rule"})
    # a group set (family, clan, community, learning unit)
    group_kind = fields.String()
    min_members = fields.Integer()
    levels = fields.List(fields.Dict(), metadata={"description": "level (null when the title "
                                                                 "has one), min_titled_share"})


class PrefillSchema(Schema):
    person_id = fields.UUID()
    year = fields.Integer()
    criteria_version = fields.String()
    scores = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    evidence = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    digital_skills = fields.String()


# -- the proof of a title (credentials_api.py) -------------------------------------------------
_STATUS = fields.String(required=True, validate=validate.OneOf(("valid", "revoked",
                                                                "superseded")))


class CredentialIssuerSchema(Schema):
    unit_code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "the issuing association"})


class CredentialSchema(Schema):
    """A title's verifiable credential: the JSON (W3C VC 2.0, Open Badges 3.0
    OpenBadgeCredential) and the same secured as a VC-JWT (EdDSA, verifiable with the
    issuer's JWKS), its public verification code and address, and its status now."""
    credential_id = fields.String(required=True, metadata={"description": "urn:uuid:..."})
    verification_code = fields.String(required=True)
    verify_url = fields.String(required=True, metadata={
        "description": "the public verification page the certificate's QR code opens"})
    status = _STATUS
    issuer = fields.Nested(CredentialIssuerSchema, required=True)
    jwt = fields.String(required=True, metadata={"description": "compact JWS, typ vc+jwt"})
    credential = fields.Dict(required=True, metadata={
        "description": "the credential JSON, as signed in the jwt's payload"})


class VerificationSchema(Schema):
    """What the public verification of a code shows, and nothing more."""
    holder_name = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "Công dân học tập"})
    year = fields.Integer(required=True)
    issuer_name = fields.String(required=True)
    status = _STATUS
    status_label = fields.String(required=True, metadata={"description": "in Vietnamese"})


class AddressSchema(Schema):
    type = fields.List(fields.String(), required=True)
    addressLocality = fields.String()  # noqa: N815 (Open Badges' names)
    addressRegion = fields.String()  # noqa: N815
    addressCountry = fields.String()  # noqa: N815
    addressCountryCode = fields.String()  # noqa: N815


class IssuerProfileSchema(Schema):
    """An issuing association's Open Badges 3.0 Profile."""
    context = fields.List(fields.String(), required=True, data_key="@context")
    id = fields.String(required=True)
    type = fields.List(fields.String(), required=True)
    name = fields.String(required=True)
    address = fields.Nested(AddressSchema, required=True)


class JwkSchema(Schema):
    """A public key (OKP, Ed25519); ``status`` retired: it signs nothing new and still
    verifies what it signed."""
    kty = fields.String(required=True)
    crv = fields.String(required=True)
    x = fields.String(required=True)
    kid = fields.String(required=True, metadata={"description": "the issuer URL # the key id"})
    alg = fields.String(required=True)
    use = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "retired")))
    retired_at = fields.String()


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


class KeyRotationSchema(Schema):
    """The issuer's new signing key, and the one it retired."""
    key = fields.Nested(JwkSchema, required=True)
    retired_kid = fields.String(required=True, allow_none=True)
