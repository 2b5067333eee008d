"""cdht.outbox.add_wire_events on the real PostgreSQL: bulk work (closing a year) stages its
events in one statement, and every one of them is still checked against its contract: one
broken event refuses the whole call and nothing is staged."""
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from cdht.contracts import ContractError, parse_envelope
from cdht.outbox import add_wire_events, backlog

PATH = ["AG", "AG.LX"]


def granted(**changes):
    """recognition_granted data as JSON gives it back (ids as text)."""
    return {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
            "person_id": str(uuid.uuid4()), "unit_code": PATH[-1], "unit_path": PATH,
            "target_group": "resident", "year": 2025, "criteria_version": "324/QĐ-KHVN",
            "total_score": 85, "digital_skills": "basic", **changes}


def payloads(engine):
    with engine.connect() as conn:
        return [row.payload for row in conn.execute(text(
            "SELECT payload FROM outbox ORDER BY id"))]


def test_every_event_is_staged_as_a_consumer_will_read_it(engines):
    engine = engines["assessment"]
    datas = [granted(), granted(digital_skills="proficient"), granted(total_score=100)]
    with Session(engine) as session, session.begin():
        assert add_wire_events(session, "recognition_granted", datas,
                               producer="assessment", correlation_id="closing-1") == 3
        assert session.info["outbox_rows"] == 3  # the relay is woken after the commit
    staged = payloads(engine)
    assert [p["data"] for p in staged] == datas
    for payload in staged:
        envelope = parse_envelope(payload)
        assert envelope.correlation_id == "closing-1"
        assert envelope.producer == "assessment"
    assert len({p["event_id"] for p in staged}) == 3


@pytest.mark.parametrize("broken", [
    {"total_score": "85"},                 # a loosely typed value
    {"digital_skills": "expert"},          # a value the contract does not know
    {"unit_path": None},                   # a required value missing
    {"surprise": 1},                       # an unknown field
], ids=["typed", "choice", "required", "unknown"])
def test_one_broken_event_anywhere_in_the_batch_stages_nothing(engines, broken):
    engine = engines["assessment"]
    datas = [granted(), granted(), granted(**broken), granted()]
    with Session(engine) as session, session.begin():
        with pytest.raises(ContractError):
            add_wire_events(session, "recognition_granted", datas, producer="assessment")
    with engine.connect() as conn:
        assert backlog(conn) == 0


def test_a_value_json_has_no_form_for_is_refused(engines):
    """``wire`` data must already be what JSON gives back: a value JSON has no form for
    (here a Decimal, which the contract's integer would take) fails loudly and nothing is
    staged. A UUID object left in it is written as its canonical text, the form JSON gives
    back for it."""
    engine = engines["assessment"]
    with Session(engine) as session, session.begin():
        with pytest.raises((ContractError, TypeError)):
            add_wire_events(session, "recognition_granted",
                            [granted(), granted(total_score=Decimal("85"))],
                            producer="assessment")
    with engine.connect() as conn:
        assert backlog(conn) == 0
    person = uuid.uuid4()
    with Session(engine) as session, session.begin():
        add_wire_events(session, "recognition_granted", [granted(person_id=person)],
                        producer="assessment")
    [staged] = payloads(engine)
    assert parse_envelope(staged).data["person_id"] == person
    assert staged["data"]["person_id"] == str(person)
