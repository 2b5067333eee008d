"""Learning records as xAPI statements: a real xAPI client (TinCanPython's RemoteLRS, as a
learning platform would use it) posts, puts and reads statements; a counted statement of a
linked account becomes a learning activity announced as learning_activity_recorded, a voided
one withdraws it; an unlinked account's statements wait for staff to link it; bad statements
get the specification's answers and write nothing."""
import uuid
from datetime import datetime

import pytest
import requests
from sqlalchemy import text
from tincan import (
    Activity, ActivityDefinition, Agent, AgentAccount, LanguageMap, RemoteLRS, Result,
    Statement, StatementRef, Verb,
)

from services.registry.xapi_rules import LOCAL_TIME
from tests.integration.registry.helpers import counts, outbox, published
from tests.support import token

LMS, MOOC = "https://lms.angiang.edu.vn", "https://mooc.example.vn"
RULES = f"""
platforms:
  - id: lms-ag
    name: "Hệ thống học trực tuyến An Giang"
    home_pages: ["{LMS}"]
  - id: mooc-vn
    name: "MOOC Việt Nam"
    home_pages: ["{MOOC}/"]
verbs:
  - http://adlnet.gov/expapi/verbs/completed
  - http://adlnet.gov/expapi/verbs/passed
activity_types:
  http://adlnet.gov/expapi/activities/course: course
  urn:cdht:xapi:activitytype:mooc: mooc
digital_skills:
  extension: urn:cdht:xapi:extension:digital-skills-level
  levels: {{basic: digital_skills_basic, proficient: digital_skills_proficient}}
"""
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
SKILLS = "urn:cdht:xapi:extension:digital-skills-level"
TABLES = ("xapi_statements", "xapi_accounts")


@pytest.fixture
def registry_config(service_config, tmp_path):
    rules = tmp_path / "xapi.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return service_config("registry", XAPI_RULES=str(rules))


def lrs(registry, platform="lms-ag", role="learning_platform"):
    """The platform's client: TinCanPython's RemoteLRS with the platform's bearer token."""
    endpoint = f"http://{registry.config['WEB_SERVER_ADDRESS']}/xapi/"
    return RemoteLRS(endpoint=endpoint, version="1.0.3",
                     auth=f"Bearer {token(role=role, subject=platform)}")


def completed(account="an.nguyen", home=LMS, level="basic", verb=COMPLETED, success=True,
              when="2025-09-14T10:00:00+07:00", kind="http://adlnet.gov/expapi/activities/course",
              **extra):
    definition = ActivityDefinition(
        type=kind, name=LanguageMap({"en-US": "Digital skills", "vi-VN": "Kỹ năng số cơ bản"}),
        extensions={SKILLS: level} if level else None)
    return Statement(
        actor=Agent(name="Nguyễn Văn An", account=AgentAccount(home_page=home, name=account)),
        verb=Verb(id=verb, display=LanguageMap({"en-US": "completed"})),
        object=Activity(id=f"{home}/course/{uuid.uuid4().hex[:6]}", definition=definition),
        result=Result(success=success, completion=True, duration="PT24H"),
        timestamp=when, **extra)


def raw(registry, method, body=None, version="1.0.3", platform="lms-ag", **params):
    """A request as a hand-written client sends it (for what a library would not send)."""
    headers = {"Authorization": f"Bearer {token(role='learning_platform', subject=platform)}"}
    if version:
        headers["X-Experience-API-Version"] = version
    return requests.request(method, f"http://{registry.config['WEB_SERVER_ADDRESS']}"
                            "/xapi/statements", json=body, headers=headers, params=params,
                            timeout=10)


def table_counts(db):
    with db.connect() as conn:
        return counts(db) | {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def link(registry, person, account="an.nguyen", home=LMS, status=201):
    return registry.post("/learning-accounts", {"person_id": person["id"], "home_page": home,
                                                "name": account}, status=status)


def activities_of(registry, person):
    return registry.get("/learning-activities", params={"person_id": person["id"]})["items"]


def test_about_and_the_version_header(tree):
    client = lrs(tree)
    about = client.about()
    assert about.success and "1.0.3" in about.content.version
    answer = raw(tree, "GET", version=None, statementId=str(uuid.uuid4()))
    assert answer.status_code == 400 and "X-Experience-API-Version" in answer.json()["error"]
    assert answer.headers["X-Experience-API-Version"] == "1.0.3"
    assert raw(tree, "GET", version="0.95", statementId=str(uuid.uuid4())).status_code == 400
    found = raw(tree, "GET", version="1.0", statementId=str(uuid.uuid4()))
    assert found.status_code == 404 and found.headers["X-Experience-API-Version"] == "1.0.3"


def test_a_linked_persons_completed_course_becomes_a_recorded_activity(tree, db, tap, wait_for):
    an = tree.person(unit="AG.LX")
    link(tree, an)
    client = lrs(tree)
    statement = completed()
    saved = client.save_statement(statement)  # POST: the LRS makes the id
    assert saved.success, saved.data
    assert isinstance(statement.id, uuid.UUID)  # made by the LRS, set by the client
    [activity] = activities_of(tree, an)
    assert activity | {"id": None, "created_at": None} == {
        "id": None, "created_at": None, "updated_at": None, "person_id": an["id"],
        "kind": "digital_skills_basic", "title": "Kỹ năng số cơ bản",
        "provider": "Hệ thống học trực tuyến An Giang", "started_on": "2025-09-14",
        "ended_on": "2025-09-14", "hours": 24.0, "evidence_url": statement.object.id}
    [event] = outbox(db, "learning_activity_recorded")
    assert event["data"]["activity_id"] == activity["id"]
    assert event["data"]["kind"] == "digital_skills_basic"
    published(tap, wait_for, "learning_activity_recorded")

    # read back by the library: as posted, with stored and authority
    back = client.retrieve_statement(statement.id)
    assert back.success, back.data
    assert back.content.id == statement.id
    assert back.content.authority.account.name == "lms-ag"
    assert back.content.stored is not None
    # another platform does not see it; province staff do
    assert lrs(tree, "mooc-vn").retrieve_statement(statement.id).response.status == 404
    staff = tree.call("GET", "/xapi/statements", params={"statementId": str(statement.id)},
                      headers={"X-Experience-API-Version": "1.0.3"}, status=200)
    assert staff.json()["actor"]["account"]["name"] == "an.nguyen"


def test_put_idempotency_and_conflict(tree, db):
    an = tree.person()
    link(tree, an)
    client = lrs(tree)
    statement = completed()
    statement.id = uuid.uuid4()
    put = client.save_statement(statement)  # an id: PUT ?statementId=
    assert put.success and put.response.status == 204
    before = table_counts(db)
    again = client.save_statement(statement)
    assert again.success and again.response.status == 204
    batch = client.save_statements([statement])  # POSTed in a batch: still the same one
    assert batch.success and batch.content[0].id == statement.id
    assert table_counts(db) == before
    assert len(activities_of(tree, an)) == 1 and len(outbox(db, "learning_activity_recorded")) == 1

    statement.result = Result(success=True, completion=True, duration="PT30H")
    conflict = client.save_statement(statement)
    assert conflict.response.status == 409 and not conflict.success
    assert table_counts(db) == before
    other = lrs(tree, "mooc-vn").save_statement(completed(home=MOOC))
    assert other.success
    mismatch = raw(tree, "PUT", completed().as_version("1.0.3") | {"id": str(uuid.uuid4())},
                   statementId=str(uuid.uuid4()))
    assert mismatch.status_code == 400 and "statementId" in mismatch.json()["error"]


def _valid():
    return completed().as_version("1.0.3")


def _account(statement, **account):
    statement["actor"]["account"] = statement["actor"]["account"] | account
    return statement


BAD = {
    "no actor": lambda s: {k: v for k, v in s.items() if k != "actor"},
    "two identifiers": lambda s: s | {"actor": s["actor"] | {"mbox": "mailto:an@example.org"}},
    "an email, not an account": lambda s: s | {"actor": {"mbox": "mailto:an@example.org"}},
    "verb not an IRI": lambda s: s | {"verb": {"id": "completed"}},
    "id not a UUID": lambda s: s | {"id": "12345"},
    "unknown property": lambda s: s | {"grade": "A"},
    "bad timestamp": lambda s: s | {"timestamp": "14/09/2025"},
    "bad duration": lambda s: s | {"result": {"duration": "24 hours"}},
    "raw over max": lambda s: s | {"result": {"score": {"raw": 11, "min": 0, "max": 10}}},
    "scaled over 1": lambda s: s | {"result": {"score": {"scaled": 1.5}}},
    "voided without a StatementRef": lambda s: s | {"verb": {
        "id": "http://adlnet.gov/expapi/verbs/voided"}},
    "homePage not a URL": lambda s: _account(s, homePage="lms"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_statement_refuses_the_whole_batch(tree, db, case):
    link(tree, tree.person())
    before = table_counts(db)
    answer = raw(tree, "POST", [_valid(), BAD[case](_valid())])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith("invalid statement: statements[1]")
    assert all(k.startswith("statements[1]") for k in answer.json()["errors"])
    assert table_counts(db) == before


def test_the_platform_posts_only_for_its_own_home_pages(tree, db):
    link(tree, tree.person())
    before = table_counts(db)
    answer = raw(tree, "POST", [_valid(), completed(home=MOOC).as_version("1.0.3")])
    assert answer.status_code == 403 and "statements[1].actor.account.homePage" in answer.text
    assert table_counts(db) == before
    for role, platform in (("learning_platform", "unknown-lms"), ("admin", "lms-ag")):
        refused = lrs(tree, platform, role).save_statement(completed())
        assert refused.response.status == 403
    assert table_counts(db) == before
    staff = tree.call("POST", "/xapi/statements", _valid(),
                      headers={"X-Experience-API-Version": "1.0.3"})
    assert staff.status_code == 403
    # a platform token reaches nothing else
    platform = requests.get(f"http://{tree.config['WEB_SERVER_ADDRESS']}/people", timeout=10,
                            headers={"Authorization": f"Bearer "
                                     f"{token(role='learning_platform', subject='lms-ag')}"})
    assert platform.status_code == 403


def test_voiding_withdraws_the_activity(tree, db, tap, wait_for):
    an = tree.person()
    link(tree, an)
    client = lrs(tree)
    statement = completed()
    assert client.save_statement(statement).success
    [activity] = activities_of(tree, an)
    voiding = Statement(actor=statement.actor, verb=Verb(
        id="http://adlnet.gov/expapi/verbs/voided", display=LanguageMap({"en-US": "voided"})),
        object=StatementRef(id=statement.id))
    assert client.save_statement(voiding).success
    assert activities_of(tree, an) == []
    [withdrawn] = outbox(db, "learning_activity_withdrawn")
    assert withdrawn["data"] == {"activity_id": activity["id"], "person_id": an["id"],
                                 "reason": "voided", "unit_code": "AG.LX",
                                 "unit_path": ["AG", "AG.LX"]}
    published(tap, wait_for, "learning_activity_withdrawn")
    assert client.retrieve_statement(statement.id).response.status == 404
    voided = client.retrieve_voided_statement(statement.id)
    assert voided.success and voided.content.id == statement.id

    # a voiding statement cannot be voided
    before = table_counts(db)
    again = Statement(actor=statement.actor, verb=voiding.verb, object=StatementRef(
        id=voiding.id))
    answer = client.save_statement(again)
    assert answer.response.status == 400 and "cannot be voided" in answer.data
    assert table_counts(db) == before

    # a void that comes before its target: the target never counts
    early = str(uuid.uuid4())
    assert client.save_statement(Statement(actor=statement.actor, verb=voiding.verb,
                                           object=StatementRef(id=early))).success
    late = completed()
    late.id = early
    assert client.save_statement(late).success
    assert activities_of(tree, an) == []
    assert client.retrieve_voided_statement(early).success


def test_staff_delete_of_an_activity_is_announced(tree, db):
    an = tree.person()
    link(tree, an)
    assert lrs(tree).save_statement(completed()).success
    [activity] = activities_of(tree, an)
    tree.delete(f"/learning-activities/{activity['id']}")
    [withdrawn] = outbox(db, "learning_activity_withdrawn")
    assert withdrawn["data"]["reason"] == "deleted"
    assert withdrawn["data"]["activity_id"] == activity["id"]


def test_an_unlinked_accounts_statements_wait_then_count_when_linked(tree, db, wait_for):
    an = tree.person()
    client = lrs(tree)
    counted, ignored, failed = completed("an.k"), completed("an.k", verb=(
        "http://adlnet.gov/expapi/verbs/attempted")), completed("an.k", success=False)
    mooc = completed("an.k", level=None, kind="urn:cdht:xapi:activitytype:mooc")
    assert client.save_statements([counted, ignored, failed, mooc]).success
    assert activities_of(tree, an) == [] and outbox(db, "learning_activity_recorded") == []
    [waiting] = tree.get("/learning-accounts/unlinked")["items"]
    assert waiting | {"first_stored": None, "last_stored": None} == {
        "home_page": LMS, "account_name": "an.k", "platform": "lms-ag", "statements": 4,
        "first_stored": None, "last_stored": None}
    assert tree.get("/learning-accounts/unlinked", params={"platform": "mooc-vn"})[
        "items"] == []

    linked = link(tree, an, "an.k", home=LMS + "/")  # the declared spelling is kept
    assert (linked["counted"], linked["not_counted"], linked["home_page"]) == (2, 2, LMS)
    assert sorted(a["kind"] for a in activities_of(tree, an)) == ["digital_skills_basic",
                                                                   "mooc"]
    assert len(outbox(db, "learning_activity_recorded")) == 2
    assert tree.get("/learning-accounts/unlinked")["items"] == []
    assert [a["name"] for a in tree.get("/learning-accounts", params={
        "person_id": an["id"]})["items"]] == ["an.k"]
    with db.connect() as conn:
        reasons = dict(conn.execute(text(
            "SELECT id::text, reason FROM xapi_statements WHERE status = 'not_counted'")).all())
    assert reasons == {str(ignored.id): "verb 'http://adlnet.gov/expapi/verbs/attempted' does not "
                                   "count", str(failed.id): "result.success is false"}

    # a second link of the same account, an undeclared home page: refused, nothing written
    binh = tree.person()
    before = table_counts(db)
    link(tree, binh, "an.k", status=409)
    link(tree, an, "an.k", home="https://elsewhere.example.org", status=422)
    assert table_counts(db) == before
    # unlinked: what it counted stays, its next statements wait again
    tree.delete(f"/learning-accounts/{linked['id']}")
    assert client.save_statement(completed("an.k")).success
    assert len(activities_of(tree, an)) == 2
    assert tree.get("/learning-accounts/unlinked")["items"][0]["statements"] == 1


def test_linking_is_staff_work_in_the_persons_scope(tree, web_session, registry_config):
    hoa = tree.person(unit="AG.MB")
    commune = web_session(registry_config, role="commune_staff", unit_code="AG.LX",
                          subject=str(uuid.uuid4()))
    answer = commune.post("/learning-accounts", json={"person_id": hoa["id"],
                                                      "home_page": LMS, "name": "hoa"})
    assert answer.status_code == 403
    assert commune.get("/learning-accounts/unlinked").status_code == 403
    province = web_session(registry_config, role="province_staff", unit_code="AG",
                           subject=str(uuid.uuid4()))
    assert province.get("/learning-accounts/unlinked").status_code == 200


def test_a_statement_in_the_future_or_without_a_timestamp(tree, db):
    an = tree.person()
    link(tree, an)
    client = lrs(tree)
    assert client.save_statement(completed(when=None)).success
    [activity] = activities_of(tree, an)
    assert activity["started_on"] == datetime.now(LOCAL_TIME).date().isoformat()
    future = completed(when="2099-01-01T00:00:00+07:00")
    assert client.save_statement(future).success
    with db.connect() as conn:
        assert conn.scalar(text("SELECT reason FROM xapi_statements WHERE id = :id"),
                           {"id": str(future.id)}) == "the timestamp is in the future"
