"""cdht.contracts.fastload gives exactly what marshmallow gives: the same data for every
valid event, and a refusal (marshmallow's own) for every broken field tried here."""
import copy
import json

import pytest
from marshmallow import Schema, ValidationError, fields, validate

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


class _Fast(Schema):
    """Fields the fast path loads itself, with validators of several kinds."""
    id = fields.UUID(required=True)
    ids = fields.List(fields.UUID(), validate=validate.Length(equal=2))
    code = fields.String(required=True, allow_none=True, validate=validate.Length(min=2, max=3))
    kind = fields.String(validate=[validate.OneOf(["a", "b"]), validate.Regexp("^a$")])
    level = fields.Integer(validate=validate.OneOf([1, 2]))
    share = fields.Integer(strict=True, validate=validate.Range(0, 10, min_inclusive=False,
                                                               max_inclusive=False))
    at = fields.AwareDateTime()
    default = fields.String(load_default="x")


UUIDS = ["0b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d", "0B0F8A8E-6D1C-4A53-9B8A-1E0F2A3B4C5D",
         "{0b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d}", "urn:uuid:0b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d",
         "0b0f8a8e6d1c4a539b8a1e0f2a3b4c5d", "0b0f8a8e_6d1c_4a53_9b8a_1e0f2a3b4c5d",
         "+b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d", " 0b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d"]


def test_the_fast_fields_load_as_marshmallow_loads_them():
    schema = _Fast()
    good = {"id": UUIDS[0], "ids": UUIDS[:2], "code": "AG", "kind": "a", "level": 2,
            "share": 5, "at": "2025-12-01T10:00:00.123456+07:00"}
    fastload.load(schema, good)
    variants = [good, {k: v for k, v in good.items() if k != "kind"}]
    variants += [good | {"id": u} for u in UUIDS] + [good | {"ids": [u, UUIDS[0]]}
                                                    for u in UUIDS]
    variants += [good | {"code": c} for c in (None, "A", "ABCD", "ABC", 12)]
    variants += [good | {"kind": k} for k in ("b", "c", None)]
    variants += [good | {"level": n} for n in (0, 1, 3, True, 1.0, "1")]
    variants += [good | {"share": n} for n in (0, 1, 9, 10, -1, 5.0, "5", True)]
    variants += [good | {"at": t} for t in ("2025-12-01T10:00:00", "2025-12-01T10:00:00Z",
                                            "2025-12-01", "2025-12-01 10:00:00+00:00", 5)]
    variants += [good | {"ids": v} for v in ([UUIDS[0]], UUIDS[:3], "x", None)]
    for variant in variants:
        assert outcome(fastload.load, schema, copy.deepcopy(variant)) == \
            outcome(marshmallow, schema, copy.deepcopy(variant)), variant


def test_a_uuid_made_from_its_canonical_form_is_uuids_own():
    import uuid
    made = fastload._uuid(UUIDS[0])
    assert made == uuid.UUID(UUIDS[0]) and hash(made) == hash(uuid.UUID(UUIDS[0]))
    assert str(made) == UUIDS[0] and made.is_safe is uuid.SafeUUID.unknown
