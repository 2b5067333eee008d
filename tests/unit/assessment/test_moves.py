"""Assessment's handlers of the registry's moves (person_moved, people_imported, units_merged,
unit_changed) on fakes: what they ask the store to move, once per event, and that the HTTP
scope then follows. The SQL itself: tests/integration/assessment/test_moves.py."""
import uuid
from datetime import date

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cdht.auth import Caller
from cdht.contracts import make_envelope
from cdht.web import ApiError
from services.assessment import approval
from services.assessment import criteria as criteria_sets
from services.assessment.service import AssessmentService
from tests.unit.assessment.fakes import FakeDb, FakeRegistry, FakeStore

LX, MB, LM = ["AG", "AG.LX"], ["AG", "AG.MB"], ["AG", "AG.LM"]
CITIZEN = uuid.uuid4()
FACTS = {"target_group": "resident", "roles": [], "birth_year": 1985}
SUBMITTED = {"person_id": CITIZEN, "year": 2025, "status": "submitted",
             "target_group": "resident", "criteria_version": "324/QĐ-KHVN", "self_scores": {},
             "scores": {}, "total": 81, "passed": True, "explanation": {}}


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def service(store):
    return worker_factory(AssessmentService, db=FakeDb(store), registry=FakeRegistry(),
                          criteria=criteria_sets.load_criteria(),
                          approval=approval.from_config({}), config={"REGISTRY_TIMEOUT": 5})


def as_staff(unit):
    built = Request(EnvironBuilder(method="GET").get_environ())
    built.caller = Caller(str(uuid.uuid4()), "commune_staff", unit)
    return built


def status_of(call):
    try:
        call()
    except ApiError as exc:
        return exc.status
    return 200


def moved(to_path, from_path):
    return make_envelope("person_moved", FACTS | {
        "person_id": CITIZEN, "unit_code": to_path[-1], "unit_path": to_path,
        "from_unit_path": from_path}, producer="registry")


def test_a_moved_persons_assessment_is_the_new_units_once(service, store):
    row = store.put_assessment(**SUBMITTED, unit_code="AG.LX", unit_path=LX)
    event = moved(MB, LX)
    service.on_person_moved(event)
    service.on_person_moved(event)  # delivered again
    assert store.moves == [("people", [str(CITIZEN)], "person_moved")]
    assert status_of(lambda: service.get_assessment(as_staff("AG.LX"), row.id)) == 403
    assert status_of(lambda: service.get_assessment(as_staff("AG.MB"), row.id)) == 200


def test_an_import_moves_only_its_moved_rows(service, store):
    other = uuid.uuid4()
    people = [FACTS | {"person_id": CITIZEN, "change": "moved", "unit_code": "AG.MB",
                       "unit_path": MB, "from_unit_path": LX},
              FACTS | {"person_id": other, "change": "registered", "unit_code": "AG.LX",
                       "unit_path": LX}]
    service.on_people_imported(make_envelope("people_imported", {
        "import_id": uuid.uuid4(), "batch": 1, "people": people}, producer="registry"))
    assert store.moves == [("people", [str(CITIZEN)], "people_imported")]
    service.on_people_imported(make_envelope("people_imported", {
        "import_id": uuid.uuid4(), "batch": 2, "people": people[1:]}, producer="registry"))
    assert len(store.moves) == 1  # nobody moved: nothing to move


def test_a_merger_moves_each_merged_unit_into_the_new_one(service, store):
    row = store.put_assessment(**SUBMITTED, unit_code="AG.MB", unit_path=MB)
    event = make_envelope("units_merged", {
        "unit_code": "AG.LM", "unit_path": LM, "from_unit_paths": [LX, MB],
        "effective_on": date(2025, 7, 1), "people_moved": 1}, producer="registry")
    service.on_units_merged(event)
    service.on_units_merged(event)
    assert store.moves == [("units", {"AG.LX": LM, "AG.MB": LM}, "units_merged")]
    assert status_of(lambda: service.get_assessment(as_staff("AG.LM"), row.id)) == 200
    assert status_of(lambda: service.get_assessment(as_staff("AG.MB"), row.id)) == 403


@pytest.mark.parametrize("change, asked", [("created", False), ("updated", True),
                                           ("closed", True)])
def test_a_unit_change_moves_the_units_subtree_unless_the_unit_is_new(service, store, change,
                                                                      asked):
    event = make_envelope("unit_changed", {
        "unit_code": "AG.LX", "unit_path": ["CT", "AG.LX"], "unit_name": "Phường Long Xuyên",
        "kind": "ward", "change": change, "valid_from": None, "valid_to": None},
        producer="registry")
    service.on_unit_changed(event)
    assert store.moves == ([("units", {"AG.LX": ["CT", "AG.LX"]}, "unit_changed")]
                           if asked else [])
    assert event.event_id in store.inbox  # every event is recorded once, even a new unit's
