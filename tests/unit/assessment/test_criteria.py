"""Criteria sets as versioned data: loading, versions in force, provenance guards."""
from datetime import date

import pytest
import yaml

from services.assessment import criteria as criteria_sets
from services.assessment import domain

SHIPPED = criteria_sets.CRITERIA_DIR


def copy_shipped(tmp_path):
    for path in SHIPPED.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def raw(name="learning_citizen_324.yaml"):
    return yaml.safe_load((SHIPPED / name).read_text(encoding="utf-8"))


def write(directory, name, data):
    (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_every_shipped_kind_is_there():
    sets = criteria_sets.load_criteria()
    assert {c.kind for c in sets.values()} == {"learning_citizen", "learning_family",
                                               "learning_clan", "learning_community",
                                               "learning_unit"}
    assert sets["324/QĐ-KHVN"].supersedes == "244/QĐ-KHVN"
    assert sets["324/QĐ-KHVN"].issued_by.startswith("Hội Khuyến học Việt Nam")


@pytest.mark.parametrize("year, version", [(2022, "244/QĐ-KHVN"), (2023, "324/QĐ-KHVN"),
                                           (2025, "324/QĐ-KHVN"), (2030, "324/QĐ-KHVN")])
def test_the_version_in_force_at_year_end_is_used(year, version):
    sets = criteria_sets.load_criteria()
    assert criteria_sets.in_force(sets, "learning_citizen", year).version == version


def test_no_criteria_before_the_first_set():
    with pytest.raises(LookupError, match="no learning_citizen criteria set is in force"):
        criteria_sets.in_force(criteria_sets.load_criteria(), "learning_citizen", 2021)


def test_unknown_version_names_the_known_ones():
    with pytest.raises(LookupError, match="known: 244/QĐ-KHVN, 324/QĐ-KHVN"):
        criteria_sets.known(criteria_sets.load_criteria(), "999/QĐ")
    with pytest.raises(LookupError):  # a group set is not an individual one
        criteria_sets.known(criteria_sets.load_criteria(), "24/2023/TT-BGDĐT")


def test_a_province_supersedes_a_set_with_a_file(tmp_path):
    """A province adds a set by dropping a file in its own directory: no code changes; the
    newest effective_from in force wins."""
    data = raw() | {"version": "AG-2026", "effective_from": date(2026, 1, 1),
                    "supersedes": "324/QĐ-KHVN",
                    "pass_rule": {"min_total": 85, "min_per_indicator": 5}}
    write(tmp_path, "province_2026.yaml", data)
    sets = criteria_sets.load_criteria(SHIPPED, tmp_path)
    assert criteria_sets.in_force(sets, "learning_citizen", 2026).version == "AG-2026"
    assert criteria_sets.in_force(sets, "learning_citizen", 2025).version == "324/QĐ-KHVN"
    codes = [i.code for i in sets["AG-2026"].indicators]
    eighty_four = {code: 9 if i < 4 else 8 for i, code in enumerate(codes)}
    assert sum(eighty_four.values()) == 84
    assert not domain.evaluate(sets["AG-2026"], eighty_four).passed
    assert domain.evaluate(sets["324/QĐ-KHVN"], eighty_four).passed


def test_fingerprint_ignores_formatting_but_not_content(tmp_path):
    shipped = criteria_sets.load_criteria()["324/QĐ-KHVN"].fingerprint
    write(copy_shipped(tmp_path), "learning_citizen_324.yaml", raw())  # comments dropped
    assert criteria_sets.load_criteria(tmp_path)["324/QĐ-KHVN"].fingerprint == shipped
    write(tmp_path, "learning_citizen_324.yaml",
          raw() | {"pass_rule": {"min_total": 75, "min_per_indicator": 5}})
    assert criteria_sets.load_criteria(tmp_path)["324/QĐ-KHVN"].fingerprint != shipped


def test_a_set_in_use_cannot_be_edited(tmp_path):
    shipped = criteria_sets.load_criteria()
    recorded = {"324/QĐ-KHVN": shipped["324/QĐ-KHVN"].fingerprint}
    criteria_sets.check_unchanged(shipped, recorded)  # unchanged: fine
    write(copy_shipped(tmp_path), "learning_citizen_324.yaml",
          raw() | {"pass_rule": {"min_total": 75, "min_per_indicator": 5}})
    edited = criteria_sets.load_criteria(tmp_path)
    with pytest.raises(criteria_sets.CriteriaError, match="324/QĐ-KHVN are in use"):
        criteria_sets.check_unchanged(edited, recorded)
    criteria_sets.check_unchanged(edited, {})  # never used: it may still be corrected


@pytest.mark.parametrize("change, message", [
    ({"kind": "learning_village"}, "unknown kind"),
    ({"evidence": {"course": {"indicator": "TC9.9", "min_score": 5}}}, "unknown indicator"),
    ({"variants": {"teacher": {"form": "x"}}}, "unknown target group"),
    ({"digital_skills": {"indicator": "TC9", "basic": 5, "proficient": 8}}, "not in the set"),
    ({"effective_to": date(2020, 1, 1)}, "in order"),
    ({"pass_rule": {}}, "malformed"),
])
def test_broken_sets_are_refused_with_the_file_named(tmp_path, change, message):
    write(tmp_path, "broken.yaml", raw() | change)
    with pytest.raises(criteria_sets.CriteriaError, match=message) as err:
        criteria_sets.load_criteria(tmp_path)
    assert "broken.yaml" in str(err.value)


def test_a_version_defined_twice_is_refused(tmp_path):
    write(copy_shipped(tmp_path), "copy.yaml", raw())
    with pytest.raises(criteria_sets.CriteriaError, match="already defined"):
        criteria_sets.load_criteria(tmp_path)


@pytest.mark.parametrize("levels, message", [
    ([{"level": 1, "min_titled_share": 0.95}, {"level": 2, "min_titled_share": 0.9}],
     "lowest share up"),
    ([{"level": None, "min_titled_share": 0.9}], "numbers its levels"),
    ([{"level": 1, "min_titled_share": 1.5}], r"\(0, 1\]"),
])
def test_group_levels_are_checked(tmp_path, levels, message):
    data = raw("learning_unit_24_2023.yaml")
    data["rule"]["levels"] = levels
    write(tmp_path, "unit.yaml", data)
    with pytest.raises(criteria_sets.CriteriaError, match=message):
        criteria_sets.load_criteria(tmp_path)
