"""Reporting takes a closing's recognitions_granted (hundreds of recognitions an event,
cdht.batching's bulk handler) on real RabbitMQ and PostgreSQL: the figures are those the same
recognitions sent one recognition_granted each give, an event delivered twice or a
recognition already applied counts once, the bulk queue is read a few messages at a time,
and a poison event is dead-lettered alone while the rest of its batch is applied.

A wait of 1 s (BATCH_WAIT_MS) makes the messages each step publishes together one batch (two
messages at most for the bulk handler: BULK_BATCH_SIZE is 2 here, 8 by default)."""
import uuid

import pytest
import requests
from requests.utils import get_auth_from_url, urldefragauth
from sqlalchemy import text

from cdht.contracts import make_envelope
from cdht_tools import deadletters
from services.reporting.service import ReportingService
from tests.integration.reporting.conftest import (
    LX, MB, Feed, every_adult_rules, outbox, scalar,
)
from tests.support import empty_databases, free_port

CONSUMER = "reporting.on_recognitions_granted"
QUEUE = f"evt-assessment-recognitions_granted--{CONSUMER}"
SINGLE = "reporting.on_recognition_granted"
SINGLE_QUEUE = f"evt-assessment-recognition_granted--{SINGLE}"


@pytest.fixture
def targets_change():
    """Digital skills by the title's level alone: the comparison covers those figures too."""
    return every_adult_rules


@pytest.fixture
def start(container_factory, reporting_config):
    """``start(**overrides)``: reporting running with batches gathered for 1 s, on a port of
    its own (a test may start a second one after stopping the first)."""
    def run(**overrides):
        config = reporting_config | {"BATCH_WAIT_MS": 1000, "BULK_BATCH_SIZE": 2,
                                     "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
        config.update(overrides)
        container = container_factory(ReportingService, config)
        container.start()
        return container, config
    return run


@pytest.fixture
def feed(publish, engines, wait_for):
    return Feed(publish, engines["reporting"], wait_for)


def recognition(person, year=2025, skills="basic"):
    """A recognition_granted's data, the item of a recognitions_granted."""
    return {"recognition_id": str(uuid.uuid4()),
            "assessment_id": str(uuid.uuid4()), "person_id": person["person_id"],
            "unit_code": person["unit_code"], "unit_path": person["unit_path"],
            "target_group": "resident", "year": year, "criteria_version": "324/QĐ-KHVN",
            "total_score": 85, "digital_skills": skills}


def single(item):
    return make_envelope("recognition_granted", item, producer="assessment")


def bulk(items, correlation_id=None):
    return make_envelope("recognitions_granted",
                         {"closing_id": str(uuid.uuid4()), "recognitions": items},
                         producer="assessment", correlation_id=correlation_id)


def applied(engine, consumer=CONSUMER):
    return scalar(engine, "SELECT count(*) FROM inbox WHERE consumer = :c", c=consumer)


def wait_applied(wait_for, engine, n, consumer=CONSUMER):
    wait_for(lambda: applied(engine, consumer) == n, timeout=20,
             message=f"{n} events applied by {consumer}")


def titled(engine, year=2025):
    return scalar(engine, "SELECT coalesce(sum(n), 0) FROM tallies WHERE unit_code = 'AG' "
                          "AND metric = 'titled' AND key = :y", y=year)


def register(feed, wait_for, people):
    """Register ``people`` ((path, born, roles)) and wait until all are applied."""
    registered = [feed.person(path, born, roles, wait=False) for path, born, roles in people]
    wait_applied(wait_for, feed.engine, len(people), "reporting.on_person_registered")
    return registered


def rows(engine, sql):
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(sql)))


def figures(engine, api):
    """Everything a grant moves (timestamps left out) and what GET progress reads of it."""
    found = {
        "tallies": rows(engine, "SELECT unit_code, metric, key, n FROM tallies"),
        "tally_days": rows(engine, "SELECT unit_code, metric, key, day, n FROM tally_days"),
        "people": rows(engine, "SELECT person_id, unit_code, registered, birth_year "
                               "FROM people"),
        "facts": rows(engine, "SELECT recognition_id, person_id, year, unit_path, "
                              "digital_skills, revoked_at FROM recognition_facts"),
        # the share is stored when the status changes, so it depends on how events were
        # grouped into transactions; the status does not
        "targets": rows(engine, "SELECT unit_code, year, indicator, status "
                                "FROM target_status"),
    }
    for unit in ("AG", "AG.LX", "AG.MB"):
        for year in (2024, 2025):
            response = api.get(f"/units/{unit}/progress", params={"year": year})
            assert response.status_code == 200, response.text
            found[f"progress {unit} {year}"] = response.json()
    return found


def test_recognitions_in_bulk_give_the_figures_of_single_grants(
        start, feed, publish, engines, databases, web_session, wait_for):
    """The same people and recognitions, applied once as single recognition_granted and once
    (on an emptied database) as three recognitions_granted: every counter, day, fact, target
    and progress figure must come out the same."""
    db = engines["reporting"]
    people = [(LX, 1985, ()), (LX, 1990, ()), (MB, 2010, ()), (MB, 1970, ("unit_staff",)),
              (LX, 1980, ())]
    stranger = {"person_id": str(uuid.uuid4()), "unit_code": "AG.MB", "unit_path": MB}

    def grants(registered):
        a, b, child, staff, _ = registered  # the last one is never titled
        return [[recognition(a), recognition(b, skills="proficient"),
                 recognition(b, 2024, "none")],
                [recognition(child), recognition(staff, skills="proficient")],
                [recognition(stranger)]]  # never registered: placed by the recognition

    container, config = start()
    registered = register(feed, wait_for, people)
    events = grants(registered)
    items = [item for event in events for item in event]
    for item in items:
        publish("assessment", single(item).to_message())
    wait_applied(wait_for, db, len(items), SINGLE)
    one_by_one = figures(db, web_session(config))
    assert titled(db) == 5 and titled(db, 2024) == 1  # the figures compared are not empty

    container.stop()
    empty_databases({"reporting": databases["reporting"]})
    _, config = start()
    # the same people again (same ids), then the same recognitions in three bulk events
    for person in registered:
        feed.send("person_registered", person, wait=False)
    wait_applied(wait_for, db, len(people), "reporting.on_person_registered")
    for event in events:
        publish("assessment", bulk(event, correlation_id="closing-2025").to_message())
    wait_applied(wait_for, db, len(events))
    assert figures(db, web_session(config)) == one_by_one
    assert applied(db, SINGLE) == 0
    # two messages a transaction (BULK_BATCH_SIZE): three events in two
    assert scalar(db, "SELECT count(DISTINCT processed_at) FROM inbox WHERE consumer = :c",
                  c=CONSUMER) == 2
    # each unit's statistics_updated names a bulk event as its cause, with its correlation id
    stats = outbox(db, "statistics_updated")
    event_ids = {str(e) for e in scalar(db, "SELECT array_agg(event_id) FROM inbox "
                                            "WHERE consumer = :c", c=CONSUMER)}
    assert stats and all(s["data"]["cause_event_id"] in event_ids for s in stats)
    assert {s["correlation_id"] for s in stats} == {"closing-2025"}


def test_a_bulk_event_delivered_twice_counts_once(start, feed, publish, engines, wait_for):
    """A redelivery in the same batch and in a later one: its recognitions count once."""
    db = engines["reporting"]
    start()
    people = register(feed, wait_for, [(LX, 1985, ()), (LX, 1990, ()), (MB, 1975, ())])
    first = bulk([recognition(people[0]), recognition(people[1])])
    for _ in range(2):
        publish("assessment", first.to_message())
    wait_applied(wait_for, db, 1)
    publish("assessment", first.to_message())
    later = bulk([recognition(people[2])])
    publish("assessment", later.to_message())  # behind the third copy: applied after it
    wait_applied(wait_for, db, 2)
    assert rows(db, f"SELECT event_id::text FROM inbox WHERE consumer = '{CONSUMER}'") == \
        sorted([(str(first.event_id),), (str(later.event_id),)])
    assert titled(db) == 3
    assert scalar(db, "SELECT count(*) FROM recognition_facts") == 3
    # GET /lag counts messages, as the queue's depth beside it does
    assert scalar(db, "SELECT applied FROM consumer_lag WHERE consumer = :c", c=CONSUMER) == 2


def test_a_recognition_applied_alone_and_in_bulk_counts_once(start, feed, publish, engines,
                                                            wait_for):
    """A recognition_granted before the bulk event holding the same recognition, and a bulk
    event before a recognition_granted repeating one of its recognitions."""
    db = engines["reporting"]
    start()
    people = register(feed, wait_for, [(LX, 1985, ()), (LX, 1990, ()), (MB, 1975, ())])
    alone = recognition(people[0])
    publish("assessment", single(alone).to_message())
    wait_applied(wait_for, db, 1, SINGLE)
    assert titled(db) == 1
    in_bulk = [alone, recognition(people[1]), recognition(people[2], skills="proficient")]
    publish("assessment", bulk(in_bulk).to_message())
    wait_applied(wait_for, db, 1)
    assert titled(db) == 3
    publish("assessment", single(in_bulk[2]).to_message())  # a new event, a known recognition
    wait_applied(wait_for, db, 2, SINGLE)
    assert titled(db) == 3
    assert scalar(db, "SELECT count(*) FROM recognition_facts") == 3
    assert scalar(db, "SELECT coalesce(sum(n), 0) FROM tallies WHERE unit_code = 'AG' "
                      "AND metric = 'titled_proficient' AND key = 2025") == 1


def consumers(pytestconfig, vhost):
    """The consumers of ``vhost`` as the management API lists them."""
    uri = pytestconfig.getoption("RABBIT_API_URI")
    response = requests.get(f"{urldefragauth(uri)}/api/consumers/{vhost}",
                            auth=get_auth_from_url(uri), timeout=10)
    response.raise_for_status()
    return {c["queue"]["name"]: c for c in response.json()}


GROUPS_QUEUE = ("evt-assessment-group_recognitions_granted--"
                "reporting.on_group_recognitions_granted")
IMPORT_QUEUES = {f"evt-registry-{kind}--reporting.on_{kind}"
                 for kind in ("people_imported", "groups_imported", "group_titles_recorded")}


def test_the_bulk_queue_is_read_a_few_messages_at_a_time(reporting, reporting_config,
                                                         rabbit_config, pytestconfig, wait_for):
    """A backlog of 500-item messages must not be read into memory thousands at a time: the
    bulk consumer's prefetch is BULK_PREFETCH (16), on a connection of its own, while
    recognition_granted's batched consumer keeps its wide prefetch (2 x BATCH_SIZE). An
    import's events (5,000 changes each) are read LARGE_EVENT_PREFETCH (2) at a time."""
    def listed():  # a channel's details come a moment after its consumer (first: [])
        found = consumers(pytestconfig, rabbit_config["vhost"])
        return found if all(isinstance(c["channel_details"], dict) for c in found.values()) \
            and {QUEUE, SINGLE_QUEUE, GROUPS_QUEUE, *IMPORT_QUEUES} <= set(found) else None
    found = wait_for(listed, timeout=15, message="the consumers in the management API")

    def sharing(queue):
        connection = found[queue]["channel_details"]["connection_name"]
        return {q for q, c in found.items()
                if c["channel_details"]["connection_name"] == connection}
    assert found[QUEUE]["prefetch_count"] == int(reporting_config["BULK_PREFETCH"]) == 16
    assert found[GROUPS_QUEUE]["prefetch_count"] == 16
    assert found[SINGLE_QUEUE]["prefetch_count"] == 2 * 1000
    assert {found[q]["prefetch_count"] for q in IMPORT_QUEUES} == {
        int(reporting_config["LARGE_EVENT_PREFETCH"])} == {2}
    assert sharing(QUEUE) == {QUEUE, GROUPS_QUEUE}
    assert sharing(next(iter(IMPORT_QUEUES))) == IMPORT_QUEUES


@pytest.fixture
def refuse(engines):
    """``refuse(recognition_id)``: PostgreSQL refuses that recognition's fact, every time.
    The trigger is dropped afterwards: the database is only emptied between tests."""
    db = engines["reporting"]

    def install(recognition_id):
        with db.begin() as conn:
            conn.execute(text(f"""
                CREATE OR REPLACE FUNCTION refuse_bulk_item() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
                CREATE TRIGGER refuse_bulk_item BEFORE INSERT ON recognition_facts
                FOR EACH ROW WHEN (NEW.recognition_id = '{recognition_id}')
                EXECUTE FUNCTION refuse_bulk_item();"""))
    yield install
    with db.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS refuse_bulk_item ON recognition_facts; "
                          "DROP FUNCTION IF EXISTS refuse_bulk_item();"))


def test_a_poison_event_is_dead_lettered_alone(start, feed, publish, engines, refuse,
                                               wait_for):
    """Two bulk events in one batch, one holding a recognition PostgreSQL refuses: that event
    (all of it: an event is applied whole) is dead-lettered, the other applied."""
    db = engines["reporting"]
    _, config = start()
    people = register(feed, wait_for, [(LX, 1985, ()), (LX, 1990, ()), (MB, 1975, ()),
                                       (MB, 1980, ())])
    poisoned = recognition(people[3])
    refuse(poisoned["recognition_id"])
    good = bulk([recognition(people[0]), recognition(people[1])])
    poison = bulk([recognition(people[2]), poisoned])
    for envelope in (poison, good):
        publish("assessment", envelope.to_message())
    letters = wait_for(lambda: deadletters.list_dead_letters(config, QUEUE), timeout=30,
                       message="the poison event in the dead-letter queue")
    assert [letter["event_id"] for letter in letters] == [str(poison.event_id)]
    assert "refused by the test" in letters[0]["error"]
    wait_applied(wait_for, db, 1)
    assert scalar(db, "SELECT event_id::text FROM inbox WHERE consumer = :c",
                  c=CONSUMER) == str(good.event_id)
    assert titled(db) == 2
    assert sorted(r[0] for r in rows(db, "SELECT person_id::text FROM recognition_facts")) \
        == sorted([people[0]["person_id"], people[1]["person_id"]])


def test_a_title_does_not_write_its_persons_row_again(start, feed, publish, engines, wait_for):
    """A grant changes a registered person's counters, not their row in ``people``: the row
    keeps its version (xmin), while a person first met in the grant gets a row of its own."""
    db = engines["reporting"]
    start()
    [known] = register(feed, wait_for, [(LX, 1985, ())])
    version = scalar(db, "SELECT xmin::text FROM people WHERE person_id = :p",
                     p=known["person_id"])
    unknown = {"person_id": str(uuid.uuid4()), "unit_code": MB[-1], "unit_path": MB}
    publish("assessment", bulk([recognition(known), recognition(unknown)]).to_message())
    wait_applied(wait_for, db, 1)
    assert titled(db) == 2
    assert scalar(db, "SELECT xmin::text FROM people WHERE person_id = :p",
                  p=known["person_id"]) == version
    assert scalar(db, "SELECT (unit_code, registered)::text FROM people WHERE person_id = :p",
                  p=unknown["person_id"]) == f"({MB[-1]},f)"
