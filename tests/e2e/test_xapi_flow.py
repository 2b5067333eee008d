"""Learning records from a platform, through the four real processes: a learning platform
posts (with TinCanPython's RemoteLRS) a completed digital-skills course of a person staff
linked to their platform account; the person's next self-assessment is prefilled with the
indicator it confirms. Voided, it confirms nothing any more."""
import uuid
from datetime import date

import pytest
from tincan import (
    Activity, ActivityDefinition, Agent, AgentAccount, LanguageMap, RemoteLRS, Result,
    Statement, StatementRef, Verb,
)

from services.registry.domain import national_id_for
from tests.e2e.conftest import System
from tests.support import TEST_PUBLIC_KEYS, empty_databases, free_port, token

pytestmark = pytest.mark.e2e

LMS = "https://lms.angiang.edu.vn"
RULES = f"""
platforms:
  - id: lms-ag
    name: "Hệ thống học trực tuyến An Giang"
    home_pages: ["{LMS}"]
verbs: [http://adlnet.gov/expapi/verbs/completed]
activity_types: {{http://adlnet.gov/expapi/activities/course: course}}
digital_skills:
  extension: urn:cdht:xapi:extension:digital-skills-level
  levels: {{basic: digital_skills_basic, proficient: digital_skills_proficient}}
"""


@pytest.fixture(scope="module")
def system(migrated_databases, rabbit_manager, request, tmp_path_factory):
    """The four services, the registry reading the rules above (XAPI_RULES)."""
    empty_databases(migrated_databases)
    rules = tmp_path_factory.mktemp("xapi") / "xapi.yaml"
    rules.write_text(RULES, encoding="utf-8")
    vhost = f"cdht-xapi-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    env = {"AMQP_URI": request.config.getoption("RABBIT_AMQP_URI").rstrip("/") + "/" + vhost,
           "RETRY_DELAYS_MS": "200,400,800", "LOG_LEVEL": "INFO", "XAPI_RULES": str(rules),
           "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS, "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(free_port())}
    for service, url in migrated_databases.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    running = System(env, tmp_path_factory.mktemp("xapi-logs"))
    try:
        running.start("registry", "assessment")
        yield running
    finally:
        running.stop()
        rabbit_manager.delete_vhost(vhost)


def prefill(system, person_id):
    answer = system.get("assessment", f"/people/{person_id}/prefill", params={"year": 2025})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_platforms_statement_confirms_an_indicator_until_it_is_voided(system, until):
    for unit in ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
                 {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward",
                  "parent_code": "AG"}):
        assert system.post("registry", "/units", unit).status_code == 201
    person = system.post("registry", "/people", {
        "national_id": national_id_for(89, date(1985, 4, 2), "male", 71),
        "full_name": "Nguyễn Văn An", "gender": "male", "birth_date": "1985-04-02",
        "unit_code": "AG.LX", "target_group": "resident"}).json()
    linked = system.post("registry", "/learning-accounts", {
        "person_id": person["id"], "home_page": LMS, "name": "an.nguyen"})
    assert linked.status_code == 201, linked.text
    assert prefill(system, person["id"])["scores"]["TC2.1"] is None

    lrs = RemoteLRS(endpoint=system.url("registry", "/xapi/"), version="1.0.3",
                    auth=f"Bearer {token(role='learning_platform', subject='lms-ag')}")
    learner = Agent(name="Nguyễn Văn An", account=AgentAccount(home_page=LMS,
                                                               name="an.nguyen"))
    statement = Statement(
        actor=learner, verb=Verb(id="http://adlnet.gov/expapi/verbs/completed",
                                 display=LanguageMap({"en-US": "completed"})),
        object=Activity(id=f"{LMS}/course/ky-nang-so-co-ban", definition=ActivityDefinition(
            type="http://adlnet.gov/expapi/activities/course",
            name=LanguageMap({"vi-VN": "Kỹ năng số cơ bản"}),
            extensions={"urn:cdht:xapi:extension:digital-skills-level": "basic"})),
        result=Result(success=True, completion=True, duration="PT24H"),
        timestamp="2025-09-14T10:00:00+07:00")
    saved = lrs.save_statement(statement)
    assert saved.success, saved.data

    filled = until(lambda: (p := prefill(system, person["id"]))["scores"]["TC2.1"] and p,
                   message="the statement's activity as evidence in assessment")
    assert filled["scores"]["TC2.1"] == 5  # the evidence rule's minimum: confirmed
    assert filled["evidence"]["TC2.1"] == ["digital_skills_basic 2025-09-14"]
    assert filled["digital_skills"] == "basic"

    voided = lrs.save_statement(Statement(
        actor=learner, verb=Verb(id="http://adlnet.gov/expapi/verbs/voided",
                                 display=LanguageMap({"en-US": "voided"})),
        object=StatementRef(id=statement.id)))
    assert voided.success, voided.data
    emptied = until(lambda: (p := prefill(system, person["id"]))["scores"]["TC2.1"] is None
                    and p, message="the evidence withdrawn")
    assert "TC2.1" not in emptied["evidence"] and emptied["digital_skills"] == "none"
