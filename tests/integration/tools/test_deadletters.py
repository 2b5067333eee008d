"""``cdht_tools.deadletters.replay`` on real RabbitMQ and PostgreSQL, through the reporting service.

A replay moves each letter the dead-letter queue held when it started exactly once (a hopeless
one, dead-lettered again by the consumer, is not replayed again until ``limit``), and says how
many it replayed and how many came back.
"""

import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from cdht_tools import deadletters
from services.reporting.service import ReportingService
from tests.support import recognition_granted

PATH = ["AG", "AG.LX"]
GRANTED = "evt-assessment-recognition_granted--reporting.on_recognition_granted"
REVOKED = "evt-assessment-recognition_revoked--reporting.on_recognition_revoked"


def granted():
    return recognition_granted(PATH)


def revoked(grant):
    return make_envelope("recognition_revoked", {
        "recognition_id": grant.data["recognition_id"], "person_id": grant.data["person_id"],
        "unit_code": PATH[-1], "unit_path": PATH, "year": 2025, "reason": "duplicate record"},
        producer="assessment")


def revocations(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM recognition_facts "
                                "WHERE revoked_at IS NOT NULL"))


@pytest.fixture
def reporting(container_factory, service_config):
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    return config


def hopeless(publish, count):
    """Messages no replay can fix: a broken contract and an undecodable body, alternately."""
    for i in range(count):
        if i % 2:
            publish("assessment", "not json at all", routing_key="recognition_granted")
        else:
            publish("assessment", {"event_type": "recognition_granted", "schema_version": 1})


def test_replay_moves_each_letter_once_and_counts_those_that_come_back(
        reporting, publish, engines, wait_for):
    hopeless(publish, 3)
    wait_for(lambda: len(deadletters.list_dead_letters(reporting, GRANTED)) == 3,
             message="three hopeless letters")

    result = deadletters.replay(reporting, GRANTED, limit=1000)

    assert (result.replayed, result.held, result.dead_again, result.settled) == (3, 3, 3, True)
    assert result == 3  # it is the count, for callers that add counts up
    assert result.describe() == "replayed 3 of 3 message(s); 3 dead-lettered again"
    letters = deadletters.list_dead_letters(reporting, GRANTED)
    assert len(letters) == 3  # each came back once, not cycled until the limit


def test_a_letter_dead_lettered_twice_by_one_replay_counts_once(
        reporting, publish, rabbit_config, wait_for):
    """At least once: a consumer whose broker connection breaks after its copy went out
    requeues the letter and dead-letters it again; the replay still counts one letter back."""
    from kombu import Connection
    hopeless(publish, 2)
    wait_for(lambda: len(deadletters.list_dead_letters(reporting, GRANTED)) == 2,
             message="two hopeless letters")
    copied = []

    def copy_the_first_back(config, queue, replay_id, replayed, held, wait):
        dlq = deadletters.dead_letter_queue(queue, config)
        with Connection(config["AMQP_URI"]) as conn:
            wait_for(lambda: len(deadletters.list_dead_letters(config, queue)) == 2,
                     message="both back")
            first = dlq(conn.channel()).get(no_ack=False)
            producer = conn.Producer()
            producer.publish(first.body, exchange="", routing_key=dlq.name,
                             headers=first.headers, content_type=first.content_type,
                             content_encoding=first.content_encoding)
            first.requeue()
            copied.append(first.headers[deadletters.REPLAY_NUMBER_HEADER])
        return watch(config, queue, replay_id, replayed, held, wait)
    watch = deadletters._watch
    deadletters._watch = copy_the_first_back
    try:
        result = deadletters.replay(reporting, GRANTED, limit=1000)
    finally:
        deadletters._watch = watch
    assert copied and len(deadletters.list_dead_letters(reporting, GRANTED)) == 3
    assert (result.replayed, result.dead_again) == (2, 2)


def test_replay_applies_what_can_now_be_applied_and_counts_the_rest(
        reporting, publish, engines, wait_for):
    """Two revocations dead-lettered before their grants, plus two hopeless letters; once
    the grants are in, a replay applies the revocations and only the hopeless come back."""
    grants = [granted(), granted()]
    for grant in grants:
        publish("assessment", revoked(grant).to_message())
    wait_for(lambda: len(deadletters.list_dead_letters(reporting, REVOKED)) == 2, timeout=15,
             message="the revocations to exhaust their retries")
    publish("assessment", {"event_type": "recognition_revoked", "schema_version": 1})
    publish("assessment", b"\x80\x81 undecodable", routing_key="recognition_revoked")
    wait_for(lambda: len(deadletters.list_dead_letters(reporting, REVOKED)) == 4,
             message="the hopeless letters")
    for grant in grants:
        publish("assessment", grant.to_message())

    result = deadletters.replay(reporting, REVOKED)

    assert (result.replayed, result.held, result.dead_again) == (4, 4, 2)
    wait_for(lambda: revocations(engines["reporting"]) == 2, message="the replayed revocations")
    assert len(deadletters.list_dead_letters(reporting, REVOKED)) == 2


def test_replay_takes_at_most_limit(reporting, publish, wait_for):
    hopeless(publish, 4)
    wait_for(lambda: len(deadletters.list_dead_letters(reporting, GRANTED)) == 4,
             message="four hopeless letters")

    result = deadletters.replay(reporting, GRANTED, limit=1)

    assert (result.replayed, result.held, result.dead_again) == (1, 4, 1)
    assert len(deadletters.list_dead_letters(reporting, GRANTED)) == 4


def test_replay_of_an_empty_queue_does_nothing(reporting):
    result = deadletters.replay(reporting, GRANTED)
    assert (result.replayed, result.held, result.dead_again, result.settled) == (0, 0, 0, True)
