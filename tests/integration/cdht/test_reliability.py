"""The reliability plumbing on real RabbitMQ and PostgreSQL, through the reporting service
(a real consumer of registry and assessment events) and real outbox rows.

Covers docs/architecture.md §D3-§D5: a relay stopped or crashed between commit and publish loses nothing
and the effect happens once; a duplicate changes nothing; poison goes to the dead-letter
queue while the consumer goes on; transient failures are retried with backoff; dead letters
can be listed and replayed.
"""
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from cdht.contracts import make_envelope
from cdht.outbox import Relay, add_event, backlog
from cdht_tools import deadletters
from services.reporting.service import ReportingService

PATH = ["AG", "AG.LX"]


def granted(person_id=None, recognition_id=None, digital="basic", year=2025):
    return make_envelope("recognition_granted", {
        "recognition_id": recognition_id or uuid.uuid4(), "assessment_id": uuid.uuid4(),
        "person_id": person_id or uuid.uuid4(), "unit_code": PATH[-1], "unit_path": PATH,
        "target_group": "resident", "year": year, "criteria_version": "324/QĐ-KHVN",
        "total_score": 85, "digital_skills": digital}, producer="assessment")


def revoked(recognition_id, person_id):
    return make_envelope("recognition_revoked", {
        "recognition_id": recognition_id, "person_id": person_id, "unit_code": PATH[-1],
        "unit_path": PATH, "year": 2025, "reason": "duplicate record"}, producer="assessment")


def titled(engine, unit="AG", year=2025):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT n FROM tallies WHERE metric = 'titled' "
                                "AND unit_code = :u AND key = :y"),
                           {"u": unit, "y": year}) or 0


def inbox_rows(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM inbox"))


@pytest.fixture
def reporting(container_factory, service_config):
    config = service_config("reporting")
    container = container_factory(ReportingService, config)
    container.start()
    return config


def test_duplicate_delivery_moves_counters_once(reporting, publish, engines, wait_for):
    event = granted().to_message()
    publish("assessment", event)
    publish("assessment", event)
    wait_for(lambda: titled(engines["reporting"]) == 1, message="the grant to be counted")
    other = granted().to_message()
    publish("assessment", other)  # a later event proves the duplicate was consumed, not queued
    wait_for(lambda: titled(engines["reporting"]) == 2, message="the second grant")
    assert titled(engines["reporting"], "AG.LX") == 2
    assert inbox_rows(engines["reporting"]) == 2
    eventlet_sleep(1.0)  # longer than every retry delay together (100+200+400 ms)
    queue = "evt-assessment-recognition_granted--reporting.on_recognition_granted"
    assert deadletters.list_dead_letters(reporting, queue) == []  # dropped, not failed


def registered(birth_year=1980):
    return make_envelope("person_registered", {
        "person_id": uuid.uuid4(), "unit_code": PATH[-1], "unit_path": PATH,
        "target_group": "resident", "roles": [], "birth_year": birth_year},
        producer="registry")


def test_duplicate_registration_counts_the_person_once(reporting, publish, engines, wait_for):
    event = registered().to_message()
    for _ in range(3):
        publish("registry", event)
    publish("registry", registered(birth_year=2010).to_message())

    def people(unit):
        with engines["reporting"].connect() as conn:
            return conn.scalar(text("SELECT coalesce(sum(n), 0) FROM tallies "
                                    "WHERE metric = 'people' AND unit_code = :u"), {"u": unit})
    wait_for(lambda: people("AG") >= 2, message="both registrations")
    eventlet_sleep(0.3)
    assert people("AG") == 2 and people("AG.LX") == 2


class CrashAfterPublish(Relay):
    """Fault injection: the process dies after the broker confirmed the publish but before
    the transaction marking the row as published commits."""

    def _publish(self, producer, row):
        super()._publish(producer, row)
        raise RuntimeError("process killed between publish and commit")


def stage_grant(engine, envelope_data):
    """Commit a grant's outbox row the way assessment does, without any relay running."""
    with Session(engine) as session, session.begin():
        add_event(session, "recognition_granted", envelope_data, producer="assessment")


def test_relay_stopped_between_commit_and_publish_loses_nothing(
        reporting, engines, rabbit_config, wait_for):
    assessment_db = engines["assessment"]
    stage_grant(assessment_db, granted().data)
    with assessment_db.connect() as conn:
        assert backlog(conn) == 1  # committed, not yet published: the "crash" window

    eventlet_sleep(0.5)
    assert titled(engines["reporting"]) == 0  # nothing arrived while the relay was down

    # the process comes back: a fresh relay publishes the stranded row
    relay = Relay(assessment_db, rabbit_config["AMQP_URI"], "assessment")
    assert relay.relay_batch() == 1
    wait_for(lambda: titled(engines["reporting"]) == 1, message="the stranded event")
    assert relay.relay_batch() == 0  # marked published: not sent again
    with assessment_db.connect() as conn:
        assert backlog(conn) == 0
    eventlet_sleep(0.3)
    assert titled(engines["reporting"]) == 1


def test_relay_crash_after_publish_is_deduplicated(reporting, engines, rabbit_config, wait_for):
    assessment_db = engines["assessment"]
    stage_grant(assessment_db, granted().data)

    crashing = CrashAfterPublish(assessment_db, rabbit_config["AMQP_URI"], "assessment")
    with pytest.raises(Exception, match="killed between publish and commit"):
        crashing.relay_batch()
    with assessment_db.connect() as conn:
        assert backlog(conn) == 1  # published, but the mark was rolled back
        failed = conn.execute(text("SELECT attempts, last_error FROM outbox")).one()
    assert failed.attempts == 1 and "killed between publish and commit" in failed.last_error

    Relay(assessment_db, rabbit_config["AMQP_URI"], "assessment").relay_batch()  # again
    wait_for(lambda: inbox_rows(engines["reporting"]) == 1, message="the event")
    eventlet_sleep(0.5)  # give the second copy every chance to be (wrongly) applied
    assert titled(engines["reporting"]) == 1
    with engines["reporting"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM recognition_facts")) == 1


def test_relay_connection_lost_leaves_rows_pending_then_reconnects(
        reporting, engines, rabbit_config, wait_for):
    """The relay's connection dies between two runs (a broker restart): the run that finds
    it dead publishes nothing and marks nothing; the next one opens a new connection."""
    assessment_db = engines["assessment"]
    relay = Relay(assessment_db, rabbit_config["AMQP_URI"], "assessment")
    stage_grant(assessment_db, granted().data)
    assert relay.relay_batch() == 1
    relay._connection.connection.close()  # what the broker's going away leaves behind

    stage_grant(assessment_db, granted().data)
    with pytest.raises(Exception):
        relay.relay_batch()
    with assessment_db.connect() as conn:
        assert backlog(conn) == 1  # given back, not marked
    assert relay.relay_batch() == 1  # a fresh connection and channel
    wait_for(lambda: titled(engines["reporting"]) == 2, message="both events")


def test_relay_runs_in_the_service_and_publishes_on_commit(
        container_factory, service_config, reporting, engines, wait_for):
    """assessment's own relay thread (Database(relay=True)) delivers without polling delay."""
    from services.assessment.service import AssessmentService
    container = container_factory(AssessmentService, service_config("assessment"))
    container.start()
    stage_grant(engines["assessment"], granted().data)  # the relay also polls for rows
    wait_for(lambda: titled(engines["reporting"]) == 1, timeout=5,
             message="the relay in the running service to publish the committed row")


@pytest.mark.parametrize("body, content_type, why", [
    ({"event_type": "recognition_granted", "schema_version": 1}, None, "contract"),
    ("this is not json", "application/json", "undecodable"),
    ("plain text", "text/plain", "undecodable"),
    ("UNKNOWN_VERSION", None, "unknown event"),
])
def test_poison_goes_to_dead_letters_and_consumer_goes_on(
        reporting, publish, engines, wait_for, body, content_type, why):
    if body == "UNKNOWN_VERSION":
        body = granted().to_message() | {"schema_version": 99}
    if isinstance(body, dict):
        publish("assessment", body, routing_key="recognition_granted")
    else:
        publish("assessment", body, routing_key="recognition_granted", content_type=content_type)
    publish("assessment", granted().to_message())

    wait_for(lambda: titled(engines["reporting"]) == 1, message="the good event after poison")
    queue = "evt-assessment-recognition_granted--reporting.on_recognition_granted"
    letters = wait_for(lambda: deadletters.list_dead_letters(reporting, queue),
                       message="the poison message in the dead-letter queue")
    assert len(letters) == 1
    assert why in letters[0]["error"]
    # listing does not consume: the letter is still there
    assert len(deadletters.list_dead_letters(reporting, queue)) == 1


def test_transient_failure_is_retried_with_backoff(reporting, publish, engines, wait_for):
    """A revocation that overtakes its grant fails, is retried later, and then applies."""
    grant = granted()
    publish("assessment", revoked(grant.data["recognition_id"],
                                  grant.data["person_id"]).to_message())
    eventlet_sleep(0.15)  # first attempt has failed by now; a retry is waiting
    publish("assessment", grant.to_message())
    wait_for(lambda: _revoked_count(engines["reporting"]) == 1, timeout=10,
             message="the revocation to apply on retry")
    assert titled(engines["reporting"]) == 0  # granted then revoked


def _revoked_count(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM recognition_facts "
                                "WHERE revoked_at IS NOT NULL"))


def test_exhausted_retries_dead_letter_then_replay_applies(reporting, publish, engines,
                                                           wait_for):
    grant = granted()
    publish("assessment", revoked(grant.data["recognition_id"],
                                  grant.data["person_id"]).to_message())
    queue = "evt-assessment-recognition_revoked--reporting.on_recognition_revoked"
    letters = wait_for(lambda: deadletters.list_dead_letters(reporting, queue), timeout=10,
                       message="the revocation to exhaust its 3 retries")
    assert letters[0]["attempts"] == 4 and "RecognitionNotYetSeen" in letters[0]["error"]
    assert letters[0]["event_type"] == "recognition_revoked"

    publish("assessment", grant.to_message())
    wait_for(lambda: titled(engines["reporting"]) == 1, message="the grant")
    assert deadletters.replay(reporting, queue) == 1
    wait_for(lambda: titled(engines["reporting"]) == 0, message="the replayed revocation")
    assert deadletters.list_dead_letters(reporting, queue) == []


def test_dead_letter_queues_are_found_from_the_service(reporting):
    assert deadletters.consumer_queues("reporting") == sorted([
        "evt-assessment-group_recognition_granted--reporting.on_group_recognition_granted",
        "evt-assessment-group_recognition_revoked--reporting.on_group_recognition_revoked",
        "evt-assessment-group_recognitions_granted--reporting.on_group_recognitions_granted",
        "evt-assessment-recognition_granted--reporting.on_recognition_granted",
        "evt-assessment-recognition_revoked--reporting.on_recognition_revoked",
        "evt-assessment-recognitions_granted--reporting.on_recognitions_granted",
        "evt-registry-learning_activity_recorded--reporting.on_learning_activity_recorded",
        "evt-registry-learning_activity_withdrawn--reporting.on_learning_activity_withdrawn",
        "evt-registry-membership_changed--reporting.on_membership_changed",
        "evt-registry-association_body_changed--reporting.on_association_body_changed",
        "evt-registry-group_titles_recorded--reporting.on_group_titles_recorded",
        "evt-registry-groups_imported--reporting.on_groups_imported",
        "evt-registry-people_imported--reporting.on_people_imported",
        "evt-registry-person_moved--reporting.on_person_moved",
        "evt-registry-person_registered--reporting.on_person_registered",
        "evt-registry-person_removed--reporting.on_person_removed",
        "evt-registry-person_updated--reporting.on_person_updated",
        "evt-registry-unit_changed--reporting.on_unit_changed",
        "evt-registry-units_merged--reporting.on_units_merged",
    ])


def eventlet_sleep(seconds):
    import eventlet
    eventlet.sleep(seconds)


def test_queues_are_durable_with_dead_letter_exchange(reporting, rabbit_config, rabbit_manager):
    vhost = rabbit_config["vhost"]
    queues = {q["name"]: q for q in rabbit_manager.get_queues(vhost)}
    main = queues["evt-assessment-recognition_granted--reporting.on_recognition_granted"]
    assert main["durable"] is True
    assert main["arguments"]["x-dead-letter-exchange"] == "cdht.dead-letter"
    assert "evt-assessment-recognition_granted--reporting.on_recognition_granted.dead-letter" \
        in queues


def test_quorum_queues_are_a_configuration_change(container_factory, service_config,
                                                  rabbit_config, rabbit_manager, publish,
                                                  engines, wait_for):
    """QUEUE_TYPE=quorum (as on a three-node cluster): same code, quorum queues with a
    delivery limit and dead-letter exchange; retries and dead letters still work."""
    config = service_config("reporting", QUEUE_TYPE="quorum", DELIVERY_LIMIT=5)
    container_factory(ReportingService, config).start()
    queues = {q["name"]: q for q in rabbit_manager.get_queues(rabbit_config["vhost"])}
    main = queues["evt-assessment-recognition_revoked--reporting.on_recognition_revoked"]
    assert main["arguments"]["x-queue-type"] == "quorum"
    assert main["arguments"]["x-delivery-limit"] == 5
    assert main["arguments"]["x-dead-letter-exchange"] == "cdht.dead-letter"
    assert all(q["arguments"].get("x-queue-type") == "quorum" for q in queues.values()
               if q["name"].startswith("evt-"))

    grant = granted()
    publish("assessment", revoked(grant.data["recognition_id"],
                                  grant.data["person_id"]).to_message())
    eventlet_sleep(0.15)  # the revocation failed once and waits in a quorum delay queue
    publish("assessment", grant.to_message())
    wait_for(lambda: _revoked_count(engines["reporting"]) == 1, message="retry via quorum")
    publish("assessment", {"event_type": "recognition_granted"},
            routing_key="recognition_granted")
    queue = "evt-assessment-recognition_granted--reporting.on_recognition_granted"
    assert wait_for(lambda: deadletters.list_dead_letters(config, queue),
                    message="poison in the quorum dead-letter queue")
