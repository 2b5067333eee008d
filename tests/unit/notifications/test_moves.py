"""Notifications' rule for where a delivery is placed after the registry moved a person or a
unit (services/notifications/moves.py), and its handlers of those events on fakes: what they
ask to move, once per event. The SQL: tests/integration/notifications/test_moves.py."""
import uuid
from contextlib import contextmanager
from datetime import date

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cdht.auth import Caller
from cdht.contracts import make_envelope
from cdht.web import Forbidden
from services.notifications import events, moves, places
from tests.unit.notifications.fakes import FakeDb
from tests.unit.notifications.test_handlers import contact, granted, start

LX, MB, LM = ["AG", "AG.LX"], ["AG", "AG.MB"], ["AG", "AG.LM"]
FACTS = {"target_group": "resident", "roles": [], "birth_year": 1985}


@pytest.mark.parametrize("context, place", [
    ({"unit_path": LX}, LX),
    ({"unit_path": LX, "scope_path": MB}, MB),  # its subject moved since
    ({"province": "AG"}, ["AG"]),
    ({"province": "KG", "scope_path": ["AG"]}, ["AG"]),  # the provinces merged
    ({"day": "2025-07-01", "items": []}, ()),  # a digest names no place
    (None, ()),
])
def test_a_delivery_is_placed_where_its_subject_is_now(context, place):
    assert moves.place_of(context) == place


@pytest.mark.parametrize("path, places, moved", [
    (LX, {"AG.LX": LM, "AG.MB": LM}, LM),                          # merged away
    (["AG", "AG.LX", "AG.LX.K1"], {"AG.LX": LM}, ["AG", "AG.LM", "AG.LX.K1"]),  # below it
    (["AG", "AG.LX"], {"AG.LX": ["CT", "AG.LX"]}, ["CT", "AG.LX"]),  # another parent
    (LX, {"AG.LX": LX}, None),                                       # renamed: no move
    (MB, {"AG.LX": LM}, None),                                       # elsewhere
])
def test_a_path_follows_the_unit_it_passes_through(path, places, moved):
    assert moves.rehomed(path, places) == moved


class Recorder:
    """moves.py's writes and the inbox, for handlers run without PostgreSQL."""

    def __init__(self, monkeypatch):
        self.calls, self.seen, self.paths = [], set(), {}
        monkeypatch.setattr(moves, "move_people",
                            lambda session, people: self.calls.append(
                                ("people", [str(p["person_id"]) for p in people])))
        monkeypatch.setattr(moves, "move_units",
                            lambda session, units: self.calls.append(("units", dict(units))))
        monkeypatch.setattr(events, "first_delivery", self.first)
        monkeypatch.setattr(places, "path_of", lambda session, code: self.paths.get(code))
        monkeypatch.setattr(places, "record_unit",
                            lambda session, data: self.paths.update(
                                {data["unit_code"]: list(data["unit_path"])}))

    def first(self, session, envelope):
        fresh = envelope.event_id not in self.seen
        self.seen.add(envelope.event_id)
        return fresh


class MovingDb(FakeDb):
    @contextmanager
    def transaction(self):
        yield None


@pytest.fixture
def service(monkeypatch, store, registry):
    service = start(store, registry)
    service.db = MovingDb(store)
    service.recorder = Recorder(monkeypatch)
    return service


def test_a_moved_persons_deliveries_are_moved_once(service):
    person = uuid.uuid4()
    event = make_envelope("person_moved", FACTS | {
        "person_id": person, "unit_code": "AG.MB", "unit_path": MB, "from_unit_path": LX},
        producer="registry")
    service.on_person_moved(event)
    service.on_person_moved(event)
    people = [FACTS | {"person_id": person, "change": "moved", "unit_code": "AG.MB",
                       "unit_path": MB, "from_unit_path": LX},
              FACTS | {"person_id": uuid.uuid4(), "change": "registered",
                       "unit_code": "AG.LX", "unit_path": LX}]
    service.on_people_imported(make_envelope("people_imported", {
        "import_id": uuid.uuid4(), "batch": 1, "people": people}, producer="registry"))
    service.on_people_imported(make_envelope("people_imported", {
        "import_id": uuid.uuid4(), "batch": 2, "people": people[1:]}, producer="registry"))
    assert service.recorder.calls == [("people", [str(person)]), ("people", [str(person)])]


def test_a_merger_moves_the_merged_units(service):
    service.on_units_merged(make_envelope("units_merged", {
        "unit_code": "AG.LM", "unit_path": LM, "from_unit_paths": [LX, MB],
        "effective_on": date(2025, 7, 1), "people_moved": 3}, producer="registry"))
    assert service.recorder.calls == [("units", {"AG.LX": LM, "AG.MB": LM})]


def test_only_a_unit_whose_path_changed_moves_its_deliveries(service):
    def changed(change, path, name="Phường Long Xuyên"):
        service.on_unit_changed(make_envelope("unit_changed", {
            "unit_code": "AG.LX", "unit_path": path, "unit_name": name, "kind": "ward",
            "change": change, "valid_from": None, "valid_to": None}, producer="registry"))
    changed("created", LX)
    changed("updated", LX, name="Phường Long Xuyên mới")  # renamed
    assert service.recorder.calls == []
    changed("updated", ["CT", "AG.LX"])
    assert service.recorder.calls == [("units", {"AG.LX": ["CT", "AG.LX"]})]


def test_the_delivery_log_places_a_moved_delivery_where_its_subject_is(store, registry):
    service = start(store, registry)
    event = granted()
    contact(registry, event.data["person_id"])
    service.on_recognition_granted(event)
    [row] = store.rows()
    row.context = dict(row.context, scope_path=MB)

    def as_staff(unit):
        built = Request(EnvironBuilder(method="GET").get_environ())
        built.caller = Caller(str(uuid.uuid4()), "commune_staff", unit)
        return built
    assert service.delivery(as_staff("AG.MB"), row.id)["id"] == str(row.id)
    with pytest.raises(Forbidden):
        service.delivery(as_staff("AG.LX"), row.id)
    assert service.deliveries(as_staff("AG.MB"))["total"] == 1
    assert service.deliveries(as_staff("AG.LX"))["total"] == 0
