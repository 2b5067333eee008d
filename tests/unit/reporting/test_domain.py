"""Target arithmetic, indicators, crossings (pure core of reporting)."""
import pytest

from cdht.contracts.events import INDICATORS
from services.reporting import domain

TARGETS = domain.load_targets()


@pytest.mark.parametrize("year, expected", [(2022, 0.40), (2025, 0.40), (2026, 0.60),
                                            (2030, 0.60), (2031, None)])
def test_a_year_is_measured_against_the_next_milestone(year, expected):
    assert domain.target_for(TARGETS, "adults_titled", year) == expected


def test_every_indicator_has_both_milestones():
    for indicator in INDICATORS:
        assert set(domain.milestones_for(TARGETS, indicator)) == {2025, 2030}, indicator


def test_overrides_deeper_units_win():
    targets = {"national": {"adults_titled": {2025: 0.4, 2030: 0.6}},
               "overrides": {"AG": {"adults_titled": {2025: 0.45}},
                             "AG.LX": {"adults_titled": {2025: 0.5}}}}
    assert domain.target_for(targets, "adults_titled", 2025, ["AG"]) == 0.45
    assert domain.target_for(targets, "adults_titled", 2025, ["AG", "AG.LX"]) == 0.5
    assert domain.target_for(targets, "adults_titled", 2030, ["AG", "AG.LX"]) == 0.6
    assert domain.target_for(targets, "adults_titled", 2025, ["KG"]) == 0.4
    assert domain.milestone_for(targets, "adults_titled", 2027, ["AG"]) == (2030, 0.6)


@pytest.mark.parametrize("bad", [
    {"national": {"adult_titled": {2025: 0.4}}},                 # a typo
    {"national": {"adults_titled": {2025: 40}}},                  # a percentage, not a share
    {"national": {}, "overrides": {"AG": {"adults_titled": {"2025": 0.4}}}},
])
def test_a_wrong_targets_file_is_refused(bad):
    with pytest.raises(ValueError):
        domain.check_targets(bad)


def test_adults_are_counted_per_year():
    population = {2007: 10, 2008: 5, 1980: 100}
    assert domain.adults(population, 2025) == 110   # born 2007 turn 18 in 2025
    assert domain.adults(population, 2026) == 115
    assert domain.adults(population, 2024) == 100
    assert domain.adults(population, 2025, adult_age=16) == 115


@pytest.mark.parametrize("num, den, target, gap, reached, status, alert", [
    (40, 100, 0.4, 0, True, "reached", "reached"),
    (39, 100, 0.4, 1, False, "behind", "on_track"),
    (36, 100, 0.4, 4, False, "behind", "on_track"),     # on the warning line (0.36)
    (35, 100, 0.4, 5, False, "behind", "at_risk"),
    (0, 3, 0.4, 2, False, "behind", "at_risk"),         # 1.2 people -> 2 needed
    (7, 10, 0.7, 0, True, "reached", "reached"),        # float 0.7*10 must not demand 8
    (0, 0, 0.4, None, None, None, None),                # nothing to measure
])
def test_progress_gap_is_people_still_needed(num, den, target, gap, reached, status, alert):
    """In the target's own year the milestone is the target."""
    p = domain.progress("adults_titled", num, den, target, 2025, warning_ratio=0.9)
    assert (p.gap, p.reached, p.status, p.alert) == (gap, reached, status, alert)
    assert p.warning_line == (0.36 if target == 0.4 else 0.63)


@pytest.mark.parametrize("before, after, event", [
    (None, "reached", "target_reached"),       # reached the first time it is measured
    ("on_track", "reached", "target_reached"),
    ("at_risk", "reached", "target_reached"),
    ("reached", "reached", None),
    ("reached", "at_risk", "target_at_risk"),
    ("on_track", "at_risk", "target_at_risk"),
    (None, "at_risk", None),                   # a new, empty unit is not news
    ("at_risk", "at_risk", None),
    ("reached", "on_track", None),
    ("reached", None, None),
])
def test_crossings(before, after, event):
    assert domain.crossing(before, after) == event


def test_figures_of_every_indicator():
    tallies = {("people", 1980): 8, ("people", 2010): 2, ("members", 0): 4,
               ("members_briefed", 0): 3, ("staff", 0): 5, ("titled", 2025): 6,
               ("titled_adult", 2025): 5, ("titled_staff", 2025): 2,
               ("in_recognised", 2025): 4, ("in_recognised_titled", 2025): 3,
               ("grouped", 1980): 6, ("grouped_titled", 2025): 4,
               ("titled_digital", 2025): 4, ("titled_proficient", 2025): 1,
               ("groups:family", 0): 10, ("recognised:family", 2025): 7,
               ("groups:learning_unit", 0): 2, ("recognised:learning_unit", 2024): 1}
    found = domain.figures(tallies, 2025)
    assert found == {
        "briefed_members": (3, 4), "adults_titled": (3, 4), "unit_staff_titled": (2, 5),
        "titled_with_digital_skills": (4, 6), "titled_digitally_proficient": (1, 6),
        "families_recognised": (7, 10), "clans_recognised": (0, 0),
        "communities_recognised": (0, 0), "learning_units_recognised": (0, 2)}
    assert set(found) == set(INDICATORS)
    assert domain.figures(tallies, 2025, population="all_adults")["adults_titled"] == (5, 8)
    assert domain.figures(tallies, 2025, population="adults_in_groups")["adults_titled"] == (
        4, 6)
    progress = {p.indicator: p for p in domain.unit_progress(TARGETS, ["AG"], 2025, tallies)}
    assert progress["adults_titled"].share == 3 / 4 and progress["adults_titled"].reached
    assert progress["families_recognised"].target == 0.70
    assert progress["families_recognised"].reached is True
    assert progress["clans_recognised"].status is None
