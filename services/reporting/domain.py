"""Reporting rules: what each person and group counts for, how a change moves the counters
along the unit tree, the indicators and their targets, crossings, time series and "as of".

Pure functions (no nameko, no database): service.py and projection.py load the facts, call
these, and apply the counter deltas they return in one transaction.

The counters ("tallies") are ``{(metric, key): n}`` per unit, every unit counting its whole
subtree. ``key`` is a birth year for population metrics (so adulthood is decided per reporting
year at read time), a title year for title metrics, 0 otherwise:

| metric | key | who |
|---|---|---|
| people | birth year | registered people |
| grouped | birth year | ... currently in a learning family, clan or community |
| members | 0 | ... who are association officials or members (roles) |
| members_briefed | 0 | ... of them, briefed on the model (a "briefing" learning activity) |
| staff | 0 | ... with role unit_staff, or in a learning_unit group |
| titled | year | current titles of the year (also of people not (yet) registered here) |
| titled_digital / titled_proficient | year | ... with digital skills basic-or-proficient / proficient |
| titled_adult | year | ... held by a registered person adult at the end of the year |
| titled_staff | year | ... held by unit staff |
| grouped_titled | year | titled adults currently in a family, clan or community |
| in_recognised | year | adults in a family, clan or community holding its title for the year |
| in_recognised_titled | year | ... of them holding their own title for the year |
| groups:<kind> | 0 | groups known (a current member or a current group title) |
| recognised:<kind> | year | ... holding the group title (computed or recorded) for the year |
| bodies:<kind> | 0 | association bodies (commune associations, branches, boards) |

"Titled with digital skills" counts a title whose level the indicator's rule accepts AND
whose holder's learning records show the training the rule asks for (rules.DigitalRule).
Adulthood, training and group titles are decided when a change is applied: after changing
ADULT_AGE or a digital rule, run the rebuild.

Every fact of a person (titles included) counts at the person's current unit, under today's
tree: a numerator is always a subset of its denominator.
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml

from cdht.contracts.events import INDICATORS
from services.reporting import milestones as ms, rules

TARGETS_FILE = Path(__file__).resolve().parent / "targets.yaml"
ADULT_AGE = 18            # default only: the service reads ADULT_AGE from its config
WARNING_RATIO = 0.9       # default only: REPORTING_WARNING_RATIO
MILESTONES = rules.PERIODS
REPORT_TZ = timezone(timedelta(hours=7))  # a report day is a day in Vietnam (UTC+7)

ASSOCIATION_ROLES = frozenset({"association_official", "association_member"})
COMMUNITY_KINDS = frozenset({"family", "clan", "community"})
DIGITAL = ("basic", "proficient")
GROUP_INDICATORS = {"families_recognised": "family", "clans_recognised": "clan",
                    "communities_recognised": "community",
                    "learning_units_recognised": "learning_unit"}
# metrics whose key is a title year (the rest are keyed by birth year or 0)
YEAR_METRICS = frozenset({"titled", "titled_digital", "titled_proficient", "titled_adult",
                          "titled_staff", "grouped_titled", "in_recognised",
                          "in_recognised_titled"} |
                         {f"recognised:{k}" for k in GROUP_INDICATORS.values()})
# indicators whose numerator is counted per year (a baseline can be measured for them)
YEARLY = frozenset(INDICATORS) - {"briefed_members"}
BODY_KINDS = ("commune_association", "branch", "learning_board")


# -- targets ------------------------------------------------------------------------------------
def load_targets(path=None):
    with open(path or TARGETS_FILE, encoding="utf-8") as fh:
        targets = yaml.safe_load(fh)
    check_targets(targets)
    return targets


def check_targets(targets):
    """Refuse a targets file with an unknown indicator, a share outside 0..1, or a rule it
    cannot apply (rules.check)."""
    problems = []
    sections = [("national", targets.get("national") or {})] + [
        (f"overrides.{code}", section) for code, section in (targets.get("overrides") or {}).items()]
    for where, section in sections:
        for indicator, milestones in section.items():
            if indicator not in INDICATORS:
                problems.append(f"{where}: unknown indicator {indicator!r}")
                continue
            for year, share in (milestones or {}).items():
                if not isinstance(year, int) or not 0 <= float(share) <= 1:
                    problems.append(f"{where}.{indicator}: {year}: {share} is not year: share")
    problems += rules.check(targets)
    if problems:
        raise ValueError("; ".join(problems))


def milestones_for(targets, indicator, unit_path=()):
    """``{year: share}`` given for ``indicator`` at the unit: national, then the overrides
    along ``unit_path`` (root first, so a deeper unit overrides its province). The period
    years are targets; any other year is a milestone of its own."""
    milestones = dict((targets.get("national") or {}).get(indicator) or {})
    for code in unit_path:
        milestones.update(((targets.get("overrides") or {}).get(code) or {}).get(indicator) or {})
    return {int(y): float(s) for y, s in milestones.items()}


def milestone_for(targets, indicator, year, unit_path=()):
    """(target year, share): the period target (2025, 2030) that ``year`` works toward;
    (None, None) after the last."""
    return ms.period_of(milestones_for(targets, indicator, unit_path), year,
                        rules.periods(targets))


def target_for(targets, indicator, year, unit_path=()):
    """The period target ``year`` works toward (see milestone_for)."""
    return milestone_for(targets, indicator, year, unit_path)[1]


def baseline_of(targets, indicator, baseline_figures):
    """The baseline share: the targets file's ``baselines:``, else the share counted in the
    baseline year for an indicator counted per year, else 0."""
    given = ((targets or {}).get("baselines") or {}).get(indicator)
    if given is not None:
        return float(given)
    if indicator in YEARLY and baseline_figures:
        num, den = baseline_figures[indicator]
        if den:
            return round(min(1.0, num / den), 6)
    return 0.0


def yearly_milestones(targets, indicator, unit_path, baseline, years):
    """``{year: milestone}``: the straight path from the baseline through the targets,
    never above the target of the year's period."""
    shares = milestones_for(targets, indicator, unit_path)
    found = ms.milestones(shares, rules.baseline_year(targets), baseline, years)
    for year, value in found.items():
        cap = ms.period_of(shares, year, rules.periods(targets))[1]
        if value is not None and cap is not None:
            found[year] = min(value, cap)
    return found


# -- progress -----------------------------------------------------------------------------------
def adults(population_by_birth_year, year, adult_age=ADULT_AGE):
    """People who are adults during ``year`` (turning ``adult_age`` by its end)."""
    return sum(n for born, n in population_by_birth_year.items()
               if born and year - born >= adult_age)


def is_adult(birth_year, year, adult_age=ADULT_AGE):
    return birth_year is not None and year - birth_year >= adult_age


@dataclass(frozen=True)
class Progress:
    indicator: str
    numerator: int
    denominator: int
    share: float | None
    target: float | None          # the period target (2025 or 2030) the year works toward
    gap: int | None               # still needed to reach it
    reached: bool | None
    target_year: int | None = None
    warning_line: float | None = None  # the milestone x REPORTING_WARNING_RATIO
    status: str | None = None     # reached / on_track / behind, None when nothing to measure
    milestone: float | None = None     # where the indicator should stand this year
    alert: str | None = None      # reached / on_track / at_risk: what target events follow


needed = ms.needed


def progress(indicator, numerator, denominator, target, target_year=None,
             warning_ratio=None, milestone=None):
    """Share against the period target and the year's milestone (the target itself when
    no milestone is given); ``gap`` is how many more are needed to reach the target."""
    share = numerator / denominator if denominator else None
    milestone = target if milestone is None else milestone
    line = (round(milestone * warning_ratio, 6)
            if milestone is not None and warning_ratio else milestone)
    if target is None or not denominator:  # nothing to measure yet: neither reached nor behind
        return Progress(indicator, numerator, denominator, share, target, None, None,
                        target_year, line, None, milestone, None)
    gap = max(0, needed(target, denominator) - numerator)
    return Progress(indicator, numerator, denominator, share, target, gap, gap == 0,
                    target_year, line, ms.status(numerator, denominator, target, milestone),
                    milestone, ms.alert(numerator, denominator, target, line))


def population_figures(tallies, year, adult_age=ADULT_AGE):
    """``{rule: (numerator, denominator)}`` of "adults holding the title" under each of
    rules.POPULATIONS: whom the denominator counts, the numerator counts the same way."""
    def get(metric, key=0):
        return tallies.get((metric, key), 0)
    population = {k: n for (m, k), n in tallies.items() if m == "people"}
    grouped = {k: n for (m, k), n in tallies.items() if m == "grouped"}
    return {"all_adults": (get("titled_adult", year), adults(population, year, adult_age)),
            "adults_in_groups": (get("grouped_titled", year), adults(grouped, year, adult_age)),
            "adults_in_recognised_groups": (get("in_recognised_titled", year),
                                            get("in_recognised", year))}


def figures(tallies, year, adult_age=ADULT_AGE, population=rules.DEFAULT_POPULATION):
    """``{indicator: (numerator, denominator)}`` of one unit for ``year`` from its tallies;
    adults_titled under the ``population`` rule."""
    def get(metric, key=0):
        return tallies.get((metric, key), 0)
    found = {
        "briefed_members": (get("members_briefed"), get("members")),
        "adults_titled": population_figures(tallies, year, adult_age)[population],
        "unit_staff_titled": (get("titled_staff", year), get("staff")),
        "titled_with_digital_skills": (get("titled_digital", year), get("titled", year)),
        "titled_digitally_proficient": (get("titled_proficient", year), get("titled", year)),
    }
    for indicator, kind in GROUP_INDICATORS.items():
        found[indicator] = (get(f"recognised:{kind}", year), get(f"groups:{kind}"))
    return found


def sum_tallies(many):
    """Counters of disjoint subtrees added up (each ``{(metric, key): n}``): what a unit
    above them all would count. Every fact counts at each unit of its path, the top one
    included, so the provinces' counters summed are the nation's."""
    total = Counter()
    for tallies in many:
        total.update(tallies)
    return {k: n for k, n in sorted(total.items()) if n}


def population_summary(tallies, year, adult_age=ADULT_AGE):
    """The headline counts of a unit for ``year`` (people, adults, adults in groups, titles)."""
    population = {k: n for (m, k), n in tallies.items() if m == "people"}
    grouped = {k: n for (m, k), n in tallies.items() if m == "grouped"}
    return {"people": sum(population.values()), "adults": adults(population, year, adult_age),
            "adults_in_groups": adults(grouped, year, adult_age),
            "adults_in_recognised_groups": tallies.get(("in_recognised", year), 0),
            "titled": tallies.get(("titled", year), 0),
            "titled_digitally_skilled": tallies.get(("titled_digital", year), 0),
            "titled_digitally_proficient": tallies.get(("titled_proficient", year), 0)}


def association_summary(tallies):
    """The association's own figures: its bodies by kind, members, members briefed."""
    found = {kind: tallies.get((f"bodies:{kind}", 0), 0) for kind in BODY_KINDS}
    found.update(members=tallies.get(("members", 0), 0),
                 members_briefed=tallies.get(("members_briefed", 0), 0))
    return found


def unit_progress(targets, unit_path, year, tallies, adult_age=ADULT_AGE,
                  warning_ratio=WARNING_RATIO, indicators=INDICATORS):
    """Every indicator of one unit and year, against the period target and the year's
    milestone."""
    population = rules.population_rule(targets)
    found = figures(tallies, year, adult_age, population)
    base = figures(tallies, rules.baseline_year(targets), adult_age, population)
    result = []
    for name in indicators:
        numerator, denominator = found[name]
        target_year, target = milestone_for(targets, name, year, unit_path)
        milestone = yearly_milestones(targets, name, unit_path,
                                      baseline_of(targets, name, base), [year])[year]
        result.append(progress(name, numerator, denominator, target, target_year,
                               warning_ratio, milestone))
    return result


# -- crossings ------------------------------------------------------------------------------------
def crossing(before, after):
    """The target event a change of status calls for: target_reached when the indicator
    reaches its target (also the first time it is measured), target_at_risk when it falls
    from reached or on track under the warning line, the year's milestone x the warning
    ratio (not when first measured there: a new, empty unit is not news). ``before`` and
    ``after`` are Progress.alert values."""
    if after == "reached" and before != "reached":
        return "target_reached"
    if after == "at_risk" and before in ("reached", "on_track"):
        return "target_at_risk"
    return None


# -- what a person and a group count for ----------------------------------------------------------
@dataclass(frozen=True)
class PersonState:
    registered: bool = False          # a person_* event or the registry's export named them
    removed: bool = False
    birth_year: int | None = None
    roles: frozenset = frozenset()
    group_kinds: frozenset = frozenset()  # kinds of their current memberships
    briefed: bool = False
    titles: tuple = ()                # ((year, digital_skills), ...) current titles
    recognised_years: frozenset = frozenset()  # years a family/clan/community of theirs holds
    trainings: frozenset = frozenset()  # {(digital-skills activity kind, finished)}


def person_tallies(person, adult_age=ADULT_AGE, digital=None):
    """What one person counts for at their unit (and each of its ancestors); ``digital``:
    rules.digital_rules of the targets (default: the shipped ones)."""
    digital = digital or rules.DEFAULT_DIGITAL
    counts = Counter()
    if person.removed:
        return counts
    staff = grouped = False
    if person.registered:
        counts[("people", person.birth_year)] += 1
        grouped = bool(person.group_kinds & COMMUNITY_KINDS)
        if grouped:
            counts[("grouped", person.birth_year)] += 1
        if person.roles & ASSOCIATION_ROLES:
            counts[("members", 0)] += 1
            if person.briefed:
                counts[("members_briefed", 0)] += 1
        staff = "unit_staff" in person.roles or "learning_unit" in person.group_kinds
        if staff:
            counts[("staff", 0)] += 1
        for year in person.recognised_years:
            if is_adult(person.birth_year, year, adult_age):
                counts[("in_recognised", year)] += 1
    for year, skills in person.titles:
        counts[("titled", year)] += 1
        if digital["titled_with_digital_skills"].counts(skills, person.trainings):
            counts[("titled_digital", year)] += 1
        if digital["titled_digitally_proficient"].counts(skills, person.trainings):
            counts[("titled_proficient", year)] += 1
        if person.registered:
            if is_adult(person.birth_year, year, adult_age):
                counts[("titled_adult", year)] += 1
                if grouped:
                    counts[("grouped_titled", year)] += 1
                if year in person.recognised_years:
                    counts[("in_recognised_titled", year)] += 1
            if staff:
                counts[("titled_staff", year)] += 1
    return counts


@dataclass(frozen=True)
class GroupState:
    kind: str
    members: int = 0                  # current members
    title_years: frozenset = frozenset()  # years it holds a current group title for


def group_tallies(group):
    counts = Counter()
    if group.members <= 0 and not group.title_years:
        return counts  # not (or no longer) known: no member, no title
    counts[(f"groups:{group.kind}", 0)] += 1
    for year in group.title_years:
        counts[(f"recognised:{group.kind}", year)] += 1
    return counts


def body_tallies(kind, removed=False):
    """An association body counts once at the unit it serves (and its ancestors)."""
    return Counter() if removed else Counter({(f"bodies:{kind}", 0): 1})


def spread(path, counts, sign=1, into=None):
    """``{(unit, metric, key): n}``: ``counts`` at every unit of ``path`` (root first)."""
    into = {} if into is None else into
    for code in path:
        for (metric, key), n in counts.items():
            if n:
                k = (code, metric, key)
                into[k] = into.get(k, 0) + sign * n
    return into


def change_deltas(before_path, before, after_path, after, into=None):
    """Counter deltas of one thing (person or group) going from ``before`` at
    ``before_path`` to ``after`` at ``after_path`` (tallies as given by person_tallies or
    group_tallies); ancestors both share net out. Zeros dropped by ``nonzero``."""
    into = {} if into is None else into
    if before and before_path:
        spread(before_path, before, -1, into)
    if after and after_path:
        spread(after_path, after, 1, into)
    return into


def nonzero(deltas):
    """The deltas that change something, in key order (so concurrent transactions take the
    counter rows' locks in one order)."""
    return {k: n for k, n in sorted(deltas.items()) if n}


def rehome(from_path, to_path, rows):
    """A merge: ``rows`` ({(metric, key[, day]): n}) counted at ``from_path[-1]`` now belong
    under ``to_path``. Returns {(unit, *rest): n} to add (the old unit's rows go to zero)."""
    deltas = {}
    for path, sign in ((from_path, -1), (to_path, 1)):
        for code in path:
            for rest, n in rows.items():
                k = (code, *rest)
                deltas[k] = deltas.get(k, 0) + sign * n
    return nonzero(deltas)


def resolve(merged_into, code):
    """Today's unit for ``code``: follow the merges (a→b, b→c gives c)."""
    seen = set()
    while code in merged_into and merged_into[code] and code not in seen:
        seen.add(code)
        code = merged_into[code]
    return code


def report_day(moment):
    """The day (in Vietnam) an event happened, for the time series."""
    if isinstance(moment, datetime):
        return moment.astimezone(REPORT_TZ).date()
    return moment


# -- as of, and time series -----------------------------------------------------------------------
def tallies_as_of(history, day):
    """Tallies from dated deltas ``[(metric, key, day, n)]``: what was counted by ``day``."""
    counts = Counter()
    for metric, key, when, n in history:
        if when <= day:
            counts[(metric, key)] += n
    return {k: n for k, n in counts.items() if n}


def month_ends(year, today=None):
    """The last day of each month of ``year`` up to today's month (all 12 for a past year)."""
    today = today or date.today()
    ends = []
    for month in range(1, 13):
        first = date(year, month, 1)
        if first > today:
            break
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        ends.append(nxt - timedelta(days=1))
    return ends


def monthly_series(history, year, adult_age=ADULT_AGE, today=None,
                   population=rules.DEFAULT_POPULATION):
    """Each month of ``year``: every indicator's (numerator, denominator) at the month's end,
    from the dated deltas ``[(metric, key, day, n)]``."""
    rows = sorted(history, key=lambda r: r[2])
    counts, i, points = Counter(), 0, []
    for end in month_ends(year, today):
        while i < len(rows) and rows[i][2] <= end:
            metric, key, _, n = rows[i]
            counts[(metric, key)] += n
            i += 1
        points.append((end, figures(counts, year, adult_age, population)))
    return points


# -- rebuild ------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """Everything the sources say, as plain dicts (the RPC export items)."""
    people: list = field(default_factory=list)
    memberships: list = field(default_factory=list)
    activities: list = field(default_factory=list)
    recognitions: list = field(default_factory=list)
    group_recognitions: list = field(default_factory=list)
    group_titles: list = field(default_factory=list)   # recorded from paper decisions
    units: list = field(default_factory=list)          # names, kinds, closed units
    bodies: list = field(default_factory=list)         # association bodies


EPOCH = date(2021, 1, 1)  # the programme's start: "before any series" for undated facts


def _title_day(item, today):
    """The day a title was granted when the export says it, else the end of its year (or
    today for this year's titles)."""
    for key in ("granted_at", "granted_on"):
        value = item.get(key)
        if value:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            return report_day(moment) if isinstance(moment, datetime) else moment
    return min(today, date(int(item["year"]), 12, 31))


def rebuild(snapshot, adult_age=ADULT_AGE, today=None, digital=None):
    """The projections the sources imply, computed the way the event handlers compute them:
    ``(tallies {(unit, metric, key): n}, days {(unit, metric, key, day): n},
    people {id: (unit_code, PersonState)}, groups {id: (unit_code, GroupState)},
    paths {unit: path})``.

    ``days`` dates each count by its fact: a title on the day it was granted (if the export
    says) else the end of its year; a membership-independent count (people, roles) at EPOCH.
    A title whose holder the registry does not export belongs to someone removed since
    (assessment checks the registry before it grants): it counts for nothing, as after a
    person_removed event."""
    today = today or date.today()
    paths = {}
    for items in (snapshot.people, snapshot.memberships, snapshot.activities,
                  snapshot.recognitions, snapshot.group_recognitions, snapshot.group_titles,
                  snapshot.units, snapshot.bodies):
        for item in items:
            path = item["unit_path"]
            for i, code in enumerate(path):
                paths.setdefault(code, list(path[:i + 1]))
    people = {}
    for p in snapshot.people:
        people[str(p["person_id"])] = {"unit": p["unit_code"], "registered": True,
                                       "removed": False, "birth_year": p["birth_year"],
                                       "roles": frozenset(p["roles"]), "kinds": Counter(),
                                       "briefed": False, "titles": [],
                                       "trainings": set(), "groups": set()}
    groups = {}
    for m in snapshot.memberships:
        gid = str(m["group_id"])
        group = groups.setdefault(gid, {"unit": m["unit_code"], "kind": m["group_kind"],
                                        "members": 0, "years": {}})
        if m.get("left_on") is None:
            group["members"] += 1
            person = people.get(str(m["person_id"]))
            if person is not None:
                person["kinds"][m["group_kind"]] += 1
                if m["group_kind"] in COMMUNITY_KINDS:
                    person["groups"].add(gid)
    for a in snapshot.activities:
        person = people.get(str(a["person_id"]))
        if a["kind"] == "briefing" and person is not None:
            person["briefed"] = True
        elif a["kind"] in rules.ACTIVITY_TRAINING and person is not None:
            person["trainings"].add((a["kind"], a.get("ended_on") is not None))
    for r in snapshot.recognitions:
        pid = str(r["person_id"])
        person = people.get(pid)
        if person is None:
            person = people[pid] = {"unit": r["unit_code"], "registered": False,
                                    "removed": True, "birth_year": None, "roles": frozenset(),
                                    "kinds": Counter(), "briefed": False, "titles": [],
                                    "trainings": set(), "groups": set()}
        person["titles"].append(((int(r["year"]), r["digital_skills"]), _title_day(r, today)))
    for g in snapshot.group_recognitions:
        gid = str(g["group_id"])
        group = groups.setdefault(gid, {"unit": g["unit_code"], "kind": g["group_kind"],
                                        "members": 0, "years": {}})
        day = _title_day(g, today)
        group["years"][int(g["year"])] = min(day, group["years"].get(int(g["year"]), day))
    for g in snapshot.group_titles:
        if g.get("change", "recorded") != "recorded":
            continue  # withdrawn: the title never existed
        gid = str(g["group_id"])
        group = groups.setdefault(gid, {"unit": g["unit_code"], "kind": g["group_kind"],
                                        "members": 0, "years": {}})
        day = _title_day(g, today)
        group["years"][int(g["year"])] = min(day, group["years"].get(int(g["year"]), day))

    tallies, days = {}, {}

    def count(unit, counts, day):
        path = paths.get(unit, [unit])
        spread(path, counts, 1, tallies)
        for (code, metric, key), n in spread(path, counts).items():
            k = (code, metric, key, day)
            days[k] = days.get(k, 0) + n

    person_states = {}
    for pid, p in people.items():
        recognised = frozenset(y for gid in p["groups"] for y in groups[gid]["years"])
        facts = dict(registered=p["registered"], removed=p["removed"],
                     birth_year=p["birth_year"], roles=p["roles"],
                     group_kinds=frozenset(p["kinds"]), briefed=p["briefed"],
                     recognised_years=recognised, trainings=frozenset(p["trainings"]))
        state = PersonState(**facts, titles=tuple(sorted(t for t, _ in p["titles"])))
        person_states[pid] = (p["unit"], state)
        base = person_tallies(PersonState(**facts), adult_age, digital)
        count(p["unit"], base, EPOCH)
        for title, day in p["titles"]:
            with_title = person_tallies(PersonState(**facts, titles=(title,)), adult_age,
                                        digital)
            with_title.subtract(base)
            count(p["unit"], +with_title, day)
    group_states = {}
    for gid, g in groups.items():
        state = GroupState(g["kind"], g["members"], frozenset(g["years"]))
        group_states[gid] = (g["unit"], state)
        base = group_tallies(GroupState(g["kind"], g["members"]))
        count(g["unit"], base, EPOCH)
        before, years = base, set()
        for year, day in sorted(g["years"].items(), key=lambda item: item[1]):
            years.add(year)  # cumulative: the group is known once, from its first title
            now = group_tallies(GroupState(g["kind"], g["members"], frozenset(years)))
            step = Counter(now)
            step.subtract(before)
            count(g["unit"], +step, day)
            before = now
    for body in snapshot.bodies:
        if body.get("change") != "removed":
            count(body["unit_code"], body_tallies(body["kind"]), EPOCH)
    return nonzero(tallies), nonzero(days), person_states, group_states, paths


def drift(current, rebuilt):
    """``{(unit, metric, key): (was, now)}`` for every counter the rebuild corrects."""
    return {k: (current.get(k, 0), rebuilt.get(k, 0))
            for k in sorted(set(current) | set(rebuilt))
            if current.get(k, 0) != rebuilt.get(k, 0)}
