"""The portal's store on real PostgreSQL: sessions live until they end and are then purged
with the forms sent in them; a form id is claimed once, even by two requests at once."""
import threading
import time
import uuid

import pytest
from sqlalchemy.orm import sessionmaker

from cdht import db
from cdht.db import make_engine
from services.portal.store import PortalStore
from tests.conftest import PG_URL


@pytest.fixture(scope="module")
def engine():
    url = f"{PG_URL}/cdht_test_portal_store_{uuid.uuid4().hex[:8]}"
    db.upgrade("portal", url=url)
    made = make_engine(url)
    yield made
    made.dispose()
    db.drop_database(url)


@pytest.fixture
def store_in(engine):
    sessions = sessionmaker(engine)

    def run(work):
        with sessions() as session, session.begin():
            return work(PortalStore(session))
    return run


def test_a_session_lives_until_it_ends_then_is_purged_with_its_forms(store_in):
    live, ending = uuid.uuid4().hex, uuid.uuid4().hex
    store_in(lambda s: s.save(live, {"user": {"role": "citizen"}}, 3600))
    store_in(lambda s: s.save(ending, {"user": {"role": "reviewer"}}, 1))
    store_in(lambda s: s.claim_form("form-of-the-ending-session", ending))
    assert store_in(lambda s: s.load(ending)) == {"user": {"role": "reviewer"}}
    time.sleep(1.2)
    assert store_in(lambda s: s.load(ending)) is None  # ended: not found, before any purge
    assert store_in(lambda s: s.drop_expired()) >= 1
    assert store_in(lambda s: s.load(live)) == {"user": {"role": "citizen"}}
    assert store_in(lambda s: s.form_result("form-of-the-ending-session")) == (False, None)


def test_a_form_is_claimed_once_released_on_refusal_and_remembers_its_result(store_in):
    session = uuid.uuid4().hex
    store_in(lambda s: s.save(session, {}, 3600))
    form = uuid.uuid4().hex
    assert store_in(lambda s: s.claim_form(form, session)) is True
    assert store_in(lambda s: s.claim_form(form, session)) is False   # the second click
    store_in(lambda s: s.release_form(form))                           # a refusal
    assert store_in(lambda s: s.claim_form(form, session)) is True     # sent again
    store_in(lambda s: s.finish_form(form, "/assessments/42"))
    assert store_in(lambda s: s.form_result(form)) == (True, "/assessments/42")


def test_two_requests_at_the_same_moment_cannot_both_claim_a_form(store_in):
    session = uuid.uuid4().hex
    store_in(lambda s: s.save(session, {}, 3600))
    form, won, start = uuid.uuid4().hex, [], threading.Barrier(8)

    def click():
        start.wait()
        won.append(store_in(lambda s: s.claim_form(form, session)))
    clicks = [threading.Thread(target=click) for _ in range(8)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]
