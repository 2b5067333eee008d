"""Reporting takes memberships, learning activities and revocations in batches too
(cdht.batching), on real RabbitMQ and PostgreSQL: one transaction applies a batch's events
one after another in the order they came, a duplicate once; an event that cannot be applied
yet (a revocation before its grant) is retried alone while the rest of its batch applies.

BATCH_SIZE=4 with a wait of 2 s makes the four messages each step publishes one batch, or
two on a busy machine: the tests ask for fewer transactions than events, which one event at
a time never gives."""
import uuid

import pytest
from sqlalchemy import text

from tests.integration.reporting.conftest import LX, scalar, tally


@pytest.fixture
def reporting_config(service_config):
    # retries a second apart: a revocation waiting for its grant outlives the test's steps
    return service_config("reporting", BATCH_SIZE=4, BATCH_WAIT_MS=2000,
                          RETRY_DELAYS_MS="1000,1000,1000,1000,1000,1000,1000,1000")


def applied(engine, consumer):
    """(events applied, transactions that applied them): an inbox row is stamped with its
    transaction's start."""
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT count(*), count(DISTINCT processed_at) FROM inbox WHERE consumer = :c"),
            {"c": consumer}).one())


def membership(person, group_id, change="joined", membership_id=None):
    return {"membership_id": membership_id or str(uuid.uuid4()),
            "person_id": person["person_id"], "group_id": group_id, "group_kind": "family",
            "change": change, "effective_on": "2025-01-15", "unit_code": LX[-1],
            "unit_path": LX}


def test_memberships_apply_in_order_in_one_transaction_a_duplicate_once(feed, engines,
                                                                        wait_for):
    db = engines["reporting"]
    people = [feed.person() for _ in range(3)]
    family = str(uuid.uuid4())
    joins = [membership(p, family) for p in people]
    # the third person joins and leaves within the batch: the join must not count
    left = membership(people[2], family, "left", joins[2]["membership_id"])
    first = feed.send("membership_changed", joins[0], wait=False)
    for data in joins[1:]:
        feed.send("membership_changed", data, wait=False)
    feed.publish("registry", first.to_message())  # delivered twice
    feed.send("membership_changed", left, wait=False)
    wait_for(lambda: applied(db, "reporting.on_membership_changed")[0] == 4,
             message="the memberships")
    events, transactions = applied(db, "reporting.on_membership_changed")
    assert transactions < events
    assert tally(db, "grouped") == 2
    assert tally(db, "groups:family") == 1
    assert scalar(db, "SELECT members FROM groups WHERE group_id = :g", g=family) == 2


def test_learning_activities_are_recorded_and_withdrawn_in_batches(feed, engines, wait_for):
    db = engines["reporting"]
    person = feed.person()
    activities = [{"activity_id": str(uuid.uuid4()), "person_id": person["person_id"],
                   "kind": "digital_skills_basic", "started_on": "2025-05-01",
                   "ended_on": "2025-05-30", "hours": 20.0, "unit_code": LX[-1],
                   "unit_path": LX} for _ in range(4)]
    for data in activities:
        feed.send("learning_activity_recorded", data, wait=False)
    wait_for(lambda: applied(db, "reporting.on_learning_activity_recorded")[0] == 4,
             message="the activities")
    assert scalar(db, "SELECT count(*) FROM trainings") == 4
    for data in activities[:3]:
        feed.send("learning_activity_withdrawn", {
            key: data[key] for key in ("activity_id", "person_id", "unit_code", "unit_path")}
            | {"reason": "deleted"}, wait=False)
    wait_for(lambda: applied(db, "reporting.on_learning_activity_withdrawn")[0] == 3,
             message="the withdrawals")
    assert scalar(db, "SELECT count(*) FROM trainings") == 1
    assert applied(db, "reporting.on_learning_activity_recorded")[1] < 4
    assert applied(db, "reporting.on_learning_activity_withdrawn")[1] < 3


def test_a_revocation_before_its_grant_waits_alone_while_its_batch_applies(feed, engines,
                                                                           wait_for):
    db = engines["reporting"]
    people = [feed.person() for _ in range(4)]
    grants = [feed.grant(p) for p in people[:3]]
    assert tally(db, "titled") == 3
    early = {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
             "person_id": people[3]["person_id"], "unit_code": LX[-1], "unit_path": LX,
             "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
             "total_score": 85, "digital_skills": "basic"}
    for data in grants[:2] + [early, grants[2]]:
        feed.revoke(data, wait=False)
    wait_for(lambda: tally(db, "titled") == 0, message="the three known revocations")
    feed.send("recognition_granted", early, wait=False)  # the grant arrives late
    wait_for(lambda: applied(db, "reporting.on_recognition_revoked")[0] == 4, timeout=30,
             message="the early revocation, retried")
    assert tally(db, "titled") == 0
