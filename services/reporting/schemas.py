"""Payloads of reporting's HTTP API (and the query strings it takes)."""
from marshmallow import Schema, fields, validate

from cdht.contracts.events import INDICATORS


def _year(**kwargs):
    return fields.Integer(validate=validate.Range(2021, 2100), **kwargs)


class ProgressQuerySchema(Schema):
    year = _year(required=True)
    as_of = fields.Date(metadata={"description": "figures as they stood at the end of this "
                                                 "day, under today's unit tree"})


class BreakdownQuerySchema(Schema):
    year = _year(required=True)
    indicator = fields.String(load_default="adults_titled",
                              validate=validate.OneOf(INDICATORS))
    sort = fields.String(load_default="gap", validate=validate.OneOf(("gap", "share", "unit")),
                         metadata={"description": "gap: most people still needed first"})


class SeriesQuerySchema(Schema):
    year = _year(required=True)


class ExportQuerySchema(Schema):
    year = _year(required=True)
    lang = fields.String(load_default="vi", validate=validate.OneOf(("vi", "en")))


class TargetsSchema(Schema):
    class Meta:
        ordered = True
    y2025 = fields.Float(data_key="2025", allow_none=True)
    y2030 = fields.Float(data_key="2030", allow_none=True)


class IndicatorProgressSchema(Schema):
    indicator = fields.String(validate=validate.OneOf(INDICATORS))
    numerator = fields.Integer()
    denominator = fields.Integer()
    share = fields.Float(allow_none=True, metadata={"description": "null when nothing counted"})
    target = fields.Float(allow_none=True, metadata={"description": "the milestone that "
                                                     "applies to the year"})
    target_year = fields.Integer(allow_none=True)
    targets = fields.Nested(TargetsSchema, metadata={"description": "2025 and 2030 milestones"})
    gap = fields.Integer(allow_none=True, metadata={"description": "people (or groups) still "
                                                    "needed to reach the target"})
    reached = fields.Boolean(allow_none=True)
    warning_line = fields.Float(allow_none=True)
    status = fields.String(allow_none=True,
                           validate=validate.OneOf(("reached", "on_track", "at_risk")))


class UnitProgressSchema(Schema):
    unit_code = fields.String()
    unit_path = fields.List(fields.String())
    year = fields.Integer()
    as_of = fields.Date(allow_none=True)
    people = fields.Integer()
    adults = fields.Integer()
    adults_in_groups = fields.Integer(metadata={
        "description": "adults currently in a learning family, clan or community"})
    titled = fields.Integer()
    titled_digitally_skilled = fields.Integer()
    titled_digitally_proficient = fields.Integer()
    indicators = fields.List(fields.Nested(IndicatorProgressSchema))


class BreakdownRowSchema(Schema):
    unit_code = fields.String()
    numerator = fields.Integer()
    denominator = fields.Integer()
    share = fields.Float(allow_none=True)
    target = fields.Float(allow_none=True)
    gap = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True)


class BreakdownSchema(Schema):
    unit_code = fields.String()
    year = fields.Integer()
    indicator = fields.String()
    total = fields.Nested(BreakdownRowSchema)
    children = fields.List(fields.Nested(BreakdownRowSchema))


class SeriesPointSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM; figures at the month's end"})
    numerator = fields.Integer()
    denominator = fields.Integer()
    share = fields.Float(allow_none=True)


class SeriesSchema(Schema):
    unit_code = fields.String()
    year = fields.Integer()
    targets = fields.Dict(keys=fields.String(), values=fields.Nested(TargetsSchema))
    indicators = fields.Dict(keys=fields.String(),
                             values=fields.List(fields.Nested(SeriesPointSchema)))


class UnitSchema(Schema):
    unit_code = fields.String()
    path = fields.List(fields.String())
    merged_into = fields.String(allow_none=True)


class UnitListSchema(Schema):
    items = fields.List(fields.Nested(UnitSchema))


class ConsumerLagSchema(Schema):
    consumer = fields.String()
    queue = fields.String()
    waiting = fields.Integer(allow_none=True, metadata={
        "description": "messages published but not yet applied (in its queue)"})
    applied = fields.Integer()
    last_occurred_at = fields.DateTime(allow_none=True)
    last_applied_at = fields.DateTime(allow_none=True)
    lag_seconds = fields.Float(allow_none=True, metadata={
        "description": "the newest applied event: applied minus published time"})


class LagSchema(Schema):
    waiting = fields.Integer(allow_none=True)
    consumers = fields.List(fields.Nested(ConsumerLagSchema))
