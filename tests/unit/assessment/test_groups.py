"""Group titles from members' titles (pure core): the level thresholds at their boundaries."""
import pytest

from services.assessment import criteria as criteria_sets
from services.assessment import domain

SETS = criteria_sets.load_criteria()
UNIT = criteria_sets.for_group_kind(SETS, "learning_unit", 2025)
FAMILY = criteria_sets.for_group_kind(SETS, "family", 2025)


@pytest.mark.parametrize("members, titled, recognised, level", [
    (1000, 899, False, None),   # 89.9%
    (1000, 900, True, 1),       # 90%
    (1000, 949, True, 1),       # 94.9%
    (1000, 950, True, 2),       # 95%
    (1000, 999, True, 2),
    (1000, 1000, True, 3),
    (10, 9, True, 1),
    (9, 8, False, None),        # 88.9%
    (3, 3, True, 3),
    (0, 0, False, None),
])
def test_learning_unit_levels(members, titled, recognised, level):
    result = domain.evaluate_group(UNIT, members, titled)
    assert (result.recognised, result.level) == (recognised, level)
    assert result.criteria_version == "24/2023/TT-BGDĐT"


def test_explanations():
    assert domain.evaluate_group(UNIT, 1000, 899).explanation == \
        "899 of 1000 members titled (89.9%), under 90% for level 1"
    assert domain.evaluate_group(UNIT, 20, 19).explanation == \
        "19 of 20 members titled (95.0%), at least 95% for level 2"
    assert domain.evaluate_group(FAMILY, 1, 1).explanation == \
        "1 of 1 members titled (100.0%): fewer than 2 members"


@pytest.mark.parametrize("members, titled, recognised", [
    (4, 1, False), (4, 2, True), (5, 2, False), (5, 3, True), (1, 1, False)])
def test_learning_family(members, titled, recognised):
    result = domain.evaluate_group(FAMILY, members, titled)
    assert result.recognised is recognised and result.level is None


def test_more_titled_than_members_is_a_bug():
    with pytest.raises(ValueError):
        domain.evaluate_group(UNIT, 3, 4)


@pytest.mark.parametrize("current, recognised, level, change", [
    (False, True, 1, "grant"),
    (False, False, None, None),
    (1, True, 1, None),
    (1, True, 2, "regrant"),
    (2, False, None, "revoke"),
    (None, True, None, None),        # a family holds its title (no level)
    (None, False, None, "revoke"),
])
def test_group_change(current, recognised, level, change):
    result = domain.GroupResult("v", 10, 10, recognised, level, "")
    assert domain.group_change(current, result) == change
