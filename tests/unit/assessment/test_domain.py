"""The Learning Citizen pass rule and criteria versions (pure core)."""
from datetime import date

import pytest

from services.assessment import domain

CRITERIA = domain.load_criteria()
C324 = CRITERIA["324/QĐ-KHVN"]
CODES = [i.code for i in C324.indicators]


def scores(total=None, **overrides):
    """Ten scores, overrides by code with '_' for '.', padded to ``total`` when given."""
    s = {code: 8 for code in CODES}
    s.update({k.replace("_", "."): v for k, v in overrides.items()})
    if total is not None:
        rest = [c for c in CODES if c.replace(".", "_") not in overrides]
        fixed = sum(v for k, v in s.items() if k not in rest)
        base, extra = divmod(total - fixed, len(rest))
        for i, code in enumerate(rest):
            s[code] = base + (1 if i < extra else 0)
    return s


def test_the_set_has_three_competencies_and_ten_indicators():
    assert CODES == ["TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2", "TC2.3", "TC2.4",
                     "TC3.1", "TC3.2"]
    assert C324.min_total == 80 and C324.min_per_indicator == 5


@pytest.mark.parametrize("given, passed", [
    (scores(total=80), True),                    # exactly the minimum total
    (scores(total=79), False),                   # one point short
    (scores(total=100), True),
    (scores(total=85, TC2_1=5), True),           # an indicator exactly at the minimum
    (scores(total=85, TC2_1=4), False),          # one indicator under 5 fails a high total
    (scores(total=90, TC3_2=0), False),
])
def test_pass_rule_boundaries(given, passed):
    decision = domain.evaluate(C324, given)
    assert sum(given.values()) == decision.total
    assert decision.passed is passed
    assert decision.criteria_version == "324/QĐ-KHVN"


def test_explanation_names_each_failing_indicator():
    decision = domain.evaluate(C324, scores(total=85, TC2_1=4))
    failing = [r for r in decision.results if not r.met]
    assert [r.reason for r in failing] == ["TC2.1: 4/10, under the minimum 5"]
    assert "TC2.1: 4/10, under the minimum 5" in decision.summary
    assert len(decision.results) == 10


def test_explanation_of_a_low_total():
    decision = domain.evaluate(C324, scores(total=79))
    assert decision.summary == "not passed under 324/QĐ-KHVN: total 79 is under 80"


@pytest.mark.parametrize("bad, field, message", [
    ({"TC1.1": None}, "TC1.1", "whole number"),
    ({"TC1.1": 11}, "TC1.1", "whole number"),
    ({"TC1.1": -1}, "TC1.1", "whole number"),
    ({"TC1.1": 7.5}, "TC1.1", "whole number"),
    ({"TC1.1": True}, "TC1.1", "whole number"),
    ({"TC9.9": 5}, "TC9.9", "not an indicator"),
])
def test_scores_out_of_range_or_unknown_are_rejected(bad, field, message):
    with pytest.raises(domain.InvalidScores) as err:
        domain.evaluate(C324, scores() | bad)
    assert message in err.value.errors[field][0]


def test_missing_score_is_rejected():
    given = scores()
    del given["TC3.2"]
    with pytest.raises(domain.InvalidScores) as err:
        domain.evaluate(C324, given)
    assert err.value.errors == {"TC3.2": ["missing score"]}


@pytest.mark.parametrize("tc21, level", [(4, "none"), (5, "basic"), (7, "basic"),
                                         (8, "proficient"), (10, "proficient")])
def test_digital_skill_level_from_tc21(tc21, level):
    assert domain.digital_skill_level(C324, scores(TC2_1=tc21)) == level


@pytest.mark.parametrize("year, version", [(2022, "244/QĐ-KHVN"), (2023, "324/QĐ-KHVN"),
                                           (2025, "324/QĐ-KHVN"), (2030, "324/QĐ-KHVN")])
def test_the_version_in_force_at_year_end_is_used(year, version):
    assert domain.criteria_for_year(CRITERIA, year).version == version


def test_no_criteria_before_the_first_set():
    with pytest.raises(LookupError):
        domain.criteria_for_year(CRITERIA, 2021)


def test_a_new_set_is_data(tmp_path):
    """A province adds a set by dropping a file: no code changes."""
    for path in domain.CRITERIA_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    text = (domain.CRITERIA_DIR / "learning_citizen_324.yaml").read_text(encoding="utf-8")
    (tmp_path / "province_2026.yaml").write_text(
        text.replace('version: "324/QĐ-KHVN"', 'version: "AG-2026"')
            .replace("effective_from: 2023-10-25", "effective_from: 2026-01-01")
            .replace("min_total: 80", "min_total: 85"), encoding="utf-8")
    sets = domain.load_criteria(tmp_path)
    assert domain.criteria_for_year(sets, 2026).version == "AG-2026"
    assert not domain.evaluate(sets["AG-2026"], scores(total=84)).passed
    assert sets["324/QĐ-KHVN"].in_force_on(date(2025, 12, 31))
