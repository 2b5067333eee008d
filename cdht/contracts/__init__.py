"""The public event contracts of CDHT.

Other teams subscribe to these events, so they are an API: a breaking change is a new
``schema_version``, never an edit of an existing schema.
"""
from cdht.contracts.envelope import (  # noqa: F401
    ContractError, Envelope, EnvelopeSchema, make_envelope, parse_envelope,
)
from cdht.contracts.events import EVENT_SCHEMAS, PRODUCERS, schema_for  # noqa: F401
