"""Reporting's projections from registry and assessment events, on real RabbitMQ and
PostgreSQL: titles rolled up the tree with their events, revocations, groups, briefings,
staff, merges and "as of", the REST reads and the RPC for notifications."""
import uuid

import eventlet
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import text

from tests.integration.reporting.conftest import LX, MB, every_adult_rules, indicator, outbox


@pytest.fixture
def targets_change():
    """These stories probe the counting with every adult and the title's level."""
    return every_adult_rules


def progress(api, unit, year=2025, **params):
    response = api.get(f"/units/{unit}/progress", params={"year": year, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_recognition_moves_the_counters_along_its_path_and_publishes(feed, api, engines):
    adult = feed.person(born=1985)
    feed.person(born=1990)
    feed.person(path=MB, born=2010)  # a child: not in the adults' denominator
    grant = feed.grant(adult, skills="proficient")

    ward = progress(api, "AG.LX")
    assert (ward["people"], ward["adults"], ward["titled"]) == (2, 2, 1)
    adults = indicator(ward, "adults_titled")
    assert (adults["numerator"], adults["denominator"], adults["share"]) == (1, 2, 0.5)
    assert (adults["target"], adults["target_year"], adults["gap"]) == (0.4, 2025, 0)
    assert adults["targets"] == {"2025": 0.4, "2030": 0.6}
    assert adults["status"] == "reached"
    digital = indicator(ward, "titled_digitally_proficient")
    assert (digital["numerator"], digital["denominator"]) == (1, 1)
    province = progress(api, "AG")  # rolled up in the same transaction
    assert (province["people"], province["adults"], province["titled"]) == (3, 2, 1)
    assert indicator(province, "adults_titled")["gap"] == 0

    [stats] = outbox(engines["reporting"], "statistics_updated")
    assert stats["data"] | {"cause_event_id": None} == {
        "unit_code": "AG.LX", "year": 2025, "people": 2, "adults": 2, "titled": 1,
        "titled_digitally_skilled": 1, "titled_digitally_proficient": 1,
        "cause_event_id": None}
    reached = {(e["data"]["unit_code"], e["data"]["indicator"])
               for e in outbox(engines["reporting"], "target_reached")}
    assert {("AG.LX", "adults_titled"), ("AG", "adults_titled"),
            ("AG.LX", "titled_with_digital_skills"),
            ("AG.LX", "titled_digitally_proficient")} <= reached
    event = next(e for e in outbox(engines["reporting"], "target_reached")
                 if e["data"]["unit_code"] == "AG" and e["data"]["indicator"] == "adults_titled")
    assert event["data"]["numerator"] == 1 and event["data"]["denominator"] == 2
    assert event["data"]["target_year"] == 2025 and event["data"]["unit_path"] == ["AG"]

    # the same grant again (a redelivery): nothing moves, nothing is published twice
    before = len(outbox(engines["reporting"]))
    feed.send("recognition_granted", grant)
    assert progress(api, "AG")["titled"] == 1
    assert len(outbox(engines["reporting"])) == before


def test_a_revocation_undoes_its_grant_and_warns_when_falling_behind(feed, api, engines):
    people = [feed.person() for _ in range(4)]
    grants = [feed.grant(p) for p in people[:2]]  # 2/4 = 50% >= 40%
    assert indicator(progress(api, "AG.LX"), "adults_titled")["status"] == "reached"
    feed.revoke(grants[0])                         # 1/4 = 25% < 36% (0.9 x 40%)
    ward = progress(api, "AG.LX")
    adults = indicator(ward, "adults_titled")
    assert (adults["numerator"], adults["gap"], adults["status"]) == (1, 1, "behind")
    assert ward["titled"] == 1
    at_risk = [e["data"] for e in outbox(engines["reporting"], "target_at_risk")
               if e["data"]["indicator"] == "adults_titled"]
    assert {e["unit_code"] for e in at_risk} == {"AG", "AG.LX"}
    assert at_risk[0]["warning_line"] == 0.36 and at_risk[0]["share"] == 0.25

    feed.revoke(grants[0])  # a second revocation of the same title changes nothing
    assert progress(api, "AG")["titled"] == 1


def test_a_revocation_that_overtakes_its_grant_waits_for_it(feed, api, publish):
    person = feed.person()
    grant = {"recognition_id": str(uuid.uuid4()), "person_id": person["person_id"],
             "unit_code": "AG.LX", "unit_path": LX, "year": 2025}
    feed.revoke(grant, wait=False)  # retried (100, 200, 400 ms in tests) until the grant
    eventlet.sleep(0.05)
    feed.sent -= 1
    feed.send("recognition_granted", grant | {
        "assessment_id": str(uuid.uuid4()), "target_group": "resident",
        "criteria_version": "324/QĐ-KHVN", "total_score": 90, "digital_skills": "none"})
    feed.sent += 1
    feed.wait_for(lambda: feed.applied() == feed.sent, message="the revocation retried")
    assert progress(api, "AG")["titled"] == 0


def test_members_briefed_staff_and_groups(feed, api):
    official = feed.person(roles=["association_official"])
    member = feed.person(roles=["association_member"])
    feed.person(roles=["association_member"])
    briefing = str(uuid.uuid4())
    feed.send("learning_activity_recorded", {
        "activity_id": briefing, "person_id": official["person_id"],
        "kind": "briefing", "started_on": "2025-03-01", "ended_on": None, "hours": 2.0,
        "unit_code": "AG.LX", "unit_path": LX})
    course = str(uuid.uuid4())
    feed.send("learning_activity_recorded", {
        "activity_id": course, "person_id": member["person_id"], "kind": "briefing",
        "started_on": "2025-03-02", "ended_on": None, "hours": None,
        "unit_code": "AG.LX", "unit_path": LX})
    briefed = indicator(progress(api, "AG"), "briefed_members")
    assert (briefed["numerator"], briefed["denominator"], briefed["gap"]) == (2, 3, 1)
    feed.send("learning_activity_recorded", {  # the same activity, corrected to a course
        "activity_id": course, "person_id": member["person_id"], "kind": "course",
        "started_on": "2025-03-02", "ended_on": None, "hours": None,
        "unit_code": "AG.LX", "unit_path": LX})
    assert indicator(progress(api, "AG"), "briefed_members")["numerator"] == 1

    # withdrawn (deleted as a mistake, or its xAPI statement voided): briefed no more, once
    withdrawn = {"activity_id": briefing, "person_id": official["person_id"],
                 "reason": "voided", "unit_code": "AG.LX", "unit_path": LX}
    feed.send("learning_activity_withdrawn", withdrawn)
    feed.send("learning_activity_withdrawn", withdrawn)  # told again: nothing changes
    feed.send("learning_activity_withdrawn", withdrawn | {"activity_id": str(uuid.uuid4())})
    assert indicator(progress(api, "AG"), "briefed_members")["numerator"] == 0

    # staff: a learning unit's members (and the role the registry gives them)
    school = str(uuid.uuid4())
    teachers = [feed.person(born=1980) for _ in range(3)]
    for t in teachers:
        feed.join(t, school, kind="learning_unit")
    feed.grant(teachers[0])
    staff = indicator(progress(api, "AG.LX"), "unit_staff_titled")
    assert (staff["numerator"], staff["denominator"]) == (1, 3)

    # groups: known while they have members; recognised when they hold the title
    families = [str(uuid.uuid4()) for _ in range(3)]
    memberships = [feed.join(teachers[i], families[i]) for i in range(3)]
    feed.group_title(families[0])
    feed.group_title(school, kind="learning_unit")
    ward = progress(api, "AG.LX")
    assert ward["adults_in_groups"] == 3
    fam = indicator(ward, "families_recognised")
    assert (fam["numerator"], fam["denominator"], fam["target"]) == (1, 3, 0.7)
    assert indicator(ward, "learning_units_recognised")["numerator"] == 1
    feed.join(teachers[2], families[2], change="left",
              membership_id=memberships[2]["membership_id"])
    assert indicator(progress(api, "AG"), "families_recognised")["denominator"] == 2
    assert progress(api, "AG")["adults_in_groups"] == 2


def test_people_moved_updated_removed_carry_their_titles(feed, api):
    person = feed.person()
    feed.grant(person)
    feed.send("person_moved", person | {"unit_code": "AG.MB", "unit_path": MB,
                                        "from_unit_path": LX})
    assert progress(api, "AG.LX")["titled"] == 0
    assert indicator(progress(api, "AG.MB"), "adults_titled")["numerator"] == 1
    feed.send("person_updated", person | {
        "unit_code": "AG.MB", "unit_path": MB, "birth_year": 2010, "changed": ["birth_date"],
        "previous": {"target_group": "resident", "roles": [], "birth_year": 1985}})
    mb = progress(api, "AG.MB")
    assert (mb["adults"], mb["titled"]) == (0, 1)  # a title, no longer an adult's
    assert indicator(mb, "adults_titled")["numerator"] == 0
    feed.send("person_removed", person | {"unit_code": "AG.MB", "unit_path": MB,
                                          "birth_year": 2010, "reason": "trùng"})
    assert progress(api, "AG")["people"] == 0 and progress(api, "AG")["titled"] == 0


def test_a_merge_rehomes_figures_and_as_of_answers_under_todays_tree(feed, api):
    early = feed.person(path=["AG", "AG.OLD"], occurred_at="2025-02-10T03:00:00+00:00")
    feed.grant(early, occurred_at="2025-03-10T03:00:00+00:00")
    late = feed.person(path=MB, occurred_at="2025-05-10T03:00:00+00:00")
    feed.grant(late, occurred_at="2025-06-10T03:00:00+00:00")
    assert {u["unit_code"] for u in api.get("/units").json()["items"]} == {"AG", "AG.OLD",
                                                                           "AG.MB"}
    feed.send("units_merged", {"unit_code": "AG.MB", "unit_path": MB,
                               "from_unit_paths": [["AG", "AG.OLD"]],
                               "effective_on": "2025-07-01", "people_moved": 1})
    mb = progress(api, "AG.MB")
    assert (mb["people"], mb["titled"]) == (2, 2)
    assert progress(api, "AG")["titled"] == 2
    old = progress(api, "AG.OLD")  # asked by its old code: today's unit answers
    assert old["unit_code"] == "AG.MB" and old["titled"] == 2
    children = api.get("/units/AG/breakdown", params={"year": 2025}).json()["children"]
    assert [c["unit_code"] for c in children] == ["AG.MB"]

    march = progress(api, "AG.MB", as_of="2025-03-31")
    assert (march["people"], march["titled"]) == (1, 1)  # AG.OLD's, under today's AG.MB
    assert progress(api, "AG", as_of="2025-01-31")["people"] == 0
    series = api.get("/units/AG.MB/series", params={"year": 2025}).json()
    titled = [p["numerator"] for p in series["indicators"]["adults_titled"]]
    assert titled[:7] == [0, 0, 1, 1, 1, 2, 2]
    assert series["targets"]["adults_titled"] == {"2025": 0.4, "2030": 0.6}
    # a person registered at the merged unit after the merge lands in the new one
    feed.person(path=["AG", "AG.OLD"])
    assert progress(api, "AG.MB")["people"] == 3


def test_breakdown_sorts_communes_by_gap(feed, api):
    for _ in range(5):
        feed.person(path=LX)
    done = [feed.person(path=MB) for _ in range(2)]
    feed.grant(done[0])
    body = api.get("/units/AG/breakdown", params={"year": 2025}).json()
    assert body["indicator"] == "adults_titled"
    assert [(c["unit_code"], c["gap"]) for c in body["children"]] == [("AG.LX", 2),
                                                                     ("AG.MB", 0)]
    assert (body["total"]["numerator"], body["total"]["denominator"]) == (1, 7)
    by_share = api.get("/units/AG/breakdown", params={"year": 2025, "sort": "share",
                                                      "indicator": "adults_titled"}).json()
    assert [c["unit_code"] for c in by_share["children"]] == ["AG.LX", "AG.MB"]
    bad = api.get("/units/AG/breakdown", params={"year": 2025, "indicator": "nope"})
    assert bad.status_code == 400 and "indicator" in bad.json()["errors"]
    assert api.get("/units/XX/progress", params={"year": 2025}).status_code == 404
    assert api.get("/units/AG/progress").status_code == 400


def test_progress_rpc_for_notifications(feed, reporting_config):
    person = feed.person()
    feed.grant(person)
    with ServiceRpcProxy("reporting", reporting_config) as rpc:
        found = rpc.progress("AG", 2025)
        assert rpc.progress("NOWHERE", 2025) is None
    assert found["unit_code"] == "AG" and found["year"] == 2025
    assert found["indicators"]["adults_titled"] == {
        "numerator": 1, "denominator": 1, "share": 1.0,
        "targets": {"2025": 0.4, "2030": 0.6}}
    assert set(found["indicators"]) == {
        "briefed_members", "adults_titled", "unit_staff_titled", "titled_with_digital_skills",
        "titled_digitally_proficient", "families_recognised", "clans_recognised",
        "communities_recognised", "learning_units_recognised"}
    assert found["indicators"]["clans_recognised"]["share"] == 0.0


def test_lag_and_documentation(feed, api, engines):
    feed.grant(feed.person(), occurred_at="2025-06-10T03:00:00+00:00")
    lag = api.get("/lag").json()
    assert lag["waiting"] == 0 and 0 <= lag["waiting_read_seconds_ago"] < 10
    by = {c["consumer"]: c for c in lag["consumers"]}
    granted = by["reporting.on_recognition_granted"]
    assert granted["applied"] == 1 and granted["lag_seconds"] > 0
    assert granted["queue"] == ("evt-assessment-recognition_granted--reporting."
                                "on_recognition_granted")
    assert by["reporting.on_units_merged"]["applied"] == 0
    with engines["reporting"].connect() as conn:
        assert conn.scalar(text("SELECT applied FROM consumer_lag "
                                "WHERE consumer = 'reporting.on_person_registered'")) == 1
    document = api.get("/openapi.json").json()
    assert {"/units/{unit_code}/progress", "/units/{unit_code}/breakdown",
            "/units/{unit_code}/series", "/units/{unit_code}/report.xlsx",
            "/dashboard", "/lag"} <= set(document["paths"])
    assert not any(op.get("x-undeclared") for item in document["paths"].values()
                   for op in item.values())
    assert api.get("/docs").status_code == 200


def test_scraping_the_open_metrics_opens_no_broker_connection_per_scrape(api):
    """/metrics needs no token: 50 scrapes must not make the service open 50 connections to
    RabbitMQ (queue_depths.py keeps the depths for QUEUE_DEPTH_SECONDS)."""
    import time

    import requests

    def connections_opened():
        overview = requests.get("http://127.0.0.1:15672/api/overview",
                                auth=("guest", "guest"), timeout=5).json()
        return overview["churn_rates"]["connection_created"]

    api.get("/metrics")  # the first scrape asks the broker
    time.sleep(6)  # the broker's statistics are emitted every 5 s
    before = connections_opened()
    for _ in range(50):
        assert api.get("/metrics").status_code == 200
    time.sleep(6)
    assert connections_opened() - before < 10  # other tests' clients may connect meanwhile
