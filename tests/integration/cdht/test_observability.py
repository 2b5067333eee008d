"""Metrics and correlation ids on real RabbitMQ and PostgreSQL (cdht.observability).

/metrics counts what the consumer did (an event handled, a poison one dead-lettered) and
what the relay published; the correlation id given to one service's HTTP request reaches the
events it causes and the log lines of the service downstream, and an RPC call carries it.
"""
import logging
import uuid

import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from cdht.db import Database
from cdht.outbox import add_event
from cdht.web import Observed
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from tests.integration.registry.helpers import person_body
from tests.support import recognition_granted

PATH = ["AG", "AG.LX"]
GRANTED = {"handler": "on_recognition_granted", "event_type": "recognition_granted"}


def granted():
    return recognition_granted(PATH)


def scrape(http):
    """{(name, sorted labels): value} of a service's /metrics, fetched without a token."""
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0)


def handled_lines(caplog, entrypoint):
    return [r for r in caplog.records
            if r.getMessage() == "handled" and getattr(r, "entrypoint", None) == entrypoint]


@pytest.fixture
def reporting(container_factory, service_config, web_session):
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    return web_session(config, auth=False)


def test_metrics_count_an_event_handled_and_one_dead_lettered(reporting, publish, wait_for):
    before = scrape(reporting)
    publish("assessment", granted().to_message())
    after = wait_for(lambda: (f := scrape(reporting)) and value(
        f, "cdht_events_handled_total", **GRANTED) == value(
        before, "cdht_events_handled_total", **GRANTED) + 1 and f,
        message="the grant counted as handled")
    assert value(after, "cdht_event_handling_seconds_count", event_type="recognition_granted") \
        == value(before, "cdht_event_handling_seconds_count",
                 event_type="recognition_granted") + 1
    # the handler's own event (statistics_updated) left through the relay, and was counted
    wait_for(lambda: value(scrape(reporting), "cdht_outbox_published_total",
                           event_type="statistics_updated") >
             value(before, "cdht_outbox_published_total", event_type="statistics_updated"),
             message="the relay's publication counted")
    assert value(scrape(reporting), "cdht_outbox_backlog") == 0
    # GET /lag's figures, read from the database at scrape time: on a loaded machine the
    # scrape that first counted the event handled once still showed 0 applied, so wait for it
    wait_for(lambda: value(scrape(reporting), "cdht_projection_applied_events",
                           consumer="reporting.on_recognition_granted") >= 1,
             message="the applied count in /metrics")

    poison = granted().to_message()
    del poison["data"]["unit_code"]  # breaks the contract: no retry can fix it
    publish("assessment", poison)
    dead = wait_for(lambda: (f := scrape(reporting)) and value(
        f, "cdht_events_failed_total", **GRANTED, fate="dead_lettered") == value(
        before, "cdht_events_failed_total", **GRANTED, fate="dead_lettered") + 1 and f,
        message="the poison counted as dead-lettered")
    assert value(dead, "cdht_events_handled_total", **GRANTED) == \
        value(after, "cdht_events_handled_total", **GRANTED)
    assert value(dead, "cdht_http_request_seconds_count", method="GET", route="/metrics",
                 status="200") >= 1


def test_a_correlation_id_from_http_reaches_the_events_and_the_logs_downstream(
        container_factory, service_config, web_session, engines, wait_for, caplog):
    caplog.set_level(logging.INFO)
    config = service_config("registry")
    container_factory(RegistryService, config).start()
    container_factory(ReportingService, service_config("reporting")).start()
    http = web_session(config)
    for unit in ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
                 {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward",
                  "parent_code": "AG"}):
        assert http.post("/units", json=unit).status_code == 201

    corr = f"it-{uuid.uuid4()}"  # a whole UUID: 9+ digits in a row would be masked, so refused
    created = http.post("/people", json=person_body(), headers={"X-Correlation-Id": corr})
    assert created.status_code == 201 and created.headers["X-Correlation-Id"] == corr
    with engines["registry"].connect() as conn:
        payload = conn.scalar(text("SELECT payload FROM outbox WHERE event_type = "
                                   "'person_registered'"))
    assert payload["correlation_id"] == corr

    [line] = wait_for(lambda: handled_lines(caplog, "reporting.on_person_registered"),
                      message="reporting's handled line")
    assert line.correlation_id == corr and line.outcome == "ok"
    # reporting takes person_registered in batches (cdht.batching): the line counts them
    assert line.events == 1 and line.correlation_ids == [corr] and line.duration_ms >= 0
    [http_line] = [r for r in caplog.records if r.getMessage() == "handled" and
                   getattr(r, "route", None) == "/people" and r.correlation_id == corr]
    assert (http_line.method, http_line.status, http_line.outcome) == ("POST", 201, "ok")
    assert http_line.entrypoint.startswith("registry.")

    # without an acceptable one (a phone number is personal data), a new one is made
    other = http.post("/people", json=person_body(), headers={"X-Correlation-Id": "0912345678"})
    assert other.status_code == 201
    assert str(uuid.UUID(other.headers["X-Correlation-Id"])) == other.headers["X-Correlation-Id"]
    refused = web_session(config, auth=False).get("/people")  # refused, but still answered
    assert refused.status_code == 401 and refused.headers["X-Correlation-Id"]


class Staging(Observed):
    """A service that stages an event without naming a correlation id."""
    name = "observability-staging"
    db = Database()

    @rpc
    def stage(self):
        with self.db.transaction() as session:
            envelope = add_event(session, "units_merged", {
                "unit_code": "AG.B", "unit_path": ["AG", "AG.B"],
                "from_unit_paths": [["AG", "AG.A"]], "effective_on": "2025-07-01",
                "people_moved": 0}, producer="registry")
        return envelope.correlation_id


def test_rpc_calls_carry_the_callers_correlation_id_into_logs_and_events(
        container_factory, service_config, rabbit_config, caplog, wait_for):
    caplog.set_level(logging.INFO)
    container_factory(Staging, service_config("registry")).start()
    with ServiceRpcProxy("observability-staging", rabbit_config,
                         context_data={"correlation_id": "rpc-corr-1"}) as staging:
        assert staging.stage() == "rpc-corr-1"
    with ServiceRpcProxy("observability-staging", rabbit_config) as staging:
        made = staging.stage()  # a call without one gets its own
    assert made and made != "rpc-corr-1" and str(uuid.UUID(made)) == made
    # The reply leaves before the worker's "handled" line is written: wait for both lines.
    wait_for(lambda: len(handled_lines(caplog, "observability-staging.stage")) >= 2,
             timeout=10, message="both handled lines")
    lines = handled_lines(caplog, "observability-staging.stage")
    assert [r.correlation_id for r in lines] == ["rpc-corr-1", made]
