"""What every answer tells a browser, against the four running services: nothing personal is
kept in a cache, nothing is sniffed or framed, and a page runs only the script it was built
with (the dashboard's, named by its hash; the docs page none)."""
import re

import pytest

from tests.security.conftest import Client, caller_token

PERSONAL = {"registry": "/people", "assessment": "/assessments",
            "reporting": "/units/AG/progress?year=2026", "notifications": "/deliveries"}


@pytest.mark.parametrize("service", list(PERSONAL))
def test_answers_behind_a_token_are_not_kept_and_not_framed(secured, service):
    admin = Client(secured.system, {"Authorization": f"Bearer {caller_token(secured, 'admin')}"})
    for response in (admin.call("GET", service, PERSONAL[service]),
                     admin.call("GET", service, "/no/such/route"),
                     Client(secured.system, {}).call("GET", service, PERSONAL[service])):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.url
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert admin.call("GET", service, PERSONAL[service]).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("service", list(PERSONAL))
def test_the_docs_page_may_run_no_script(secured, service):
    page = Client(secured.system, {}).call("GET", service, "/docs")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "default-src 'none'" in policy


def test_the_dashboard_runs_only_its_own_script(secured):
    page = Client(secured.system, {}).call("GET", "reporting", "/dashboard")
    policy = page.headers["Content-Security-Policy"]
    hashes = re.findall(r"'sha256-[A-Za-z0-9+/=]+'", policy)
    assert len(hashes) == page.text.count("<script>") == 1
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "connect-src 'self'" in policy


def test_a_thousand_idle_half_open_connections_leave_health_answering(secured):
    """Slowloris: connections that send half a request and wait. Reporting's open routes
    (/health, /metrics) must still answer (the figure is printed, never asserted)."""
    import socket
    import time
    from urllib.parse import urlsplit

    import requests
    base = urlsplit(secured.system.url("reporting", "/"))
    idle = []
    try:
        for _ in range(1000):
            sock = socket.create_connection((base.hostname, base.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            idle.append(sock)
        started = time.monotonic()
        for path in ("/health", "/metrics"):
            answer = requests.get(secured.system.url("reporting", path), timeout=30)
            assert answer.status_code == 200, (path, answer.status_code)
        print(f"with {len(idle)} idle half-open connections: /health and /metrics in "
              f"{(time.monotonic() - started) * 1000:.0f} ms")
    finally:
        for sock in idle:
            sock.close()
