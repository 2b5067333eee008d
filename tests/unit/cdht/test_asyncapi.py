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
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from marshmallow import EXCLUDE, fields, validate

from cdht.contracts import EVENT_SCHEMAS, PRODUCERS, ContractError, make_envelope, parse_envelope
from cdht.contracts import asyncapi
from cdht.contracts.events import (
    PeopleImportedV1, PersonRegisteredV1, PersonUpdatedV1, StrictBoolean, StrictDate,
    StrictFloat,
)

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
             "format", "pattern", "oneOf", "anyOf"} | _ANNOTATIONS
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # RFC 3339 full-date (fullmatch): nothing else


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


def _ecma_regex(pattern):
    """A JSON Schema ``pattern`` (an ECMA-262 regular expression, no flags) as a Python regex,
    for ``re.search``: unanchored, as JSON Schema says. Where the two dialects differ on what the
    document's patterns may use: ECMA ``$`` is the very end of the string (Python's also matches
    before a final newline), ``.`` stops at any line terminator, and ``\\d``/``\\w`` are ASCII."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        elif char == ".":
            char = r"[^\n\r\u2028\u2029]"
        out.append(char)
        i += 1
    return re.compile("".join(out), re.ASCII)


def _pattern_ok(value, pattern):
    return _ecma_regex(pattern).search(value) is not None


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
    if fmt == "date":
        if not _DATE.fullmatch(value):
            return False
        try:
            date.fromisoformat(value)
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
        if "pattern" in schema and not _pattern_ok(value, schema["pattern"]):
            found.append(f"{path}: {value!r} does not match {schema['pattern']!r}")
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
        errors({"multipleOf": 2}, 4, doc)


@pytest.mark.parametrize("pattern, value, valid", [
    ("^[a-z]+$", "phone", True), ("^[a-z]+$", "Phone", False), ("^[a-z]+$", "", False),
    ("[a-z]", "0912 x", True),  # unanchored: a match anywhere will do (re.search)
    ("^[a-z]", "phone=0912", True), ("[a-z]$", "0912 x", True), ("^[0-9]+$", "0912a", False),
    ("^[a-z]+$", "phone\n", False),  # ECMA-262 "$" is the very end, not before a last newline
    ("^a.c$", "a\nc", False), ("^a.c$", "abc", True), (r"^\d+$", "٠١٢", False),
    ("^[$]+$", "$$", True), (r"^\$$", "$", True), (r"^\$$", "$\n", False),
], ids=repr)
def test_the_test_validator_knows_pattern(doc, pattern, value, valid):
    assert (errors({"type": "string", "pattern": pattern}, value, doc) == []) is valid


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


_FACTS = PersonUpdatedV1().fields["previous"].schema
_PERSON = PeopleImportedV1().fields["people"].inner.schema


class _LenientFacts(type(_FACTS)):
    class Meta:
        unknown = EXCLUDE


class _LenientPerson(type(_PERSON)):
    previous = fields.Nested(_LenientFacts, load_default=None, allow_none=True)


@pytest.mark.parametrize("key, schema_cls, where", [
    (("person_updated", 1),
     type("PersonUpdatedV1", (PersonUpdatedV1,), {"previous": fields.Nested(
         _LenientFacts, required=True)}),
     r"PersonUpdatedV1\.previous \(_LenientFacts\)"),
    (("person_updated", 1),
     type("PersonUpdatedV1", (PersonUpdatedV1,), {"previous": fields.Nested(
         type(_FACTS), required=True, unknown=EXCLUDE)}),
     r"PersonUpdatedV1\.previous \(CountableFacts\)"),
    (("people_imported", 1),
     type("PeopleImportedV1", (PeopleImportedV1,), {"people": fields.List(fields.Nested(
         _LenientPerson), required=True)}),
     r"PeopleImportedV1\.people\[\]\.previous \(_LenientFacts\)"),
], ids=["nested-schema-excludes", "nested-field-excludes", "deep-in-a-list"])
def test_generation_refuses_a_nested_schema_that_drops_unknown_fields(key, schema_cls, where):
    """A nested object is no back door for personal data: apispec would simply leave out
    `additionalProperties`, and marshmallow would drop a leaked field without a word."""
    with pytest.raises(ValueError, match=where + " must reject unknown fields"):
        asyncapi.build_document(schemas=EVENT_SCHEMAS | {key: schema_cls})


def test_nested_components_are_closed_and_described(doc):
    schemas = doc["components"]["schemas"]
    nested = set(schemas) - {cls.__name__ for cls in EVENT_SCHEMAS.values()}
    assert nested == {"CountableFacts", "ImportedPerson", "ImportedGroup", "ImportedMembership",
                      "RecordedGroupTitle", "RefusalReason"}
    for name in nested:
        assert schemas[name]["additionalProperties"] is False, name
    assert "must equal unit_code" in schemas["ImportedPerson"]["properties"]["unit_path"][
        "description"]


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
    data_ref = {"$ref": f"#/components/schemas/{EVENT_SCHEMAS[key].__name__}"}
    names = {path.rsplit(".", 1)[-1].rstrip("[]") for path, _ in _slots(doc, data_ref)}
    if key == ("people_imported", 1):  # the names inside the imported people count too
        assert {"people", "previous", "target_group", "change"} <= names
    assert not PERSONAL_KEYS & names
    keys, strings = _keys_and_strings(_example(doc, key))
    assert not PERSONAL_KEYS & keys
    assert not [s for s in strings if _PHONE_OR_EMAIL.search(s)]


# --- the JSON Schema agrees with marshmallow ---------------------------------------------------
#
# The cases are derived from what the document claims, at every depth: a property of `data`, an
# object nested in it (a `$ref` to a component or inline `properties`, nullable or not), an item
# of an array, an item of an array of arrays... Each case is a whole message, and both sides are
# asked about it. A case id is "<kind>:<slot>", the slot a path below `data` where "[]" reads
# "an item of": e.g. "missing:people[].previous.birth_year", "wrong-type:from_unit_paths[][]:7".

_NOT_A_UUID = "not-a-uuid"
# One value of every JSON type: those the slot's type does not allow are the wrong-type cases.
_ONE_OF_EVERY_TYPE = ["7", 7, 7.5, True, None, [], {}]
_BAD_DATES = ["2025-02-30", "2025-13-01", "2025-7-1", "20250701", "2025-W27-2", "2025-182",
              "01/07/2025", "2025-07-01T00:00:00+07:00", "2025-07-01 ", "2025-07-01\n"]
_GOOD_DATES = ["2024-02-29", "2025-07-01"]
# Strings to try against a `pattern`: a value riding along instead of a name, a bare phone
# number, spaces, capitals, non-ASCII, and a valid-looking name with a newline after it. Those
# the pattern allows are skipped; at least one must break it.
_PATTERN_PROBES = ["Phone=0912", "0912345678", "phone=0912345678", "full_name: Trần Thị Bích",
                   "a@example.vn", "Phone", "phone number", "số_điện_thoại", "_phone",
                   "phone\n", "phone "]
# What the case generator knows how to probe; a document that grows anything else fails here
# (as the validator refuses keywords it does not know) instead of going unprobed.
_PROBED = {"$ref", "anyOf", "type", "properties", "required", "additionalProperties", "enum",
           "minLength", "maxLength", "minimum", "maximum", "items", "minItems", "maxItems",
           "format", "pattern"} | _ANNOTATIONS
_FORMATS = {None, "uuid", "date"}
_NULL = {"type": "null"}


class _Drop:
    def __repr__(self):
        return "<drop>"


_DROP = _Drop()


def _resolve(schema, doc):
    """(the schema without its null alternative and without $ref, nullable?)."""
    nullable = False
    while True:
        unknown = set(schema) - _PROBED
        assert not unknown, f"the case generator does not know {sorted(unknown)}"
        if "$ref" in schema:
            target = doc
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            schema = target
        elif "anyOf" in schema:
            alternatives = [s for s in schema["anyOf"] if s != _NULL]
            assert len(alternatives) == 1, f"the case generator does not know anyOf {schema}"
            nullable = nullable or len(alternatives) < len(schema["anyOf"])
            schema = alternatives[0]
        else:
            break
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        nullable = nullable or "null" in kind
        [kind] = [t for t in kind if t != "null"]
    assert kind in ("string", "integer", "number", "boolean", "array", "object"), schema
    assert schema.get("format") in _FORMATS, f"no cases for format {schema.get('format')!r}"
    return dict(schema, type=kind), nullable


def _is_container(schema, doc):
    return _resolve(schema, doc)[0]["type"] in ("array", "object")


def _leaf_sample(schema):
    """A valid value for a leaf slot, for an array whose example is empty."""
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("format") == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "cdht-test"))
    if schema.get("format") == "date":
        return "2025-07-01"
    if schema["type"] == "string":
        sample = "x" * max(schema.get("minLength", 0), 1)
        assert "pattern" not in schema or _pattern_ok(sample, schema["pattern"]), \
            f"no sample for pattern {schema['pattern']!r}"
        return sample
    if schema["type"] in ("integer", "number"):
        return schema.get("minimum", 0)
    assert schema["type"] == "boolean", schema
    return True


def _is_date(value):
    return isinstance(value, str) and _format_ok(value, "date")


_GROUP_KINDS = ("family", "clan", "community", "learning_unit")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _with(obj, **changes):
    """A copy of the object with fields set or dropped. The fields tied to a changed one by a
    cross-field rule follow it, so that those rules (which JSON Schema cannot state: see
    CROSS_FIELD below) stay out of single-field cases: unit_path ends at unit_code, an activity
    does not end before it starts, a part does not exceed its whole, a learning unit (and only
    one) has a level, an imported person that moved has a from_unit_path and one that was
    updated has its previous facts."""
    new = copy.deepcopy(obj)
    for name, value in changes.items():
        if value is _DROP:
            new.pop(name)
        else:
            new[name] = value
    code = changes.get("unit_code", _DROP)
    if code is not _DROP and isinstance(new.get("unit_path"), list) and new["unit_path"]:
        new["unit_path"][-1] = code
    started, ended = new.get("started_on"), new.get("ended_on")
    if _is_date(started) and _is_date(ended) and ended < started:
        if "ended_on" in changes:
            new["started_on"] = ended
        elif "started_on" in changes:
            new["ended_on"] = started
    for part, whole in (("members_titled", "members"), ("numerator", "denominator")):
        small, big = new.get(part), new.get(whole)
        if _is_count(small) and _is_count(big) and small > big:
            if part in changes:
                new[whole] = small
            else:
                new[part] = big
    if "group_kind" in new and "level" in new:  # a level for a learning unit, and only for one
        kind, level = new["group_kind"], new["level"]
        if "group_kind" in changes and kind in _GROUP_KINDS:
            new["level"] = (level or 1) if kind == "learning_unit" else None
        elif "level" in changes and (level is None) == (kind == "learning_unit"):
            new["group_kind"] = "family" if level is None else "learning_unit"
    if "person_id" in new and "previous" in new and "from_unit_path" in new:  # ImportedPerson
        if changes.get("change") == "moved" and not new["from_unit_path"]:
            new["from_unit_path"] = ["AG", "AG-TANCHAU"]
        if changes.get("change") == "updated" and not new["previous"]:
            new["previous"] = {name: copy.deepcopy(new[name])
                               for name in ("target_group", "roles", "birth_year") if name in new}
    return new


def _object_cases(doc, schema, obj, path):
    """(case id, replacement object) for an object held at ``path`` ("" for `data`)."""
    prefix = f"{path}." if path else ""
    yield f"extra-field:{prefix}national_id", _with(obj, national_id="001086012345")
    props = schema.get("properties", {})
    for name in props:
        if name in obj:  # required or not: the document says which, marshmallow must agree
            yield f"missing:{prefix}{name}", _with(obj, **{name: _DROP})
    for name, prop in props.items():
        if name in obj:
            for case_id, value in _slot_cases(doc, prop, obj[name], prefix + name):
                yield case_id, _with(obj, **{name: value})


def _slot_cases(doc, schema, value, path):
    """(case id, replacement value) for the slot at ``path`` holding ``value`` (valid)."""
    schema, nullable = _resolve(schema, doc)
    kind = schema["type"]
    allowed = [kind]
    for wrong in _ONE_OF_EVERY_TYPE:
        if wrong is not None and not any(_is_type(wrong, t) for t in allowed):
            yield f"wrong-type:{path}:{wrong!r}", wrong
    yield f"null:{path}", None  # valid where the slot is nullable, a wrong type elsewhere
    if "enum" in schema:
        yield f"bad-enum:{path}", "not-" + schema["enum"][0]
        yield f"case-enum:{path}", schema["enum"][0].upper()
        for choice in schema["enum"]:
            yield f"enum:{path}={choice}", choice
    if schema.get("format") == "uuid":
        yield f"bad-uuid:{path}", _NOT_A_UUID
        yield f"uuid-upper:{path}", _leaf_sample(schema).upper()
    if schema.get("format") == "date":
        for bad in _BAD_DATES:
            yield f"bad-date:{path}:{bad!r}", bad
        for good in _GOOD_DATES:
            yield f"date:{path}={good}", good
    step = 1 if kind == "integer" else 0.5
    if "minimum" in schema:
        yield f"min:{path}", schema["minimum"]
        yield f"below-min:{path}", schema["minimum"] - step
    if "maximum" in schema:
        yield f"max:{path}", schema["maximum"]
        yield f"above-max:{path}", schema["maximum"] + step
    if kind == "number":
        low = schema.get("minimum", 0)
        yield f"int-for-number:{path}", int(low) + 1
        yield f"fraction:{path}", low + 0.25
    if "pattern" in schema:
        misses = [p for p in _PATTERN_PROBES if not _pattern_ok(p, schema["pattern"])]
        assert misses, f"{path}: no probe breaks pattern {schema['pattern']!r}"
        for bad in misses:
            yield f"pattern-miss:{path}:{bad!r}", bad
        if isinstance(value, str):
            yield f"pattern-longer:{path}", value + "_" * 60
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        yield f"len={low}:{path}", "x" * low
        if low:
            yield f"len={low - 1}:{path}", "x" * (low - 1)
        if high:
            yield f"len={high}:{path}", "x" * high
            yield f"len={high + 1}:{path}", "x" * (high + 1)
    if kind == "array" and value is not None:
        yield from _array_cases(doc, schema, value, path)
    if kind == "object" and value is not None:
        yield from _object_cases(doc, schema, value, path)


def _array_cases(doc, schema, value, path):
    items = schema["items"]
    container = _is_container(items, doc)
    if value:
        first, last = value[0], value[-1]
    else:
        assert not container, f"{path}: the example has no item to build on"
        first = last = _leaf_sample(_resolve(items, doc)[0])
    low = schema.get("minItems", 0)
    counts = {0, low, max(low - 1, 0)}
    if "maxItems" in schema:
        counts |= {schema["maxItems"], schema["maxItems"] + 1}
    for n in sorted(counts):
        yield f"items={n}:{path}", [first] * (n - 1) + [last] if n else []
    if container:  # an object or an array in each item: probe it in place, item by item
        for i, item in enumerate(value):
            for case_id, new_item in _slot_cases(doc, items, item, f"{path}[]"):
                yield case_id, value[:i] + [new_item] + value[i + 1:]
    else:  # a leaf: one more item in front (the last one may be tied to another field)
        for case_id, new_item in _slot_cases(doc, items, first, f"{path}[]"):
            yield case_id, [new_item] + value


# Bases besides the document's example, so that every nested slot has a value to probe (no
# imported person of the example has a `previous`). JSON-shaped, as on the wire.
EXTRA_DATA = {
    ("people_imported", 1): [dict(
        import_id="5a0e4c7e-0f7b-4c8e-9a59-2f3d1c6b7a10", batch=7, people=[dict(
            person_id="0d6f3b1a-9c2e-4f7d-8b1a-3e5c7d9f1b20", target_group="employee_business",
            roles=["association_official"], birth_year=1990, unit_code="CT-NINHKIEU-P05",
            unit_path=["CT", "CT-NINHKIEU", "CT-NINHKIEU-P05"], change="updated",
            from_unit_path=None,
            previous=dict(target_group="worker", roles=[], birth_year=1990))])],
}


def _bases(doc, key):
    example = _example(doc, key)
    yield "example", example
    for i, data in enumerate(EXTRA_DATA.get(key, ()), start=1):
        yield f"extra{i}", dict(copy.deepcopy(example), data=copy.deepcopy(data))


def _cases_for(doc, key):
    """(case id, message) derived from what the document claims; the first base that has a
    value in a slot gives that slot's cases."""
    data_schema = doc["components"]["schemas"][EVENT_SCHEMAS[key].__name__]
    seen = set()
    for label, base in _bases(doc, key):
        yield f"valid:{label}", copy.deepcopy(base)
        for case_id, data in _object_cases(doc, data_schema, base["data"], ""):
            if case_id not in seen:
                seen.add(case_id)
                yield case_id, dict(copy.deepcopy(base), data=data)

    base = _example(doc, key)
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


# Where marshmallow accepts what the document rejects (case id pattern -> reason). Each is a
# suspected weakness of the contracts (reported, not fixed here): strict xfail, so fixing it
# makes this list fail loudly.
KNOWN_LENIENCY = {}


def _agreement_params():
    doc = asyncapi.build_document()
    params = []
    for key in KEYS:
        for case_id, message in _cases_for(doc, key):
            marks = [pytest.mark.xfail(strict=True, reason=reason)
                     for pattern, reason in KNOWN_LENIENCY.items()
                     if re.fullmatch(pattern, case_id)]
            params.append(pytest.param(key, message, id=f"{_mid(key)}-{case_id}", marks=marks))
    return params


def _marshmallow_accepts(message):
    try:
        parse_envelope(json.loads(json.dumps(message)))
    except ContractError:
        return False
    return True


def _disagreement(doc, key, message):
    """None when both sides say the same of ``message``, else what each says."""
    doc_errors = errors(doc["components"]["messages"][_mid(key)]["payload"], message, doc)
    mm_accepts = _marshmallow_accepts(message)
    if mm_accepts == (not doc_errors):
        return None
    return (f"marshmallow {'accepts' if mm_accepts else 'rejects'}, "
            f"the document {'rejects: ' + '; '.join(doc_errors) if doc_errors else 'accepts'}")


@pytest.mark.parametrize("key, message", _agreement_params())
def test_document_and_marshmallow_agree(doc, key, message):
    problem = _disagreement(doc, key, message)
    assert problem is None, problem


@pytest.mark.parametrize("key", sorted(EXTRA_DATA), ids=_mid)
def test_extra_bases_are_valid_on_both_sides(doc, key):
    for label, message in _bases(doc, key):
        assert _marshmallow_accepts(message), label
        assert errors(doc["components"]["messages"][_mid(key)]["payload"], message, doc) == []


def _slots(doc, schema, path=""):
    """(path, resolved schema) of every slot below a schema, "[]" for items."""
    schema, _ = _resolve(schema, doc)
    if path:
        yield path, schema
    if schema["type"] == "object":
        for name, prop in schema.get("properties", {}).items():
            yield from _slots(doc, prop, f"{path}.{name}" if path else name)
    if schema["type"] == "array":
        yield from _slots(doc, schema["items"], f"{path}[]")


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_generated_cases_reach_every_nested_slot(doc, key):
    """Every slot at every depth gets wrong types; every object an extra field and a missing
    case per property: a slot that no base has a value for would otherwise go unprobed."""
    ids = {case_id for case_id, _ in _cases_for(doc, key)}
    data_ref = {"$ref": f"#/components/schemas/{EVENT_SCHEMAS[key].__name__}"}
    slots = [("", _resolve(data_ref, doc)[0])] + list(_slots(doc, data_ref))
    missing = []
    for path, schema in slots:
        if path and not any(i.startswith(f"wrong-type:{path}:") for i in ids):
            missing.append(f"wrong-type:{path}")
        if schema["type"] == "object":
            prefix = f"{path}." if path else ""
            expected = [f"extra-field:{prefix}national_id"] + [
                f"missing:{prefix}{name}" for name in schema["properties"]]
            missing += [case_id for case_id in expected if case_id not in ids]
    assert not missing, f"no cases for: {missing}"


def test_generated_cases_follow_nesting_of_every_kind(doc):
    """The shapes the contracts use: $ref object, nullable $ref, array of $ref objects, array
    of arrays, nullable array, nullable number and date."""
    ids = {c for key in KEYS for c, _ in _cases_for(doc, key)}
    for case_id in ["missing:previous.birth_year", "extra-field:previous.national_id",
                    "bad-enum:previous.roles[]", "missing:people[].person_id",
                    "extra-field:people[].national_id", "null:people[].previous",
                    "missing:people[].previous.target_group",
                    "extra-field:people[].previous.national_id",
                    "null:people[].from_unit_path", "wrong-type:people[].from_unit_path[]:7",
                    "items=0:from_unit_paths[]", "null:from_unit_paths[][]",
                    "null:hours", "above-max:hours", "null:ended_on",
                    "bad-date:started_on:'2025-02-30'", "items=5001:people",
                    "wrong-type:hours:True", "pattern-miss:changed[]:'Phone=0912'",
                    "pattern-miss:changed[]:'0912345678'", "pattern-longer:changed[]"]:
        assert case_id in ids, case_id


def _drop_key(component, field, key):
    def breakage(schemas):
        del schemas[component]["properties"][field][key]
    return breakage


def _pop(component, key):
    return lambda schemas: schemas[component].pop(key)


def _unrequire(component, field):
    return lambda schemas: schemas[component]["required"].remove(field)


def _not_nullable(component, field):
    def breakage(schemas):
        schemas[component]["properties"][field]["type"] = "number"
    return breakage


def _loosen_items(component, field):
    def breakage(schemas):
        del schemas[component]["properties"][field]["items"]["minItems"]
    return breakage


def _drop_item_pattern(component, field):
    def breakage(schemas):
        del schemas[component]["properties"][field]["items"]["pattern"]
    return breakage


def _drop_enum_value(component, field, value):
    def breakage(schemas):
        schemas[component]["properties"][field]["enum"].remove(value)
    return breakage


BREAKAGES = [
    ("nested-open", _pop("CountableFacts", "additionalProperties"), ("person_updated", 1),
     "extra-field:previous.national_id"),
    ("item-open", _pop("ImportedPerson", "additionalProperties"), ("people_imported", 1),
     "extra-field:people[].national_id"),
    ("nested-optional", _unrequire("CountableFacts", "birth_year"), ("people_imported", 1),
     "missing:people[].previous.birth_year"),
    ("item-optional", _unrequire("ImportedPerson", "unit_path"), ("people_imported", 1),
     "missing:people[].unit_path"),
    ("not-nullable", _not_nullable("LearningActivityRecordedV1", "hours"),
     ("learning_activity_recorded", 1), "null:hours"),
    ("inner-array-loosened", _loosen_items("UnitsMergedV1", "from_unit_paths"),
     ("units_merged", 1), "items=0:from_unit_paths[]"),
    ("item-enum-narrowed", _drop_enum_value("ImportedPerson", "change", "moved"),
     ("people_imported", 1), "enum:people[].change=moved"),
    ("item-pattern-dropped", _drop_item_pattern("PersonUpdatedV1", "changed"),
     ("person_updated", 1), "pattern-miss:changed[]:'Phone=0912'"),
]


@pytest.mark.parametrize("breakage, key, case_id", [b[1:] for b in BREAKAGES],
                         ids=[b[0] for b in BREAKAGES])
def test_agreement_check_catches_a_broken_nested_schema(doc, breakage, key, case_id):
    """The agreement test can fail: break a nested schema in a copy of the document and the
    case at that depth disagrees (and did not before)."""
    [message] = [m for c, m in _cases_for(doc, key) if c == case_id]
    assert _disagreement(doc, key, message) is None
    broken = copy.deepcopy(doc)
    breakage(broken["components"]["schemas"])
    assert _disagreement(broken, key, message) is not None


def test_case_generator_refuses_what_it_cannot_probe(doc):
    with pytest.raises(AssertionError, match="does not know"):
        list(_slot_cases(doc, {"type": "string", "multipleOf": 2}, "x", "p"))
    with pytest.raises(AssertionError, match="does not know anyOf"):
        list(_slot_cases(doc, {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "x", "p"))
    with pytest.raises(AssertionError, match="format"):
        list(_slot_cases(doc, {"type": "string", "format": "email"}, "x", "p"))
    with pytest.raises(AssertionError, match="no item to build on"):
        list(_slot_cases(doc, {"type": "array", "items": {"type": "array"}}, [], "p"))


# --- every (nested) component is what marshmallow declares -------------------------------------

_LEAF_TYPES = {fields.UUID: ("string", "uuid"), StrictDate: ("string", "date"),
               fields.String: ("string", None), fields.Integer: ("integer", None),
               StrictFloat: ("number", None), StrictBoolean: ("boolean", None)}


def _field_problems(doc, field, prop, where):
    js, nullable = _resolve(prop, doc)
    problems = []
    if field.allow_none != nullable:
        problems.append(f"{where}: allow_none={field.allow_none}, document nullable={nullable}")
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            for bound, key in ((validator.min, "minimum"), (validator.max, "maximum")):
                if bound is not None and js.get(key) != bound:
                    problems.append(f"{where}: {key} {js.get(key)} != {bound}")
            if not (validator.min_inclusive and validator.max_inclusive):
                problems.append(f"{where}: exclusive range not expected")
        elif isinstance(validator, validate.Length):
            unit = "Items" if js["type"] == "array" else "Length"
            for bound, key in ((validator.min, f"min{unit}"), (validator.max, f"max{unit}")):
                if bound is not None and js.get(key) != bound:
                    problems.append(f"{where}: {key} {js.get(key)} != {bound}")
        elif isinstance(validator, validate.Regexp):
            if js.get("pattern") != validator.regex.pattern:
                problems.append(f"{where}: pattern {js.get('pattern')!r} != "
                                f"{validator.regex.pattern!r}")
        elif isinstance(validator, validate.OneOf):
            if js.get("enum") != list(validator.choices):
                problems.append(f"{where}: enum {js.get('enum')} != {list(validator.choices)}")
        else:
            problems.append(f"{where}: the test does not know validator {validator!r}")
    if isinstance(field, fields.Nested):
        if js["type"] != "object":
            return problems + [f"{where}: nested schema as {js['type']}"]
        return problems + _schema_problems(doc, field.schema, js, where)
    if isinstance(field, fields.List):
        if js["type"] != "array":
            return problems + [f"{where}: list as {js['type']}"]
        return problems + _field_problems(doc, field.inner, js["items"], f"{where}[]")
    expected = next((t for cls, t in _LEAF_TYPES.items() if type(field) is cls), None)
    if expected is None:
        problems.append(f"{where}: the test does not know {type(field).__name__}")
    elif (js["type"], js.get("format")) != expected:
        problems.append(f"{where}: {(js['type'], js.get('format'))} != {expected}")
    return problems


def _schema_problems(doc, schema, js, where):
    declared = schema.fields
    problems = []
    if js.get("additionalProperties") is not False:
        problems.append(f"{where}: additionalProperties is not false")
    if set(js.get("properties", {})) != set(declared):
        problems.append(f"{where}: properties {sorted(js.get('properties', {}))} != "
                        f"fields {sorted(declared)}")
    if set(js.get("required", [])) != {n for n, f in declared.items() if f.required}:
        problems.append(f"{where}: required {sorted(js.get('required', []))} differs")
    for name, field in declared.items():
        if name in js.get("properties", {}):
            prefix = f"{where}." if where else ""
            problems += _field_problems(doc, field, js["properties"][name], prefix + name)
    return problems


@pytest.mark.parametrize("key", KEYS, ids=_mid)
def test_data_schema_matches_the_marshmallow_fields(doc, key):
    """At every depth: fields, required, nullable, types and formats, ranges, lengths, enums
    and closed objects. Catches a marshmallow constraint that the document lost."""
    schema_cls = EVENT_SCHEMAS[key]
    js = doc["components"]["schemas"][schema_cls.__name__]
    assert _schema_problems(doc, schema_cls(), js, "") == []


@pytest.mark.parametrize("breakage, key", [
    (_pop("CountableFacts", "additionalProperties"), ("person_updated", 1)),
    (_unrequire("CountableFacts", "birth_year"), ("people_imported", 1)),
    (_drop_key("PeopleImportedV1", "people", "maxItems"), ("people_imported", 1)),
    (_drop_key("UnitsMergedV1", "from_unit_paths", "minItems"), ("units_merged", 1)),
    (_not_nullable("LearningActivityRecordedV1", "hours"), ("learning_activity_recorded", 1)),
    (_drop_key("LearningActivityRecordedV1", "hours", "maximum"),
     ("learning_activity_recorded", 1)),
    (_drop_key("MembershipChangedV1", "effective_on", "format"), ("membership_changed", 1)),
    (lambda s: s["ImportedPerson"]["properties"]["unit_path"].pop("maxItems"),
     ("people_imported", 1)),
    (_drop_item_pattern("PersonUpdatedV1", "changed"), ("person_updated", 1)),
    (lambda s: s["UnitsMergedV1"]["properties"]["from_unit_paths"]["items"]["items"].pop(
        "maxLength"), ("units_merged", 1)),
], ids=["nested-open", "nested-optional", "max-items", "min-items", "not-nullable", "maximum",
        "date-format", "item-path-length", "item-pattern", "inner-item-length"])
def test_structure_check_catches_a_document_that_lost_a_constraint(doc, breakage, key):
    broken = copy.deepcopy(doc)
    breakage(broken["components"]["schemas"])
    schema_cls = EVENT_SCHEMAS[key]
    assert _schema_problems(broken, schema_cls(),
                            broken["components"]["schemas"][schema_cls.__name__], "")


_IMPORTED = asyncapi.SAMPLES[("people_imported", 1)]["data"]["people"][0]
_PREVIOUS = dict(target_group="resident", roles=["association_member"], birth_year=1986)


def _imported(**changes):
    """An imported person of the document's example, JSON-shaped, with changes."""
    return copy.deepcopy(_IMPORTED) | changes


# Hand-picked payloads per type: catch a marshmallow constraint that the document lost (the
# generated cases above only probe the constraints the document states).
_GRANT = dict(  # one item of a recognitions_granted
    recognition_id="3f9b8c2e-1d4a-4e6f-9a7b-0c1d2e3f4a5b",
    assessment_id="7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
    person_id="0d6f3b1a-9c2e-4f7d-8b1a-3e5c7d9f1b20", target_group="resident", year=2025,
    criteria_version="324/QĐ-KHVN", total_score=90, digital_skills="basic",
    unit_code="CT-NINHKIEU-P05", unit_path=["CT", "CT-NINHKIEU", "CT-NINHKIEU-P05"])
_REFUSAL = asyncapi.SAMPLES[("recognitions_refused", 1)]["data"]["refusals"][0]
_GROUP_TITLE = asyncapi.SAMPLES[("group_recognitions_granted", 1)]["data"]["titles"][0]

HAND_CASES = [
    ("person_updated", 1, {"previous": {"target_group": "resident", "roles": []}}, False),
    ("person_updated", 1, {"previous": None}, False),
    ("person_updated", 1, {"previous": _PREVIOUS | {"full_name": "Trần Thị Bích"}}, False),
    ("person_updated", 1, {"previous": _PREVIOUS | {"birth_year": "1986"}}, False),
    ("person_updated", 1, {"changed": ["x" * 51]}, False),
    ("person_updated", 1, {"changed": [""]}, False),
    ("person_updated", 1, {"changed": ["full_name", "phone"]}, True),
    ("person_moved", 1, {"from_unit_path": []}, False),
    ("person_moved", 1, {"from_unit_path": ["AG"] * 9}, False),
    ("person_moved", 1, {"from_unit_path": ["AG", ""]}, False),
    ("person_moved", 1, {"from_unit_path": ["AG-LONGXUYEN-CH03"]}, True),
    ("person_removed", 1, {"reason": ""}, False),
    ("person_removed", 1, {"reason": "x" * 201}, False),
    ("person_removed", 1, {"reason": "Đã chuyển đi nơi khác"}, True),
    ("people_imported", 1, {"people": []}, False),
    ("people_imported", 1, {"batch": 0}, False),
    ("people_imported", 1, {"people": [_imported(full_name="Lê Văn Tám")]}, False),
    ("people_imported", 1, {"people": [_imported(previous=_PREVIOUS | {"phone": "0912345678"})]},
     False),
    ("people_imported", 1, {"people": [_imported(change="updated", previous=_PREVIOUS)]}, True),
    ("people_imported", 1, {"people": [_imported(change="deleted")]}, False),
    ("people_imported", 1, {"people": [_imported(birth_year=1899)]}, False),
    ("people_imported", 1, {"people": [_imported(), "AG"]}, False),
    ("unit_changed", 1, {"kind": "hamlet"}, False),
    ("unit_changed", 1, {"unit_name": ""}, False),
    ("unit_changed", 1, {"change": "closed", "valid_to": "2025-06-30"}, True),
    ("association_body_changed", 1, {"kind": "province_association"}, False),
    ("association_body_changed", 1, {"change": "removed", "parent_id": None}, True),
    ("groups_imported", 1, {"groups": []}, False),
    ("groups_imported", 1, {"batch": 0}, False),
    ("group_titles_recorded", 1, {"titles": []}, False),
    ("group_titles_recorded", 1, {"import_id": None, "batch": 1}, True),
    ("recognition_refused", 2, {"reasons": []}, False),
    ("recognition_refused", 2, {"reasons": ["total 72 is under 80"]}, False),
    ("membership_changed", 1, {"group_kind": "village"}, False),
    ("membership_changed", 1, {"change": "left", "group_kind": "learning_unit"}, True),
    ("membership_changed", 1, {"effective_on": "2025-03-01T00:00:00+07:00"}, False),
    ("membership_changed", 1, {"effective_on": None}, False),
    ("membership_changed", 1, {"group_id": "nhom-01"}, False),
    ("learning_activity_recorded", 1, {"ended_on": None, "hours": None}, True),
    ("learning_activity_recorded", 1, {"hours": -0.5}, False),
    ("learning_activity_recorded", 1, {"hours": 10000.01}, False),
    ("learning_activity_recorded", 1, {"hours": 0}, True),
    ("learning_activity_recorded", 1, {"hours": True}, False),
    ("learning_activity_recorded", 1, {"kind": "webinar"}, False),
    ("learning_activity_recorded", 1, {"started_on": None}, False),
    ("learning_activity_withdrawn", 1, {"reason": "deleted"}, True),
    ("learning_activity_withdrawn", 1, {"reason": "refunded"}, False),
    ("units_merged", 1, {"from_unit_paths": []}, False),
    ("units_merged", 1, {"from_unit_paths": [["AG", "AG-LONGXUYEN", "AG-LONGXUYEN-MYHOA"]]},
     True),
    ("units_merged", 1, {"from_unit_paths": [["AG"]] * 101}, False),
    ("units_merged", 1, {"from_unit_paths": ["AG-LONGXUYEN-MYHOA"]}, False),
    ("units_merged", 1, {"people_moved": -1}, False),
    ("units_merged", 1, {"people_moved": 0}, True),
    ("units_merged", 1, {"effective_on": "1/7/2025"}, False),
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
    ("recognitions_granted", 1, {"recognitions": []}, False),
    ("recognitions_granted", 1, {"recognitions": [_GRANT] * 500}, True),
    ("recognitions_granted", 1, {"recognitions": [_GRANT] * 501}, False),
    ("recognitions_granted", 1, {"recognitions": [_GRANT | {"phone": "0912345678"}]}, False),
    ("recognitions_granted", 1, {"recognitions": [_GRANT | {"total_score": 101}]}, False),
    ("recognitions_refused", 1, {"refusals": []}, False),
    ("recognitions_refused", 1, {"refusals": [_REFUSAL] * 500}, True),
    ("recognitions_refused", 1, {"refusals": [_REFUSAL] * 501}, False),
    ("recognitions_refused", 1, {"refusals": [_REFUSAL | {"reasons": ["total 64"]}]}, False),
    ("recognitions_refused", 1, {"refusals": [_REFUSAL | {"email": "a@b.vn"}]}, False),
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
    ("recognition_refused", 1, {"reasons": []}, False),
    ("recognition_refused", 1, {"reasons": ["TC2.1: 4/10, under the minimum 5"]}, True),
    ("group_recognition_granted", 1, {"level": 3}, True),
    ("group_recognition_granted", 1, {"level": 0}, False),
    ("group_recognition_granted", 1, {"members": 0, "members_titled": 0}, True),
    ("group_recognitions_granted", 1, {"titles": [_GROUP_TITLE] * 500}, True),
    ("group_recognitions_granted", 1, {"titles": [_GROUP_TITLE] * 501}, False),
    ("group_recognitions_granted", 1, {"titles": [_GROUP_TITLE | {"level": 4}]}, False),
    ("group_recognitions_granted", 1, {"titles": [_GROUP_TITLE | {"name": "x"}]}, False),
    ("group_recognition_revoked", 1, {"group_kind": "clan"}, True),
    ("group_recognition_revoked", 1, {"reason": None}, False),
    ("target_reached", 1, {"share": 1.0, "target": 1.0}, True),
    ("target_reached", 1, {"share": 1.01}, False),
    ("target_reached", 1, {"indicator": "families_recognised"}, True),
    ("target_at_risk", 1, {"warning_line": "0.5"}, False),
    ("target_at_risk", 1, {"target_year": 2030}, True),
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


def test_unit_path_rule_holds_for_each_imported_person(doc):
    """The rule reaches into nested objects: each imported person is placed by its own path."""
    key = ("people_imported", 1)
    message = _example(doc, key)
    person = message["data"]["people"][-1]
    person["unit_path"] = person["unit_path"][:-1] + ["AG-OTHER"]
    schema = doc["components"]["messages"][_mid(key)]["payload"]
    assert errors(schema, message, doc) == []
    with pytest.raises(ContractError) as info:
        parse_envelope(message)
    last = len(message["data"]["people"]) - 1
    assert "unit_path" in info.value.errors["people"][last]
    description = doc["components"]["schemas"]["ImportedPerson"]["properties"]["unit_path"][
        "description"]
    assert "must equal unit_code" in description


def _moved_without_from(data):
    data["people"][-1]["from_unit_path"] = None


def _updated_without_previous(data):
    data["people"][-1].update(change="updated", previous=None)


def _ends_before_it_starts(data):
    data.update(started_on="2025-09-01", ended_on="2025-08-31")


def _moved_nowhere(data):
    data["from_unit_path"] = list(data["unit_path"])


def _merged_into_itself(data):
    data["from_unit_paths"].append(list(data["unit_path"]))


def _more_titled_than_members(data):
    data["members_titled"] = data["members"] + 1


def _family_with_a_level(data):
    data.update(group_kind="family", level=1)


def _learning_unit_without_level(data):
    data.update(group_kind="learning_unit", level=None)


def _numerator_over_denominator(data):
    data["numerator"] = data["denominator"] + 1


_NOT_IN_WORDS = "marshmallow checks the rule, the document never says it: a producer written " \
                "from the document alone is dead-lettered (proposed: say it in the schema's " \
                "docstring, or in a property description as CROSS_FIELD_RULES does for unit_path)"

# Rules marshmallow checks across fields, beside unit_path: (key, breaking edit of a valid
# `data`, component that holds the rule, words its descriptions must use to state it). The
# agreement cases keep clear of them (_with); here each is broken on purpose.
CROSS_FIELD = [
    pytest.param(("people_imported", 1), _moved_without_from, "ImportedPerson",
                 ("moved", "from_unit_path"), id="imported-moved-has-from_unit_path"),
    pytest.param(("people_imported", 1), _updated_without_previous, "ImportedPerson",
                 ("updated", "previous"), id="imported-updated-has-previous"),
    pytest.param(("learning_activity_recorded", 1), _ends_before_it_starts,
                 "LearningActivityRecordedV1", ("ended_on", "started_on"),
                 id="activity-ends-after-it-starts"),
    pytest.param(("person_moved", 1), _moved_nowhere, "PersonMovedV1",
                 ("from_unit_path", "unit_path"), id="person-moved-somewhere-else"),
    pytest.param(("units_merged", 1), _merged_into_itself, "UnitsMergedV1",
                 ("from_unit_paths", "unit_path"), id="unit-not-merged-into-itself"),
    pytest.param(("group_recognition_granted", 1), _more_titled_than_members,
                 "GroupRecognitionGrantedV1", ("members_titled", "members"),
                 id="group-titled-within-members"),
    pytest.param(("group_recognition_granted", 1), _family_with_a_level,
                 "GroupRecognitionGrantedV1", ("level", "learning_unit"),
                 id="group-level-only-for-learning-unit"),
    pytest.param(("group_recognition_granted", 1), _learning_unit_without_level,
                 "GroupRecognitionGrantedV1", ("level", "learning_unit"),
                 id="group-learning-unit-has-level"),
    pytest.param(("target_reached", 1), _numerator_over_denominator, "TargetReachedV1",
                 ("numerator", "denominator"), id="target-fraction"),
]


def _cross_field_message(doc, key, breaking):
    message = _example(doc, key)
    breaking(message["data"])
    return message


@pytest.mark.parametrize("key, breaking, component, words",
                         [pytest.param(*p.values, id=p.id) for p in CROSS_FIELD])
def test_cross_field_rules_are_marshmallows(doc, key, breaking, component, words):
    """Marshmallow refuses the message; the document's JSON Schema does not state the rule."""
    message = _cross_field_message(doc, key, breaking)
    assert not _marshmallow_accepts(message)
    assert errors(doc["components"]["messages"][_mid(key)]["payload"], message, doc) == []


@pytest.mark.parametrize("key, breaking, component, words", CROSS_FIELD)
def test_cross_field_rules_are_stated_in_prose(doc, key, breaking, component, words):
    """A producer written from the document alone must learn the rule (as for unit_path): the
    component's descriptions name the fields (and the case) the rule ties together."""
    schema = doc["components"]["schemas"][component]
    prose = " ".join([schema.get("description", "")] + [
        prop.get("description", "") for prop in schema["properties"].values()])
    assert all(re.search(rf"\b{word}\b", prose) for word in words), prose


@pytest.mark.parametrize("value", ["yes", "true", "off", "0",
                                   1, 0], ids=repr)
def test_passed_must_be_a_json_boolean(doc, value):
    message = _example(doc, ("assessment_submitted", 1))
    message["data"]["passed"] = value
    assert not _marshmallow_accepts(message)


def test_sample_ids_are_stable():
    assert asyncapi._id("person") == str(uuid.uuid5(
        uuid.UUID("8f2a4c52-1b1e-4d5e-9a53-6d8b8e0c3a11"), "person"))
