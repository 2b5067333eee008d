"""Assessment running beside the real registry (nameko containers, one vhost and emptied
databases per test), driven over HTTP; events checked on the wire through a queue bound to
``assessment.events``."""
import pytest
from sqlalchemy import text

from services.assessment.service import AssessmentService
from services.registry.service import RegistryService
from tests.integration.registry.helpers import Registry
from tests.support import EventTap

SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
          "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}  # 81: passes
FAILING = SCORES | {"TC2.1": 4}  # 77, and TC2.1 under 5
TABLES = ("assessments", "assessment_steps", "recognitions", "group_recognitions",
          "criteria_versions", "outbox")


class Assessment(Registry):
    """HTTP helpers for the assessment service (same conventions as the registry's)."""

    def submit(self, person, year=2025, scores=SCORES, status=201, **extra):
        return self.post("/assessments", {"person_id": person["id"], "year": year,
                                          "scores": scores, **extra}, status=status)

    def review(self, assessment, reviewer, action="accept", status=200, **extra):
        return self.post(f"/assessments/{assessment['assessment_id']}/review",
                         {"reviewer_id": reviewer["id"], "action": action, **extra},
                         status=status)

    def decide(self, assessment, decider, decision="recognise", status=200, **extra):
        return self.post(f"/assessments/{assessment['assessment_id']}/decision",
                         {"decided_by": decider["id"], "decision": decision, **extra},
                         status=status)

    def recognise(self, person, reviewer, decider, **extra):
        submitted = self.submit(person, **extra)
        self.review(submitted, reviewer)
        return self.decide(submitted, decider)


@pytest.fixture
def tap(rabbit_config):
    tap = EventTap(rabbit_config["AMQP_URI"], "assessment")
    yield tap
    tap.close()


@pytest.fixture
def registry(container_factory, service_config, web_session):
    config = service_config("registry")
    container_factory(RegistryService, config).start()
    return Registry(web_session(config), config)


@pytest.fixture
def assessment(container_factory, service_config, web_session, tap, registry):
    config = service_config("assessment", REGISTRY_TIMEOUT=5)
    container = container_factory(AssessmentService, config)
    container.start()
    return Assessment(web_session(config), config, container)


@pytest.fixture
def commune(registry):
    """A province AG with ward AG.LX (its association: a chair who recognises, a branch
    official who reviews) and commune AG.MB with its own association official."""
    registry.post("/units", {"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    registry.unit("AG.LX", kind="ward")
    registry.unit("AG.MB")
    association = registry.post("/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": "AG.LX"})
    branch = registry.post("/association/bodies", {
        "kind": "branch", "name": "Chi hội khóm 1", "unit_code": "AG.LX",
        "parent_id": association["id"]})
    other = registry.post("/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học xã", "unit_code": "AG.MB"})

    def official(body, unit):
        person = registry.person(unit=unit)
        registry.post("/association/members", {"person_id": person["id"], "body_id": body["id"],
                                                "role": "official", "joined_on": "2020-01-01"})
        return person

    class Commune:
        chair = official(association, "AG.LX")
        reviewer = official(branch, "AG.LX")
        outsider = official(other, "AG.MB")
        citizen = registry.person(unit="AG.LX")
    return Commune


@pytest.fixture
def rows(engines):
    def count():
        with engines["assessment"].connect() as conn:
            return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}
    return count


@pytest.fixture
def sql(engines):
    def run(statement, **params):
        with engines["assessment"].connect() as conn:
            return conn.execute(text(statement), params).all()
    return run
