"""Assessment rules: criteria sets as data, and the pass rule of the Learning Citizen title.

A decision always names the criteria version it was made under and explains itself per
indicator ("TC2.1: 4/10, under the minimum 5"), so a citizen or reviewer can see why.
"""
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

CRITERIA_DIR = Path(__file__).resolve().parent / "criteria"


class InvalidScores(ValueError):
    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    max: int


@dataclass(frozen=True)
class CriteriaSet:
    version: str
    title: str
    issued_by: str
    effective_from: date
    effective_to: date | None
    min_total: int
    min_per_indicator: int
    indicators: tuple[Indicator, ...]
    digital_indicator: str
    digital_basic: int
    digital_proficient: int

    def in_force_on(self, day):
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    @classmethod
    def from_dict(cls, raw):
        return cls(
            version=raw["version"], title=raw["title"], issued_by=raw["issued_by"],
            effective_from=raw["effective_from"], effective_to=raw.get("effective_to"),
            min_total=raw["pass_rule"]["min_total"],
            min_per_indicator=raw["pass_rule"]["min_per_indicator"],
            indicators=tuple(Indicator(**i) for c in raw["competencies"] for i in c["indicators"]),
            digital_indicator=raw["digital_skills"]["indicator"],
            digital_basic=raw["digital_skills"]["basic"],
            digital_proficient=raw["digital_skills"]["proficient"],
        )


def load_criteria(directory=CRITERIA_DIR):
    """Every criteria set under ``directory``, keyed by version."""
    sets = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        with open(path, encoding="utf-8") as fh:
            criteria = CriteriaSet.from_dict(yaml.safe_load(fh))
        sets[criteria.version] = criteria
    return sets


def criteria_for_year(sets, year):
    """The set in force at the end of the assessed (calendar) year."""
    day = date(year, 12, 31)
    for criteria in sorted(sets.values(), key=lambda c: c.effective_from, reverse=True):
        if criteria.in_force_on(day):
            return criteria
    raise LookupError(f"no criteria set is in force for {year}")


@dataclass(frozen=True)
class IndicatorResult:
    code: str
    score: int
    minimum: int
    met: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    criteria_version: str
    total: int
    passed: bool
    digital_skills: str
    results: tuple[IndicatorResult, ...] = field(default_factory=tuple)
    summary: str = ""


def check_scores(criteria, scores):
    """Exactly the set's indicators, each a whole number within 0..max; raises InvalidScores."""
    errors = {}
    expected = {i.code: i for i in criteria.indicators}
    for code in sorted(set(expected) - set(scores)):
        errors[code] = ["missing score"]
    for code in sorted(set(scores) - set(expected)):
        errors[code] = [f"not an indicator of {criteria.version}"]
    for code, score in scores.items():
        if code in expected and (isinstance(score, bool) or not isinstance(score, int)
                                 or not 0 <= score <= expected[code].max):
            errors[code] = [f"must be a whole number from 0 to {expected[code].max}"]
    if errors:
        raise InvalidScores(errors)


def digital_skill_level(criteria, scores):
    score = scores[criteria.digital_indicator]
    if score >= criteria.digital_proficient:
        return "proficient"
    if score >= criteria.digital_basic:
        return "basic"
    return "none"


def evaluate(criteria, scores):
    """The pass rule: at least ``min_total`` points and no indicator under the minimum."""
    check_scores(criteria, scores)
    results = []
    for indicator in criteria.indicators:
        score = scores[indicator.code]
        met = score >= criteria.min_per_indicator
        reason = (f"{indicator.code}: {score}/{indicator.max}" +
                  ("" if met else f", under the minimum {criteria.min_per_indicator}"))
        results.append(IndicatorResult(indicator.code, score, criteria.min_per_indicator, met,
                                       reason))
    total = sum(scores.values())
    below = [r for r in results if not r.met]
    passed = total >= criteria.min_total and not below
    reasons = []
    if total < criteria.min_total:
        reasons.append(f"total {total} is under {criteria.min_total}")
    reasons.extend(r.reason for r in below)
    summary = (f"passed with {total} points under {criteria.version}" if passed
               else f"not passed under {criteria.version}: " + "; ".join(reasons))
    return Decision(criteria.version, total, passed, digital_skill_level(criteria, scores),
                    tuple(results), summary)
