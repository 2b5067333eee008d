"""The delivery store against PostgreSQL, where row locks decide who sends what: deliveries a
worker gives back to the retry timer (a closing's event that stopped short)."""
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from services.notifications.extensions import RULES
from services.notifications.store import DeliveryStore, now

RULE = RULES.for_event("recognition_granted")


def opened(engine, count):
    """``count`` pending deliveries leased for five minutes, as an event's worker opens them."""
    source = uuid.uuid4()
    with Session(engine) as session, session.begin():
        store = DeliveryStore(session)
        return [store.open(source, uuid.uuid4(), RULE, "email", {"year": 2025}, "corr",
                           timedelta(minutes=5)) for _ in range(count)]


def due(engine):
    with Session(engine) as session, session.begin():
        return set(DeliveryStore(session).claim_due(now(), timedelta(minutes=5), 50))


def test_given_back_deliveries_are_due_at_once_but_not_one_being_sent_or_sent(engine):
    sending, sent, given_back = opened(engine, 3)
    with Session(engine) as session, session.begin():
        DeliveryStore(session).delivery(sent).status = "sent"
    assert due(engine) == set()  # leased: the retry timer leaves them to the worker

    with Session(engine) as other_worker, other_worker.begin():
        assert DeliveryStore(other_worker).lock(sending) is not None  # sending it right now
        with Session(engine) as session, session.begin():  # does not wait for that lock
            DeliveryStore(session).release([sending, sent, given_back], now())

    assert due(engine) == {given_back}
    with Session(engine) as session:
        store = DeliveryStore(session)
        for untouched in (sending, sent):
            assert store.delivery(untouched).next_attempt_at > now() + timedelta(minutes=4)


def test_an_events_deliveries_open_in_one_statement_and_a_sent_one_is_not_opened_again(
        engine):
    source, people = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    with Session(engine) as session, session.begin():
        store = DeliveryStore(session)
        sent = store.open(source, people[0], RULE, "email", {"n": 0}, "corr", timedelta(0))
        store.delivery(sent).status = "sent"

    with Session(engine) as session, session.begin():
        opened = DeliveryStore(session).open_many(
            source, [(p, {"n": n}) for n, p in enumerate(people)], RULE, "email", "corr",
            timedelta(minutes=5))

    assert set(opened) == {str(p) for p in people[1:]}
    with Session(engine) as session:
        store = DeliveryStore(session)
        for n, person in enumerate(people[1:], start=1):
            row = store.delivery(opened[str(person)])
            assert (row.status, row.context, row.person_id) == ("pending", {"n": n}, person)
        assert store.delivery(sent).context == {"n": 0}


def test_the_timer_claims_one_channel_at_a_time(engine):
    """Each channel has its own rate limit: what one may send now is claimed of it alone."""
    [email] = opened(engine, 1)
    with Session(engine) as session, session.begin():
        store = DeliveryStore(session)
        sms = store.open(uuid.uuid4(), uuid.uuid4(), RULE, "sms", {}, "corr", timedelta(0))
        store.release([email], now())
    with Session(engine) as session, session.begin():
        store = DeliveryStore(session)
        assert store.claim_due(now(), timedelta(minutes=5), 50, "sms") == [sms]
        assert store.claim_due(now(), timedelta(minutes=5), 50, "sms") == []
        assert store.claim_due(now(), timedelta(minutes=5), 50, "email") == [email]
