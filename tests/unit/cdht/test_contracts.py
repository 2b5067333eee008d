"""make_envelope / parse_envelope: the event contracts of docs/architecture.md §D2, without a broker.

A test marked ``xfail(strict=True)`` states what the contract should do and does not yet (a
suspected bug, reported): once the code is fixed the xfail turns red and the marker must go.
"""
import copy
import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from cdht.contracts import (
    EVENT_SCHEMAS, PRODUCERS, ContractError, Envelope, EnvelopeSchema, make_envelope,
    parse_envelope,
)

UNIT = "AG-CHAUDOC-CH07"
PATH = ["AG", "AG-CHAUDOC", UNIT]


def _u():
    return str(uuid.uuid4())


def _imported(change, **extra):
    """One person of a people_imported batch (ids and countable facts only)."""
    return dict(person_id=_u(), target_group="resident", roles=[], birth_year=1964,
                unit_code=UNIT, unit_path=PATH, change=change, from_unit_path=None,
                previous=None) | extra


# One valid data payload per (event_type, schema_version), JSON-shaped as it is on the wire.
VALID = {
    ("person_updated", 1): lambda: dict(
        person_id=_u(), target_group="employee_business", roles=["association_member"],
        birth_year=1992, unit_code=UNIT, unit_path=PATH,
        previous=dict(target_group="worker", roles=[], birth_year=1992),
        changed=["target_group", "roles", "phone"]),
    ("person_moved", 1): lambda: dict(
        person_id=_u(), target_group="resident", roles=["association_member"],
        birth_year=1958, unit_code=UNIT, unit_path=PATH,
        from_unit_path=["AG", "AG-TANCHAU", "AG-TANCHAU-LONGSON"]),
    ("person_removed", 1): lambda: dict(
        person_id=_u(), target_group="student", roles=[], birth_year=2007, unit_code=UNIT,
        unit_path=PATH, reason="Đã chuyển khẩu sang tỉnh khác"),
    ("people_imported", 1): lambda: dict(
        import_id=_u(), batch=3, people=[
            _imported("registered"),
            _imported("updated", target_group="worker", roles=["unit_staff"],
                      previous=dict(target_group="resident", roles=[], birth_year=1964)),
            _imported("moved", unit_code="AG-CHAUDOC-CH08",
                      unit_path=["AG", "AG-CHAUDOC", "AG-CHAUDOC-CH08"], from_unit_path=PATH),
        ]),
    ("membership_changed", 1): lambda: dict(
        membership_id=_u(), person_id=_u(), group_id=_u(), group_kind="clan", change="joined",
        effective_on="2025-08-19", unit_code=UNIT, unit_path=PATH),
    ("learning_activity_recorded", 1): lambda: dict(
        activity_id=_u(), person_id=_u(), kind="briefing", started_on="2025-10-06",
        ended_on="2025-10-06", hours=2.5, unit_code=UNIT, unit_path=PATH),
    ("learning_activity_withdrawn", 1): lambda: dict(
        activity_id=_u(), person_id=_u(), reason="voided", unit_code=UNIT, unit_path=PATH),
    ("units_merged", 1): lambda: dict(
        from_unit_paths=[["AG", "AG-CHAUDOC", "AG-CHAUDOC-VINHMY"],
                         ["AG", "AG-CHAUDOC", "AG-CHAUDOC-CHAUPHU-A"]],
        unit_code=UNIT, unit_path=PATH, effective_on="2025-07-01", people_moved=18430),
    ("unit_changed", 1): lambda: dict(
        unit_code=UNIT, unit_path=PATH, unit_name="Xã Vĩnh Tế", kind="commune", change="updated",
        valid_from="2025-07-01", valid_to=None),
    ("association_body_changed", 1): lambda: dict(
        body_id=_u(), kind="branch", body_name="Chi hội khuyến học ấp Vĩnh Đông", parent_id=_u(),
        change="created", unit_code=UNIT, unit_path=PATH),
    ("groups_imported", 1): lambda: dict(
        import_id=_u(), batch=1, groups=[dict(
            group_id=_u(), group_kind="family", change="registered", unit_code=UNIT,
            unit_path=PATH, memberships=[dict(membership_id=_u(), person_id=_u(),
                                              change="joined", effective_on="2024-01-01")])]),
    ("group_titles_recorded", 1): lambda: dict(
        import_id=None, batch=1, titles=[dict(
            title_id=_u(), group_id=_u(), group_kind="clan", year=2024,
            decision_number="12/QĐ-UBND", decision_date="2024-12-01",
            issued_by="UBND xã Vĩnh Tế", change="recorded", unit_code=UNIT, unit_path=PATH)]),
    ("recognition_refused", 2): lambda: dict(
        assessment_id=_u(), person_id=_u(), year=2025, criteria_version="324/QĐ-KHVN",
        total_score=72, reasons=[
            dict(kind="total_below", indicator=None, score=None, maximum=None, minimum=80,
                 total=72, note=None),
            dict(kind="indicator_below", indicator="TC1.3", score=3, maximum=10, minimum=5,
                 total=None, note=None)], unit_code=UNIT, unit_path=PATH),
    ("person_registered", 1): lambda: dict(
        person_id=_u(), target_group="worker", roles=["unit_staff", "association_member"],
        birth_year=1979, unit_code=UNIT, unit_path=PATH),
    ("assessment_submitted", 1): lambda: dict(
        assessment_id=_u(), person_id=_u(), year=2025, criteria_version="324/QĐ-KHVN",
        total_score=92, passed=True, unit_code=UNIT, unit_path=PATH),
    ("recognition_granted", 1): lambda: dict(
        recognition_id=_u(), assessment_id=_u(), person_id=_u(), target_group="student",
        year=2025, criteria_version="324/QĐ-KHVN", total_score=92,
        digital_skills="proficient", unit_code=UNIT, unit_path=PATH),
    ("recognitions_granted", 1): lambda: dict(
        closing_id=_u(), recognitions=[VALID[("recognition_granted", 1)]() for _ in range(3)]),
    ("recognition_revoked", 1): lambda: dict(
        recognition_id=_u(), person_id=_u(), year=2025, reason="Hồ sơ trùng lặp",
        unit_code=UNIT, unit_path=PATH),
    ("recognition_refused", 1): lambda: dict(
        assessment_id=_u(), person_id=_u(), year=2025, criteria_version="324/QĐ-KHVN",
        total_score=79, reasons=["total 79 is under 80"], unit_code=UNIT, unit_path=PATH),
    ("recognitions_refused", 1): lambda: dict(
        closing_id=_u(), refusals=[VALID[("recognition_refused", 2)]() for _ in range(3)]),
    ("group_recognition_granted", 1): lambda: dict(
        group_recognition_id=_u(), group_id=_u(), group_kind="learning_unit", year=2025,
        criteria_version="24/2023/TT-BGDĐT", level=1, members=10, members_titled=9,
        unit_code=UNIT, unit_path=PATH),
    ("group_recognitions_granted", 1): lambda: dict(
        closing_id=_u(), titles=[VALID[("group_recognition_granted", 1)]() for _ in range(2)]),
    ("group_recognition_revoked", 1): lambda: dict(
        group_recognition_id=_u(), group_id=_u(), group_kind="family", year=2025,
        reason="a member's title was revoked", unit_code=UNIT, unit_path=PATH),
    ("target_reached", 1): lambda: dict(
        unit_code=UNIT, unit_path=PATH, year=2025, indicator="adults_titled", target_year=2025,
        numerator=40, denominator=100, share=0.4, target=0.4, cause_event_id=_u()),
    ("target_at_risk", 1): lambda: dict(
        unit_code=UNIT, unit_path=PATH, year=2025, indicator="unit_staff_titled",
        target_year=2030, numerator=10, denominator=100, share=0.1, target=0.8,
        warning_line=0.5, cause_event_id=_u()),
    ("statistics_updated", 1): lambda: dict(
        unit_code="AG-CHAUDOC", year=2025, people=70312, adults=51200, titled=20480,
        titled_digitally_skilled=14000, titled_digitally_proficient=12100, cause_event_id=_u()),
    ("notification_sent", 1): lambda: dict(
        notification_id=_u(), source_event_id=_u(), person_id=_u(), channel="email",
        template="assessment_submitted", language="en"),
    ("notification_failed", 1): lambda: dict(
        notification_id=_u(), source_event_id=_u(), person_id=_u(), channel="sms",
        template="recognition_granted", language="vi", reason="gateway 503", attempts=3),
}
KEYS = sorted(EVENT_SCHEMAS)
UNIT_PLACED = [k for k in KEYS if "unit_path" in VALID[k]()]
STRICT_INTS = [(k, name) for k in KEYS for name, f in EVENT_SCHEMAS[k]().fields.items()
               if type(f).__name__ == "Integer" and f.strict]


def _ids(key):
    return f"{key[0]}.v{key[1]}"


def _producer(event_type):
    [producer] = [p for p, types in PRODUCERS.items() if event_type in types]
    return producer


def _make(key, data=None, **kwargs):
    kwargs.setdefault("producer", _producer(key[0]))
    return make_envelope(key[0], VALID[key]() if data is None else data,
                         schema_version=key[1], **kwargs)


def _wire(key, data=None, **kwargs):
    """A valid message body, as a consumer receives it (through JSON)."""
    return json.loads(json.dumps(_make(key, data, **kwargs).to_message()))


def _rejected(message):
    with pytest.raises(ContractError) as info:
        parse_envelope(message)
    return info.value


def test_table_covers_every_registered_schema():
    assert set(VALID) == set(EVENT_SCHEMAS)
    assert STRICT_INTS, "expected strict integer fields to test"


def test_every_event_type_has_exactly_one_producer():
    produced = [t for types in PRODUCERS.values() for t in types]
    assert sorted(produced) == sorted({t for t, _ in EVENT_SCHEMAS})
    assert len(produced) == len(set(produced))


# --- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_round_trip_through_json(key):
    corr = _u()
    env = _make(key, correlation_id=corr)
    body = json.dumps(env.to_message())
    parsed = parse_envelope(json.loads(body))
    assert parsed == env
    assert isinstance(parsed.event_id, uuid.UUID)
    assert parsed.occurred_at.tzinfo is not None
    assert parsed.correlation_id == corr
    assert json.loads(body)["data"] == json.loads(json.dumps(EVENT_SCHEMAS[key]().dump(
        parsed.data)))


@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_message_has_exactly_the_envelope_fields(key):
    message = _wire(key)
    assert set(message) == {"event_id", "event_type", "schema_version", "occurred_at",
                            "producer", "correlation_id", "data"}
    assert message["event_type"] == key[0] and message["schema_version"] == key[1]
    assert message["correlation_id"] is None
    assert datetime.fromisoformat(message["occurred_at"]).utcoffset() == timedelta(0)
    uuid.UUID(message["event_id"])


def test_defaults_fresh_event_id_and_utc_now():
    key = ("person_registered", 1)
    before = datetime.now(timezone.utc)
    a, b = _make(key), _make(key)
    assert a.event_id != b.event_id
    assert before <= a.occurred_at <= datetime.now(timezone.utc)
    assert a.schema_version == 1


def test_explicit_ids_and_times_are_kept():
    key = ("statistics_updated", 1)
    event_id = uuid.uuid4()
    at = datetime(2025, 12, 2, 15, 30, tzinfo=timezone(timedelta(hours=7)))
    env = _make(key, event_id=event_id, occurred_at=at, correlation_id="req-42")
    parsed = parse_envelope(_wire(key, event_id=event_id, occurred_at=at,
                                  correlation_id="req-42"))
    assert env.event_id == parsed.event_id == event_id
    assert parsed.occurred_at == at


# --- unknown type / version ----------------------------------------------------------------

@pytest.mark.parametrize("event_type, version", [
    ("person_deleted", 1), ("Person_Registered", 1), ("", 1),
    ("person_registered", 2), ("person_registered", 0), ("statistics_updated", 99),
])
def test_unknown_type_or_version(event_type, version):
    key = ("person_registered", 1)
    with pytest.raises(ContractError, match="unknown event"):
        make_envelope(event_type, VALID[key](), producer="registry", schema_version=version)
    message = _wire(key)
    message.update(event_type=event_type, schema_version=version)
    assert "unknown event" in str(_rejected(message))


def test_contract_error_is_a_value_error_with_field_errors():
    message = _wire(("person_registered", 1))
    del message["data"]["birth_year"]
    err = _rejected(message)
    assert isinstance(err, ValueError)
    assert "birth_year" in err.errors


# --- extra fields: nothing leaks -----------------------------------------------------------

PERSONAL = [("national_id", "001086012345"), ("full_name", "Nguyễn Văn A"),
            ("phone", "0912345678"), ("email", "a@example.vn")]


@pytest.mark.parametrize("key", KEYS, ids=_ids)
@pytest.mark.parametrize("field, value", PERSONAL, ids=[f for f, _ in PERSONAL])
def test_extra_field_in_data_is_rejected_by_consumers(key, field, value):
    message = _wire(key)
    message["data"][field] = value
    assert field in _rejected(message).errors


@pytest.mark.parametrize("key", KEYS, ids=_ids)
@pytest.mark.parametrize("field, value", PERSONAL, ids=[f for f, _ in PERSONAL])
def test_make_envelope_rejects_extra_field(key, field, value):
    """Refused, not silently dropped: a producer bug that would leak data shows at once."""
    with pytest.raises(ContractError) as made:
        _make(key, VALID[key]() | {field: value})
    assert field in made.value.errors


def test_extra_envelope_field_is_rejected():
    message = _wire(("person_registered", 1))
    message["national_id"] = "001086012345"
    assert "national_id" in _rejected(message).errors


# --- missing fields ------------------------------------------------------------------------

ENVELOPE_FIELDS = sorted(EnvelopeSchema().fields)


@pytest.mark.parametrize("field", ENVELOPE_FIELDS)
def test_missing_envelope_field(field):
    message = _wire(("recognition_granted", 1))
    del message[field]
    assert field in _rejected(message).errors


@pytest.mark.parametrize("field", ["event_id", "event_type", "schema_version", "occurred_at",
                                   "producer", "data"])
def test_null_envelope_field(field):
    message = _wire(("recognition_granted", 1))
    message[field] = None
    assert field in _rejected(message).errors


def test_null_correlation_id_is_allowed():
    message = _wire(("recognition_granted", 1))
    message["correlation_id"] = None
    assert parse_envelope(message).correlation_id is None


@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_missing_data_field(key):
    for field in VALID[key]():
        data = VALID[key]()
        del data[field]
        with pytest.raises(ContractError) as made:
            _make(key, data)
        assert field in made.value.errors
        message = _wire(key)
        del message["data"][field]
        assert field in _rejected(message).errors


# --- body shape ----------------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, [], "{}", b"{}", 5, 1.5, True, ["event_id"]],
                         ids=repr)
def test_non_dict_body(body):
    with pytest.raises(ContractError, match="JSON object"):
        parse_envelope(body)


def test_json_text_of_a_valid_message_is_still_not_a_dict():
    body = json.dumps(_wire(("person_registered", 1)))
    with pytest.raises(ContractError, match="got str"):
        parse_envelope(body)


@pytest.mark.parametrize("data", [[], "x", 5, None], ids=repr)
def test_data_must_be_an_object(data):
    message = _wire(("person_registered", 1))
    message["data"] = data
    assert "data" in _rejected(message).errors


# --- unit_path ends at unit_code -----------------------------------------------------------

@pytest.mark.parametrize("key", UNIT_PLACED, ids=_ids)
@pytest.mark.parametrize("path", [["AG", "AG-CHAUDOC"], [UNIT, "AG"], ["AG-CHAUDOC-CH08"]],
                         ids=["stops-at-parent", "reversed", "sibling"])
def test_unit_path_not_ending_at_unit_code(key, path):
    data = VALID[key]() | {"unit_path": path}
    with pytest.raises(ContractError) as made:
        _make(key, data)
    assert "unit_path" in made.value.errors
    message = _wire(key)
    message["data"]["unit_path"] = path
    assert "unit_path" in _rejected(message).errors


@pytest.mark.parametrize("key", UNIT_PLACED, ids=_ids)
@pytest.mark.parametrize("path, valid", [
    ([UNIT], True), (["AG", UNIT], True), (["P"] * 7 + [UNIT], True),
    (["P"] * 8 + [UNIT], False), ([], False), (["", UNIT], False), (["x" * 65, UNIT], False),
], ids=["only-unit", "two-levels", "eight-levels", "nine-levels", "empty", "blank-ancestor",
        "long-ancestor"])
def test_unit_path_shape(key, path, valid):
    message = _wire(key)
    message["data"]["unit_path"] = path
    if valid:
        assert parse_envelope(message).data["unit_path"] == path
    else:
        assert "unit_path" in _rejected(message).errors


# --- wrong types ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, field", STRICT_INTS, ids=lambda v: v if isinstance(v, str)
                         else _ids(v))
@pytest.mark.parametrize("value", ["2025", 2025.0, 2025.5, True, None, [2025]], ids=repr)
def test_strict_int_fields_reject_other_types(key, field, value):
    message = _wire(key)
    message["data"][field] = value
    assert field in _rejected(message).errors


@pytest.mark.parametrize("value", ["1", 1.0, True, None])
def test_schema_version_is_a_strict_int(value):
    message = _wire(("person_registered", 1))
    message["schema_version"] = value
    assert "schema_version" in _rejected(message).errors


@pytest.mark.parametrize("field, value", [
    ("event_id", "not-a-uuid"), ("event_id", 12), ("occurred_at", "yesterday"),
    ("occurred_at", 1733128200), ("producer", 7), ("correlation_id", 7), ("event_type", 7),
])
def test_wrong_envelope_types(field, value):
    message = _wire(("person_registered", 1))
    message[field] = value
    assert field in _rejected(message).errors


INVALID_VALUES = [
    (("person_registered", 1), "person_id", "not-a-uuid"),
    (("person_registered", 1), "target_group", "citizen"),
    (("person_registered", 1), "roles", "unit_staff"),
    (("person_registered", 1), "roles", ["unit_staff", "mayor"]),
    (("person_registered", 1), "birth_year", 1899),
    (("assessment_submitted", 1), "total_score", 101),
    (("assessment_submitted", 1), "total_score", -1),
    (("assessment_submitted", 1), "year", 2020),
    (("assessment_submitted", 1), "passed", "maybe"),
    (("recognition_granted", 1), "digital_skills", "advanced"),
    (("recognitions_granted", 1), "recognitions", []),
    (("recognitions_granted", 1), "recognitions", [VALID[("recognition_granted", 1)]()] * 501),
    (("recognitions_granted", 1), "recognitions",  # a recognition's own contract holds
     [VALID[("recognition_granted", 1)]() | {"digital_skills": "advanced"}]),
    (("recognitions_granted", 1), "closing_id", None),
    (("recognitions_refused", 1), "refusals", []),
    (("recognitions_refused", 1), "refusals", [VALID[("recognition_refused", 2)]()] * 501),
    (("recognitions_refused", 1), "refusals",  # a refusal's own contract holds: v2's reasons
     [VALID[("recognition_refused", 2)]() | {"reasons": ["total 79 is under 80"]}]),
    (("recognitions_refused", 1), "closing_id", None),
    (("group_recognitions_granted", 1), "titles", []),
    (("group_recognitions_granted", 1), "titles",
     [VALID[("group_recognition_granted", 1)]()] * 501),
    (("group_recognitions_granted", 1), "titles",  # a title's own contract holds
     [VALID[("group_recognition_granted", 1)]() | {"members_titled": 11}]),
    (("recognition_revoked", 1), "reason", ""),
    (("recognition_revoked", 1), "reason", "x" * 501),
    (("notification_sent", 1), "channel", "push"),
    (("notification_sent", 1), "language", "fr"),
    (("notification_failed", 1), "attempts", None),
    (("statistics_updated", 1), "unit_code", None),
    (("person_updated", 1), "previous", None),
    (("person_updated", 1), "previous", {"target_group": "worker", "roles": []}),
    (("person_updated", 1), "previous", {"target_group": "worker", "roles": [],
                                         "birth_year": 1992, "full_name": "Nguyễn Văn A"}),
    (("person_updated", 1), "changed", "phone"),
    (("person_updated", 1), "changed", [""]),
    (("person_updated", 1), "changed", ["x" * 51]),
    (("person_updated", 1), "changed", [{"phone": "0912345678"}]),
    (("person_moved", 1), "from_unit_path", []),
    (("person_moved", 1), "from_unit_path", ["AG"] * 9),
    (("person_moved", 1), "from_unit_path", ["AG", "x" * 65]),
    (("person_removed", 1), "reason", ""),
    (("person_removed", 1), "reason", "x" * 201),
    (("people_imported", 1), "batch", 0),
    (("people_imported", 1), "import_id", "lo-nhap-03"),
    (("people_imported", 1), "people", [_imported("deleted")]),
    (("people_imported", 1), "people", [_imported("registered", roles=["chairman"])]),
    (("people_imported", 1), "people", [_imported("registered", birth_year=1899)]),
    (("membership_changed", 1), "group_kind", "village"),
    (("membership_changed", 1), "change", "invited"),
    (("membership_changed", 1), "effective_on", "19/08/2025"),
    (("membership_changed", 1), "effective_on", "2025-02-30"),
    (("membership_changed", 1), "effective_on", "2025-08-19T08:00:00+07:00"),
    (("learning_activity_recorded", 1), "kind", "webinar"),
    (("learning_activity_recorded", 1), "started_on", None),
    (("learning_activity_recorded", 1), "hours", -0.5),
    (("learning_activity_recorded", 1), "hours", 10000.5),
    (("learning_activity_recorded", 1), "hours", True),
    (("learning_activity_recorded", 1), "hours", "NaN"),
    (("learning_activity_withdrawn", 1), "reason", "changed my mind"),
    (("learning_activity_withdrawn", 1), "activity_id", None),
    (("units_merged", 1), "from_unit_paths", []),
    (("units_merged", 1), "from_unit_paths", [["AG", "AG-CHAUDOC-VINHMY"]] * 101),
    (("units_merged", 1), "from_unit_paths", ["AG-CHAUDOC-VINHMY"]),
    (("units_merged", 1), "people_moved", -1),
    (("person_updated", 1), "changed", []),
    (("person_updated", 1), "changed", [f"field_{i}" for i in range(31)]),
    (("statistics_updated", 1), "unit_code", ""),
    (("statistics_updated", 1), "unit_code", "x" * 65),
    (("statistics_updated", 1), "year", 2020),
    (("statistics_updated", 1), "year", 2101),
    (("statistics_updated", 1), "people", -1),
    (("statistics_updated", 1), "adults", -1),
    (("statistics_updated", 1), "titled", -1),
    (("statistics_updated", 1), "titled_digitally_skilled", -1),
    (("statistics_updated", 1), "titled_digitally_proficient", -1),
    (("recognition_refused", 1), "reasons", []),
    (("recognition_refused", 1), "reasons", [""]),
    (("recognition_refused", 1), "reasons", ["x"] * 21),
    (("recognition_refused", 1), "total_score", 101),
    (("group_recognition_granted", 1), "group_kind", "village"),
    (("group_recognition_granted", 1), "level", 4),
    (("group_recognition_granted", 1), "level", None),
    (("group_recognition_granted", 1), "members_titled", 11),
    (("group_recognition_granted", 1), "members", -1),
    (("group_recognition_revoked", 1), "reason", ""),
    (("target_reached", 1), "indicator", "happiness"),
    (("target_reached", 1), "share", 1.5),
    (("target_reached", 1), "target", "0.4"),
    (("target_reached", 1), "numerator", 101),
    (("target_at_risk", 1), "warning_line", -0.1),
    (("target_at_risk", 1), "warning_line", None),
    (("notification_failed", 1), "attempts", -1),
    (("notification_failed", 1), "reason", ""),
    (("notification_failed", 1), "reason", "x" * 501),
]


@pytest.mark.parametrize("key, field, value", INVALID_VALUES,
                         ids=[f"{_ids(k)}-{f}={v!r}"[:60] for k, f, v in INVALID_VALUES])
def test_invalid_values_rejected_by_both_sides(key, field, value):
    data = VALID[key]() | {field: value}
    message = _wire(key)
    message["data"][field] = value
    assert field in _rejected(message).errors
    try:
        _make(key, data)
    except ContractError as exc:
        assert field in exc.errors
    else:
        pytest.fail(f"make_envelope accepted {field}={value!r}")


@pytest.mark.parametrize("key, field, value", [
    (("person_registered", 1), "birth_year", "1979"),
    (("notification_failed", 1), "attempts", "3"),
    (("assessment_submitted", 1), "total_score", 92.7),
    (("assessment_submitted", 1), "total_score", 92.0),
    (("assessment_submitted", 1), "total_score", True),
    (("assessment_submitted", 1), "passed", "yes"),
    (("assessment_submitted", 1), "passed", "false"),
    (("person_registered", 1), "unit_path", "X"),
], ids=["birth_year='1979'", "attempts='3'", "total_score=92.7", "total_score=92.0",
        "total_score=True", "passed='yes'", "passed='false'", "unit_path='X'"])
def test_make_envelope_does_not_coerce(key, field, value):
    """make_envelope loads what a consumer would load: no str->int, float->int, str->bool."""
    data = VALID[key]() | {field: value}
    if field == "unit_path":
        data["unit_code"] = value
    with pytest.raises(ContractError) as made:
        _make(key, data)
    assert field in made.value.errors


@pytest.mark.parametrize("value", [1, 0, 1.0, 0.0], ids=repr)
def test_passed_rejects_numbers(value):
    key = ("assessment_submitted", 1)
    message = _wire(key)
    message["data"]["passed"] = value
    assert "passed" in _rejected(message).errors


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes"], ids=["set", "object", "bytes"])
def test_make_envelope_refuses_values_json_cannot_carry(value):
    key = ("recognition_revoked", 1)
    with pytest.raises(ContractError):
        _make(key, VALID[key]() | {"reason": value})


# --- occurred_at ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("2025-12-02T08:30:00+00:00", datetime(2025, 12, 2, 8, 30, tzinfo=timezone.utc)),
    ("2025-12-02T08:30:00Z", datetime(2025, 12, 2, 8, 30, tzinfo=timezone.utc)),
    ("2025-12-02T15:30:00+07:00", datetime(2025, 12, 2, 8, 30, tzinfo=timezone.utc)),
])
def test_occurred_at_with_offset(value, expected):
    message = _wire(("person_registered", 1))
    message["occurred_at"] = value
    parsed = parse_envelope(message).occurred_at
    assert parsed == expected and parsed.utcoffset() is not None


def test_occurred_at_without_timezone_is_rejected():
    """Consumers: a time without offset is ambiguous (Vietnam is UTC+7): refused, as the
    AsyncAPI document says."""
    message = _wire(("person_registered", 1))
    message["occurred_at"] = "2025-12-02T08:30:00"
    assert "occurred_at" in _rejected(message).errors


def test_make_envelope_rejects_naive_occurred_at():
    """A naive time (e.g. Vietnam local time) would be read as UTC by consumers: 7 hours off."""
    with pytest.raises(ContractError, match="timezone"):
        _make(("person_registered", 1), occurred_at=datetime(2025, 12, 2, 15, 30))


def test_occurred_at_on_the_wire_has_an_offset_when_given_aware():
    at = datetime(2025, 12, 2, 8, 30, tzinfo=timezone.utc)
    message = _wire(("person_registered", 1), occurred_at=at)
    assert datetime.fromisoformat(message["occurred_at"]).utcoffset() is not None


# --- producer ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS, ids=_ids)
def test_producer_must_match_the_event_type(key):
    wrong = next(p for p in PRODUCERS if p != _producer(key[0]))
    with pytest.raises(ContractError, match="published by"):
        _make(key, producer=wrong)
    message = _wire(key)
    message["producer"] = wrong
    assert "published by" in str(_rejected(message))


# --- Envelope object -----------------------------------------------------------------------

def test_envelope_is_immutable():
    env = _make(("person_registered", 1))
    assert isinstance(env, Envelope)
    with pytest.raises(Exception):
        env.event_type = "other"


def test_to_message_does_not_change_the_envelope():
    env = _make(("person_registered", 1))
    before = copy.deepcopy(env)
    env.to_message()
    assert env == before


@pytest.mark.parametrize("kwargs", [{"event_id": "not-a-uuid"}, {"correlation_id": 123}],
                         ids=["event_id", "correlation_id"])
def test_make_envelope_validates_envelope_fields(kwargs):
    with pytest.raises(ContractError):
        _make(("person_registered", 1), **kwargs)


# --- the registry's change events ----------------------------------------------------------

def test_every_unit_placed_type_is_in_the_unit_path_tests():
    """unit_path ends at unit_code for every type that has one (the tests above run on
    UNIT_PLACED); people_imported places each imported person: tested below."""
    assert UNIT_PLACED == [k for k in KEYS if "unit_path" in EVENT_SCHEMAS[k]().fields]
    assert {t for t, _ in UNIT_PLACED} >= {
        "person_registered", "person_updated", "person_moved", "person_removed",
        "membership_changed", "learning_activity_recorded", "units_merged"}


IMPORT = ("people_imported", 1)


def _batch(*people):
    return VALID[IMPORT]() | {"people": list(people)}


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("path", [["AG", "AG-CHAUDOC"], [UNIT, "AG"], ["AG-CHAUDOC-CH08"]],
                         ids=["stops-at-parent", "reversed", "sibling"])
def test_each_imported_person_unit_path_ends_at_its_unit_code(index, path):
    data = VALID[IMPORT]()
    data["people"][index]["unit_code"] = UNIT
    data["people"][index]["unit_path"] = path
    with pytest.raises(ContractError) as made:
        _make(IMPORT, data)
    assert "unit_path" in made.value.errors["people"][index]
    message = _wire(IMPORT)
    message["data"]["people"][index].update(unit_code=UNIT, unit_path=path)
    assert "unit_path" in _rejected(message).errors["people"][index]


@pytest.mark.parametrize("count, valid", [(0, False), (1, True), (5000, True), (5001, False)])
def test_people_imported_batch_size(count, valid):
    """A batch is never empty (rows that changed nothing are left out, so an empty batch is not
    sent) and at most 5000 people: a million-person file is a few hundred events."""
    data = _batch(*[_imported("registered") for _ in range(count)])
    message = _wire(IMPORT)
    message["data"]["people"] = data["people"]
    if valid:
        assert len(_make(IMPORT, data).data["people"]) == count
        assert len(parse_envelope(message).data["people"]) == count
    else:
        with pytest.raises(ContractError) as made:
            _make(IMPORT, data)
        assert "people" in made.value.errors
        assert "people" in _rejected(message).errors


@pytest.mark.parametrize("value", [None, {}, _imported("registered")], ids=repr)
def test_people_imported_people_is_a_list(value):
    message = _wire(IMPORT)
    message["data"]["people"] = value
    assert "people" in _rejected(message).errors


PERSONAL_MORE = PERSONAL + [("address", "12 Trần Hưng Đạo, Châu Đốc"),
                            ("date_of_birth", "1964-05-19")]


@pytest.mark.parametrize("where", ["person", "previous"])
@pytest.mark.parametrize("field, value", PERSONAL_MORE, ids=[f for f, _ in PERSONAL_MORE])
def test_imported_person_refuses_unknown_fields(where, field, value):
    """No personal data can ride along inside an imported person, nor in its ``previous``."""
    data = VALID[IMPORT]()
    person = data["people"][1]  # the updated one: it has a previous
    (person if where == "person" else person["previous"])[field] = value
    with pytest.raises(ContractError) as made:
        _make(IMPORT, data)
    errors = made.value.errors["people"][1]
    assert field in (errors if where == "person" else errors["previous"])
    message = _wire(IMPORT, data=VALID[IMPORT]())
    target = message["data"]["people"][1]
    (target if where == "person" else target["previous"])[field] = value
    errors = _rejected(message).errors["people"][1]
    assert field in (errors if where == "person" else errors["previous"])


@pytest.mark.parametrize("field, value", PERSONAL, ids=[f for f, _ in PERSONAL])
def test_person_updated_previous_refuses_unknown_fields(field, value):
    message = _wire(("person_updated", 1))
    message["data"]["previous"][field] = value
    assert field in _rejected(message).errors["previous"]


def test_imported_person_optional_fields_default_to_none():
    data = VALID[IMPORT]()
    for person in data["people"]:
        if person["change"] == "registered":
            del person["from_unit_path"], person["previous"]
    loaded = _make(IMPORT, data).data["people"][0]
    assert loaded["from_unit_path"] is None and loaded["previous"] is None


UPDATED = ("person_updated", 1)


@pytest.mark.parametrize("changed", [
    ["target_group"], ["birth_year", "roles"], ["full_name", "phone", "national_id", "address"],
    ["x" * 50], ["date_of_birth2"], [f"field_{i}" for i in range(30)],
], ids=lambda v: repr(v)[:40])
def test_person_updated_changed_names_fields(changed):
    """Names of changed fields, personal ones included: a consumer learns *that* the phone
    changed, never the number."""
    assert _make(UPDATED, VALID[UPDATED]() | {"changed": changed}).data["changed"] == changed


@pytest.mark.parametrize("changed", [
    ["0912345678"], ["Nguyễn Văn A"], ["phone=0912345678"], ["full_name: Trần Thị Bích"],
    ["a@example.vn"], ["phone", "001086012345"], ["Phone=0912"], ["Phone"], ["_phone"],
    ["phone "], ["x" * 51],
    ["phone\n"],
], ids=repr)
def test_person_updated_changed_refuses_values(changed):
    """Field names only: no value (a phone number, a name) can ride along in ``changed``."""
    message = _wire(UPDATED)
    message["data"]["changed"] = changed
    assert "changed" in _rejected(message).errors
    with pytest.raises(ContractError) as made:
        _make(UPDATED, VALID[UPDATED]() | {"changed": changed})
    assert "changed" in made.value.errors


def test_person_updated_changed_is_not_empty():
    """An update that changed nothing is not an event."""
    message = _wire(UPDATED)
    message["data"]["changed"] = []
    assert "changed" in _rejected(message).errors


MERGED = ("units_merged", 1)


@pytest.mark.parametrize("paths, valid", [
    ([], False), ([["AG", "AG-CHAUDOC", "AG-CHAUDOC-VINHMY"]], True),
    ([["AG", "AG-CHAUDOC", f"AG-CHAUDOC-X{i}"] for i in range(100)], True),
    ([["AG", "AG-CHAUDOC", f"AG-CHAUDOC-X{i}"] for i in range(101)], False),
    (None, False), ("AG-CHAUDOC-VINHMY", False), (["AG-CHAUDOC-VINHMY"], False),
    ([["AG", 7]], False),
], ids=["none", "one", "hundred", "hundred-and-one", "null", "string", "flat", "not-a-code"])
def test_units_merged_needs_at_least_one_from_path(paths, valid):
    message = _wire(MERGED)
    message["data"]["from_unit_paths"] = paths
    if valid:
        assert parse_envelope(message).data["from_unit_paths"] == paths
        assert _make(MERGED, VALID[MERGED]() | {"from_unit_paths": paths})
    else:
        assert "from_unit_paths" in _rejected(message).errors


@pytest.mark.parametrize("paths", [[[]], [["AG", ""]], [["AG"] * 9], [["x" * 65]]],
                         ids=["empty-path", "blank-code", "nine-levels", "long-code"])
def test_units_merged_from_paths_are_unit_paths(paths):
    """Each from path is shaped like unit_path (1 to 8 levels of 1 to 64 characters)."""
    message = _wire(MERGED)
    message["data"]["from_unit_paths"] = paths
    assert "from_unit_paths" in _rejected(message).errors


def test_units_merged_from_paths_take_unit_path_bounds():
    paths = [["P"] * 7 + ["x" * 64], ["AG-CHAUDOC-VINHMY"]]
    message = _wire(MERGED)
    message["data"]["from_unit_paths"] = paths
    assert parse_envelope(message).data["from_unit_paths"] == paths


def test_units_merged_target_is_not_a_source():
    """A unit cannot be merged into itself."""
    message = _wire(MERGED)
    message["data"]["from_unit_paths"].append(PATH)
    assert "from_unit_paths" in _rejected(message).errors
    with pytest.raises(ContractError) as made:
        _make(MERGED, VALID[MERGED]() | {"from_unit_paths": [PATH]})
    assert "from_unit_paths" in made.value.errors


@pytest.mark.parametrize("person, field", [
    (_imported("moved", from_unit_path=["AG", "", UNIT]), "from_unit_path"),
    (_imported("moved", from_unit_path=["AG"] * 9), "from_unit_path"),
    (_imported("moved", from_unit_path=[]), "from_unit_path"),
    (_imported("moved", from_unit_path=["AG", "x" * 65]), "from_unit_path"),
    (_imported("moved"), "from_unit_path"),
    (_imported("updated"), "previous"),
    (_imported("registered", from_unit_path=["AG", 7]), "from_unit_path"),
], ids=["blank-ancestor", "nine-levels", "empty", "long-code", "moved-without-from",
        "updated-without-previous", "registered-with-bad-from"])
def test_imported_person_change_and_its_facts(person, field):
    """from_unit_path is shaped as person_moved's; moved needs it, updated needs previous."""
    message = _wire(IMPORT)
    message["data"]["people"] = [person]
    assert field in _rejected(message).errors["people"][0]
    with pytest.raises(ContractError) as made:
        _make(IMPORT, _batch(person))
    assert field in made.value.errors["people"][0]


@pytest.mark.parametrize("person", [
    _imported("registered"),
    _imported("updated", previous=dict(target_group="worker", roles=[], birth_year=1964)),
    _imported("moved", from_unit_path=["P"] * 7 + ["x" * 64]),
    _imported("moved", from_unit_path=["AG"], previous=dict(target_group="worker", roles=[],
                                                              birth_year=1964)),
], ids=["registered", "updated", "moved-eight-levels", "moved-and-updated"])
def test_imported_person_with_its_facts_is_accepted(person):
    message = _wire(IMPORT)
    message["data"]["people"] = [person]
    assert parse_envelope(message).data["people"][0]["change"] == person["change"]


def test_person_moved_somewhere_else():
    """A move to the unit one is already in is no move."""
    message = _wire(("person_moved", 1))
    message["data"]["from_unit_path"] = message["data"]["unit_path"]
    assert "from_unit_path" in _rejected(message).errors


ACTIVITY = ("learning_activity_recorded", 1)


@pytest.mark.parametrize("ended_on, hours", [(None, None), ("2025-10-06", 0), (None, 9999.75),
                                             ("2025-12-31", 10000)], ids=repr)
def test_learning_activity_open_or_closed(ended_on, hours):
    """An activity still running has no end date, and hours may be unknown (null)."""
    data = VALID[ACTIVITY]() | {"ended_on": ended_on, "hours": hours}
    loaded = parse_envelope(_wire(ACTIVITY, data)).data
    assert loaded["ended_on"] == (None if ended_on is None else date.fromisoformat(ended_on))
    assert loaded["hours"] == hours and (hours is None or isinstance(loaded["hours"], float))


@pytest.mark.parametrize("field", ["ended_on", "hours"])
def test_learning_activity_nullable_fields_are_still_required(field):
    message = _wire(ACTIVITY)
    del message["data"][field]
    assert field in _rejected(message).errors


def test_learning_activity_ends_after_it_starts():
    """An activity cannot end before it started (the same day is fine: see VALID)."""
    message = _wire(ACTIVITY)
    message["data"].update(started_on="2025-10-06", ended_on="2025-10-05")
    assert "ended_on" in _rejected(message).errors
    with pytest.raises(ContractError) as made:
        _make(ACTIVITY, VALID[ACTIVITY]() | {"started_on": date(2025, 10, 6),
                                             "ended_on": date(2025, 10, 5)})
    assert "ended_on" in made.value.errors


def test_producers_give_dates_as_dates():
    """make_envelope turns date objects into ISO dates; a datetime is no date."""
    key = ("membership_changed", 1)
    env = _make(key, VALID[key]() | {"effective_on": date(2025, 8, 19)})
    assert env.data["effective_on"] == date(2025, 8, 19)
    assert env.to_message()["data"]["effective_on"] == "2025-08-19"
    with pytest.raises(ContractError) as made:
        _make(key, VALID[key]() | {"effective_on": datetime(2025, 8, 19, 8, 0)})
    assert "effective_on" in made.value.errors


@pytest.mark.parametrize("key, field, value", [
    (("people_imported", 1), "batch", 3.0),
    (("people_imported", 1), "batch", "3"),
    (("units_merged", 1), "people_moved", "18430"),
    (ACTIVITY, "hours", "2.5"),
    (ACTIVITY, "started_on", "20251006"),
    (("membership_changed", 1), "effective_on", "2025-W34-2"),
    (MERGED, "effective_on", "2025-182"),
    (ACTIVITY, "ended_on", "2025-10-06 "),
    (ACTIVITY, "ended_on", 20251006),
], ids=["batch=3.0", "batch='3'", "people_moved='18430'", "hours='2.5'",
        "started_on='20251006'", "effective_on='2025-W34-2'", "effective_on='2025-182'",
        "ended_on='2025-10-06 '", "ended_on=20251006"])
def test_new_types_do_not_coerce(key, field, value):
    with pytest.raises(ContractError) as made:
        _make(key, VALID[key]() | {field: value})
    assert field in made.value.errors
