"""Log lines, correlation ids and metrics (cdht.observability), without servers."""
import json
import logging
import logging.config
import math
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdht import observability
from cdht.config import SERVICES, load_config
from cdht.redact import redact

NATIONAL_ID, PHONE, EMAIL = "089085000123", "+84 912 345 678", "nguyen.an@example.org"


def format_line(formatter, message, *args, exc_info=None, **extra):
    record = logging.getLogger("cdht.test").makeRecord(
        "cdht.test", logging.WARNING, __file__, 1, message, args, exc_info, extra=extra)
    return formatter.format(record)


@pytest.fixture
def bound():
    """Run the test as if inside a worker handling correlation id "corr-7"."""
    token = observability.bind_correlation_id("corr-7")
    yield "corr-7"
    observability.unbind_correlation_id(token)


def test_a_json_line_has_the_fields_an_operator_searches_by(bound):
    line = format_line(observability.JsonLogFormatter("registry"), "person %s moved to %s",
                       "p-1", "Phường Long Xuyên", entrypoint="registry.move", duration_ms=4.2)
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:6] == ["time", "level", "service", "logger", "message", "correlation_id"]
    assert data["time"].endswith("+00:00") and data["level"] == "WARNING"
    assert data["service"] == "registry" and data["logger"] == "cdht.test"
    assert data["message"] == "person p-1 moved to Phường Long Xuyên"  # UTF-8, not \\u escapes
    assert (data["correlation_id"], data["entrypoint"], data["duration_ms"]) == \
        ("corr-7", "registry.move", 4.2)


def test_without_a_correlation_id_the_field_is_left_out():
    data = json.loads(format_line(observability.JsonLogFormatter("reporting"), "tick"))
    assert "correlation_id" not in data and data["message"] == "tick"


@pytest.mark.parametrize("fmt", ["json", "plain"])
def test_personal_data_in_a_message_or_traceback_never_reaches_the_line(fmt, bound):
    formatter = observability.log_formatter("registry", fmt)
    try:
        raise ValueError(f"duplicate key {NATIONAL_ID} for {EMAIL}")
    except ValueError:
        import sys
        exc_info = sys.exc_info()
    line = format_line(formatter, "cannot save %s (%s, %s) on 2025-06-30", NATIONAL_ID, PHONE,
                       EMAIL, exc_info=exc_info, detail=f"phone {PHONE}")
    for value in (NATIONAL_ID, PHONE, EMAIL, "912 345 678", "nguyen.an"):
        assert value not in line, (fmt, value, line)
    assert "***23" in line and "***78" in line and "n***@example.org" in line
    assert "2025-06-30" in line and "ValueError" in line and "corr-7" in line


def test_log_format_plain_keeps_the_developers_text_line(monkeypatch, bound):
    monkeypatch.setenv("LOG_FORMAT", "plain")
    formatter = observability.log_formatter("assessment")
    assert isinstance(formatter, observability.PlainLogFormatter)
    line = format_line(formatter, "decided %s", "a-1")
    assert " WARNING assessment cdht.test: decided a-1 [corr-7]" in line
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="json or plain"):
        observability.log_formatter("assessment")
    monkeypatch.delenv("LOG_FORMAT")
    assert isinstance(observability.log_formatter("assessment"),
                      observability.JsonLogFormatter)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_logs_json_lines_that_name_it(service, monkeypatch, capsys):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    config = load_config(service)["LOGGING"]
    root, access = logging.getLogger(), logging.getLogger("nameko.web.server")
    saved = root.handlers[:], root.level, access.level
    try:
        logging.config.dictConfig(config)
        logging.getLogger("cdht.test").warning("hello %s", "world")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        access.setLevel(saved[2])
    data = json.loads(line)
    assert (data["service"], data["message"], data["level"]) == (service, "hello world",
                                                                 "WARNING")


def test_records_carry_the_correlation_id_current_where_they_were_made(bound, caplog):
    with caplog.at_level(logging.INFO, logger="cdht.test"):
        logging.getLogger("cdht.test").info("inside")
    observability.unbind_correlation_id(observability.bind_correlation_id("other"))
    assert caplog.records[-1].correlation_id == "corr-7"


@pytest.mark.parametrize("given, kept", [
    ("corr-42", True), ("e2e-central-flow", True), ("a" * 64, True),
    ("a" * 65, False), ("two words", False), ("tab\there", False), ("", False), (None, False),
    ("x\u00e9", False), (NATIONAL_ID, False), (EMAIL, False),
])
def test_a_given_correlation_id_is_kept_only_when_short_printable_and_impersonal(given, kept):
    accepted = observability.accepted_correlation_id(given)
    if kept:
        assert accepted == given
    else:
        assert str(uuid.UUID(accepted)) == accepted


def test_a_prefixed_uuid_is_always_a_valid_correlation_id():
    for _ in range(2000):
        given = f"whole-system-{uuid.uuid4()}"
        assert observability.accepted_correlation_id(given) == given


@pytest.mark.parametrize("text, expected", [
    ("2026-11-29 13:44:45,123 as of 2025-06-30", "2026-11-29 13:44:45,123 as of 2025-06-30"),
    ("at 2025-06-30T10:00:00+00:00", "at 2025-06-30T10:00:00+00:00"),
    ("id 12345678-1234-4abc-9def-123456789012", "id 12345678-1234-4abc-9def-123456789012"),
    ("call 0912-34-56 78 or +84 2012-12-12", "call ***78 or ***12"),  # not dates: masked
    ("2025-13-01 0912345678", "***78"),
    ("amqp://guest:**@127.0.0.1:5672/ from 10.0.12.255.",
     "amqp://guest:**@127.0.0.1:5672/ from 10.0.12.255."),
    ("091.234.56.78 or 0912.345.678", "***78 or ***78"),  # phones start with 0: not addresses
])
def test_redact_leaves_dates_uuids_and_addresses_but_no_phone_shaped_like_them(text, expected):
    assert redact(text) == expected


def labels(**given):
    return tuple(sorted(given.items()))


def samples(service):
    body, content_type = observability.metrics(service).exposition()
    assert content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def test_metrics_count_each_fate_per_handler_and_event_type():
    service = f"svc-{uuid.uuid4().hex[:6]}"
    figures = observability.metrics(service)
    assert observability.metrics(service) is figures  # one per service and process
    figures.events_done("on_granted", "recognition_granted", "handled", [0.02, 0.03])
    figures.events_done("on_granted", "recognition_granted", "dead_lettered", [0.01])
    figures.events_done("on_granted", "recognition_granted", "retried", [None])
    figures.delivery_finished("email", "sent")
    figures.delivery_finished("sms", "failed")
    found = samples(service)
    handler = {"handler": "on_granted", "event_type": "recognition_granted"}
    assert found[("cdht_events_handled_total", labels(**handler))] == 2
    assert found[("cdht_events_failed_total", labels(**handler, fate="dead_lettered"))] == 1
    assert found[("cdht_events_failed_total", labels(**handler, fate="retried"))] == 1
    assert found[("cdht_event_handling_seconds_count",
                  labels(event_type="recognition_granted"))] == 3
    assert found[("cdht_notifications_sent_total", labels(channel="email"))] == 1
    assert found[("cdht_notifications_failed_total", labels(channel="sms"))] == 1
    assert not any(name.endswith("_created") for name, _ in found)


def test_projection_figures_come_from_the_lag_rows():
    service = f"svc-{uuid.uuid4().hex[:6]}"
    observability.metrics(service).projection_figures([
        {"consumer": "reporting.on_a", "applied": 5, "lag_seconds": 0.25, "waiting": 3},
        {"consumer": "reporting.on_b", "applied": 0, "lag_seconds": None, "waiting": None}])
    found = samples(service)
    assert found[("cdht_projection_lag_seconds", (("consumer", "reporting.on_a"),))] == 0.25
    assert found[("cdht_projection_waiting_events", (("consumer", "reporting.on_a"),))] == 3
    assert found[("cdht_projection_applied_events", (("consumer", "reporting.on_a"),))] == 5
    assert math.isnan(found[("cdht_projection_lag_seconds", (("consumer", "reporting.on_b"),))])
