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


class ReviewQuerySchema(Schema):
    period = fields.String(load_default="2021-2025",
                           validate=validate.OneOf(("2021-2025", "2026-2030")),
                           metadata={"description": "the period the review (sơ kết) covers"})
    lang = fields.String(load_default="vi", validate=validate.OneOf(("vi", "en")))


class TargetsSchema(Schema):
    class Meta:
        ordered = True
    y2025 = fields.Float(data_key="2025", allow_none=True)
    y2030 = fields.Float(data_key="2030", allow_none=True)


STATUSES = ("reached", "on_track", "behind")


class _Unit(Schema):
    """The unit a figure is of."""
    unit_code = fields.String()
    unit_name = fields.String(metadata={"description": "the code when no name is known yet"})


class _Share(Schema):
    """A figure: how many of how many."""
    numerator = fields.Integer()
    denominator = fields.Integer()
    share = fields.Float(allow_none=True, metadata={"description": "null when nothing counted"})


class _Progress(_Share):
    """A figure against its target, and how the year stands toward it."""
    target = fields.Float(allow_none=True, metadata={"description": "the period target (2025 "
                                                     "or 2030) the year works toward"})
    milestone = fields.Float(allow_none=True, metadata={
        "description": "where the indicator should stand this year (a straight path from "
                       "the baseline to the targets)"})
    gap = fields.Integer(allow_none=True, metadata={"description": "people (or groups) still "
                                                    "needed to reach the target"})
    status = fields.String(allow_none=True, validate=validate.OneOf(STATUSES), metadata={
        "description": "reached (target met), on_track (at or above the year's milestone), "
                       "behind (below it)"})


class PopulationSchema(_Share):
    rule = fields.String(metadata={"description": "all_adults, adults_in_groups or "
                                                  "adults_in_recognised_groups"})
    in_force = fields.Boolean(metadata={"description": "the rule the targets file sets"})


class DocumentSchema(Schema):
    code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    wording = fields.String(allow_none=True)
    unconfirmed = fields.List(fields.String(), metadata={
        "description": "what the documents read so far do not fix"})


class IndicatorProgressSchema(_Progress):
    indicator = fields.String(validate=validate.OneOf(INDICATORS))
    target_year = fields.Integer(allow_none=True)
    targets = fields.Nested(TargetsSchema, metadata={"description": "2025 and 2030 targets"})
    reached = fields.Boolean(allow_none=True)
    warning_line = fields.Float(allow_none=True, metadata={
        "description": "target_at_risk is published under it: milestone x warning ratio"})
    document = fields.Nested(DocumentSchema)
    population = fields.String(metadata={"description": "adults_titled only: the rule "
                                                        "in force"})
    populations = fields.List(fields.Nested(PopulationSchema), metadata={
        "description": "adults_titled only: the figure under each rule"})


class AssociationSchema(Schema):
    commune_association = fields.Integer(metadata={"description": "commune associations"})
    branch = fields.Integer(metadata={"description": "branches (chi hội)"})
    learning_board = fields.Integer(metadata={"description": "learning boards (ban khuyến "
                                                             "học)"})
    members = fields.Integer(metadata={"description": "officials and members registered"})
    members_briefed = fields.Integer()


class UnitProgressSchema(_Unit):
    unit_kind = fields.String(allow_none=True)
    unit_path = fields.List(fields.String())
    unit_path_names = fields.List(fields.String())
    year = fields.Integer()
    as_of = fields.Date(allow_none=True)
    people = fields.Integer()
    adults = fields.Integer()
    adults_in_groups = fields.Integer(metadata={
        "description": "adults currently in a learning family, clan or community"})
    adults_in_recognised_groups = fields.Integer(metadata={
        "description": "adults in a family, clan or community holding its title this year"})
    titled = fields.Integer()
    titled_digitally_skilled = fields.Integer()
    titled_digitally_proficient = fields.Integer()
    association = fields.Nested(AssociationSchema)
    indicators = fields.List(fields.Nested(IndicatorProgressSchema))


class BreakdownRowSchema(_Unit, _Progress):
    """One unit's figure against its target: a child unit's, or the total's."""


class BreakdownSchema(_Unit):
    year = fields.Integer()
    indicator = fields.String()
    total = fields.Nested(BreakdownRowSchema)
    children = fields.List(fields.Nested(BreakdownRowSchema))


class NationalRowSchema(_Progress):
    """The nation's figure of one indicator: every province's summed, against the
    programme's targets (targets.yaml's ``national:``)."""
    indicator = fields.String(validate=validate.OneOf(INDICATORS))
    target_year = fields.Integer(allow_none=True)


class NationalSchema(Schema):
    year = fields.Integer()
    indicator = fields.String(metadata={"description": "the indicator of total and children"})
    people = fields.Integer()
    adults = fields.Integer()
    titled = fields.Integer()
    titled_digitally_skilled = fields.Integer()
    titled_digitally_proficient = fields.Integer()
    association = fields.Nested(AssociationSchema)
    total = fields.Nested(NationalRowSchema)
    indicators = fields.List(fields.Nested(NationalRowSchema), metadata={
        "description": "every indicator's national figure"})
    children = fields.List(fields.Nested(BreakdownRowSchema), metadata={
        "description": "each province, against its own targets (its overrides apply)"})


class SeriesPointSchema(_Share):
    month = fields.String(metadata={"description": "YYYY-MM; figures at the month's end"})


class SeriesSchema(Schema):
    unit_code = fields.String()
    year = fields.Integer()
    targets = fields.Dict(keys=fields.String(), values=fields.Nested(TargetsSchema))
    indicators = fields.Dict(keys=fields.String(),
                             values=fields.List(fields.Nested(SeriesPointSchema)))


class UnitSchema(_Unit):
    kind = fields.String(allow_none=True)
    closed = fields.Boolean(metadata={"description": "closed or merged into another"})
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
    waiting_read_seconds_ago = fields.Float(allow_none=True, metadata={
        "description": "how old the waiting figures are: they are read from the broker at "
                       "most every QUEUE_DEPTH_SECONDS (null: the broker never answered)"})
    consumers = fields.List(fields.Nested(ConsumerLagSchema))
