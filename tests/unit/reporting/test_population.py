"""How people's changes move the population counters (pure core of reporting)."""
import pytest

from services.reporting import domain

LX = ["AG", "AG.LX"]
MB = ["AG", "AG.MB"]


def person(path=LX, year=1985, **extra):
    return {"unit_code": path[-1], "unit_path": path, "birth_year": year, **extra}


def test_registered_counts_one_along_the_path():
    assert domain.population_deltas("registered", person()) == {("AG", 1985): 1,
                                                               ("AG.LX", 1985): 1}


def test_removed_takes_one_off_along_the_path():
    assert domain.population_deltas("removed", person()) == {("AG", 1985): -1,
                                                            ("AG.LX", 1985): -1}


def test_a_move_nets_to_zero_at_the_shared_ancestors():
    deltas = domain.batch_population_deltas([("moved", person(MB, from_unit_path=LX))])
    assert deltas == {("AG.LX", 1985): -1, ("AG.MB", 1985): 1}


def test_a_move_with_a_changed_birth_year_leaves_from_the_old_year():
    moved = person(MB, 1986, from_unit_path=LX,
                   previous={"target_group": "resident", "roles": [], "birth_year": 1985})
    assert domain.batch_population_deltas([("moved", moved)]) == {
        ("AG", 1985): -1, ("AG", 1986): 1, ("AG.LX", 1985): -1, ("AG.MB", 1986): 1}


def test_an_update_moves_counters_only_when_the_birth_year_changed():
    same = person(previous={"target_group": "worker", "roles": [], "birth_year": 1985})
    assert domain.batch_population_deltas([("updated", same)]) == {}
    assert domain.batch_population_deltas([("updated", person())]) == {}  # previous unknown
    older = person(year=1984, previous={"target_group": "resident", "roles": [],
                                        "birth_year": 1985})
    assert domain.batch_population_deltas([("updated", older)]) == {
        ("AG", 1984): 1, ("AG", 1985): -1, ("AG.LX", 1984): 1, ("AG.LX", 1985): -1}


def test_a_batch_sums_and_drops_zeros_in_key_order():
    changes = [("registered", person()), ("registered", person(MB)),
               ("registered", person(year=2010)), ("removed", person(year=2010)),
               ("moved", person(MB, from_unit_path=LX))]
    deltas = domain.batch_population_deltas(changes)
    assert deltas == {("AG", 1985): 2, ("AG.MB", 1985): 2}
    assert list(deltas) == sorted(deltas)


def test_an_unknown_change_is_refused():
    with pytest.raises(ValueError):
        domain.population_deltas("merged", person())


def test_deltas_accumulate_into_a_given_dict():
    deltas = {}
    domain.population_deltas("registered", person(), deltas)
    domain.population_deltas("registered", person(), deltas)
    assert deltas == {("AG", 1985): 2, ("AG.LX", 1985): 2}
