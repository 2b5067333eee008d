"""Reporting rules: target arithmetic and how one fact moves the counters.

Pure functions: the service module applies the increments they return in one transaction.
"""
from dataclasses import dataclass
from pathlib import Path

import yaml

TARGETS_FILE = Path(__file__).resolve().parent / "targets.yaml"
ADULT_AGE = 18


def load_targets(path=TARGETS_FILE):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def target_for(targets, indicator, year, unit_path=()):
    """The share to reach for ``indicator`` in ``year``: the next milestone at or after it.

    The most specific override along ``unit_path`` (unit first, then its ancestors) wins.
    """
    milestones = dict(targets["national"].get(indicator, {}))
    for code in unit_path:  # root first, so deeper units override shallower ones
        milestones.update((targets.get("overrides") or {}).get(code, {}).get(indicator, {}))
    upcoming = sorted(m for m in milestones if int(m) >= year)
    if not upcoming:
        return None
    return float(milestones[upcoming[0]])


def adults(population_by_birth_year, year, adult_age=ADULT_AGE):
    """People who are adults during ``year`` (turning ``adult_age`` by its end)."""
    return sum(n for born, n in population_by_birth_year.items() if year - born >= adult_age)


@dataclass(frozen=True)
class Progress:
    indicator: str
    numerator: int
    denominator: int
    share: float | None
    target: float | None
    gap: int | None
    reached: bool | None


def progress(indicator, numerator, denominator, target):
    """Share against target; ``gap`` is how many more people are needed to reach it."""
    share = numerator / denominator if denominator else None
    if target is None or not denominator:  # nothing to measure yet: neither reached nor behind
        return Progress(indicator, numerator, denominator, share, None, None, None)
    needed = -(-int(round(target * denominator * 1_000_000)) // 1_000_000)  # ceil, float-safe
    gap = max(0, needed - numerator)
    return Progress(indicator, numerator, denominator, share, target, gap, gap == 0)


def title_increments(digital_skills, sign=1):
    """Counter changes one granted (sign=1) or revoked (sign=-1) title makes at each unit."""
    return {"titled": sign,
            "digitally_skilled": sign if digital_skills in ("basic", "proficient") else 0,
            "digitally_proficient": sign if digital_skills == "proficient" else 0}


def unit_progress(targets, unit_path, year, population_by_birth_year, titles):
    """Every indicator the skeleton can measure for one unit and year."""
    adult_count = adults(population_by_birth_year, year)
    titled = titles.get("titled", 0)
    rows = [
        ("adults_titled", titled, adult_count),
        ("titled_with_digital_skills", titles.get("digitally_skilled", 0), titled),
        ("titled_digitally_proficient", titles.get("digitally_proficient", 0), titled),
    ]
    return [progress(name, num, den, target_for(targets, name, year, unit_path))
            for name, num, den in rows]


# -- population: how a person's change moves the (unit, birth year) counters ---------------------
POPULATION_CHANGES = ("registered", "updated", "moved", "removed")


def population_deltas(change, person, deltas=None):
    """Counter changes ``{(unit_code, birth_year): +/-n}`` one person's change makes along
    the unit paths; added into ``deltas`` when given (for a batch), zeros left in.

    ``person`` holds the facts of an event: ``unit_path``, ``birth_year``, and for a move
    ``from_unit_path``; ``previous`` (when known) holds the facts before the change.
    - registered: +1 at every unit of the path, in the birth year;
    - removed: -1 likewise;
    - moved: -1 along ``from_unit_path`` (in the previous birth year when given), +1 along
      ``unit_path``: the ancestors both share net to zero;
    - updated: only a changed birth year moves the counters (-1 old year, +1 new year).
    """
    if change not in POPULATION_CHANGES:
        raise ValueError(f"unknown change {change!r}")
    deltas = {} if deltas is None else deltas
    year = person["birth_year"]
    previous_year = (person.get("previous") or {}).get("birth_year") or year

    def add(path, birth_year, n):
        for code in path:
            key = (code, birth_year)
            deltas[key] = deltas.get(key, 0) + n

    if change == "registered":
        add(person["unit_path"], year, 1)
    elif change == "removed":
        add(person["unit_path"], year, -1)
    elif change == "moved":
        add(person["from_unit_path"], previous_year, -1)
        add(person["unit_path"], year, 1)
    elif previous_year != year:  # updated
        add(person["unit_path"], previous_year, -1)
        add(person["unit_path"], year, 1)
    return deltas


def batch_population_deltas(changes):
    """The summed, non-zero deltas of many ``(change, person)`` pairs, in key order (so
    concurrent transactions lock counter rows in one order)."""
    deltas = {}
    for change, person in changes:
        population_deltas(change, person, deltas)
    return {key: n for key, n in sorted(deltas.items()) if n}
