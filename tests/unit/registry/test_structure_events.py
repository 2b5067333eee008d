"""Which unit_changed a unit's PATCH announces: the pure part of structure_events."""
from datetime import date

from services.registry.structure_events import unit_change_kind


def test_a_unit_patch_is_updated_closed_or_nothing():
    before = {"name": "Xã A", "kind": "commune", "parent_code": "AG", "valid_from": None,
              "valid_to": None}
    assert unit_change_kind(before, dict(before)) is None
    assert unit_change_kind(before, before | {"name": "Xã B"}) == "updated"
    assert unit_change_kind(before, before | {"valid_to": date(2025, 6, 30)}) == "closed"
    closed = before | {"valid_to": date(2025, 6, 30)}
    assert unit_change_kind(closed, closed | {"valid_to": None}) == "updated"  # reopened
