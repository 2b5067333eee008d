"""Assessment asks the registry by RPC: when it is not running, or does not answer, the caller
gets a clear 503 in bounded time, and nothing is written."""
import time

import eventlet
import pytest
from nameko.rpc import rpc
from sqlalchemy import text

from services.assessment.service import AssessmentService

SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
          "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}


class HungRegistry:
    """A registry that takes the call and never answers in time."""
    name = "registry"

    @rpc
    def profile(self, person_id):
        eventlet.sleep(30)


@pytest.mark.parametrize("registry, why", [(None, "the service is not running"),
                                           (HungRegistry, "did not answer within 0.5s")])
def test_registry_unavailable_is_a_503_not_a_hang(container_factory, service_config,
                                                  web_session, engines, registry, why):
    config = service_config("assessment", REGISTRY_TIMEOUT=0.5)
    if registry:
        container_factory(registry, config).start()
    container_factory(AssessmentService, config).start()
    started = time.monotonic()
    response = web_session(config).post("/assessments", json={
        "person_id": "5dc82f0f-c8c0-46cd-99b8-969d9fe68a6f", "year": 2025, "scores": SCORES})
    assert response.status_code == 503
    assert why in response.json()["error"]
    assert time.monotonic() - started < 5
    with engines["assessment"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM assessments")) == 0
        assert conn.scalar(text("SELECT count(*) FROM outbox")) == 0


def test_a_slow_registry_holds_no_lock_on_the_assessment(assessment, commune, engines,
                                                         wait_for):
    """A decision asks the registry who decides before its transaction opens: while the
    registry is slow to answer, another step can still take the assessment's row."""
    submitted = assessment.submit(commune.citizen)
    assessment.review(submitted, commune.reviewer)
    with engines["registry"].connect() as registry_db:
        registry_db.execute(text("LOCK TABLE association_members IN ACCESS EXCLUSIVE MODE"))
        deciding = eventlet.spawn(assessment.decide, submitted, commune.chair)
        wait_for(lambda: registry_db.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND relation = 'association_members'::regclass")), message="the registry's read")
        with engines["assessment"].connect() as conn:
            conn.execute(text("SET lock_timeout = '200ms'"))
            assert conn.execute(text(
                "SELECT id FROM assessments WHERE id = :id FOR UPDATE"),
                {"id": submitted["assessment_id"]}).first()
            conn.rollback()
        registry_db.rollback()
    assert deciding.wait()["status"] == "recognised"
