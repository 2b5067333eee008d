"""Payloads of the notifications service's HTTP API: the delivery log, no contact data."""
from marshmallow import Schema, fields, validate

from cdht.contracts.events import CHANNELS
from services.notifications.models import STATUSES

MAX_LIMIT = 500


class DeliverySchema(Schema):
    """A delivery as the API shows it. There is no address to show: none is stored."""
    id = fields.UUID()
    source_event_id = fields.UUID()
    person_id = fields.UUID()
    channel = fields.String()
    template = fields.String()
    language = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryQuerySchema(Schema):
    """Query string of GET /deliveries."""
    person_id = fields.UUID(load_default=None)
    source_event_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1))
