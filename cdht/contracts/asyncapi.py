"""The AsyncAPI 2.6.0 description of CDHT's events, generated from the marshmallow contracts.

The marshmallow schemas in ``cdht.contracts.events`` are the source of truth; this module turns
them into ``docs/asyncapi.yaml`` (docs/architecture.md §D2) so that other teams can read the contract
without reading Python. A test checks that the committed file equals what the schemas generate.

    python -m cdht.contracts.asyncapi > docs/asyncapi.yaml          # regenerate
    python -m cdht.contracts.asyncapi --check docs/asyncapi.yaml    # exit 1 if out of date

The marshmallow -> JSON Schema conversion is apispec's (OpenAPI 3.1 flavour, i.e. plain JSON
Schema: ``type: [string, "null"]`` rather than ``nullable``), not hand-written.
"""
import argparse
import copy
import difflib
import sys
import uuid
from datetime import datetime

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import RAISE, ValidationError, fields

from cdht.contracts.envelope import EnvelopeSchema
from cdht.contracts.events import EVENT_SCHEMAS, PRODUCERS

ASYNCAPI_VERSION = "2.6.0"
# The version of this document: bump the minor version when an event type or a schema_version
# is added, the major version never (old versions stay until no consumer reads them).
DOC_VERSION = "1.4.0"
AMQP_BINDING_VERSION = "0.3.0"
REGENERATE = "python -m cdht.contracts.asyncapi > docs/asyncapi.yaml"

DESCRIPTION = """\
Events published by the four CDHT services (registry, assessment, reporting, notifications) of the
Learning Citizen ("Công dân học tập") programme. They are a public API: other teams subscribe to
them.

**Transport.** Each producer publishes to its own durable topic exchange `<producer>.events`
with routing key = `event_type`; the body is JSON (`application/json`, UTF-8) and messages are
persistent. To consume, bind your own durable queue to the exchange with the event types you want
as routing keys. Delivery is at least once: deduplicate on `event_id`.

**Envelope.** Every body is an envelope: `event_id` (UUID, unique per event), `event_type`,
`schema_version` (integer), `occurred_at` (UTC, ISO 8601 / RFC 3339 with offset), `producer`
(the publishing service), `correlation_id` (ties together the events caused by one request; may be
null) and `data`, whose schema is fixed by the pair (`event_type`, `schema_version`).

**Versioning.** A schema, once published, never changes. A breaking change (removing or renaming a
field, changing a type, narrowing allowed values, adding a required field) is a new
`schema_version` of the event type, announced beforehand and published *beside* the old one (one
message per version, each with its own `event_id`) for a transition period; a type with several
live versions lists them under `oneOf`. A consumer takes the one version it handles and acks the
other versions listed here without processing them. It validates every message it takes against
the schema of its (`event_type`, `schema_version`) (in Python: `cdht.contracts.parse_envelope`) and
must ignore nothing silently: a version not listed here, a missing field or an unknown field is an
error to dead-letter and report, never a message to drop or half-read.

**Privacy.** Events carry ids and the facts consumers count on, never personal data (national ID
number, name, phone, email). `data` and every object nested in it reject unknown fields
(`additionalProperties: false`), so no extra field can leak through. A consumer that needs
personal data asks the registry by RPC at the moment it needs it.
"""

SUMMARIES = {
    "person_registered": "A person was registered in the registry under a unit.",
    "person_updated": "A person's countable facts (target group, roles, birth year) or personal "
                      "fields changed; previous facts and changed field names are given.",
    "person_moved": "A person moved to another unit; counted under the new unit from now on.",
    "person_removed": "A person was removed from the registry; stop counting them.",
    "people_imported": "One batch of a bulk import: the people registered, updated or moved "
                       "by it (at most 5000 per event).",
    "membership_changed": "A person joined or left a family, clan, community or learning unit.",
    "learning_activity_recorded": "A learning activity (course, MOOC, digital-skills training, "
                                  "briefing) was recorded for a person.",
    "learning_activity_withdrawn": "A learning activity no longer counts: deleted by staff as "
                                   "a mistake, or its xAPI statement voided by the platform.",
    "units_merged": "Units were merged into one (e.g. the 1 July 2025 reorganisation); their "
                    "people and groups now belong to it.",
    "unit_changed": "A unit was created, renamed or moved in the tree, or closed: its name and "
                    "kind, so that consumers show names, not codes.",
    "association_body_changed": "A body of the association (commune association, branch, "
                                "learning board) was created, changed or removed.",
    "groups_imported": "One batch of a bulk import of families, clans, communities and learning "
                       "units with their members (at most 5000 groups per event).",
    "group_titles_recorded": "Group titles entered from their paper decisions, by hand or by a "
                             "bulk import (at most 5000 per event); withdrawn when entered by "
                             "mistake.",
    "recognition_refused": "A self-assessment was refused the title, with the reasons (in "
                           "version 2 as data, to be worded in the recipient's language).",
    "group_recognition_granted": "A group holds its title for a year, computed from its "
                                 "members' titles.",
    "group_recognitions_granted": "Up to 500 groups holding their titles for a year, as "
                                  "the closing of that year (closing_id) computed them: "
                                  "each item is a group_recognition_granted's data. A "
                                  "closing sends these instead of one "
                                  "group_recognition_granted per group.",
    "group_recognition_revoked": "A group lost its computed title for a year.",
    "target_reached": "An indicator of a unit reached its target.",
    "target_at_risk": "An indicator of a unit fell behind its milestone for the year.",
    "assessment_submitted": "A self-assessment for the Learning Citizen title was submitted and "
                            "scored (0-100 points, passed or not).",
    "recognition_granted": "A person was recognised as a Learning Citizen for a year, by a "
                           "decision on their self-assessment.",
    "recognitions_granted": "Up to 500 people recognised as Learning Citizens for a year by "
                            "the closing of that year (closing_id): each item is a "
                            "recognition_granted's data. A closing sends these instead of one "
                            "recognition_granted per person: a subscriber that needs every "
                            "recognition takes both.",
    "recognitions_refused": "Up to 500 self-assessments refused the title by the closing of "
                            "a year (closing_id): each item is a recognition_refused version "
                            "2's data, the reasons as data. A closing sends these instead of "
                            "one recognition_refused per person.",
    "recognition_revoked": "A Learning Citizen recognition was withdrawn.",
    "statistics_updated": "The counters of a unit for a year changed; cause_event_id is the event "
                          "that changed them.",
    "notification_sent": "A notification about an event was sent to a person.",
    "notification_failed": "A notification could not be sent after its retries.",
}

PRODUCER_DESCRIPTIONS = {
    "registry": "Registers units, the association's bodies, people, groups and their titles "
                "recorded from paper, and learning activities.",
    "assessment": "Takes self-assessments, reviews them and grants or revokes recognitions.",
    "reporting": "Keeps statistics per unit and year, rolled up the unit tree.",
    "notifications": "Tells people about what happened to their registration and recognitions.",
}

ENVELOPE_DESCRIPTIONS = {
    "event_id": "Unique per event; consumers deduplicate on it (delivery is at least once).",
    "event_type": "The kind of event; also the routing key.",
    "schema_version": "Version of the schema of `data` for this event_type.",
    "occurred_at": "When the change happened, UTC, ISO 8601 with offset.",
    "producer": "The service that published the event; the exchange is `<producer>.events`.",
    "correlation_id": "Ties together the events caused by one request; null when none.",
    "data": "The event's facts; schema fixed by (event_type, schema_version).",
}

# Rules marshmallow checks across fields, which JSON Schema cannot express: stated in prose.
CROSS_FIELD_RULES = {
    "unit_path": "The unit's ancestors from the province down to the unit itself: the last item "
                 "must equal unit_code (checked by the marshmallow schema, not expressible in "
                 "JSON Schema).",
}


def _id(name):
    """A fixed UUID for the examples, so that the document is reproducible."""
    return str(uuid.uuid5(uuid.UUID("8f2a4c52-1b1e-4d5e-9a53-6d8b8e0c3a11"), name))


_UNIT = "AG-LONGXUYEN-CH03"
_UNIT_PATH = ["AG", "AG-LONGXUYEN", _UNIT]
_PERSON = _id("person")

# One realistic example per (event_type, schema_version): the envelope arguments and the data.
# Each must load through its schema as it is, so an example that breaks it fails the generation.
SAMPLES = {
    ("person_registered", 1): dict(
        producer="registry", occurred_at="2025-03-04T01:12:40+00:00",
        correlation_id=_id("registration-request"),
        data=dict(person_id=_PERSON, target_group="resident", roles=["association_member"],
                  birth_year=1986, unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("person_updated", 1): dict(
        producer="registry", occurred_at="2025-04-01T02:00:00+00:00",
        correlation_id=_id("update-request"),
        data=dict(person_id=_PERSON, target_group="worker",
                  roles=["association_member", "unit_staff"], birth_year=1986,
                  unit_code=_UNIT, unit_path=_UNIT_PATH,
                  previous=dict(target_group="resident", roles=["association_member"],
                                birth_year=1986),
                  changed=["target_group", "roles", "phone"])),
    ("person_moved", 1): dict(
        producer="registry", occurred_at="2025-05-12T03:00:00+00:00",
        correlation_id=_id("move-request"),
        data=dict(person_id=_PERSON, target_group="resident", roles=[], birth_year=1986,
                  unit_code="AG-CHAUDOC", unit_path=["AG", "AG-CHAUDOC"],
                  from_unit_path=_UNIT_PATH)),
    ("person_removed", 1): dict(
        producer="registry", occurred_at="2025-06-30T09:00:00+00:00",
        correlation_id=_id("removal-request"),
        data=dict(person_id=_PERSON, target_group="resident", roles=[], birth_year=1986,
                  unit_code=_UNIT, unit_path=_UNIT_PATH, reason="duplicate record")),
    ("people_imported", 1): dict(
        producer="registry", occurred_at="2025-03-04T01:20:00+00:00",
        correlation_id=_id("import-request"),
        data=dict(import_id=_id("import"), batch=1, people=[
            dict(person_id=_PERSON, target_group="resident", roles=[], birth_year=1986,
                 unit_code=_UNIT, unit_path=_UNIT_PATH, change="registered",
                 from_unit_path=None, previous=None),
            dict(person_id=_id("person-2"), target_group="student", roles=[],
                 birth_year=2008, unit_code=_UNIT, unit_path=_UNIT_PATH, change="moved",
                 from_unit_path=["AG", "AG-CHAUDOC"], previous=None)])),
    ("membership_changed", 1): dict(
        producer="registry", occurred_at="2025-03-05T01:00:00+00:00",
        correlation_id=_id("membership-request"),
        data=dict(membership_id=_id("membership"), person_id=_PERSON,
                  group_id=_id("family"), group_kind="family", change="joined",
                  effective_on="2025-03-01", unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("learning_activity_recorded", 1): dict(
        producer="registry", occurred_at="2025-09-15T04:00:00+00:00",
        correlation_id=_id("activity-request"),
        data=dict(activity_id=_id("activity"), person_id=_PERSON,
                  kind="digital_skills_basic", started_on="2025-09-01",
                  ended_on="2025-09-14", hours=24.0, unit_code=_UNIT,
                  unit_path=_UNIT_PATH)),
    ("learning_activity_withdrawn", 1): dict(
        producer="registry", occurred_at="2025-09-20T02:00:00+00:00",
        correlation_id=_id("voiding-request"),
        data=dict(activity_id=_id("activity"), person_id=_PERSON, reason="voided",
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("units_merged", 1): dict(
        producer="registry", occurred_at="2025-07-01T00:00:00+00:00",
        correlation_id=_id("merge-request"),
        data=dict(from_unit_paths=[["AG", "AG-LONGXUYEN", "AG-LONGXUYEN-MYHOA"],
                                   ["AG", "AG-LONGXUYEN", "AG-LONGXUYEN-MYBINH"]],
                  unit_code="AG-LONGXUYEN-P1", unit_path=["AG", "AG-LONGXUYEN-P1"],
                  effective_on="2025-07-01", people_moved=31250)),
    ("unit_changed", 1): dict(
        producer="registry", occurred_at="2025-07-01T00:00:00+00:00",
        correlation_id=_id("unit-request"),
        data=dict(unit_code="AG-LONGXUYEN-P1", unit_path=["AG", "AG-LONGXUYEN-P1"],
                  unit_name="Phường Long Xuyên", kind="ward", change="created",
                  valid_from="2025-07-01", valid_to=None)),
    ("association_body_changed", 1): dict(
        producer="registry", occurred_at="2025-07-02T01:00:00+00:00",
        correlation_id=_id("body-request"),
        data=dict(body_id=_id("body"), kind="commune_association",
                  body_name="Hội Khuyến học phường Long Xuyên", parent_id=None, change="created",
                  unit_code="AG-LONGXUYEN-P1", unit_path=["AG", "AG-LONGXUYEN-P1"])),
    ("groups_imported", 1): dict(
        producer="registry", occurred_at="2025-03-06T02:00:00+00:00",
        correlation_id=_id("group-import-request"),
        data=dict(import_id=_id("group-import"), batch=1, groups=[
            dict(group_id=_id("family"), group_kind="family", change="registered",
                 unit_code=_UNIT, unit_path=_UNIT_PATH, memberships=[
                     dict(membership_id=_id("membership"), person_id=_PERSON,
                          change="joined", effective_on="2025-03-01"),
                     dict(membership_id=_id("membership-2"), person_id=_id("person-2"),
                          change="joined", effective_on="2025-03-01")])])),
    ("group_titles_recorded", 1): dict(
        producer="registry", occurred_at="2025-03-06T02:00:01+00:00",
        correlation_id=_id("group-import-request"),
        data=dict(import_id=_id("group-import"), batch=1, titles=[
            dict(title_id=_id("group-title"), group_id=_id("family"), group_kind="family",
                 year=2024, decision_number="125/QĐ-UBND", decision_date="2024-12-20",
                 issued_by="UBND phường Mỹ Hòa", change="recorded", unit_code=_UNIT,
                 unit_path=_UNIT_PATH)])),
    ("assessment_submitted", 1): dict(
        producer="assessment", occurred_at="2025-11-20T03:05:11+00:00",
        correlation_id=_id("assessment-request"),
        data=dict(assessment_id=_id("assessment"), person_id=_PERSON, year=2025,
                  criteria_version="324/QĐ-KHVN", total_score=86, passed=True,
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("recognition_granted", 1): dict(
        producer="assessment", occurred_at="2025-12-02T08:30:00+00:00",
        correlation_id=_id("review-request"),
        data=dict(recognition_id=_id("recognition"), assessment_id=_id("assessment"),
                  person_id=_PERSON, target_group="resident", year=2025,
                  criteria_version="324/QĐ-KHVN", total_score=86, digital_skills="basic",
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("recognitions_granted", 1): dict(
        producer="assessment", occurred_at="2026-01-05T01:00:00+00:00",
        correlation_id=_id("closing-request"),
        data=dict(closing_id=_id("closing"), recognitions=[
            dict(recognition_id=_id("recognition-2"), assessment_id=_id("assessment-3"),
                 person_id=_id("person-3"), target_group="resident", year=2025,
                 criteria_version="324/QĐ-KHVN", total_score=88, digital_skills="proficient",
                 unit_code=_UNIT, unit_path=_UNIT_PATH),
            dict(recognition_id=_id("recognition-3"), assessment_id=_id("assessment-4"),
                 person_id=_id("person-4"), target_group="worker", year=2025,
                 criteria_version="324/QĐ-KHVN", total_score=81, digital_skills="basic",
                 unit_code=_UNIT, unit_path=_UNIT_PATH)])),
    ("recognition_revoked", 1): dict(
        producer="assessment", occurred_at="2026-02-10T02:00:00+00:00",
        correlation_id=_id("revocation-request"),
        data=dict(recognition_id=_id("recognition"), person_id=_PERSON, year=2025,
                  reason="Kết quả tự đánh giá không đúng thực tế (self-assessment not confirmed)",
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("recognition_refused", 1): dict(
        producer="assessment", occurred_at="2025-12-02T08:31:00+00:00",
        correlation_id=_id("review-request"),
        data=dict(assessment_id=_id("assessment-2"), person_id=_id("person-2"), year=2025,
                  criteria_version="324/QĐ-KHVN", total_score=78,
                  reasons=["total 78 is under 80", "TC2.1: 4/10, under the minimum 5"],
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("recognition_refused", 2): dict(
        producer="assessment", occurred_at="2025-12-02T08:31:00+00:00",
        correlation_id=_id("review-request"),
        data=dict(assessment_id=_id("assessment-2"), person_id=_id("person-2"), year=2025,
                  criteria_version="324/QĐ-KHVN", total_score=78,
                  reasons=[dict(kind="total_below", indicator=None, score=None, maximum=None,
                                minimum=80, total=78, note=None),
                           dict(kind="indicator_below", indicator="TC2.1", score=4,
                                maximum=10, minimum=5, total=None, note=None)],
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("recognitions_refused", 1): dict(
        producer="assessment", occurred_at="2026-01-05T01:00:00+00:00",
        correlation_id=_id("closing-request"),
        data=dict(closing_id=_id("closing"), refusals=[
            dict(assessment_id=_id("assessment-5"), person_id=_id("person-5"), year=2025,
                 criteria_version="324/QĐ-KHVN", total_score=64,
                 reasons=[dict(kind="total_below", indicator=None, score=None, maximum=None,
                               minimum=80, total=64, note=None)],
                 unit_code=_UNIT, unit_path=_UNIT_PATH)])),
    ("group_recognition_granted", 1): dict(
        producer="assessment", occurred_at="2026-01-10T02:00:00+00:00",
        correlation_id=_id("close-year"),
        data=dict(group_recognition_id=_id("group-recognition"), group_id=_id("unit-group"),
                  group_kind="learning_unit", year=2025, criteria_version="24/2023/TT-BGDĐT",
                  level=2, members=40, members_titled=39, unit_code=_UNIT,
                  unit_path=_UNIT_PATH)),
    ("group_recognitions_granted", 1): dict(
        producer="assessment", occurred_at="2026-01-05T01:20:00+00:00",
        correlation_id=_id("closing-request"),
        data=dict(closing_id=_id("closing"), titles=[
            dict(group_recognition_id=_id("group-recognition-2"), group_id=_id("family"),
                 group_kind="family", year=2025, criteria_version="448/QĐ-KHVN-GĐ",
                 level=None, members=4, members_titled=3, unit_code=_UNIT,
                 unit_path=_UNIT_PATH)])),
    ("group_recognition_revoked", 1): dict(
        producer="assessment", occurred_at="2026-02-10T02:00:01+00:00",
        correlation_id=_id("revocation-request"),
        data=dict(group_recognition_id=_id("group-recognition"), group_id=_id("unit-group"),
                  group_kind="learning_unit", year=2025,
                  reason="38 of 40 members titled (95.0%), under 90% for level 1",
                  unit_code=_UNIT, unit_path=_UNIT_PATH)),
    ("statistics_updated", 1): dict(
        producer="reporting", occurred_at="2025-12-02T08:30:01+00:00",
        correlation_id=_id("review-request"),
        data=dict(unit_code="AG-LONGXUYEN", year=2025, people=48210, adults=36940, titled=15310,
                  titled_digitally_skilled=11020, titled_digitally_proficient=9270,
                  cause_event_id=_id("event:recognition_granted.v1"))),
    ("target_reached", 1): dict(
        producer="reporting", occurred_at="2025-12-02T08:30:01+00:00",
        correlation_id=_id("review-request"),
        data=dict(unit_code=_UNIT, unit_path=_UNIT_PATH, year=2025, indicator="adults_titled",
                  target_year=2025, numerator=2001, denominator=5000, share=0.4002,
                  target=0.4, cause_event_id=_id("event:recognition_granted.v1"))),
    ("target_at_risk", 1): dict(
        producer="reporting", occurred_at="2026-02-10T02:00:02+00:00",
        correlation_id=_id("revocation-request"),
        data=dict(unit_code=_UNIT, unit_path=_UNIT_PATH, year=2025,
                  indicator="titled_with_digital_skills", target_year=2025, numerator=549,
                  denominator=1000, share=0.549, target=0.7, warning_line=0.55,
                  cause_event_id=_id("event:recognition_revoked.v1"))),
    ("notification_sent", 1): dict(
        producer="notifications", occurred_at="2025-12-02T08:30:04+00:00",
        correlation_id=_id("review-request"),
        data=dict(notification_id=_id("notification"),
                  source_event_id=_id("event:recognition_granted.v1"), person_id=_PERSON,
                  channel="sms", template="recognition_granted", language="vi")),
    ("notification_failed", 1): dict(
        producer="notifications", occurred_at="2025-12-02T09:41:17+00:00",
        correlation_id=_id("review-request"),
        data=dict(notification_id=_id("notification-email"),
                  source_event_id=_id("event:recognition_granted.v1"), person_id=_PERSON,
                  channel="email", template="recognition_granted", language="vi",
                  reason="SMTP 451: temporary failure, retries exhausted", attempts=5)),
}


def message_id(event_type, schema_version):
    return f"{event_type}.v{schema_version}"


def channel_name(producer, event_type):
    return f"{producer}.events/{event_type}"


def _producer_of(producers):
    """event_type -> producer; every type must have exactly one producer."""
    owner = {}
    for producer, types in producers.items():
        for event_type in types:
            if event_type in owner:
                raise ValueError(f"{event_type!r} has two producers: "
                                 f"{owner[event_type]!r} and {producer!r}")
            owner[event_type] = producer
    return owner


def _inner_fields(field):
    """The fields a container field (list, tuple, mapping) applies to its items."""
    if isinstance(field, fields.List):
        return [field.inner]
    if isinstance(field, fields.Tuple):
        return list(field.tuple_fields)
    if isinstance(field, fields.Mapping):
        return [f for f in (field.key_field, field.value_field) if f is not None]
    return []


def _check_nested(schema, where, seen):
    """Every schema nested in ``schema``, at any depth (in a list, a list of lists...), must
    reject unknown fields as the top level does: a nested object is no back door for data."""
    todo = list(schema.fields.items())
    while todo:
        name, field = todo.pop(0)
        todo += [(name + "[]", inner) for inner in _inner_fields(field)]
        if not isinstance(field, fields.Nested):
            continue
        nested = field.schema
        label = f"{where}.{name} ({type(nested).__name__})"
        if field.unknown not in (None, RAISE) or nested.unknown != RAISE:
            raise ValueError(f"{label} must reject unknown fields (unknown=RAISE)")
        if type(nested) not in seen:
            seen.add(type(nested))
            _check_nested(nested, f"{where}.{name}", seen)


def _data_schemas(schemas):
    """JSON Schema of every data schema (and anything nested in them), by component name."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title="CDHT events", version=DOC_VERSION, openapi_version="3.1.0",
                   plugins=[plugin])
    names = {}
    for key in sorted(schemas):
        schema_cls = schemas[key]
        name = schema_cls.__name__
        if names.setdefault(name, schema_cls) is not schema_cls:
            raise ValueError(f"two data schemas are called {name!r}: rename one")
        if name not in spec.components.schemas:
            if schema_cls().unknown != RAISE:
                raise ValueError(f"{name} must reject unknown fields (unknown=RAISE)")
            _check_nested(schema_cls(), name, {schema_cls})
            spec.components.schema(name, schema=schema_cls)
    # the nested schemas became components too (apispec names them): same treatment
    for schema_key, name in plugin.converter.refs.items():
        names.setdefault(name, schema_key[0])
    components = copy.deepcopy(spec.to_dict().get("components", {}).get("schemas", {}))
    for name, schema_cls in names.items():
        js = components[name]
        js["additionalProperties"] = False  # unknown fields are rejected: no data can leak
        if schema_cls.__doc__:
            js.setdefault("description", " ".join(schema_cls.__doc__.split()))
        props = js.get("properties", {})
        for field, rule in CROSS_FIELD_RULES.items():
            if field in props:
                props[field].setdefault("description", rule)
    envelope = plugin.converter.schema2jsonschema(EnvelopeSchema)
    return components, envelope


def _example(event_type, schema_version, schema_cls, sample):
    """The message as it goes on the wire; the sample's data must load as it is (no unknown
    field, no coercion), so a broken sample fails the generation."""
    try:
        loaded = schema_cls().load(sample["data"])
    except ValidationError as exc:
        raise ValueError(f"the example of {event_type} v{schema_version} is invalid: "
                         f"{exc.messages}") from None
    return EnvelopeSchema().dump({
        "event_id": uuid.UUID(_id(f"event:{message_id(event_type, schema_version)}")),
        "event_type": event_type,
        "schema_version": schema_version,
        "occurred_at": datetime.fromisoformat(sample["occurred_at"]),
        "producer": sample["producer"],
        "correlation_id": sample["correlation_id"],
        "data": schema_cls().dump(loaded),
    })


def _payload(envelope, event_type, schema_version, producer, data_ref):
    payload = copy.deepcopy(envelope)
    props = payload["properties"]
    for field, description in ENVELOPE_DESCRIPTIONS.items():
        props[field].setdefault("description", description)
    props["event_type"]["const"] = event_type
    props["schema_version"]["const"] = schema_version
    props["producer"]["const"] = producer
    props["data"] = {"$ref": data_ref}  # draft 7 ignores siblings of $ref: no description
    payload["additionalProperties"] = False
    return payload


def build_document(schemas=None, producers=None, samples=None):
    """The AsyncAPI document as a dict (defaults: the registered contracts)."""
    schemas = EVENT_SCHEMAS if schemas is None else schemas
    producers = PRODUCERS if producers is None else producers
    samples = SAMPLES if samples is None else samples
    owner = _producer_of(producers)
    components, envelope = _data_schemas(schemas)

    versions = {}
    for event_type, schema_version in sorted(schemas):
        versions.setdefault(event_type, []).append(schema_version)
    missing = sorted(set(owner) - set(versions))
    if missing:
        raise ValueError(f"PRODUCERS names event types without a schema: {missing}")

    messages, channels = {}, {}
    for event_type, event_versions in versions.items():
        if event_type not in owner:
            raise ValueError(f"{event_type!r} has no producer in PRODUCERS")
        producer = owner[event_type]
        refs = []
        for schema_version in event_versions:
            key = (event_type, schema_version)
            if key not in samples:
                raise ValueError(f"no example for {event_type} v{schema_version}: "
                                 f"add one to SAMPLES in {__name__}")
            if samples[key]["producer"] != producer:
                raise ValueError(f"example of {event_type} names producer "
                                 f"{samples[key]['producer']!r}, PRODUCERS says {producer!r}")
            mid = message_id(event_type, schema_version)
            data_name = schemas[key].__name__
            summary = SUMMARIES.get(event_type, f"The {event_type} event.")
            messages[mid] = {
                "messageId": mid,
                "name": event_type,
                "title": f"{event_type} v{schema_version}",
                "summary": summary,
                "contentType": "application/json",
                "correlationId": {"location": "$message.payload#/correlation_id",
                                  "description": ENVELOPE_DESCRIPTIONS["correlation_id"]},
                "tags": [{"name": producer}],
                "payload": _payload(envelope, event_type, schema_version, producer,
                                    f"#/components/schemas/{data_name}"),
                "examples": [{
                    "name": mid,
                    "summary": f"Example {event_type} v{schema_version} event.",
                    "payload": _example(event_type, schema_version, schemas[key], samples[key]),
                }],
            }
            refs.append({"$ref": f"#/components/messages/{mid}"})
        exchange = f"{producer}.events"
        channels[channel_name(producer, event_type)] = {
            "description": f"`{event_type}` events: routing key `{event_type}` on the durable "
                           f"topic exchange `{exchange}`.",
            "bindings": {"amqp": {
                "is": "routingKey",
                "exchange": {"name": exchange, "type": "topic", "durable": True,
                             "autoDelete": False},
                "bindingVersion": AMQP_BINDING_VERSION,
            }},
            "subscribe": {
                "operationId": f"receive_{event_type}",
                "summary": SUMMARIES.get(event_type, f"The {event_type} event."),
                "description": "Validate the envelope and its data against the message of its "
                               "schema_version; dead-letter what does not validate.",
                "tags": [{"name": producer}],
                "bindings": {"amqp": {"deliveryMode": 2, "ack": True,
                                      "bindingVersion": AMQP_BINDING_VERSION}},
                "message": refs[0] if len(refs) == 1 else {"oneOf": refs},
            },
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:cdht:events",
        "info": {"title": "CDHT events", "version": DOC_VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {
            "url": "{host}:{port}",
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "description": "The CDHT RabbitMQ broker; ask the operators for the host and "
                           "credentials.",
            "variables": {"host": {"default": "rabbitmq"}, "port": {"default": "5672"}},
        }},
        "tags": [{"name": producer, "description": PRODUCER_DESCRIPTIONS.get(producer, producer)}
                 for producer in sorted(producers)],
        "channels": channels,
        "components": {"schemas": components, "messages": messages},
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML; multi-line strings as literal blocks so that descriptions stay readable."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(document=None):
    """The document as deterministic YAML text."""
    document = build_document() if document is None else document
    return yaml.dump(document, Dumper=_Dumper, sort_keys=True, allow_unicode=True,
                     default_flow_style=False, width=100)


def check(path, expected=None):
    """None when the file at ``path`` is up to date, else a readable explanation with a diff."""
    expected = render() if expected is None else expected
    try:
        with open(path, encoding="utf-8") as fh:
            actual = fh.read()
    except FileNotFoundError:
        return f"{path} does not exist; generate it with: {REGENERATE}\n"
    if actual == expected:
        return None
    diff = "".join(difflib.unified_diff(
        actual.splitlines(keepends=True), expected.splitlines(keepends=True),
        fromfile=f"{path} (committed)", tofile="generated from cdht.contracts.events"))
    return (f"{path} is out of date with the event schemas; regenerate it with:\n"
            f"    {REGENERATE}\n\n{diff}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cdht.contracts.asyncapi",
        description="Print the AsyncAPI document of CDHT's events as YAML, or check a file.")
    parser.add_argument("--check", metavar="PATH",
                        help="exit 1 with a diff if PATH differs from the generated document")
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.check)
        if problem:
            sys.stderr.write(problem)
            return 1
        sys.stdout.write(f"{args.check} is up to date\n")
        return 0
    sys.stdout.buffer.write(render().encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
