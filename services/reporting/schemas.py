"""Payloads of reporting's HTTP API."""
from marshmallow import Schema, fields, validate


class ProgressQuerySchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(2021, 2100))


class IndicatorProgressSchema(Schema):
    indicator = fields.String()
    numerator = fields.Integer()
    denominator = fields.Integer()
    share = fields.Float(allow_none=True)
    target = fields.Float(allow_none=True)
    gap = fields.Integer(allow_none=True)
    reached = fields.Boolean(allow_none=True)


class UnitProgressSchema(Schema):
    unit_code = fields.String()
    year = fields.Integer()
    people = fields.Integer()
    adults = fields.Integer()
    titled = fields.Integer()
    indicators = fields.List(fields.Nested(IndicatorProgressSchema))
