"""The registry's rules beyond identity (pure core): units and merges, groups and periods,
one family at a time, roles that follow positions, person change events, activities,
search folding and adulthood bounds."""
from datetime import date, timedelta

import pytest

from services.registry import domain
from services.registry.domain import Conflict, Invalid

D = date


# -- units -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, parent, ok", [
    ("province", None, True),
    ("province", "province", False),
    ("district", "province", True),
    ("district", None, False),
    ("commune", "province", True),
    ("commune", "district", True),
    ("ward", "district", True),
    ("special_zone", "province", True),
    ("commune", "commune", False),
    ("ward", None, False),
])
def test_unit_parents(kind, parent, ok):
    if ok:
        domain.check_unit(kind, parent)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_unit(kind, parent)
        assert list(err.value.errors) == ["parent_code"]


def test_unit_validity_and_unknown_parent():
    with pytest.raises(Invalid) as err:
        domain.check_unit("commune", None, D(2025, 7, 1), D(2025, 6, 30), parent_known=False)
    assert set(err.value.errors) == {"parent_code", "valid_to"}
    domain.check_unit("commune", "province", D(2025, 7, 1), D(2025, 7, 1))  # one day


@pytest.mark.parametrize("valid_from, valid_to, day, valid", [
    (None, None, D(1900, 1, 1), True),
    (D(2025, 7, 1), None, D(2025, 6, 30), False),
    (D(2025, 7, 1), None, D(2025, 7, 1), True),
    (None, D(2025, 6, 30), D(2025, 6, 30), True),
    (None, D(2025, 6, 30), D(2025, 7, 1), False),
])
def test_valid_on_is_inclusive(valid_from, valid_to, day, valid):
    assert domain.valid_on(valid_from, valid_to, day) is valid


@pytest.mark.parametrize("kind, children, ok", [
    ("province", ["district", "commune", "ward"], True),
    ("district", ["commune", "special_zone"], True),
    ("district", ["district"], False),
    ("commune", ["commune"], False),
    ("ward", [], True),
])
def test_a_units_kind_must_suit_its_children(kind, children, ok):
    if ok:
        domain.check_children(kind, children)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_children(kind, children)
        assert list(err.value.errors) == ["kind"]


def test_reparent_cycles():
    parents = {"AG": None, "AG.D": "AG", "AG.D.X": "AG.D"}
    domain.check_reparent("AG.D.X", "AG", parents)
    for code, new_parent in (("AG.D", "AG.D.X"), ("AG.D", "AG.D"), ("AG", "AG.D.X")):
        with pytest.raises(Invalid) as err:
            domain.check_reparent(code, new_parent, parents)
        assert list(err.value.errors) == ["parent_code"]


def test_closing_date_is_the_day_before():
    assert domain.closing_date(D(2025, 7, 1)) == D(2025, 6, 30)
    assert domain.closing_date(D(2024, 3, 1)) == D(2024, 2, 29)


OPEN = {"valid_from": None, "valid_to": None, "open_children": False}
TARGET = {"code": "NEW", "valid_from": D(2025, 7, 1), "valid_to": None}


@pytest.mark.parametrize("from_units, target, new, errors", [
    ({"A": OPEN, "B": OPEN}, TARGET, True, None),
    ({"A": OPEN}, {"code": "B", "valid_from": None, "valid_to": None}, False, None),
    ({}, TARGET, True, {"from_codes"}),
    ({"A": None}, TARGET, True, {"from_codes"}),
    ({"A": OPEN}, {"code": "A", "valid_from": None, "valid_to": None}, False, {"into"}),
    ({"A": OPEN}, None, False, {"into"}),
    ({"A": OPEN}, {"code": "B", "valid_from": None, "valid_to": D(2025, 6, 1)}, False,
     {"into"}),
    ({"A": OPEN | {"valid_to": D(2025, 1, 1)}}, TARGET, True, {"from_codes"}),
    ({"A": OPEN | {"valid_from": D(2025, 7, 1)}}, TARGET, True, {"effective_on"}),
    ({"A": OPEN | {"open_children": True}}, TARGET, True, {"from_codes"}),
    ({"A": OPEN | {"valid_to": D(2025, 7, 1)}}, TARGET, True, None),  # closes on that day
])
def test_merge_rules(from_units, target, new, errors):
    if errors is None:
        domain.check_merge(from_units, target, D(2025, 7, 1), target_is_new=new)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_merge(from_units, target, D(2025, 7, 1), target_is_new=new)
        assert set(err.value.errors) == errors


def test_merge_of_too_many_units():
    many = {f"U{i}": OPEN for i in range(domain.MAX_MERGED_UNITS + 1)}
    with pytest.raises(Invalid) as err:
        domain.check_merge(many, TARGET, D(2025, 7, 1), target_is_new=True)
    assert "at most" in err.value.errors["from_codes"][0]


# -- groups, periods, families ---------------------------------------------------------------
@pytest.mark.parametrize("kind, level, ok", [
    ("learning_unit", "commune", True),
    ("learning_unit", None, False),
    ("family", None, True),
    ("clan", "province", False),
])
def test_only_learning_units_have_a_level(kind, level, ok):
    if ok:
        domain.check_group(kind, level)
    else:
        with pytest.raises(Invalid, match="level"):
            domain.check_group(kind, level)


TODAY = D(2026, 1, 10)


@pytest.mark.parametrize("joined, left, field", [
    (D(2025, 1, 1), None, None),
    (D(2025, 1, 1), D(2025, 1, 1), None),  # zero-length: a record undone
    (TODAY, TODAY, None),
    (D(2025, 1, 2), D(2025, 1, 1), "left_on"),
    (TODAY + timedelta(days=1), None, "joined_on"),
    (D(2025, 1, 1), TODAY + timedelta(days=1), "left_on"),
])
def test_periods(joined, left, field):
    if field is None:
        domain.check_period(joined, left, TODAY)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_period(joined, left, TODAY)
        assert field in err.value.errors


@pytest.mark.parametrize("a, b, overlap", [
    ((D(2020, 1, 1), None), (D(2021, 1, 1), None), True),
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2021, 1, 1), None), False),  # half-open: touching
    ((D(2020, 1, 1), D(2021, 1, 1)), (D(2020, 6, 1), D(2020, 7, 1)), True),
    ((D(2020, 1, 1), D(2020, 1, 1)), (D(2020, 1, 1), None), False),  # empty period
    ((D(2022, 1, 1), None), (D(2020, 1, 1), D(2021, 12, 31)), False),
])
def test_overlaps_is_symmetric(a, b, overlap):
    assert domain.overlaps(*a, *b) is overlap
    assert domain.overlaps(*b, *a) is overlap


def test_one_family_at_a_time():
    domain.check_single_family([], D(2020, 1, 1), None)
    domain.check_single_family([(D(2010, 1, 1), D(2020, 1, 1))], D(2020, 1, 1), None)
    with pytest.raises(Conflict) as err:
        domain.check_single_family([(D(2010, 1, 1), None)], D(2020, 1, 1), None)
    assert err.value.status == 409
    assert err.value.errors == {"person_id": ["already belongs to a family"]}
    with pytest.raises(Conflict, match="2010-01-01 to 2015-01-01"):
        domain.check_single_family([(D(2010, 1, 1), D(2015, 1, 1))], D(2012, 1, 1),
                                   D(2013, 1, 1))


def test_not_twice_in_one_group():
    with pytest.raises(Conflict) as err:
        domain.check_not_twice([(D(2020, 1, 1), None)], D(2021, 1, 1), None, "group_id",
                               "a member of this group")
    assert list(err.value.errors) == ["group_id"]
    domain.check_not_twice([(D(2020, 1, 1), D(2021, 1, 1))], D(2021, 1, 1), None, "group_id",
                           "a member of this group")


@pytest.mark.parametrize("kind, parent, above, field", [
    ("commune_association", None, True, None),
    ("branch", "commune_association", True, None),
    ("learning_board", "branch", True, None),
    ("learning_board", "commune_association", True, None),
    ("branch", None, True, "parent_id"),
    ("commune_association", "commune_association", True, "parent_id"),
    ("branch", "learning_board", True, "parent_id"),
    ("branch", "commune_association", False, "parent_id"),
])
def test_association_bodies(kind, parent, above, field):
    if field is None:
        domain.check_body(kind, parent, parent_above=above)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_body(kind, parent, parent_above=above)
        assert list(err.value.errors) == [field]


# -- roles follow positions --------------------------------------------------------------------
@pytest.mark.parametrize("roles, before, after, expected", [
    ([], set(), {"unit_staff"}, ["unit_staff"]),
    (["unit_staff"], {"unit_staff"}, set(), []),
    (["association_member"], set(), {"association_official"},
     ["association_member", "association_official"]),
    # set by hand (an import): kept when no position granted it
    (["association_member"], {"unit_staff"}, set(), ["association_member"]),
    # still granted by another open position: kept
    (["unit_staff"], {"unit_staff"}, {"unit_staff"}, ["unit_staff"]),
])
def test_roles_after(roles, before, after, expected):
    assert domain.roles_after(roles, before, after) == expected


def test_granted_roles():
    assert domain.granted_roles([("association", "official"), ("group", "family"),
                                 ("group", "learning_unit")]) == {"association_official",
                                                                  "unit_staff"}


# -- people ------------------------------------------------------------------------------------
@pytest.mark.parametrize("changed, events", [
    (["phone"], ["person_updated"]),
    (["unit_code"], ["person_moved"]),
    (["birth_date", "unit_code"], ["person_updated", "person_moved"]),
    ([], []),
])
def test_person_events(changed, events):
    assert domain.person_events(changed) == events


def test_changed_fields_names_only_what_differs():
    before = {"phone": "1", "roles": ["a"], "unit_code": "X"}
    assert domain.changed_fields(before, before | {"phone": "1", "roles": ["a", "b"],
                                                   "unit_code": "Y"}) == ["roles", "unit_code"]


def test_person_change_checks_the_id_only_when_identity_changes():
    current = {"national_id": "089085000123", "birth_date": D(1985, 4, 2), "gender": "male"}
    domain.check_person_change(current, {"phone": "0912345678"})
    domain.check_person_change(current | {"national_id": "bad"}, {"phone": "0912345678"})
    with pytest.raises(Invalid) as err:
        domain.check_person_change(current, {"gender": "female"})
    assert err.value.errors == {"national_id": ["digit 4 does not match the gender"]}
    with pytest.raises(Invalid) as err:
        domain.check_person_change(current, {"birth_date": D(2999, 1, 1)}, today=D(2026, 1, 1))
    assert "birth_date" in err.value.errors


def test_masking_shows_the_last_four_digits_only():
    assert domain.mask_national_id("089085000123") == "********0123"


@pytest.mark.parametrize("text, folded", [
    ("Nguyễn Văn Ân", "nguyen van an"),
    ("ĐẶNG THỊ Ánh", "dang thi anh"),
    ("Nguye\u0302\u0303n  Thị", "nguyen thi"),  # decomposed input, extra space
    ("Lưu Hữu Phước", "luu huu phuoc"),
])
def test_fold(text, folded):
    assert domain.fold(text) == folded


def test_fold_tables_pair_every_letter():
    assert len(domain.FOLD_FROM) == len(domain.FOLD_TO) == len(set(domain.FOLD_FROM))
    assert set(domain.FOLD_TO) <= set("aeiouyd")


@pytest.mark.parametrize("reference", [D(2026, 2, 28), D(2024, 2, 29), D(2026, 3, 1),
                                       D(2025, 12, 31), D(2025, 1, 1)])
@pytest.mark.parametrize("age", [18, 16, 60])
def test_adult_bound_agrees_with_is_adult(reference, age):
    bound = domain.latest_adult_birth_date(reference, age)
    start = bound - timedelta(days=3)
    for offset in range(7):
        born = start + timedelta(days=offset)
        assert domain.is_adult(born, reference, age) is (born <= bound), born


def test_a_reference_day_before_anyone_could_be_adult_bounds_at_the_first_day():
    """GET /people?adult=true&reference_date=0010-05-13 was a 500 (year -8), found by
    schemathesis: no one recorded is an adult on such a day."""
    assert domain.latest_adult_birth_date(D(10, 5, 13), 18) == D.min
    assert domain.latest_adult_birth_date(D(18, 2, 28), 18) == D.min
    assert domain.latest_adult_birth_date(D(19, 2, 28), 18) == D(1, 2, 28)


# -- learning activities -----------------------------------------------------------------------
@pytest.mark.parametrize("started, ended, hours, fields", [
    (D(2025, 3, 1), D(2025, 3, 15), 24, set()),
    (D(2025, 3, 1), None, None, set()),
    (D(2025, 3, 1), D(2025, 3, 1), 0, set()),
    (D(2025, 3, 2), D(2025, 3, 1), 24, {"ended_on"}),
    (TODAY + timedelta(days=1), None, 1, {"started_on"}),
    (D(2025, 3, 1), None, -1, {"hours"}),
    (D(2025, 3, 1), None, domain.MAX_ACTIVITY_HOURS + 1, {"hours"}),
])
def test_activities(started, ended, hours, fields):
    if not fields:
        domain.check_activity(started, ended, hours, TODAY)
    else:
        with pytest.raises(Invalid) as err:
            domain.check_activity(started, ended, hours, TODAY)
        assert set(err.value.errors) == fields
