"""Reporting takes the registry's one-person events (registered, updated, moved, removed) in
batches too (cdht.batching), on real RabbitMQ and PostgreSQL: a batch is one transaction,
its events applied in the order they came, a duplicate once, and a poison event dead-lettered
alone while the consumer goes on in batches.

BATCH_SIZE=4 with a wait of 2 s makes the four messages each step publishes one batch, or
two on a busy machine: the tests ask for fewer transactions than events, which one event at
a time never gives."""
import uuid

import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from cdht_tools import deadletters
from services.reporting.service import ReportingService
from tests.integration.reporting.conftest import scalar, tally

PATH = ["AG", "AG.LX"]
QUEUE = "evt-registry-person_registered--reporting.on_person_registered"


def facts(person_id=None, born=1985, path=PATH):
    return {"person_id": str(person_id or uuid.uuid4()), "unit_code": path[-1],
            "unit_path": path, "target_group": "resident", "roles": [], "birth_year": born}


def event(event_type, data):
    return make_envelope(event_type, data, producer="registry")


def transactions(engine, consumer):
    """How many transactions applied ``consumer``'s events (an inbox row is stamped with its
    transaction's start)."""
    return scalar(engine, "SELECT count(DISTINCT processed_at) FROM inbox "
                          "WHERE consumer = :c", c=consumer)


@pytest.fixture
def batched(container_factory, service_config):
    config = service_config("reporting", BATCH_SIZE=4, BATCH_WAIT_MS=2000)
    container_factory(ReportingService, config).start()
    return config


def test_registrations_are_applied_in_one_transaction_a_duplicate_once(
        batched, publish, engines, wait_for):
    db = engines["reporting"]
    first, second, third = (event("person_registered", facts()) for _ in range(3))
    for envelope in (first, second, first, third):
        publish("registry", envelope.to_message())
    wait_for(lambda: scalar(db, "SELECT count(*) FROM inbox") == 3, message="the batch")
    assert transactions(db, "reporting.on_person_registered") < 3
    assert tally(db, "people") == 3
    assert scalar(db, "SELECT applied FROM consumer_lag "
                      "WHERE consumer = 'reporting.on_person_registered'") == 3


def test_updates_in_one_batch_apply_in_the_order_they_came(batched, publish, engines,
                                                           wait_for):
    db = engines["reporting"]
    people = [facts(born=1985) for _ in range(2)]
    for person in people:
        publish("registry", event("person_registered", person).to_message())
    wait_for(lambda: tally(db, "people") == 2, message="the registrations")
    # the first person ends a child, the second an adult: the last update of each wins
    previous = {"target_group": "resident", "roles": [], "birth_year": 1985}
    updates = [(people[0], 1990), (people[1], 2015), (people[0], 2015), (people[1], 1980)]
    for person, born in updates:
        publish("registry", event("person_updated", facts(person["person_id"], born) | {
            "previous": previous, "changed": ["birth_year"]}).to_message())
    wait_for(lambda: scalar(db, "SELECT count(*) FROM inbox "
                                "WHERE consumer = 'reporting.on_person_updated'") == 4,
             message="the updates")
    assert transactions(db, "reporting.on_person_updated") < 4
    born = dict(scalar(db, "SELECT json_agg(json_build_array(person_id, birth_year)) "
                           "FROM people"))
    assert born == {people[0]["person_id"]: 2015, people[1]["person_id"]: 1980}
    assert tally(db, "people") == 2


def test_moves_and_removals_are_batched(batched, publish, engines, wait_for):
    db = engines["reporting"]
    people = [facts() for _ in range(4)]
    for person in people:
        publish("registry", event("person_registered", person).to_message())
    wait_for(lambda: tally(db, "people", "AG.LX") == 4, message="the registrations")
    for person in people:
        publish("registry", event("person_moved", facts(person["person_id"],
                                                        path=["AG", "AG.MB"]) | {
            "from_unit_path": PATH}).to_message())
    wait_for(lambda: tally(db, "people", "AG.MB") == 4, message="the moves")
    for person in people:
        publish("registry", event("person_removed", facts(person["person_id"],
                                                          path=["AG", "AG.MB"]) | {
            "reason": "test"}).to_message())
    wait_for(lambda: tally(db, "people") == 0, message="the removals")
    assert tally(db, "people", "AG.LX") == 0
    assert transactions(db, "reporting.on_person_moved") < 4
    assert transactions(db, "reporting.on_person_removed") < 4


def test_a_poison_registration_is_dead_lettered_alone(batched, publish, engines, wait_for):
    db = engines["reporting"]
    poison = facts()
    with db.begin() as conn:  # PostgreSQL refuses this one person, every time
        conn.execute(text(f"""
            CREATE OR REPLACE FUNCTION refuse_person() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
            CREATE TRIGGER refuse_person BEFORE INSERT ON people FOR EACH ROW
            WHEN (NEW.person_id = '{poison["person_id"]}') EXECUTE FUNCTION refuse_person();"""))
    bad = event("person_registered", poison)
    for envelope in (event("person_registered", facts()), bad,
                     event("person_registered", facts()), event("person_registered", facts())):
        publish("registry", envelope.to_message())
    letters = wait_for(lambda: deadletters.list_dead_letters(batched, QUEUE), timeout=30,
                       message="the poison event in the dead-letter queue")
    assert [letter["event_id"] for letter in letters] == [str(bad.event_id)]
    assert "refused by the test" in letters[0]["error"]
    assert tally(db, "people") == 3
    # the consumer goes on, in batches
    with db.begin() as conn:
        conn.execute(text("DELETE FROM inbox"))
    for _ in range(4):
        publish("registry", event("person_registered", facts()).to_message())
    wait_for(lambda: tally(db, "people") == 7, message="the next batch")
    assert transactions(db, "reporting.on_person_registered") < 4
