"""What a person and a group count for, and how a change moves the counters along the unit
tree (pure core of reporting)."""
from collections import Counter

from services.reporting import domain
from services.reporting.domain import GroupState, PersonState

LX = ["AG", "AG.LX"]
MB = ["AG", "AG.MB"]


def person(**facts):
    return PersonState(**{"registered": True, "birth_year": 1985} | facts)


def test_a_registered_person_counts_in_the_population_of_their_birth_year():
    assert domain.person_tallies(person()) == {("people", 1985): 1}


def test_roles_groups_and_briefing():
    p = person(roles=frozenset({"association_member", "unit_staff"}),
               group_kinds=frozenset({"family"}), briefed=True)
    assert domain.person_tallies(p) == {("people", 1985): 1, ("grouped", 1985): 1,
                                        ("members", 0): 1, ("members_briefed", 0): 1,
                                        ("staff", 0): 1}
    assert domain.person_tallies(person(briefed=True)) == {("people", 1985): 1}  # no role
    staff = domain.person_tallies(person(group_kinds=frozenset({"learning_unit"})))
    assert staff[("staff", 0)] == 1 and ("grouped", 1985) not in staff


TRAINED = frozenset({("digital_skills_basic", True)})


def test_titles_count_by_year_with_digital_skills_adulthood_and_staff():
    p = person(birth_year=2007, roles=frozenset({"unit_staff"}), trainings=TRAINED,
               titles=((2024, "none"), (2025, "proficient")))
    counts = domain.person_tallies(p)
    assert counts[("titled", 2024)] == 1 and counts[("titled", 2025)] == 1
    assert counts[("titled_adult", 2025)] == 1 and ("titled_adult", 2024) not in counts  # 17
    assert (counts[("titled_digital", 2025)], counts[("titled_proficient", 2025)]) == (1, 1)
    assert ("titled_digital", 2024) not in counts
    assert counts[("titled_staff", 2024)] == counts[("titled_staff", 2025)] == 1
    assert domain.person_tallies(p, adult_age=16)[("titled_adult", 2024)] == 1


def test_a_title_of_someone_not_registered_yet_counts_as_a_title_only():
    stub = PersonState(titles=((2025, "basic"),), trainings=TRAINED)
    assert domain.person_tallies(stub) == {("titled", 2025): 1, ("titled_digital", 2025): 1}


def test_a_removed_person_counts_for_nothing():
    assert domain.person_tallies(person(removed=True, titles=((2025, "basic"),))) == {}


def test_every_numerator_is_within_its_denominator():
    people = [(person(birth_year=by, roles=frozenset(r), group_kinds=frozenset(g), briefed=b,
                      titles=t), rec, tr)
              for by in (1960, 2008, 2012) for r in ((), ("association_official",),
                                                      ("unit_staff",))
              for g in ((), ("community",), ("learning_unit",)) for b in (False, True)
              for t in ((), ((2025, "none"),), ((2025, "proficient"), (2026, "basic")))
              for rec in (frozenset(), frozenset({2025}))
              for tr in (frozenset(), TRAINED)]
    people = [PersonState(**{**p.__dict__, "recognised_years": rec, "trainings": tr})
              for p, rec, tr in people]
    people.append(PersonState(titles=((2025, "basic"),)))
    totals = Counter()
    for p in people:
        totals.update(domain.person_tallies(p))
    for year in (2025, 2026):
        for rule in ("all_adults", "adults_in_groups", "adults_in_recognised_groups"):
            for indicator, (num, den) in domain.figures(totals, year,
                                                        population=rule).items():
                assert num <= den, (indicator, year, rule)


def test_a_move_nets_to_zero_at_the_shared_ancestors():
    counts = domain.person_tallies(person())
    deltas = domain.nonzero(domain.change_deltas(LX, counts, MB, counts))
    assert deltas == {("AG.LX", "people", 1985): -1, ("AG.MB", "people", 1985): 1}


def test_a_changed_birth_year_moves_the_population():
    deltas = domain.nonzero(domain.change_deltas(
        LX, domain.person_tallies(person()), LX,
        domain.person_tallies(person(birth_year=1986))))
    assert deltas == {("AG", "people", 1985): -1, ("AG", "people", 1986): 1,
                      ("AG.LX", "people", 1985): -1, ("AG.LX", "people", 1986): 1}
    assert list(deltas) == sorted(deltas)


def test_groups_are_known_while_they_have_members_or_a_title():
    assert domain.group_tallies(GroupState("family")) == {}
    assert domain.group_tallies(GroupState("family", 3)) == {("groups:family", 0): 1}
    assert domain.group_tallies(GroupState("clan", 0, frozenset({2025}))) == {
        ("groups:clan", 0): 1, ("recognised:clan", 2025): 1}


def test_a_merge_rehomes_counters_and_history():
    rows = {("people", 1985): 3, ("titled", 2025): 1}
    assert domain.rehome(["AG", "AG.X"], ["AG", "AG.Y"], rows) == {
        ("AG.X", "people", 1985): -3, ("AG.X", "titled", 2025): -1,
        ("AG.Y", "people", 1985): 3, ("AG.Y", "titled", 2025): 1}
    assert domain.resolve({"A": "B", "B": "C"}, "A") == "C"
    assert domain.resolve({"A": "B", "B": "A"}, "A") in ("A", "B")  # a cycle ends
    assert domain.resolve({}, "A") == "A"
