"""Payloads of assessment's HTTP API."""
from marshmallow import Schema, fields, validate


class SelfAssessmentSchema(Schema):
    person_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2021, 2100))
    # Scores are checked against the criteria set in force (domain.check_scores): which
    # indicators exist depends on the version, not on this schema.
    scores = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class RevocationSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class IndicatorResultSchema(Schema):
    code = fields.String()
    score = fields.Integer()
    minimum = fields.Integer()
    met = fields.Boolean()
    reason = fields.String()


class DecisionSchema(Schema):
    criteria_version = fields.String()
    total = fields.Integer()
    passed = fields.Boolean()
    digital_skills = fields.String()
    summary = fields.String()
    results = fields.List(fields.Nested(IndicatorResultSchema))
