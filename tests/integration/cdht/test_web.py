"""Hostile input at the HTTP edge gets a clear 4xx, never a 500 (found by schemathesis)."""
import pytest

from services.registry.service import RegistryService


@pytest.fixture
def registry(container_factory, service_config, web_session):
    config = service_config("registry")
    container_factory(RegistryService, config).start()
    return web_session(config)


@pytest.mark.parametrize("path", [
    "/people?q=abc%00def", "/units?q=%00", "/learning-activities?unit_code=AG%00",
    "/people?%00=1",
])
def test_nul_in_query_is_a_400(registry, path):
    response = registry.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]


def test_nul_in_json_body_is_a_400(registry):
    response = registry.post("/units", json={"code": "AG", "name": "An\u0000Giang",
                                             "kind": "province"})
    assert response.status_code == 400 and "NUL" in response.json()["error"]
    assert registry.get("/units/AG").status_code == 404  # nothing written


@pytest.mark.parametrize("path", ["/people?offset=2049762404656269802602496",
                                  "/units?offset=102242670755133718528",
                                  "/learning-activities?offset=9223372036854775808"])
def test_huge_offset_is_a_400(registry, path):
    response = registry.get(path)
    assert response.status_code == 400
    assert "offset" in response.json()["errors"]


def test_a_refused_request_logs_one_line_and_no_traceback(registry, caplog):
    """A 4xx is the caller's mistake: one "handled" line with its status, no WARNING with a
    traceback (nameko logs each expected exception so; they buried the real faults)."""
    import logging
    caplog.set_level(logging.DEBUG)
    assert registry.get("/units/NOWHERE").status_code == 404
    assert registry.post("/units", json={"code": ""}).status_code == 400
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert tracebacks == []
    handled = [r for r in caplog.records if r.getMessage() == "handled"]
    assert [(r.status, r.outcome) for r in handled] == [(404, "refused"), (400, "refused")]
