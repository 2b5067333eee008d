"""From the upsert's RETURNING rows to people_imported entries (no database needed)."""
import uuid
from collections import namedtuple
from datetime import date

from cdht.contracts import make_envelope
from services.registry.imports.chunks import Units
from services.registry.imports.people import changes_to_people

Row = namedtuple("Row", "id unit_code target_group roles birth_year registered old_unit_code "
                        "old_target_group old_roles old_birth_year")
UNITS = Units([("AG", None, None, None, False), ("AG.001", "AG", None, None, False),
               ("AG.002", "AG", None, None, False),
               ("AG.OLD", "AG", None, date(2025, 6, 30), False)], today=date(2026, 1, 1))


def row(**changes):
    base = dict(id=str(uuid.uuid4()), unit_code="AG.001", target_group="resident",
                roles=["association_member"], birth_year=1985, registered=False,
                old_unit_code="AG.001", old_target_group="resident",
                old_roles=["association_member"], old_birth_year=1985)
    return Row(**(base | changes))


def test_each_change_with_the_facts_its_consumers_need():
    rows = [row(registered=True, old_unit_code=None, old_target_group=None, old_roles=None,
                old_birth_year=None),
            row(unit_code="AG.002"),
            row(target_group="worker"),
            row(old_unit_code=None, old_target_group=None, old_roles=None, old_birth_year=None)]
    people, counts = changes_to_people(rows, UNITS)
    assert counts == {"registered": 1, "moved": 1, "updated": 2}
    registered, moved, updated, concurrent = people
    assert registered == {"person_id": rows[0].id, "unit_code": "AG.001",
                          "unit_path": ["AG", "AG.001"], "target_group": "resident",
                          "roles": ["association_member"], "birth_year": 1985,
                          "change": "registered"}
    assert moved["from_unit_path"] == ["AG", "AG.001"] and moved["unit_path"] == ["AG", "AG.002"]
    assert moved["previous"]["target_group"] == "resident"
    assert updated["previous"] == {"target_group": "resident", "roles": ["association_member"],
                                   "birth_year": 1985}
    assert concurrent["change"] == "updated" and concurrent["previous"]["birth_year"] == 1985
    # every entry passes the published contract
    make_envelope("people_imported", {"import_id": uuid.uuid4(), "batch": 1,
                                      "people": people}, producer="registry")


def test_units_know_paths_validity_and_deleted_ones():
    units = Units([("AG", None, None, None, False), ("AG.X", "AG", None, None, True),
                   ("AG.NEW", "AG", date(2027, 1, 1), None, False)], today=date(2026, 1, 1))
    assert units.valid == {"AG": True, "AG.NEW": False}  # deleted: unknown; not yet: invalid
    assert units.path("AG.X") == ["AG", "AG.X"]
