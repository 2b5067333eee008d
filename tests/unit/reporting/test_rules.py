"""The programme's rules as the province reports them (pure core of reporting): whom the
adults' indicator counts, what "trained with digital skills" asks, yearly milestones, and
the documents each rule comes from."""
import copy
from collections import Counter

import pytest

from cdht.contracts.events import INDICATORS
from services.reporting import domain, milestones as ms, review, rules
from services.reporting.domain import PersonState

TARGETS = domain.load_targets()
TRAINED = frozenset({("digital_skills_basic", True)})


def adult(**facts):
    return PersonState(**{"registered": True, "birth_year": 1980} | facts)


def tallies_of(*people, **kwargs):
    totals = Counter()
    for p in people:
        totals.update(domain.person_tallies(p, **kwargs))
    return totals


# -- adults holding the title: whom it counts --------------------------------------------------
def village():
    """Four adults: one in a recognised family (titled), one in a family not recognised
    (titled), two in no group (one titled)."""
    return tallies_of(
        adult(group_kinds=frozenset({"family"}), recognised_years=frozenset({2025}),
              titles=((2025, "basic"),)),
        adult(group_kinds=frozenset({"family"}), titles=((2025, "basic"),)),
        adult(titles=((2025, "basic"),)),
        adult())


def test_adults_titled_counts_adults_of_recognised_groups_by_default():
    """The plan's 60% is of adults in learning families, clans and communities: the old
    rule took every registered adult (3 of 4 here)."""
    assert rules.population_rule(TARGETS) == "adults_in_recognised_groups"
    assert domain.figures(village(), 2025)["adults_titled"] == (1, 1)


def test_each_rule_counts_numerator_and_denominator_the_same_way():
    found = domain.population_figures(village(), 2025)
    assert found == {"all_adults": (3, 4), "adults_in_groups": (2, 2),
                     "adults_in_recognised_groups": (1, 1)}
    targets = copy.deepcopy(TARGETS)
    targets["indicators"]["adults_titled"]["population"] = "all_adults"
    progress = {p.indicator: p for p in domain.unit_progress(targets, ["AG"], 2025, village())}
    assert (progress["adults_titled"].numerator, progress["adults_titled"].denominator) == (3, 4)


def test_a_recognised_year_counts_only_that_year_and_only_adults():
    p = adult(birth_year=2008, group_kinds=frozenset({"clan"}),
              recognised_years=frozenset({2025, 2026}), titles=((2026, "none"),))
    counts = domain.person_tallies(p)
    assert ("in_recognised", 2025) not in counts            # 17 at the end of 2025
    assert counts[("in_recognised", 2026)] == counts[("in_recognised_titled", 2026)] == 1


# -- trained with digital skills ---------------------------------------------------------------
def test_a_title_holder_without_training_is_not_counted_as_digitally_skilled():
    """Every title holder has TC2.1 >= 5, so level "basic" alone made the indicator 100%."""
    untrained = adult(titles=((2025, "basic"),))
    assert domain.figures(tallies_of(untrained), 2025)["titled_with_digital_skills"] == (0, 1)
    trained = adult(titles=((2025, "basic"),), trainings=TRAINED)
    assert domain.figures(tallies_of(trained), 2025)["titled_with_digital_skills"] == (1, 1)


def test_a_course_not_finished_counts_only_when_the_rule_does_not_ask_completion():
    started = adult(titles=((2025, "proficient"),),
                    trainings=frozenset({("digital_skills_proficient", False)}))
    assert ("titled_digital", 2025) not in domain.person_tallies(started)
    lenient = dict(rules.DEFAULT_DIGITAL, titled_with_digital_skills=rules.DigitalRule(
        frozenset({"basic", "proficient"}), rules.TRAINING_KINDS, completed=False))
    assert domain.person_tallies(started, digital=lenient)[("titled_digital", 2025)] == 1
    assert ("titled_proficient", 2025) not in domain.person_tallies(started, digital=lenient)


def test_the_digital_rules_are_read_from_the_targets_file():
    found = rules.digital_rules(TARGETS)
    assert found["titled_digitally_proficient"].levels == {"proficient"}
    assert found["titled_with_digital_skills"].activities == {"digital_skills_basic",
                                                              "digital_skills_proficient"}
    assert found["titled_with_digital_skills"].completed is True
    spec = TARGETS["indicators"]["titled_with_digital_skills"]
    assert {"activities", "completed"} <= set(spec["unconfirmed"])


# -- milestones ---------------------------------------------------------------------------------
def test_a_year_between_targets_is_measured_against_its_milestone():
    """2026 at 45%: far under 2030's 60% (and the old 54% warning line), but above the
    year's milestone on the straight path from 40% (2025) to 60% (2030)."""
    targets = copy.deepcopy(TARGETS)
    targets["indicators"]["adults_titled"]["population"] = "all_adults"
    [p] = domain.unit_progress(targets, ["AG"], 2026, {("titled_adult", 2026): 45,
                                                       ("people", 1980): 100},
                               indicators=("adults_titled",))
    assert (p.target, p.target_year, p.milestone) == (0.6, 2030, 0.44)
    assert (p.status, p.alert) == ("on_track", "on_track")
    assert p.warning_line == round(0.44 * 0.9, 6)


@pytest.mark.parametrize("year, expected", [(2021, 0.0), (2022, 0.1), (2023, 0.2),
                                            (2025, 0.4), (2026, 0.44), (2030, 0.6),
                                            (2031, 0.6)])
def test_the_path_runs_straight_from_the_baseline(year, expected):
    found = domain.yearly_milestones(TARGETS, "adults_titled", ["AG"], 0.0, [year])
    assert found[year] == pytest.approx(expected)


def test_a_measured_or_given_baseline_and_a_given_year_bend_the_path():
    base = {"adults_titled": (20, 100)}
    assert domain.baseline_of(TARGETS, "adults_titled", base) == 0.2
    assert domain.baseline_of(TARGETS, "briefed_members", {"briefed_members": (5, 10)}) == 0
    assert domain.baseline_of({"baselines": {"adults_titled": 0.1}}, "adults_titled",
                              base) == 0.1
    targets = copy.deepcopy(TARGETS)
    targets["overrides"] = {"AG": {"adults_titled": {2023: 0.35}}}
    found = domain.yearly_milestones(targets, "adults_titled", ["AG"], 0.2, [2022, 2024])
    assert found == {2022: pytest.approx(0.275), 2024: pytest.approx(0.375)}
    assert domain.target_for(targets, "adults_titled", 2023, ["AG"]) == 0.4  # not 0.35


def test_a_milestone_never_exceeds_the_period_target():
    found = domain.yearly_milestones(TARGETS, "adults_titled", [], 0.9, [2022])
    assert found[2022] == 0.4


@pytest.mark.parametrize("num, den, target, milestone, status", [
    (40, 100, 0.4, 0.3, "reached"), (30, 100, 0.4, 0.3, "on_track"),
    (29, 100, 0.4, 0.3, "behind"), (0, 0, 0.4, 0.3, None), (1, 2, None, None, None)])
def test_statuses(num, den, target, milestone, status):
    assert ms.status(num, den, target, milestone) == status


# -- the targets file ----------------------------------------------------------------------------
def test_every_indicator_names_its_document_and_387_2030_is_unconfirmed():
    for indicator in INDICATORS:
        doc = rules.document_of(TARGETS, indicator)
        assert doc["code"] in TARGETS["documents"] and doc["title"] and doc["wording"]
    for indicator in domain.GROUP_INDICATORS:
        assert "targets_2030" in rules.document_of(TARGETS, indicator)["unconfirmed"]
    assert rules.document_of(TARGETS, "adults_titled")["code"] == "KH-AG"


@pytest.mark.parametrize("bad", [
    {"indicators": {"adults_titled": {"population": "everyone"}}},
    {"indicators": {"titled_with_digital_skills": {"digital": {"levels": ["expert"]}}}},
    {"indicators": {"titled_with_digital_skills": {"digital": {"levels": ["basic"],
                                                               "activities": ["yoga"]}}}},
    {"indicators": {"briefed_members": {"digital": {"levels": ["basic"]}}}},
    {"indicators": {"adults_titled": {"document": "999/QĐ-TTg"}}},
    {"baselines": {"adults_titled": 12}},
])
def test_a_rule_the_service_cannot_apply_is_refused(bad):
    with pytest.raises(ValueError):
        domain.check_targets({"national": {}} | bad)


# -- the review (sơ kết) --------------------------------------------------------------------------
def test_the_review_gives_baseline_each_year_and_the_last_against_its_target():
    counters = {("people", 1980): 10, ("titled_adult", 2021): 1, ("titled_adult", 2023): 3,
                ("titled_adult", 2025): 5}
    targets = copy.deepcopy(TARGETS)
    targets["indicators"]["adults_titled"]["population"] = "all_adults"
    first, last = review.period_years(targets, "2021-2025")
    rows = {r["indicator"]: r for r in review.review_rows(targets, ["AG"], counters, first,
                                                          last, this_year=2026)}
    adults = rows["adults_titled"]
    assert adults["baseline"] == 0.1
    assert [y["share"] for y in adults["years"]] == [0.1, 0.0, 0.3, 0.0, 0.5]
    assert (adults["target"], adults["status"]) == (0.4, "reached")
    later = {r["indicator"]: r for r in review.review_rows(targets, ["AG"], counters,
                                                           2026, 2030, this_year=2026)}
    assert later["adults_titled"]["baseline"] == 0.5  # where 2021-2025 ended
    assert later["adults_titled"]["target_year"] == 2030
    assert later["adults_titled"]["status_year"] == 2026      # the period runs
    assert [y["share"] for y in later["adults_titled"]["years"]][1:] == [None] * 4
