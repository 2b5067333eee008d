"""Criteria sets (the Bộ tiêu chí) as versioned data: YAML files read into frozen objects.

Two kinds of set:
- ``learning_citizen``: the individual title, scored per indicator (324/QĐ-KHVN, 244/QĐ-KHVN),
  with a variant (form) per target group, and evidence rules that let recorded learning
  activities confirm an indicator;
- group sets (Learning Family, Clan, Community, Learning Unit): decided from the share of the
  group's members who hold the individual title, with levels (Circular 24/2023 for units).

A province adds or amends a set by dropping a new file in a criteria directory; a set already
used for a decision can never change (``fingerprint`` is recorded and checked), only be
superseded by a new version in force from a later date.
"""
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path

import yaml

CRITERIA_DIR = Path(__file__).resolve().parent / "criteria"
INDIVIDUAL = "learning_citizen"
GROUP_SET_KINDS = {"learning_family": "family", "learning_clan": "clan",
                   "learning_community": "community", "learning_unit": "learning_unit"}
TARGET_GROUPS = ("resident", "worker", "employee_business", "student")
DIGITAL_LEVELS = ("none", "basic", "proficient")


class CriteriaError(ValueError):
    """A criteria file that cannot be used: says which file and what is wrong."""


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    max: int


@dataclass(frozen=True)
class Evidence:
    """A recorded learning activity of ``activity`` kind confirms ``indicator``: the score is
    expected to be at least ``min_score``; ``digital_skills`` (if any) is the level it proves."""
    activity: str
    indicator: str
    min_score: int
    digital_skills: str | None = None


@dataclass(frozen=True)
class Level:
    level: int | None
    min_titled_share: Fraction

    @property
    def percent(self):
        return f"{float(self.min_titled_share) * 100:g}%"


@dataclass(frozen=True)
class CriteriaSet:
    version: str
    kind: str
    title: str
    issued_by: str
    effective_from: date
    effective_to: date | None
    fingerprint: str
    supersedes: str | None = None
    # individual sets
    min_total: int = 0
    min_per_indicator: int = 0
    indicators: tuple[Indicator, ...] = ()
    variants: dict = field(default_factory=dict)  # target group -> {"form", "names"}
    digital_indicator: str | None = None
    digital_basic: int = 0
    digital_proficient: int = 0
    evidence: tuple[Evidence, ...] = ()
    # group sets
    group_kind: str | None = None
    min_members: int = 1
    levels: tuple[Level, ...] = ()

    @property
    def is_group(self):
        return self.group_kind is not None

    def in_force_on(self, day):
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def indicator_names(self, target_group):
        """The wording of the target group's form (the default wording where it has none)."""
        names = self.variants.get(target_group, {}).get("names", {})
        return {i.code: names.get(i.code, i.name) for i in self.indicators}

    def form(self, target_group):
        return self.variants.get(target_group, {}).get("form", self.title)

    def describe(self):
        """The set as the API shows it."""
        out = {"version": self.version, "kind": self.kind, "title": self.title,
               "issued_by": self.issued_by, "effective_from": self.effective_from,
               "effective_to": self.effective_to, "supersedes": self.supersedes,
               "fingerprint": self.fingerprint}
        if self.is_group:
            return out | {"group_kind": self.group_kind, "min_members": self.min_members,
                          "levels": [{"level": lv.level,
                                      "min_titled_share": float(lv.min_titled_share)}
                                     for lv in self.levels]}
        return out | {
            "min_total": self.min_total, "min_per_indicator": self.min_per_indicator,
            "indicators": [i.__dict__ for i in self.indicators],
            "variants": {g: {"form": self.form(g), "names": self.indicator_names(g)}
                         for g in TARGET_GROUPS},
            "digital_skills": {"indicator": self.digital_indicator,
                               "basic": self.digital_basic,
                               "proficient": self.digital_proficient},
            "evidence": [e.__dict__ for e in self.evidence]}


def fingerprint(raw):
    """sha256 of the set's content (not of its file's formatting or comments)."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse(raw, source="<data>"):
    """One set from its YAML mapping; CriteriaError names ``source`` and the problem."""
    try:
        kind = raw.get("kind", INDIVIDUAL)
        common = dict(version=str(raw["version"]), kind=kind, title=raw["title"],
                      issued_by=raw["issued_by"], effective_from=raw["effective_from"],
                      effective_to=raw.get("effective_to"), supersedes=raw.get("supersedes"),
                      fingerprint=fingerprint(raw))
        if kind == INDIVIDUAL:
            criteria = _individual(raw, common)
        elif kind in GROUP_SET_KINDS:
            criteria = _group(raw, common, GROUP_SET_KINDS[kind])
        else:
            raise CriteriaError(f"unknown kind {kind!r}")
    except CriteriaError as exc:
        raise CriteriaError(f"{source}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CriteriaError(f"{source}: malformed criteria set ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(criteria.effective_from, date) or (
            criteria.effective_to is not None and criteria.effective_to < criteria.effective_from):
        raise CriteriaError(f"{source}: effective_from/effective_to must be dates, in order")
    return criteria


def _individual(raw, common):
    indicators = tuple(Indicator(code=i["code"], name=i["name"], max=int(i["max"]))
                       for c in raw["competencies"] for i in c["indicators"])
    codes = {i.code for i in indicators}
    if len(codes) != len(indicators):
        raise CriteriaError("indicator codes must be unique")
    digital = raw["digital_skills"]
    evidence = tuple(Evidence(activity=kind, indicator=rule["indicator"],
                              min_score=int(rule["min_score"]),
                              digital_skills=rule.get("digital_skills"))
                     for kind, rule in (raw.get("evidence") or {}).items())
    for rule in evidence:
        if rule.indicator not in codes:
            raise CriteriaError(f"evidence {rule.activity!r} names unknown indicator "
                                f"{rule.indicator!r}")
        if rule.digital_skills not in (None, "basic", "proficient"):
            raise CriteriaError(f"evidence {rule.activity!r}: digital_skills must be basic or "
                                "proficient")
    variants = raw.get("variants") or {}
    for group, variant in variants.items():
        if group not in TARGET_GROUPS:
            raise CriteriaError(f"variant for unknown target group {group!r}")
        unknown = set(variant.get("names") or {}) - codes
        if unknown:
            raise CriteriaError(f"variant {group!r} names unknown indicators {sorted(unknown)}")
    if digital["indicator"] not in codes:
        raise CriteriaError(f"digital_skills indicator {digital['indicator']!r} is not in the set")
    return CriteriaSet(**common, min_total=int(raw["pass_rule"]["min_total"]),
                       min_per_indicator=int(raw["pass_rule"]["min_per_indicator"]),
                       indicators=indicators, variants=variants,
                       digital_indicator=digital["indicator"], digital_basic=int(digital["basic"]),
                       digital_proficient=int(digital["proficient"]), evidence=evidence)


def _group(raw, common, group_kind):
    rule = raw["rule"]
    levels = tuple(Level(level=lv.get("level"),
                         min_titled_share=Fraction(str(lv["min_titled_share"])))
                   for lv in rule["levels"])
    if not levels or any(not 0 < lv.min_titled_share <= 1 for lv in levels):
        raise CriteriaError("levels need min_titled_share in (0, 1]")
    if (group_kind == "learning_unit") != all(lv.level is not None for lv in levels):
        raise CriteriaError("a learning_unit set numbers its levels; other kinds have one "
                            "level without a number")
    shares = [lv.min_titled_share for lv in levels]
    if shares != sorted(shares):
        raise CriteriaError("levels must be listed from the lowest share up")
    return CriteriaSet(**common, group_kind=group_kind,
                       min_members=int(rule.get("min_members", 1)), levels=levels)


def load_criteria(*directories):
    """Every set in ``directories`` (default: the ones shipped), keyed by version. A version
    found twice is an error: amend a set by a new version, never by a second file."""
    sets, origin = {}, {}
    for directory in directories or (CRITERIA_DIR,):
        paths = sorted(Path(directory).glob("*.yaml"))
        if not Path(directory).is_dir():
            raise CriteriaError(f"{directory}: not a directory")
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                try:
                    raw = yaml.safe_load(fh)
                except yaml.YAMLError as exc:
                    raise CriteriaError(f"{path}: not valid YAML ({exc})") from None
            if not isinstance(raw, dict):
                raise CriteriaError(f"{path}: not a criteria set")
            criteria = parse(raw, str(path))
            if criteria.version in sets:
                raise CriteriaError(f"{path}: version {criteria.version!r} is already defined "
                                    f"in {origin[criteria.version]}")
            sets[criteria.version], origin[criteria.version] = criteria, path
    for criteria in sets.values():
        if criteria.supersedes and criteria.supersedes not in sets:
            raise CriteriaError(f"{origin[criteria.version]}: supersedes unknown version "
                                f"{criteria.supersedes!r}")
    return sets


def in_force(sets, kind, year):
    """The set of ``kind`` in force at the end of the assessed (calendar) year: the one with
    the latest effective_from among those in force that day."""
    day = date(year, 12, 31)
    candidates = [c for c in sets.values() if c.kind == kind and c.in_force_on(day)]
    if not candidates:
        raise LookupError(f"no {kind} criteria set is in force for {year}")
    return max(candidates, key=lambda c: c.effective_from)


def for_group_kind(sets, group_kind, year):
    kind = next(k for k, g in GROUP_SET_KINDS.items() if g == group_kind)
    return in_force(sets, kind, year)


def known(sets, version, kind=INDIVIDUAL):
    """The set ``version`` of ``kind``; LookupError with the known versions otherwise."""
    criteria = sets.get(version)
    if criteria is None or criteria.kind != kind:
        versions = sorted(v for v, c in sets.items() if c.kind == kind)
        raise LookupError(f"unknown {kind} criteria version {version!r} (known: "
                          f"{', '.join(versions)})")
    return criteria


def check_unchanged(sets, recorded):
    """``recorded``: {version: fingerprint} of the sets decisions were made under. A set in
    use whose content changed is an error (supersede it with a new version instead)."""
    changed = sorted(v for v, fp in recorded.items() if v in sets and sets[v].fingerprint != fp)
    if changed:
        raise CriteriaError(
            f"criteria sets {', '.join(changed)} are in use and their content changed; a set in "
            "use cannot be edited: restore it and add a new version that supersedes it")
