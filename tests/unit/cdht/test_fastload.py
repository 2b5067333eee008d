"""cdht.contracts.fastload gives exactly what marshmallow gives: the same data for every
valid event, and a refusal (marshmallow's own) for every broken field tried here."""
import copy
import json

import pytest
from marshmallow import ValidationError

from cdht.contracts import EVENT_SCHEMAS, EnvelopeSchema, fastload, make_envelope
from tests.unit.cdht.test_contracts import VALID, _producer

KEYS = sorted(EVENT_SCHEMAS)
JUNK = [None, "", "x", "2025-02-30", "AG", -1, 0, 1, 2025, 10 ** 6, 1.5, float("inf"), True,
        [], ["AG"], [1], {}, {"a": 1}, "00000000-0000-0000-0000-000000000000",
        "0000000000000000000000000000000g"]


def wire(key):
    return json.loads(json.dumps(make_envelope(key[0], VALID[key](), producer=_producer(
        key[0]), schema_version=key[1]).to_message()))


def outcome(load, schema, value):
    try:
        return "ok", load(schema, value)
    except ValidationError as exc:
        return "refused", exc.messages


def marshmallow(schema, value):
    return schema.load(value)


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-v{k[1]}")
def test_every_contract_is_compiled(key):
    fastload.load(EVENT_SCHEMAS[key](), wire(key)["data"])  # compiles on first use
    assert all(fastload._COMPILED.values()), "a schema fell back to marshmallow for good"


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-v{k[1]}")
def test_same_result_as_marshmallow_for_valid_and_broken_data(key):
    schema, message = EVENT_SCHEMAS[key](), wire(key)
    data = message["data"]
    assert outcome(fastload.load, schema, data) == outcome(marshmallow, schema, data)
    variants = [{k: v for k, v in data.items() if k != name} for name in data]
    variants += [data | {"unexpected": 1}]
    for name in data:
        variants += [data | {name: junk} for junk in JUNK]
        if isinstance(data[name], list) and data[name]:
            variants.append(data | {name: data[name] + data[name][-1:]})
            variants += [data | {name: [junk] + data[name][1:]} for junk in JUNK]
    for variant in variants:
        got = outcome(fastload.load, schema, copy.deepcopy(variant))
        assert got == outcome(marshmallow, schema, copy.deepcopy(variant)), variant


def test_the_envelope_too():
    schema, message = EnvelopeSchema(), wire(("recognition_granted", 1))
    for name in message:
        for junk in JUNK + ["2025-12-01T10:00:00", "2025-12-01T10:00:00+07:00"]:
            variant = message | {name: junk}
            assert outcome(fastload.load, schema, variant) == outcome(marshmallow, schema,
                                                                      variant), variant
