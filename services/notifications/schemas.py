"""Payloads of the notifications service's HTTP API: the delivery log (contact data masked),
opt-outs, and the triggers of digests and weekly summaries."""
from marshmallow import Schema, fields, validate

from cdht.contracts.events import CHANNELS
from cdht.openapi import PageQuery, page_of
from cdht.web import UtcDateTime
from services.notifications.models import STATUSES


class DeliverySchema(Schema):
    """A delivery as the API shows it: the address only masked, as it is stored."""
    id = fields.UUID()
    source_event_id = fields.UUID(metadata={
        "description": "the event; for a digest or a weekly summary, an id derived from the "
                       "recipient and day, or the province and week"})
    person_id = fields.UUID()
    channel = fields.String()
    rule = fields.String(allow_none=True, metadata={
        "description": "the event type or schedule the notification follows (rules.yaml)"})
    category = fields.String(allow_none=True)
    template = fields.String()
    language = fields.String()
    address = fields.String(attribute="address_masked", allow_none=True, metadata={
        "description": "the address used, masked (h***@example.org, ***78)"})
    status = fields.String(metadata={"description": "pending, sent, failed or skipped "
                                                    "(opted out)"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryQuerySchema(PageQuery):
    """Query string of GET /deliveries."""
    person_id = fields.UUID(load_default=None)
    source_event_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    category = fields.String(load_default=None, validate=validate.Length(max=50))
    template = fields.String(load_default=None, validate=validate.Length(max=100))
    since = UtcDateTime(load_default=None, metadata={
        "description": "created at or after (ISO 8601 with offset)"})
    until = UtcDateTime(load_default=None, metadata={"description": "created before"})


DeliveryPageSchema = page_of(DeliverySchema)


class CategorySchema(Schema):
    name = fields.String()
    mandatory = fields.Boolean(metadata={"description": "cannot be opted out of"})
    opted_out = fields.Boolean()


class PreferencesSchema(Schema):
    person_id = fields.UUID()
    categories = fields.List(fields.Nested(CategorySchema))


class OptOutSchema(Schema):
    person_id = fields.UUID()
    category = fields.String()
    opted_out = fields.Boolean()


class TriggerSchema(Schema):
    """Body of POST /digests/flush and POST /summaries/weekly (both fields optional)."""
    now = UtcDateTime(load_default=None, metadata={
        "description": "act as if it were this moment (ISO 8601 with offset); default: now"})
    year = fields.Integer(load_default=None, validate=validate.Range(2021, 2100), metadata={
        "description": "weekly summary only: the year of the figures (default: now's year)"})


class FlushResultSchema(Schema):
    day = fields.String(allow_none=True, metadata={
        "description": "the local day of the digests; null before DIGEST_HOUR"})
    digests = fields.Integer(metadata={"description": "digests created (one per recipient)"})
    items = fields.Integer(metadata={"description": "changes they list"})


class SummaryResultSchema(Schema):
    week = fields.String()
    province = fields.String()
    recipients = fields.Integer()
    created = fields.Integer(metadata={"description": "deliveries created now (0 when this "
                                                      "week's summary already went)"})
