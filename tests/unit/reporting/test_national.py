"""The national overview's pure parts: provinces' counters summed, rows measured against the
programme's targets or a province's, and the breakdown's row order."""
from services.reporting import domain, reads


def person(born, titles=(), roles=()):
    return domain.PersonState(registered=True, birth_year=born, roles=frozenset(roles),
                              titles=tuple(titles))


def counted(*people):
    total = {}
    for p in people:
        for k, n in domain.person_tallies(p).items():
            total[k] = total.get(k, 0) + n
    return total


def test_the_sum_of_disjoint_subtrees_counts_as_one_unit_over_them():
    ag = counted(person(1980, [(2025, "basic")]), person(1990), person(2015))
    kg = counted(person(1980, [(2025, "proficient")], roles=["association_member"]))
    empty = {}
    summed = domain.sum_tallies([ag, kg, empty])
    assert summed == counted(person(1980, [(2025, "basic")]), person(1990), person(2015),
                             person(1980, [(2025, "proficient")],
                                    roles=["association_member"]))
    assert domain.population_summary(summed, 2025)["people"] == 4
    assert domain.figures(summed, 2025, population="all_adults")["adults_titled"] == (2, 3)


def test_a_sum_drops_what_nets_to_zero_and_leaves_its_inputs_alone():
    a, b = {("people", 1980): 2, ("titled", 2025): 1}, {("titled", 2025): -1}
    assert domain.sum_tallies([a, b]) == {("people", 1980): 2}
    assert a == {("people", 1980): 2, ("titled", 2025): 1}
    assert domain.sum_tallies([]) == {}


TARGETS = domain.load_targets()
TARGETS["indicators"]["adults_titled"]["population"] = "all_adults"
TARGETS["overrides"] = {"KG": {"adults_titled": {2025: 0.5}}}


def test_the_nation_is_measured_against_the_programme_a_province_against_its_own():
    counters = counted(person(1980, [(2025, "basic")]), person(1985), person(1990))
    nation = reads.figure_rows(TARGETS, {}, [], 2025, counters, ("adults_titled",))
    kg = reads.figure_rows(TARGETS, {}, ["KG"], 2025, counters, ("adults_titled",), "KG",
                           {"KG": {"unit_name": "Kiên Giang"}})
    assert "unit_code" not in nation["adults_titled"]
    assert (nation["adults_titled"]["numerator"], nation["adults_titled"]["denominator"],
            nation["adults_titled"]["target"], nation["adults_titled"]["gap"]) == (1, 3, 0.4, 1)
    assert kg["adults_titled"]["unit_name"] == "Kiên Giang"
    assert (kg["adults_titled"]["target"], kg["adults_titled"]["gap"]) == (0.5, 1)


def test_rows_sort_as_the_breakdown_does():
    rows = [{"unit_code": "KG", "gap": 3, "share": 0.1}, {"unit_code": "AG", "gap": 0,
                                                          "share": 0.5},
            {"unit_code": "CT", "gap": None, "share": None}, {"unit_code": "BL", "gap": 3,
                                                              "share": 0.2}]
    assert [r["unit_code"] for r in reads.sorted_rows(rows, "gap")] == ["BL", "KG", "AG", "CT"]
    assert [r["unit_code"] for r in reads.sorted_rows(rows, "share")] == ["KG", "BL", "AG",
                                                                           "CT"]
    assert [r["unit_code"] for r in reads.sorted_rows(rows, "unit")] == ["AG", "BL", "CT",
                                                                          "KG"]
