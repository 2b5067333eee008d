"""Reporting applies recognition_granted in batches (cdht.batching) on real RabbitMQ and
PostgreSQL, under the same reliability rules as one event at a time: a duplicate in a batch
is applied once, a poison event is dead-lettered alone while the rest of its batch is applied,
and a batch whose commit fails loses none of its messages (nothing acked before commit).

BATCH_SIZE=4 with a wait of 2 s makes the four messages each test publishes together one batch
(a retried event comes back alone and waits those 2 s).
"""
import uuid

import eventlet
import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from cdht_tools import deadletters
from services.reporting.service import ReportingService

PATH = ["AG", "AG.LX"]
QUEUE = "evt-assessment-recognition_granted--reporting.on_recognition_granted"


def granted(recognition_id=None, person_id=None):
    return make_envelope("recognition_granted", {
        "recognition_id": recognition_id or uuid.uuid4(), "assessment_id": uuid.uuid4(),
        "person_id": person_id or uuid.uuid4(), "unit_code": PATH[-1], "unit_path": PATH,
        "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
        "total_score": 85, "digital_skills": "basic"}, producer="assessment")


def scalar(engine, sql):
    with engine.connect() as conn:
        return conn.scalar(text(sql))


def titled(engine):
    return scalar(engine, "SELECT coalesce(max(n), 0) FROM tallies WHERE unit_code = 'AG' "
                          "AND metric = 'titled' AND key = 2025")


@pytest.fixture
def batched(container_factory, service_config):
    def start(**overrides):
        config = service_config("reporting", BATCH_SIZE=4, BATCH_WAIT_MS=2000, **overrides)
        container_factory(ReportingService, config).start()
        return config
    return start


def test_a_duplicate_in_a_batch_is_applied_once(batched, publish, engines, wait_for):
    batched()
    first, second = granted(), granted()
    again = granted(recognition_id=second.data["recognition_id"],
                    person_id=second.data["person_id"])  # re-published with a new event id
    for envelope in (first, first, second, again):
        publish("assessment", envelope.to_message())
    db = engines["reporting"]
    wait_for(lambda: scalar(db, "SELECT count(*) FROM inbox") == 3, message="the batch")
    assert titled(db) == 2
    assert scalar(db, "SELECT count(*) FROM recognition_facts") == 2
    assert scalar(db, "SELECT applied FROM consumer_lag") == 2
    # one statistics_updated for the unit and year, not one per recognition
    assert scalar(db, "SELECT count(*) FROM outbox "
                      "WHERE event_type = 'statistics_updated'") == 1
    assert scalar(db, "SELECT payload->'data'->>'titled' FROM outbox "
                      "WHERE event_type = 'statistics_updated'") == "2"


def test_a_poison_event_is_dead_lettered_alone(batched, publish, engines, wait_for):
    config = batched()
    db = engines["reporting"]
    poison = granted()
    with db.begin() as conn:  # PostgreSQL refuses this one event's fact, every time
        conn.execute(text(f"""
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON recognition_facts FOR EACH ROW
            WHEN (NEW.person_id = '{poison.data["person_id"]}') EXECUTE FUNCTION refuse();"""))
    good = [granted() for _ in range(3)]
    for envelope in (good[0], poison, *good[1:]):
        publish("assessment", envelope.to_message())

    letters = wait_for(lambda: deadletters.list_dead_letters(config, QUEUE), timeout=30,
                       message="the poison event in the dead-letter queue")
    assert [letter["event_id"] for letter in letters] == [str(poison.event_id)]
    assert "refused by the test" in letters[0]["error"]
    assert titled(db) == 3
    assert scalar(db, "SELECT count(*) FROM inbox") == 3


def test_a_batch_whose_commit_fails_loses_nothing(batched, publish, engines, wait_for):
    """The failure comes at COMMIT (a deferred constraint trigger), after every statement of
    the batch ran: had anything been acked before, it would be lost."""
    batched(RETRY_DELAYS_MS=[1000, 1000, 1000])
    db = engines["reporting"]
    with db.begin() as conn:
        conn.execute(text("""
            CREATE TABLE failing (on_commit boolean);
            INSERT INTO failing VALUES (true);
            CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM failing) THEN
                    RAISE EXCEPTION 'commit refused by the test';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT ON recognition_facts
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit();"""))
    for _ in range(4):
        publish("assessment", granted().to_message())
    eventlet.sleep(0.5)  # the batch, then each event alone, failed at commit
    assert titled(db) == 0
    with db.begin() as conn:
        conn.execute(text("DELETE FROM failing"))
    wait_for(lambda: titled(db) == 4, timeout=30, message="every event, on retry")
    assert scalar(db, "SELECT count(*) FROM inbox") == 4
