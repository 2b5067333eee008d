"""Target arithmetic and counter increments (pure core)."""
import pytest

from services.reporting import domain

TARGETS = domain.load_targets()


@pytest.mark.parametrize("year, expected", [(2022, 0.40), (2025, 0.40), (2026, 0.60),
                                            (2030, 0.60), (2031, None)])
def test_a_year_is_measured_against_the_next_milestone(year, expected):
    assert domain.target_for(TARGETS, "adults_titled", year) == expected


def test_overrides_deeper_units_win():
    targets = {"national": {"adults_titled": {2025: 0.4, 2030: 0.6}},
               "overrides": {"AG": {"adults_titled": {2025: 0.45}},
                             "AG.LX": {"adults_titled": {2025: 0.5}}}}
    assert domain.target_for(targets, "adults_titled", 2025, ["AG"]) == 0.45
    assert domain.target_for(targets, "adults_titled", 2025, ["AG", "AG.LX"]) == 0.5
    assert domain.target_for(targets, "adults_titled", 2030, ["AG", "AG.LX"]) == 0.6
    assert domain.target_for(targets, "adults_titled", 2025, ["KG"]) == 0.4


def test_adults_are_counted_per_year():
    population = {2007: 10, 2008: 5, 1980: 100}
    assert domain.adults(population, 2025) == 110   # born 2007 turn 18 in 2025
    assert domain.adults(population, 2026) == 115
    assert domain.adults(population, 2024) == 100


@pytest.mark.parametrize("num, den, target, gap, reached", [
    (40, 100, 0.4, 0, True),
    (39, 100, 0.4, 1, False),
    (0, 3, 0.4, 2, False),       # 1.2 people -> 2 needed
    (7, 10, 0.7, 0, True),       # float 0.7*10 must not demand 8
    (0, 0, 0.4, None, None),     # nothing to measure
])
def test_progress_gap_is_people_still_needed(num, den, target, gap, reached):
    p = domain.progress("adults_titled", num, den, target)
    assert (p.gap, p.reached) == (gap, reached)


@pytest.mark.parametrize("skills, sign, expected", [
    ("none", 1, {"titled": 1, "digitally_skilled": 0, "digitally_proficient": 0}),
    ("basic", 1, {"titled": 1, "digitally_skilled": 1, "digitally_proficient": 0}),
    ("proficient", 1, {"titled": 1, "digitally_skilled": 1, "digitally_proficient": 1}),
    ("proficient", -1, {"titled": -1, "digitally_skilled": -1, "digitally_proficient": -1}),
])
def test_title_increments(skills, sign, expected):
    assert domain.title_increments(skills, sign) == expected
