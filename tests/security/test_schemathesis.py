"""Hostile input: the schemathesis CLI generates requests from each service's own
``/openapi.json`` and sends them, as an admin, to the running service (conftest.py: the four
real processes), with every check it has (``--checks all``): no 5xx, every response what the
document promises (status, content type, headers, body schema), data the document calls
invalid refused, valid data accepted (or refused for a reason the document cannot state:
schemathesis.toml), the coverage phase's edge values and the stateful links between
operations. The CLI's summary is printed into the test output; a failure prints the requests
to replay it.
"""
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "assessment", "reporting", "notifications")
EXAMPLES = 5  # per operation and phase: the four services in about a minute on 2 cores
SEED = 1


def schemathesis_cli(world, service):
    """The CLI run against one service: (exit code, its output)."""
    base = world.system.url(service, "")
    command = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file", str(ROOT / "schemathesis.toml"), "--no-color",
        "run", base + "/openapi.json", "--checks", "all", "--seed", str(SEED),
        "--max-examples", str(EXAMPLES), "--no-shrink", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "15",
        "-H", "Authorization: " + world.admin.headers["Authorization"]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_with_every_check_finds_nothing(secured, service):
    code, output = schemathesis_cli(secured, service)
    print(f"-- schemathesis, {service} --\n{output}")
    assert code == 0, f"schemathesis found failures in {service}:\n{output[-12000:]}"


@pytest.mark.parametrize("service", SERVICES)
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
