"""The envelope every CDHT event travels in (docs/architecture.md §D2).

``make_envelope`` is used by producers (through the outbox), ``parse_envelope`` by consumers.
Both validate ``data`` against the schema registered for (event_type, schema_version), so a
producer cannot publish what a consumer would reject.
"""
import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields

from cdht.contracts import fastload
from cdht.ids import time_ordered_id


class ContractError(ValueError):
    """A payload that does not match any known contract. Retrying can never fix it."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors or {}


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    schema_version = fields.Integer(required=True, strict=True)
    occurred_at = fields.AwareDateTime(required=True)
    producer = fields.String(required=True)
    correlation_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    producer: str
    correlation_id: str | None
    data: dict
    # The JSON form of ``data`` that was validated by loading it: what goes on the wire.
    wire_data: dict | None = field(default=None, compare=False, repr=False)

    def to_message(self):
        """The JSON-ready dict that goes on the wire."""
        return {"event_id": str(self.event_id), "event_type": self.event_type,
                "schema_version": self.schema_version,
                "occurred_at": self.occurred_at.isoformat(), "producer": self.producer,
                "correlation_id": self.correlation_id,
                "data": self.wire_data if self.wire_data is not None else self._dumped_data()}

    def _dumped_data(self):
        from cdht.contracts.events import schema_for
        return schema_for(self.event_type, self.schema_version)().dump(self.data)


def _wire_value(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} can't go into an event")


@functools.lru_cache(maxsize=None)
def _owner(event_type):
    from cdht.contracts.events import PRODUCERS
    return next((p for p, types in PRODUCERS.items() if event_type in types), None)


def _check_producer(event_type, producer):
    owner = _owner(event_type)
    if owner is not None and producer != owner:
        raise ContractError(f"{event_type} is published by {owner}, not {producer!r}")


@functools.lru_cache(maxsize=None)
def _schema(event_type, schema_version):
    """One schema instance per contract, reused: building a marshmallow schema copies every
    field, which cost more than the validation itself on a hot path."""
    from cdht.contracts.events import schema_for
    return schema_for(event_type, schema_version)()


@functools.lru_cache(maxsize=None)
def _envelope_schema(exclude=()):
    return EnvelopeSchema(exclude=exclude)


def make_envelope(event_type, data, *, producer, schema_version=1, correlation_id=None,
                  event_id=None, occurred_at=None, wire=False):
    """Build a validated envelope; raises ContractError when ``data`` breaks the schema.

    ``data`` goes through JSON first and is then *loaded* by the schema, exactly as a
    consumer will load it: unknown fields and loosely typed values are refused here.
    ``wire=True``: the caller built ``data`` as JSON gives it back (strings, numbers, lists,
    dicts), so the round trip is skipped; it is still loaded and checked the same way (a
    date left in it is refused by the schema, a value JSON has no form for by the encoder
    on insert; a UUID object is written as its canonical text, the form JSON gives back).
    """
    schema = _schema(event_type, schema_version)
    _check_producer(event_type, producer)
    if correlation_id is not None and not isinstance(correlation_id, str):
        raise ContractError("correlation_id must be a string")
    if occurred_at is not None and occurred_at.utcoffset() is None:
        raise ContractError("occurred_at must carry a timezone")
    try:
        wire = data if wire else json.loads(json.dumps(data, default=_wire_value))
        loaded = fastload.load(schema, wire)
    except TypeError as exc:
        raise ContractError(f"{event_type} v{schema_version}: {exc}") from None
    except ValidationError as exc:
        raise ContractError(f"{event_type} v{schema_version}: invalid data", exc.messages) from None
    envelope = Envelope(
        event_id=event_id or time_ordered_id(),  # cdht.ids: indexes on it grow at their end
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=occurred_at or datetime.now(timezone.utc),
        producer=producer,
        correlation_id=correlation_id,
        data=loaded,
        wire_data=wire,
    )
    # The data was checked above; check the envelope's own fields (ids, time) without it,
    # when the caller gave them (the ones made here are valid by construction).
    if event_id is not None or occurred_at is not None:
        errors = _envelope_schema(("data",)).validate(
            {k: v for k, v in envelope.to_message().items() if k != "data"})
        if errors:
            raise ContractError(f"{event_type}: invalid envelope", errors)
    return envelope


def parse_envelope(message):
    """Validate a message body from the wire into an Envelope with loaded ``data``.

    Raises ContractError for anything malformed or of an unknown type/version.
    """
    if not isinstance(message, dict):
        raise ContractError(f"envelope must be a JSON object, got {type(message).__name__}")
    try:
        env = fastload.load(_envelope_schema(), message)
        data = fastload.load(_schema(env["event_type"], env["schema_version"]), env["data"])
    except ValidationError as exc:
        raise ContractError("invalid event", exc.messages) from None
    _check_producer(env["event_type"], env["producer"])
    return Envelope(**(env | {"data": data}))
