"""Observability of the four real processes: /health and /metrics of every service, JSON log
lines, and one correlation id followed across all four services' logs (HTTP at assessment,
the recognition_granted event at reporting and notifications, notifications' RPC call to
the registry for the contact)."""
import json
import uuid
from datetime import date
from itertools import count

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.registry.domain import national_id_for

pytestmark = pytest.mark.e2e

SERVICES = ("registry", "assessment", "reporting", "notifications")
SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7, "TC2.3": 8,
          "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}
_serial = count(1)


def created(response):
    assert response.status_code in (200, 201), response.text
    return response.json()


def register(system, unit):
    body = {"national_id": national_id_for(89, date(1985, 4, 2), "male", next(_serial)),
            "full_name": "Nguyễn Văn An", "gender": "male", "birth_date": "1985-04-02",
            "email": f"{uuid.uuid4().hex[:8]}@example.org", "unit_code": unit,
            "target_group": "resident"}
    return created(system.post("registry", "/people", body))["id"]


def log_lines(system, service):
    """The service's log lines that are JSON objects, and the lines that are not."""
    parsed, other = [], []
    for line in system.log(service).splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            other.append(line)
    return parsed, other


def scrape(system, service):
    response = system.get(service, "/metrics", headers={"Authorization": ""})
    assert response.status_code == 200, (service, response.text)
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


@pytest.fixture(scope="module")
def recognised(system):
    """A person recognised through HTTP with a known correlation id; that id."""
    for unit in ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
                 {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward",
                  "parent_code": "AG"}):
        created(system.post("registry", "/units", unit))
    body = created(system.post("registry", "/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": "AG.LX"}))
    official = register(system, "AG.LX")
    created(system.post("registry", "/association/members", {
        "person_id": official, "body_id": body["id"], "role": "official",
        "joined_on": "2020-01-01"}))
    person = register(system, "AG.LX")
    assessment = created(system.post("assessment", "/assessments", {
        "person_id": person, "year": 2025, "scores": SCORES}))["assessment_id"]
    created(system.post("assessment", f"/assessments/{assessment}/review",
                        {"reviewer_id": official, "action": "accept"}))
    corr = f"e2e-obs-{uuid.uuid4()}"  # a whole UUID: 9+ digits in a row would be refused
    decided = system.post("assessment", f"/assessments/{assessment}/decision",
                          {"decided_by": official, "decision": "recognise"},
                          headers={"X-Correlation-Id": corr})
    assert decided.status_code == 200 and decided.headers["X-Correlation-Id"] == corr
    return corr


def test_health_reports_the_database_and_the_broker_of_every_service(system):
    for service in SERVICES:
        response = system.get(service, "/health", headers={"Authorization": ""})
        assert response.status_code == 200, (service, response.text)
        assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_one_correlation_id_crosses_all_four_services_logs(system, recognised, until):
    def carrying(service):  # a batch of events names every correlation id it holds
        lines, _ = log_lines(system, service)
        return [line for line in lines if recognised == line.get("correlation_id") or
                recognised in line.get("correlation_ids", ())]

    def handled(service, **wanted):
        return [line for line in carrying(service) if line["message"] == "handled" and
                all(line.get(k) == v for k, v in wanted.items())]
    # HTTP at assessment; the event at reporting and notifications; the RPC call that
    # notifications makes for the contact, at the registry
    [decision] = handled("assessment", entrypoint="assessment.decide")
    assert (decision["route"], decision["status"]) == (
        "/assessments/<uuid:assessment_id>/decision", 200)
    until(lambda: handled("reporting", event_type="recognition_granted", outcome="ok"),
          timeout=30, message="reporting's line with the correlation id")
    until(lambda: handled("notifications", event_type="recognition_granted", outcome="ok"),
          timeout=30, message="notifications' line with the correlation id")
    until(lambda: handled("registry", entrypoint="registry.contact", outcome="ok"),
          timeout=30, message="the registry's contact call with the correlation id")


def test_every_log_line_is_a_json_object_naming_its_service(system, recognised):
    for service in SERVICES:
        lines, other = log_lines(system, service)
        assert len(lines) > 5, service
        for line in lines:
            assert {"time", "level", "service", "logger", "message"} <= set(line), line
            assert line["service"] == service
        # only what Python prints before logging is set up (a deprecation warning) is not
        assert all("Warning" in text or text.startswith((" ", "\t", "Eventlet", "If you",
                                                         "framework", "https://", "we "))
                   or not text.strip() for text in other), (service, other[:5])


def test_metrics_of_every_service_show_their_work(system, recognised, until):
    until(lambda: scrape(system, "notifications").get(
        ("cdht_notifications_sent_total", (("channel", "email"),)), 0) >= 1,
        timeout=30, message="the congratulation counted as sent")
    assessment = scrape(system, "assessment")
    assert assessment[("cdht_outbox_published_total",
                       (("event_type", "recognition_granted"),))] >= 1
    assert ("cdht_outbox_backlog", ()) in assessment
    reporting = scrape(system, "reporting")
    assert sum(v for (name, labels), v in reporting.items()
               if name == "cdht_events_handled_total" and
               ("event_type", "recognition_granted") in labels) >= 1
    assert any(name == "cdht_projection_lag_seconds" for name, _ in reporting)
    notifications = scrape(system, "notifications")
    assert sum(v for (name, labels), v in notifications.items()
               if name == "cdht_events_handled_total") >= 1
    registry = scrape(system, "registry")
    assert any(name == "cdht_http_request_seconds_count" and ("route", "/people") in labels
               for name, labels in registry)
