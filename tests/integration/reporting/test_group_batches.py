"""Reporting takes assessment's computed group titles (group_recognition_granted) in batches
(cdht.batching), on real RabbitMQ and PostgreSQL: a batch is one transaction, a duplicate is
applied once, a group granted two years in one batch holds both, and its members count as
adults in a recognised family for each; a poison title is dead-lettered alone. A closing's
titles in bulk (group_recognitions_granted) count as the same titles sent one by one.

BATCH_SIZE=4 with a wait of 2 s makes the four messages each test publishes together one
batch, or two on a busy machine: the tests ask for fewer transactions than events, which one
event at a time never gives."""
import uuid

import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from cdht_tools import deadletters
from services.reporting.service import ReportingService
from tests.integration.reporting.conftest import LX, Feed, scalar

CONSUMER = "reporting.on_group_recognition_granted"
QUEUE = f"evt-assessment-group_recognition_granted--{CONSUMER}"


def title(group_id, year=2025, kind="family"):
    return make_envelope("group_recognition_granted", {
        "group_recognition_id": str(uuid.uuid4()), "group_id": group_id, "group_kind": kind,
        "year": year, "criteria_version": "448/QĐ-KHVN", "level": None, "members": 1,
        "members_titled": 1, "unit_code": LX[-1], "unit_path": LX}, producer="assessment")


def in_bulk(titles):
    """A closing's group_recognitions_granted carrying the data of ``titles``."""
    return make_envelope("group_recognitions_granted", {
        "closing_id": str(uuid.uuid4()), "titles": [t.to_message()["data"] for t in titles]},
        producer="assessment")


def counter(engine, metric, year):
    return scalar(engine, "SELECT coalesce(sum(n), 0) FROM tallies WHERE unit_code = 'AG' "
                          "AND metric = :m AND key = :y", m=metric, y=year)


def applied(engine):
    return scalar(engine, "SELECT count(*) FROM inbox WHERE consumer = :c", c=CONSUMER)


@pytest.fixture
def families(container_factory, service_config, publish, engines, wait_for):
    """Reporting batching by 4 (its config), and three families of one adult each."""
    config = service_config("reporting", BATCH_SIZE=4, BATCH_WAIT_MS=2000)
    container_factory(ReportingService, config).start()
    feed = Feed(publish, engines["reporting"], wait_for)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for family in ids:
        feed.join(feed.person(), family)
    return config, ids


def test_titles_are_applied_in_one_transaction_with_their_members(families, publish, engines,
                                                                  wait_for):
    db, (_, families) = engines["reporting"], families
    first, second, later = title(families[0]), title(families[1]), title(families[0], 2026)
    for envelope in (first, second, first, later):
        publish("assessment", envelope.to_message())
    wait_for(lambda: applied(db) == 3, message="the batch")
    assert scalar(db, "SELECT count(DISTINCT processed_at) FROM inbox WHERE consumer = :c",
                  c=CONSUMER) < 3
    assert (counter(db, "recognised:family", 2025), counter(db, "recognised:family", 2026)) \
        == (2, 1)
    assert (counter(db, "in_recognised", 2025), counter(db, "in_recognised", 2026)) == (2, 1)
    assert counter(db, "groups:family", 0) == 3
    assert scalar(db, "SELECT count(*) FROM group_titles") == 3
    assert scalar(db, "SELECT applied FROM consumer_lag WHERE consumer = :c",
                  c=CONSUMER) == 3


def test_a_poison_title_is_dead_lettered_alone(families, publish, engines, wait_for):
    db, (config, families) = engines["reporting"], families
    good = [title(family) for family in families]
    poison = title(families[0], 2026)
    with db.begin() as conn:  # PostgreSQL refuses this one title, every time
        conn.execute(text(f"""
            CREATE OR REPLACE FUNCTION refuse_title() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
            CREATE TRIGGER refuse_title BEFORE INSERT ON group_titles FOR EACH ROW
            WHEN (NEW.group_recognition_id = '{poison.data["group_recognition_id"]}')
            EXECUTE FUNCTION refuse_title();"""))
    for envelope in (good[0], poison, good[1], good[2]):
        publish("assessment", envelope.to_message())
    letters = wait_for(lambda: deadletters.list_dead_letters(config, QUEUE), timeout=30,
                       message="the poison title in the dead-letter queue")
    assert [letter["event_id"] for letter in letters] == [str(poison.event_id)]
    assert "refused by the test" in letters[0]["error"]
    wait_for(lambda: applied(db) == 3, message="the good titles")
    assert (counter(db, "recognised:family", 2025), counter(db, "recognised:family", 2026)) \
        == (3, 0)
    assert counter(db, "in_recognised", 2025) == 3


def test_a_closings_titles_in_bulk_count_as_the_same_titles_sent_alone(
        families, publish, engines, wait_for):
    db, (_, families) = engines["reporting"], families
    first = in_bulk([title(families[0]), title(families[1]), title(families[0], 2026)])
    second = in_bulk([title(families[2])])
    for envelope in (first, second, first):  # the first delivered twice
        publish("assessment", envelope.to_message())
    bulk = "reporting.on_group_recognitions_granted"
    wait_for(lambda: scalar(db, "SELECT count(*) FROM inbox WHERE consumer = :c",
                            c=bulk) == 2, message="the two bulk events")
    wait_for(lambda: counter(db, "recognised:family", 2025) == 3, message="the titles")
    assert counter(db, "recognised:family", 2026) == 1
    assert (counter(db, "in_recognised", 2025), counter(db, "in_recognised", 2026)) == (3, 1)
    assert scalar(db, "SELECT count(*) FROM group_titles") == 4
    assert scalar(db, "SELECT applied FROM consumer_lag WHERE consumer = :c", c=bulk) == 2
