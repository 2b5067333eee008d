"""Reporting's population counters from the registry's people events, on real RabbitMQ and
PostgreSQL: batch imports, moves, updates and removals, each applied once."""
import uuid

import eventlet
import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from services.reporting.service import ReportingService

LX = ["AG", "AG.LX"]
MB = ["AG", "AG.MB"]


@pytest.fixture
def reporting(container_factory, service_config):
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    return config


def facts(path=LX, year=1985, **extra):
    return {"person_id": str(uuid.uuid4()), "unit_code": path[-1], "unit_path": path,
            "target_group": "resident", "roles": [], "birth_year": year, **extra}


def imported(people, batch=1):
    return make_envelope("people_imported", {"import_id": uuid.uuid4(), "batch": batch,
                                             "people": people}, producer="registry")


def population(engine):
    with engine.connect() as conn:
        return {(u, y): n for u, y, n in conn.execute(text(
            "SELECT unit_code, key, n FROM tallies WHERE metric = 'people' AND n <> 0"))}


def inbox(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM inbox"))


def test_a_batch_import_counts_each_change(reporting, publish, engines, wait_for):
    mover, updated = facts(), facts()
    first = [facts(change="registered") for _ in range(3)] + \
        [facts(MB, 2010, change="registered")] + \
        [mover | {"change": "registered"}, updated | {"change": "registered"}]
    second = [mover | {"unit_code": "AG.MB", "unit_path": MB, "change": "moved",
                       "from_unit_path": LX,
                       "previous": {"target_group": "resident", "roles": [],
                                    "birth_year": 1985}},
              updated | {"change": "updated", "target_group": "worker",
                         "previous": {"target_group": "resident", "roles": [],
                                      "birth_year": 1985}}]
    publish("registry", imported(first).to_message())
    wait_for(lambda: inbox(engines["reporting"]) == 1, message="the first batch")
    event = imported(second, batch=2).to_message()
    publish("registry", event)
    publish("registry", event)  # a duplicate: applied once
    wait_for(lambda: inbox(engines["reporting"]) == 2, message="the second batch")
    eventlet.sleep(0.3)
    assert population(engines["reporting"]) == {
        ("AG", 1985): 5, ("AG", 2010): 1,             # a move nets to zero at AG
        ("AG.LX", 1985): 4,                           # 5 registered, 1 moved away
        ("AG.MB", 1985): 1, ("AG.MB", 2010): 1}
    with engines["reporting"].connect() as conn:
        paths = dict(conn.execute(text("SELECT unit_code, path FROM unit_paths")).all())
        people = conn.execute(text("SELECT count(*), count(*) FILTER (WHERE registered) "
                                   "FROM people")).one()
    assert paths == {"AG": ["AG"], "AG.LX": LX, "AG.MB": MB}
    assert tuple(people) == (6, 6)


def test_moves_updates_and_removals_one_by_one(reporting, publish, engines, wait_for):
    person = facts()
    publish("registry", make_envelope("person_registered", {
        k: v for k, v in person.items()}, producer="registry").to_message())
    wait_for(lambda: population(engines["reporting"]).get(("AG.LX", 1985)) == 1,
             message="the registration")

    publish("registry", make_envelope("person_moved", person | {
        "unit_code": "AG.MB", "unit_path": MB, "from_unit_path": LX},
        producer="registry").to_message())
    wait_for(lambda: population(engines["reporting"]).get(("AG.MB", 1985)) == 1,
             message="the move")
    assert population(engines["reporting"]) == {("AG", 1985): 1, ("AG.MB", 1985): 1}

    publish("registry", make_envelope("person_updated", person | {
        "unit_code": "AG.MB", "unit_path": MB, "birth_year": 1986, "changed": ["birth_date"],
        "previous": {"target_group": "resident", "roles": [], "birth_year": 1985}},
        producer="registry").to_message())
    wait_for(lambda: population(engines["reporting"]).get(("AG.MB", 1986)) == 1,
             message="the birth year correction")
    assert population(engines["reporting"]) == {("AG", 1986): 1, ("AG.MB", 1986): 1}

    removed = make_envelope("person_removed", person | {
        "unit_code": "AG.MB", "unit_path": MB, "birth_year": 1986, "reason": "duplicate"},
        producer="registry").to_message()
    publish("registry", removed)
    publish("registry", removed)
    wait_for(lambda: population(engines["reporting"]) == {}, message="the removal")
    eventlet.sleep(0.3)
    assert population(engines["reporting"]) == {}
    assert inbox(engines["reporting"]) == 4


def test_progress_reads_the_imported_population(reporting, publish, engines, wait_for,
                                                web_session):
    people = [facts(year=1990, change="registered") for _ in range(5000)]
    publish("registry", imported(people).to_message())
    publish("registry", imported([facts(year=2015, change="registered")
                                  for _ in range(10)], batch=2).to_message())
    wait_for(lambda: (counted := population(engines["reporting"])).get(("AG", 2015)) == 10
             and counted.get(("AG", 1990)) == 5000, timeout=60, message="both batches")
    progress = web_session(reporting).get("/units/AG.LX/progress",
                                          params={"year": 2025}).json()
    assert progress["people"] == 5010 and progress["adults"] == 5000
