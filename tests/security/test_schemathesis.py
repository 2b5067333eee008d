"""Hostile input: schemathesis generates requests from each service's own
``/openapi.json`` and sends them, as an admin, to the running service (conftest.py: the four
real processes). No request may get a 5xx, and every response must be what the document
promises (its status code, content type and body schema).

A few hundred cases per service: ``EXAMPLES`` per operation, valid and invalid data mixed,
without shrinking (a failure is reported as it was found, with the request to replay it).
"""
import time
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = {"registry": 3, "assessment": 8, "reporting": 17, "notifications": 15}


def fuzz(world, service):
    """Every operation of the service's document, EXAMPLES[service] cases each: (cases sent,
    [failure descriptions])."""
    base = world.system.url(service, "")
    document = requests.get(base + "/openapi.json", timeout=15).json()
    schema = schemathesis.openapi.from_dict(document)
    sent, failures = [0], []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode, base, world.admin.headers, EXAMPLES[service],
                          sent, failures)
    return sent[0], failures


def run_operation(operation, mode, base, headers, examples, sent, failures):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case):
        sent[0] += 1
        try:
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=15)
        except (Failure, FailureGroup) as exc:
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}\n"
                            f"  replay: {case.as_curl_command(headers=headers)[:600]}")
    try:
        one()
    except Unsatisfiable:  # no invalid variant exists (e.g. no parameters at all)
        pass


@pytest.mark.parametrize("service", ["registry", "assessment", "reporting", "notifications"])
def test_generated_requests_get_no_5xx_and_conforming_responses(secured, service):
    sent, failures = fuzz(secured, service)
    print(f"{service}: {sent} generated requests, {len(failures)} failures")
    assert sent >= 100
    assert not failures, f"{len(failures)} of {sent} cases failed:\n" + "\n".join(failures[:15])


@pytest.mark.parametrize("service", ["registry", "assessment", "reporting", "notifications"])
def test_paths_and_methods_no_route_takes_are_json_errors(secured, service):
    """werkzeug's routing answers these before any handler runs (cdht.web.JsonWebServer)."""
    base, headers = secured.system.url(service, ""), secured.admin.headers
    nowhere = requests.get(base + "/no/such/route", headers=headers, timeout=15)
    assert nowhere.status_code == 404
    assert nowhere.headers["Content-Type"].startswith("application/json")
    assert nowhere.json()["error"]
    wrong_method = requests.delete(base + "/health", headers=headers, timeout=15)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET"
    assert wrong_method.json()["error"]


def test_allow_lists_the_methods_the_document_lists_for_the_path(secured):
    """``/units/merge`` also fits ``/units/<code>``: werkzeug's Allow named that rule's GET,
    PATCH and DELETE too, and HEAD and OPTIONS, which the document lists for no path."""
    base, headers = secured.system.url("registry", ""), secured.admin.headers
    document = requests.get(base + "/openapi.json", timeout=15).json()
    for path, asked in (("/units/merge", "OPTIONS"), ("/units/merge", "PUT"),
                        ("/units/AG", "POST"), ("/people", "DELETE")):
        answer = requests.request(asked, base + path, headers=headers, timeout=15)
        assert answer.status_code == 405, (asked, path)
        template = "/units/{code}" if path == "/units/AG" else path
        listed = sorted(method.upper() for method in document["paths"][template])
        assert answer.headers["Allow"] == ", ".join(listed), (asked, path)


def test_a_refused_request_logs_one_line_and_no_traceback(secured):
    """Routing's 404 and 405 (no handler runs), a body and a query marshmallow refuses, an
    ApiError: each request's correlation id is on one "handled" line, outcome "refused"."""
    base, headers = secured.system.url("registry", ""), secured.admin.headers
    refused = {
        "no-route": ("GET", "/no/such/route", None, 404),
        "no-method": ("OPTIONS", "/units/merge", None, 405),
        "bad-uuid": ("GET", "/people/not-a-uuid", None, 404),
        "bad-body": ("POST", "/units", {"code": 7}, 400),
        "bad-query": ("GET", "/people?limit=0", None, 400),
        "not-found": ("GET", "/people/00000000-0000-4000-8000-000000000000", None, 404),
    }
    for name, (method, path, body, status) in refused.items():
        corr = f"refusal-{name}-{uuid.uuid4().hex[:8]}"
        answer = requests.request(method, base + path, json=body, timeout=15,
                                  headers=headers | {"X-Correlation-Id": corr})
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["X-Correlation-Id"] == corr
        refused[name] = corr
    time.sleep(0.5)  # the log is written by the service process
    log = secured.system.log("registry")
    assert "Traceback" not in log
    for name, corr in refused.items():
        lines = [line for line in log.splitlines() if corr in line]
        assert len(lines) == 1, (name, lines)
        assert '"handled"' in lines[0] and '"refused"' in lines[0], (name, lines[0])
        assert '"INFO"' in lines[0], (name, lines[0])
