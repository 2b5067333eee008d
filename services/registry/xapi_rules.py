"""What an xAPI statement counts for in CDHT, as data (``xapi.yaml``, or the file XAPI_RULES
names): the learning platforms that may post (their id is their token's subject), the verbs
that count, and the activity types (and CDHT's digital-skills extension) mapped to the
registry's activity kinds. Plain Python: no framework, no database.

``load_rules(path)`` checks the whole file and refuses it with every problem named (the
registry does not start on a bad one); ``rules.assess(statement, platform, today)`` says what
a (checked, xapi.py) statement of a linked learner makes: a ``Counted`` activity, or the
reason it does not count.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml

from cdht.contracts.events import ACTIVITY_KINDS
from services.registry import xapi

RULES_FILE = Path(__file__).resolve().parent / "xapi.yaml"
LOCAL_TIME = timezone(timedelta(hours=7))  # Vietnam's one time zone: the day a record counts
TITLE_MAX, PROVIDER_MAX, URL_MAX = 300, 200, 1000
MAX_HOURS = 10000


class RulesError(ValueError):
    """The rules file cannot be used: the message names every problem."""


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    home_pages: tuple

    def authority(self):
        """The statements' ``authority``: the platform, as the account it posts with."""
        return {"objectType": "Agent", "name": self.name,
                "account": {"homePage": self.home_pages[0], "name": self.id}}


@dataclass(frozen=True)
class Counted:
    """A learning activity as the registry records it."""
    kind: str
    title: str
    provider: str
    started_on: date
    ended_on: date
    hours: float | None
    evidence_url: str | None


@dataclass(frozen=True)
class NotCounted:
    reason: str


def normal_home_page(url):
    """A homePage compared as platforms write it: no trailing slash, the host lower-cased."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


@dataclass(frozen=True)
class Rules:
    platforms: dict          # id -> Platform
    verbs: frozenset
    types: dict              # activity type IRI -> kind
    skills_extension: str
    skills_levels: dict      # level -> kind

    def platform(self, subject):
        return self.platforms.get(subject)

    @staticmethod
    def same_home_page(given, declared):
        return normal_home_page(given) == normal_home_page(declared)

    def declares(self, platform, home_page):
        """Whether ``home_page`` is one the platform's accounts live under."""
        return any(self.same_home_page(home_page, h) for h in platform.home_pages)

    def known_home_page(self, home_page):
        """The declared spelling of ``home_page`` (any platform's), or None."""
        for platform in self.platforms.values():
            for declared in platform.home_pages:
                if self.same_home_page(home_page, declared):
                    return normal_home_page(declared)
        return None

    def kind_of(self, activity):
        """The registry kind of a statement's activity, or a NotCounted saying why not."""
        definition = activity.get("definition") or {}
        level = (definition.get("extensions") or {}).get(self.skills_extension)
        if level is not None:
            if level not in self.skills_levels:
                return NotCounted(f"digital-skills level {str(level)[:40]!r} is not one of "
                                  f"{', '.join(sorted(self.skills_levels))}")
            return self.skills_levels[level]
        kind = self.types.get(definition.get("type"))
        if kind is None:
            return NotCounted(f"activity type {str(definition.get('type'))[:200]!r} is not "
                              "mapped in xapi.yaml" if definition.get("type")
                              else "the activity gives no type")
        return kind

    def assess(self, statement, platform, stored_at, today=None):
        """What a statement of a linked learner makes: Counted, or NotCounted with why."""
        verb = statement["verb"]["id"]
        if verb not in self.verbs:
            return NotCounted(f"verb {verb[:200]!r} does not count")
        activity = statement["object"]
        if activity.get("objectType", "Activity") != "Activity":
            return NotCounted(f"the object is a {activity['objectType']}, not an activity")
        result = statement.get("result") or {}
        for flag in ("success", "completion"):
            if result.get(flag) is False:
                return NotCounted(f"result.{flag} is false")
        kind = self.kind_of(activity)
        if isinstance(kind, NotCounted):
            return kind
        moment = (xapi.parse_timestamp(statement["timestamp"]) if "timestamp" in statement
                  else stored_at)
        day = moment.astimezone(LOCAL_TIME).date()
        if day > (today or datetime.now(LOCAL_TIME).date()):  # today in Vietnam
            return NotCounted("the timestamp is in the future")
        hours = None
        if "duration" in result:
            hours = round(xapi.duration_hours(result["duration"]), 2)
            if hours > MAX_HOURS:
                return NotCounted(f"result.duration is more than {MAX_HOURS} hours")
        url = activity["id"]
        return Counted(kind=kind, title=title_of(activity), provider=platform.name[:PROVIDER_MAX],
                       started_on=day, ended_on=day, hours=hours,
                       evidence_url=url if url.lower().startswith(("http://", "https://"))
                       and len(url) <= URL_MAX and " " not in url else None)


def title_of(activity):
    """The activity's name, Vietnamese first, then English, then any; else its IRI."""
    names = ((activity.get("definition") or {}).get("name") or {})
    for prefix in ("vi", "en", ""):
        for tag in sorted(names):
            if tag.lower().split("-")[0].startswith(prefix) and names[tag].strip():
                return names[tag].strip()[:TITLE_MAX]
    return activity["id"][:TITLE_MAX]


# -- the file --------------------------------------------------------------------------------
def _problems(data):
    """Every problem of the parsed file, as 'where: what'."""
    if not isinstance(data, dict):
        return ["the file must be a mapping"]
    problems = []
    unknown = set(data) - {"platforms", "verbs", "activity_types", "digital_skills"}
    problems += [f"{key}: unknown key" for key in sorted(unknown)]
    platforms = data.get("platforms")
    if not isinstance(platforms, list):
        problems.append("platforms: a list of platforms (it may be empty)")
        platforms = []
    seen = set()
    for i, p in enumerate(platforms):
        where = f"platforms[{i}]"
        if not isinstance(p, dict) or set(p) != {"id", "name", "home_pages"}:
            problems.append(f"{where}: needs id, name and home_pages, nothing else")
            continue
        if not isinstance(p["id"], str) or not p["id"].strip() or len(p["id"]) > 64:
            problems.append(f"{where}.id: a name of 1 to 64 characters (the token's subject)")
        elif p["id"] in seen:
            problems.append(f"{where}.id: {p['id']!r} is declared twice")
        seen.add(p["id"])
        if not isinstance(p["name"], str) or not p["name"].strip():
            problems.append(f"{where}.name: the platform's name, shown as the provider")
        pages = p["home_pages"]
        if not isinstance(pages, list) or not pages or not all(
                isinstance(h, str) and xapi._IRL.match(h) for h in pages):
            problems.append(f"{where}.home_pages: a non-empty list of http(s) URLs")
    verbs = data.get("verbs")
    if not isinstance(verbs, list) or not verbs or not all(
            isinstance(v, str) and xapi._IRI.match(v) for v in verbs):
        problems.append("verbs: a non-empty list of verb IRIs that count")
    elif xapi.VOIDED in verbs:
        problems.append("verbs: the voided verb voids, it never counts")
    types = data.get("activity_types")
    if not isinstance(types, dict) or not types:
        problems.append("activity_types: a mapping of activity type IRIs to activity kinds")
    else:
        for iri, kind in types.items():
            if not isinstance(iri, str) or not xapi._IRI.match(iri):
                problems.append(f"activity_types: {iri!r} is not an IRI")
            if kind not in ACTIVITY_KINDS:
                problems.append(f"activity_types[{iri!r}]: {kind!r} is not one of "
                                f"{', '.join(ACTIVITY_KINDS)}")
    skills = data.get("digital_skills")
    if not isinstance(skills, dict) or set(skills) != {"extension", "levels"}:
        problems.append("digital_skills: needs extension and levels, nothing else")
    else:
        if not isinstance(skills["extension"], str) or not xapi._IRI.match(skills["extension"]):
            problems.append("digital_skills.extension: an IRI")
        levels = skills["levels"]
        if not isinstance(levels, dict) or not levels:
            problems.append("digital_skills.levels: a mapping of levels to activity kinds")
        else:
            for level, kind in levels.items():
                if not kind or not str(kind).startswith("digital_skills") \
                        or kind not in ACTIVITY_KINDS:
                    problems.append(f"digital_skills.levels[{level!r}]: {kind!r} is not a "
                                    "digital-skills activity kind")
    return problems


def parse_rules(text, source="xapi.yaml"):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not YAML: {exc}") from None
    problems = _problems(data)
    if problems:
        raise RulesError(f"{source}: " + "; ".join(problems))
    return Rules(
        platforms={p["id"]: Platform(p["id"], p["name"].strip(),
                                     tuple(normal_home_page(h) for h in p["home_pages"]))
                   for p in data["platforms"]},
        verbs=frozenset(data["verbs"]),
        types=dict(data["activity_types"]),
        skills_extension=data["digital_skills"]["extension"],
        skills_levels={str(k): v for k, v in data["digital_skills"]["levels"].items()})


def load_rules(path=None):
    """The rules of ``path`` (default: xapi.yaml beside this module); RulesError."""
    path = Path(path or RULES_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"XAPI_RULES: cannot read {path}: {exc.strerror}") from None
    return parse_rules(text, str(path))
