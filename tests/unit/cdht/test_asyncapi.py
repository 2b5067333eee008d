"""docs/asyncapi.yaml is generated from the marshmallow contracts and agrees with them.

No broker, no database. ``jsonschema`` is not installed in the project's venv, so the JSON
Schema in the document is checked by the small validator below; it refuses any keyword it does
not know, so that the document cannot grow a constraint that this test silently ignores.
"""
import copy
import json
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from marshmallow import EXCLUDE, fields

from cdht.contracts import EVENT_SCHEMAS, PRODUCERS, ContractError, make_envelope, parse_envelope
from cdht.contracts import asyncapi
from cdht.contracts.events import PersonRegisteredV1

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
KEYS = sorted(EVENT_SCHEMAS)


@pytest.fixture(scope="module")
def doc():
    return asyncapi.build_document()


def _mid(key):
    return asyncapi.message_id(*key)


def _owner(event_type):
    return next(p for p, types in PRODUCERS.items() if event_type in types)


# --- a minimal JSON Schema (draft 7) validator for the keywords the document uses -------------

_ANNOTATIONS = {"description", "title", "examples", "default"}
_KEYWORDS = {"$ref", "type", "properties", "required", "additionalProperties", "enum", "const",
             "minLength", "maxLength", "minimum", "maximum", "items", "minItems", "maxItems",
             "format", "oneOf", "anyOf"} | _ANNOTATIONS
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_type(value, name):
    return {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[name]


def _format_ok(value, fmt):
    """Formats are asserted, as marshmallow does (a draft 7 validator would not check "uuid",
    which JSON Schema only defines from 2019-09)."""
    if fmt == "uuid":
        return bool(_UUID.match(value))
    if fmt == "date-time":
        if not _DATE_TIME.match(value):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return False
        return True
    raise AssertionError(f"the test validator does not know format {fmt!r}")


def errors(schema, value, root, path="$"):
    """The list of reasons why ``value`` breaks ``schema`` (empty: valid)."""
    unknown = set(schema) - _KEYWORDS
    assert not unknown, f"{path}: the test validator does not know {sorted(unknown)}"
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return errors(target, value, root, path)
    found = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {value!r} is not of type {types}"]
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        found.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: too short")
        if len(value) > schema.get("maxLength", float("inf")):
            found.append(f"{path}: too long")
        if "format" in schema and not _format_ok(value, schema["format"]):
            found.append(f"{path}: {value!r} is not a {schema['format']}")
    if _is_type(value, "number"):
        if value < schema.get("minimum", float("-inf")):
            found.append(f"{path}: below minimum")
        if value > schema.get("maximum", float("inf")):
            found.append(f"{path}: above maximum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: too few items")
        if len(value) > schema.get("maxItems", float("inf")):
            found.append(f"{path}: too many items")
        if "items" in schema:
            for i, item in enumerate(value):
                found += errors(schema["items"], item, root, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: {name!r} is required")
        for name, item in value.items():
            if name in props:
                found += errors(props[name], item, root, f"{path}.{name}")
            elif schema.get("additionalProperties", True) is False:
                found.append(f"{path}: unexpected property {name!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += errors(schema["additionalProperties"], item, root, f"{path}.{name}")
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not errors(s, value, root, path)]
        if len(passing) != 1:
            found.append(f"{path}: matches {len(passing)} of oneOf, not exactly 1")
    if "anyOf" in schema and all(errors(s, value, root, path) for s in schema["anyOf"]):
        found.append(f"{path}: matches none of anyOf")
    return found


def test_the_test_validator_can_say_no(doc):
    schema = doc["components"]["messages"]["person_registered.v1"]["payload"]
    example = _example(doc, ("person_registered", 1))
    assert errors(schema, example, doc) == []
    assert errors(schema, dict(example, extra=1), doc)
    assert errors(schema, dict(example, schema_version=True), doc)
    assert errors({"type": "integer"}, True, doc)
    with pytest.raises(AssertionError, match="does not know"):
        errors({"pattern": "x"}, "x", doc)


# --- the committed file is what the schemas generate -------------------------------------------

def test_committed_document_is_up_to_date():
    assert COMMITTED.exists(), f"missing; run: {asyncapi.REGENERATE}"
    problem = asyncapi.check(str(COMMITTED))
    assert problem is None, problem


def test_committed_document_parses_to_the_generated_dict(doc):
    assert yaml.safe_load(COMMITTED.read_text(encoding="utf-8")) == doc


def test_editing_a_schema_without_regenerating_is_caught(tmp_path):
    class PersonRegisteredV1(EVENT_SCHEMAS[("person_registered", 1)]):
        nickname = fields.String(required=True)

    edited = dict(EVENT_SCHEMAS)
    edited[("person_registered", 1)] = PersonRegisteredV1
    samples = copy.deepcopy(asyncapi.SAMPLES)
    samples[("person_registered", 1)]["data"]["nickname"] = "x"
    expected = asyncapi.render(asyncapi.build_document(schemas=edited, samples=samples))
    problem = asyncapi.check(str(COMMITTED), expected=expected)
    assert problem is not None
    assert asyncapi.REGENERATE in problem
    added = [line for line in problem.splitlines() if line.startswith("+ ")]
    assert any("nickname" in line for line in added), problem


def test_rendering_is_deterministic_and_unicode():
    text = asyncapi.render()
    assert text == asyncapi.render()
    assert "Công dân học tập" in text and "\\u" not in text
    assert text.startswith("asyncapi: 2.6.0\n")


def test_check_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(asyncapi.render(), encoding="utf-8")
    assert asyncapi.main(["--check", str(good)]) == 0

    bad = tmp_path / "bad.yaml"
    bad.write_text(asyncapi.render().replace("maximum: 100", "maximum: 99"), encoding="utf-8")
    capsys.readouterr()
    assert asyncapi.main(["--check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "is out of date" in err and "-          maximum: 99" in err
    assert "+          maximum: 100" in err

    assert asyncapi.main(["--check", str(tmp_path / "absent.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_module_entry_point_prints_the_document():
    out = subprocess.run([sys.executable, "-m", "cdht.contracts.asyncapi"], cwd=ROOT,
                         capture_output=True, check=True, timeout=120).stdout
    assert out.decode("utf-8") == asyncapi.render()
    proc = subprocess.run([sys.executable, "-m", "cdht.contracts.asyncapi", "--check",
                           str(COMMITTED)], cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()


# --- structure -------------------------------------------------------------------------------

def test_document_header(doc):
    assert doc["asyncapi"] == "2.6.0"
    assert doc["info"]["title"] == "CDHT events"
    description = doc["info"]["description"]
    for words in ("schema_version", "breaking change", "ignore nothing", "personal data",
                  "<producer>.events", "event_id", "correlation_id", "occurred_at"):
        assert words in description
    server = doc["servers"]["rabbitmq"]
    assert server["protocol"] == "amqp" and "{host}" in server["url"]


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_every_type_and_version_has_a_message_on_its_producers_channel(doc, key):
    event_type, version = key
    producer = _owner(event_type)
    channel = doc["channels"][f"{producer}.events/{event_type}"]
    amqp = channel["bindings"]["amqp"]
    assert amqp["is"] == "routingKey"
    assert amqp["exchange"] == {"name": f"{producer}.events", "type": "topic",
                                "durable": True, "autoDelete": False}
    ref = {"$ref": f"#/components/messages/{_mid(key)}"}
    message = channel["subscribe"]["message"]
    assert ref == message or ref in message.get("oneOf", [])

    payload = doc["components"]["messages"][_mid(key)]["payload"]
    props = payload["properties"]
    assert props["event_type"]["const"] == event_type
    assert props["schema_version"]["const"] == version
    assert props["producer"]["const"] == producer
    assert props["data"] == {"$ref": f"#/components/schemas/{EVENT_SCHEMAS[key].__name__}"}
    assert set(payload["required"]) == set(props)
    assert payload["additionalProperties"] is False


def test_no_channel_or_message_without_a_schema(doc):
    assert set(doc["components"]["messages"]) == {_mid(k) for k in KEYS}
    assert len(doc["channels"]) == len({t for t, _ in KEYS})


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_data_schema_matches_the_marshmallow_fields(doc, key):
    schema_cls = EVENT_SCHEMAS[key]
    js = doc["components"]["schemas"][schema_cls.__name__]
    declared = schema_cls().fields
    assert js["additionalProperties"] is False
    assert set(js["properties"]) == set(declared)
    assert set(js["required"]) == {n for n, f in declared.items() if f.required}


def test_several_versions_of_a_type_become_one_of():
    class PersonRegisteredV2(PersonRegisteredV1):
        municipality_code = fields.String(required=True)

    schemas = dict(EVENT_SCHEMAS)
    schemas[("person_registered", 2)] = PersonRegisteredV2
    samples = copy.deepcopy(asyncapi.SAMPLES)
    samples[("person_registered", 2)] = copy.deepcopy(samples[("person_registered", 1)])
    samples[("person_registered", 2)]["data"]["municipality_code"] = "AG-LONGXUYEN"
    built = asyncapi.build_document(schemas=schemas, samples=samples)
    message = built["channels"]["registry.events/person_registered"]["subscribe"]["message"]
    assert message == {"oneOf": [{"$ref": "#/components/messages/person_registered.v1"},
                                 {"$ref": "#/components/messages/person_registered.v2"}]}
    v2 = built["components"]["messages"]["person_registered.v2"]
    assert v2["payload"]["properties"]["schema_version"]["const"] == 2
    assert v2["examples"][0]["payload"]["schema_version"] == 2
    # the payloads of the oneOf tell the versions apart: each example matches exactly one
    either = {"oneOf": [{"$ref": ref["$ref"] + "/payload"} for ref in message["oneOf"]]}
    for mid in ("person_registered.v1", "person_registered.v2"):
        example = built["components"]["messages"][mid]["examples"][0]["payload"]
        assert errors(either, example, built) == []


def test_generation_refuses_what_it_cannot_document():
    samples = dict(asyncapi.SAMPLES)
    del samples[("person_registered", 1)]
    with pytest.raises(ValueError, match="no example for person_registered v1"):
        asyncapi.build_document(samples=samples)

    producers = {p: t for p, t in PRODUCERS.items() if p != "reporting"}
    with pytest.raises(ValueError, match="statistics_updated.*no producer"):
        asyncapi.build_document(producers=producers)

    class Lenient(PersonRegisteredV1):
        class Meta:
            unknown = EXCLUDE

    with pytest.raises(ValueError, match="must reject unknown fields"):
        asyncapi.build_document(schemas=EVENT_SCHEMAS | {("person_registered", 1): Lenient})


# --- examples ----------------------------------------------------------------------------------

def _example(doc, key):
    [example] = doc["components"]["messages"][_mid(key)]["examples"]
    return json.loads(json.dumps(example["payload"]))


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_example_is_what_make_envelope_puts_on_the_wire(doc, key):
    example = _example(doc, key)
    env = make_envelope(key[0], parse_envelope(example).data, producer=example["producer"],
                        schema_version=key[1], correlation_id=example["correlation_id"],
                        event_id=uuid.UUID(example["event_id"]),
                        occurred_at=datetime.fromisoformat(example["occurred_at"]))
    assert json.loads(json.dumps(env.to_message())) == example


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_example_is_valid_for_marshmallow_and_for_the_document(doc, key):
    example = _example(doc, key)
    env = parse_envelope(example)
    assert (env.event_type, env.schema_version) == key
    assert env.producer == _owner(key[0])
    assert errors(doc["components"]["messages"][_mid(key)]["payload"], example, doc) == []


PERSONAL_KEYS = {"national_id", "id_number", "cccd", "cmnd", "name", "full_name", "phone",
                 "email", "address", "date_of_birth"}
_PHONE_OR_EMAIL = re.compile(r"\S+@\S+\.\w+|(?<!\d)(\+84|0)\d{9}(?!\d)")


def _keys_and_strings(value):
    """(keys, string values) anywhere in a JSON value."""
    keys, strings = set(), []

    def walk(v):
        if isinstance(v, dict):
            keys.update(v)
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        elif isinstance(v, str):
            strings.append(v)

    walk(value)
    return keys, strings


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_schema_and_example_carry_no_personal_data(doc, key):
    data_schema = doc["components"]["schemas"][EVENT_SCHEMAS[key].__name__]
    assert not PERSONAL_KEYS & set(data_schema["properties"])
    keys, strings = _keys_and_strings(_example(doc, key))
    assert not PERSONAL_KEYS & keys
    assert not [s for s in strings if _PHONE_OR_EMAIL.search(s)]


# --- the JSON Schema agrees with marshmallow ---------------------------------------------------

_NOT_A_UUID = "not-a-uuid"


def _wrong_types(prop):
    kind = prop.get("type")
    return {
        "string": [7, None],
        "integer": ["7", 7.5, True, None],
        "boolean": ["maybe", [], None],
        "array": ["x", {}, None],
    }[kind]


def _cases_for(doc, key):
    """(case id, message, extra note) derived from what the document claims."""
    base = _example(doc, key)
    data_schema = doc["components"]["schemas"][EVENT_SCHEMAS[key].__name__]
    props = data_schema["properties"]

    def with_data(**changes):
        msg = copy.deepcopy(base)
        for name, value in changes.items():
            if value is _DROP:
                msg["data"].pop(name)
            else:
                msg["data"][name] = value
        # keep the cross-field rule (unit_path ends at unit_code) out of single-field cases
        code = changes.get("unit_code", _DROP)
        if code is not _DROP and "unit_path" in msg["data"]:
            msg["data"]["unit_path"][-1] = code
        return msg

    yield "valid", copy.deepcopy(base)
    yield "extra-field:national_id", with_data(national_id="001086012345")
    for name in data_schema["required"]:
        yield f"missing:{name}", with_data(**{name: _DROP})
    for name, prop in props.items():
        for value in _wrong_types(prop):
            yield f"wrong-type:{name}:{value!r}", with_data(**{name: value})
        if "enum" in prop:
            yield f"bad-enum:{name}", with_data(**{name: "not-" + prop["enum"][0]})
            for allowed in prop["enum"]:
                yield f"enum:{name}={allowed}", with_data(**{name: allowed})
        if prop.get("format") == "uuid":
            yield f"bad-uuid:{name}", with_data(**{name: _NOT_A_UUID})
        if "minimum" in prop:
            yield f"min:{name}", with_data(**{name: prop["minimum"]})
            yield f"below-min:{name}", with_data(**{name: prop["minimum"] - 1})
        if "maximum" in prop:
            yield f"max:{name}", with_data(**{name: prop["maximum"]})
            yield f"above-max:{name}", with_data(**{name: prop["maximum"] + 1})
        if prop.get("type") == "string":
            low, high = prop.get("minLength", 0), prop.get("maxLength")
            yield f"len={low}:{name}", with_data(**{name: "x" * low})
            if low:
                yield f"len={low - 1}:{name}", with_data(**{name: "x" * (low - 1)})
            if high:
                yield f"len={high}:{name}", with_data(**{name: "x" * high})
                yield f"len={high + 1}:{name}", with_data(**{name: "x" * (high + 1)})
        if prop.get("type") == "array":
            first, last = base["data"][name][0], base["data"][name][-1]
            for n in {0, prop.get("minItems", 0), max(prop.get("minItems", 0) - 1, 0)} | (
                    {prop["maxItems"], prop["maxItems"] + 1} if "maxItems" in prop else set()):
                value = [first] * (n - 1) + [last] if n else []
                yield f"items={n}:{name}", with_data(**{name: value})
            items = prop["items"]
            for value in _wrong_types(items)[:1]:
                yield f"wrong-item-type:{name}", with_data(**{name: [value] + base["data"][name]})
            if "enum" in items:
                yield f"bad-item-enum:{name}", with_data(**{name: ["not-" + items["enum"][0]]})
            if "maxLength" in items:
                too_long = ["x" * (items["maxLength"] + 1)] + base["data"][name]
                yield f"item-too-long:{name}", with_data(**{name: too_long})

    envelope = doc["components"]["messages"][_mid(key)]["payload"]
    other_type = next(t for t, _ in KEYS if t != key[0])
    other_producer = next(p for p in PRODUCERS if p != _owner(key[0]))
    for name in envelope["required"]:
        msg = copy.deepcopy(base)
        del msg[name]
        yield f"envelope-missing:{name}", msg
    for name, value in [("envelope_extra", "x"), ("event_type", other_type),
                        ("schema_version", key[1] + 100), ("schema_version", str(key[1])),
                        ("schema_version", True), ("producer", other_producer),
                        ("event_id", _NOT_A_UUID), ("event_id", None), ("correlation_id", None),
                        ("correlation_id", 7), ("occurred_at", "2025-12-02T15:30:00+07:00"),
                        ("occurred_at", "2025-12-02T08:30:00Z"), ("occurred_at", "yesterday"),
                        ("occurred_at", "2025-12-02T08:30:00"), ("data", [])]:
        msg = copy.deepcopy(base)
        msg[name] = value
        yield f"envelope:{name}={value!r}", msg


class _Drop:
    def __repr__(self):
        return "<drop>"


_DROP = _Drop()

# Where marshmallow accepts what the document rejects. Each is a suspected weakness of the
# contracts (reported, not fixed here): strict xfail, so fixing it makes this list fail loudly.
KNOWN_LENIENCY = {}


def _agreement_params():
    doc = asyncapi.build_document()
    params = []
    for key in KEYS:
        for case_id, message in _cases_for(doc, key):
            marks = [pytest.mark.xfail(strict=True, reason=reason)
                     for prefix, reason in KNOWN_LENIENCY.items() if case_id.startswith(prefix)]
            params.append(pytest.param(key, message, id=f"{_mid(key)}-{case_id}", marks=marks))
    return params


def _marshmallow_accepts(message):
    try:
        parse_envelope(json.loads(json.dumps(message)))
    except ContractError:
        return False
    return True


@pytest.mark.parametrize("key, message", _agreement_params())
def test_document_and_marshmallow_agree(doc, key, message):
    schema = doc["components"]["messages"][_mid(key)]["payload"]
    doc_errors = errors(schema, message, doc)
    mm_accepts = _marshmallow_accepts(message)
    assert mm_accepts == (not doc_errors), (
        f"marshmallow {'accepts' if mm_accepts else 'rejects'}, "
        f"the document {'rejects: ' + '; '.join(doc_errors) if doc_errors else 'accepts'}")


# Hand-picked payloads per type: catch a marshmallow constraint that the document lost (the
# generated cases above only probe the constraints the document states).
HAND_CASES = [
    ("person_registered", 1, {"birth_year": 1899}, False),
    ("person_registered", 1, {"birth_year": 2100}, True),
    ("person_registered", 1, {"roles": ["admin"]}, False),
    ("person_registered", 1, {"roles": []}, True),
    ("person_registered", 1, {"target_group": "Resident"}, False),
    ("person_registered", 1, {"phone": "0912345678"}, False),
    ("assessment_submitted", 1, {"total_score": 101}, False),
    ("assessment_submitted", 1, {"total_score": 79, "passed": False}, True),
    ("assessment_submitted", 1, {"year": 2020}, False),
    ("assessment_submitted", 1, {"total_score": 86.0}, False),
    ("recognition_granted", 1, {"digital_skills": "expert"}, False),
    ("recognition_granted", 1, {"digital_skills": "none"}, True),
    ("recognition_granted", 1, {"target_group": "teacher"}, False),
    ("recognition_revoked", 1, {"reason": ""}, False),
    ("recognition_revoked", 1, {"reason": "x" * 501}, False),
    ("recognition_revoked", 1, {"reason": "x" * 500}, True),
    ("statistics_updated", 1, {"people": "48210"}, False),
    ("statistics_updated", 1, {"cause_event_id": None}, False),
    ("statistics_updated", 1, {"unit_path": ["AG"]}, False),
    ("notification_sent", 1, {"channel": "zalo"}, False),
    ("notification_sent", 1, {"language": "fr"}, False),
    ("notification_sent", 1, {"email": "a@b.vn"}, False),
    ("notification_failed", 1, {"attempts": "5"}, False),
    ("notification_failed", 1, {"reason": None}, False),
]


@pytest.mark.parametrize("event_type, version, changes, valid", HAND_CASES,
                         ids=[f"{t}.v{v}-{sorted(c)}" for t, v, c, _ in HAND_CASES])
def test_hand_picked_payloads(doc, event_type, version, changes, valid):
    key = (event_type, version)
    message = _example(doc, key)
    message["data"].update(changes)
    schema = doc["components"]["messages"][_mid(key)]["payload"]
    assert _marshmallow_accepts(message) is valid
    assert (not errors(schema, message, doc)) is valid, errors(schema, message, doc)


def test_hand_cases_cover_every_type():
    assert {(t, v) for t, v, _, _ in HAND_CASES} == set(KEYS)


@pytest.mark.parametrize("key", [k for k in KEYS if "unit_path" in EVENT_SCHEMAS[k]().fields],
                         ids=_mid)
def test_unit_path_rule_is_marshmallows_and_stated_in_prose(doc, key):
    """JSON Schema cannot say "last item equals unit_code": the document says it in words."""
    message = _example(doc, key)
    message["data"]["unit_path"] = message["data"]["unit_path"][:-1] + ["AG-OTHER"]
    schema = doc["components"]["messages"][_mid(key)]["payload"]
    assert not _marshmallow_accepts(message)
    assert errors(schema, message, doc) == []
    description = doc["components"]["schemas"][EVENT_SCHEMAS[key].__name__]["properties"][
        "unit_path"]["description"]
    assert "must equal unit_code" in description


@pytest.mark.parametrize("value", ["yes", "true", "off", "0",
                                   1, 0], ids=repr)
def test_passed_must_be_a_json_boolean(doc, value):
    message = _example(doc, ("assessment_submitted", 1))
    message["data"]["passed"] = value
    assert not _marshmallow_accepts(message)


def test_sample_ids_are_stable():
    assert asyncapi._id("person") == str(uuid.uuid5(
        uuid.UUID("8f2a4c52-1b1e-4d5e-9a53-6d8b8e0c3a11"), "person"))
