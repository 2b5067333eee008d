"""The routing rules (rules.yaml) and who they name: pure, no nameko, no database.

``load_rules`` reads and checks the file; ``Rules.for_event`` gives the rule of an event type,
``Rules.for_bulk`` the rule and the items of an event that carries many (a closing's);
``recipients`` turns a rule and an event's data into person ids, with the registry's
``association_officials`` passed in as a plain function (an RPC in the service, a dict in
the unit tests).
"""
from dataclasses import dataclass
from pathlib import Path

import yaml

RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"

CHANNELS = ("email", "sms")
RECIPIENT_KINDS = ("subject_person", "reviewers_of_unit", "officials_of_unit",
                   "province_officials")
DIGESTS = ("none", "daily")


class RulesError(ValueError):
    """rules.yaml says something the service cannot do; ``problems`` lists each one."""

    def __init__(self, problems):
        super().__init__("invalid notification rules: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    name: str                 # the event type, or the schedule's name
    category: str
    mandatory: bool
    recipients: str
    template: str
    channels: tuple
    digest: str = "none"
    producer: str | None = None

    @property
    def asks_registry(self):
        """Whether the recipients are asked of the registry (an RPC) rather than read from
        the event itself."""
        return self.recipients != "subject_person"

    def next_channel(self, channel):
        """The channel to fall back to after ``channel`` failed for good (None: none left)."""
        if channel not in self.channels:
            return None
        index = self.channels.index(channel)
        return self.channels[index + 1] if index + 1 < len(self.channels) else None


@dataclass(frozen=True)
class Bulk:
    """An event that carries many of another's data (a closing's): each item of
    ``data[items]`` is told as an event of ``rule`` is."""
    name: str
    producer: str
    items: str
    rule: Rule


@dataclass(frozen=True)
class Rules:
    events: dict
    schedules: dict
    categories: dict          # name -> mandatory (bool)
    bulk: dict                # event type -> Bulk

    def for_event(self, event_type):
        """The rule of ``event_type``; KeyError when no notification follows that event."""
        return self.events[event_type]

    def for_bulk(self, event_type):
        """The Bulk of ``event_type``; KeyError when it is not a bulk event told here."""
        return self.bulk[event_type]

    def schedule(self, name):
        return self.schedules[name]

    def digest_rule(self, template):
        """The rule of a digest (named after its template): category and channels of the
        events collected into it. KeyError when no event is collected into ``template``."""
        for rule in self.events.values():
            if rule.digest != "none" and rule.template == template:
                return Rule(name=template, category=rule.category, mandatory=rule.mandatory,
                            recipients=rule.recipients, template=template,
                            channels=rule.channels, digest=rule.digest)
        raise KeyError(template)

    def by_name(self, name):
        """The rule a delivery follows, by the name stored on it: an event type, a schedule
        or a digest template; None when there is none."""
        found = self.events.get(name) or self.schedules.get(name)
        if found is None:
            try:
                found = self.digest_rule(name)
            except KeyError:
                return None
        return found

    def is_mandatory(self, category):
        return self.categories[category]

    def templates(self):
        return sorted({r.template for r in (*self.events.values(), *self.schedules.values())})


def parse_rules(data, known_events=None):
    """``Rules`` from the parsed YAML; RulesError naming every problem found.

    ``known_events``: event types that exist (the contracts), to catch a misspelt name.
    """
    problems = []
    if not isinstance(data, dict):
        raise RulesError(["the file must be a mapping with categories, events, schedules"])
    categories = {}
    for name, spec in (data.get("categories") or {}).items():
        mandatory = (spec or {}).get("mandatory")
        if not isinstance(mandatory, bool):
            problems.append(f"category {name}: mandatory must be true or false")
        categories[name] = bool(mandatory)

    def rule(name, spec, is_event):
        where = f"{'event' if is_event else 'schedule'} {name}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a mapping")
            return None
        allowed = {"category", "recipients", "template", "channels"} | (
            {"producer", "digest"} if is_event else set())
        for key in sorted(set(spec) - allowed):
            problems.append(f"{where}: unknown key {key}")
        if spec.get("category") not in categories:
            problems.append(f"{where}: category {spec.get('category')!r} is not declared")
        if spec.get("recipients") not in RECIPIENT_KINDS:
            problems.append(f"{where}: recipients must be one of {', '.join(RECIPIENT_KINDS)}")
        template = spec.get("template")
        if not isinstance(template, str) or not template.replace("_", "").isalnum():
            problems.append(f"{where}: template must be a name (letters, digits, _)")
        channels = spec.get("channels")
        if (not isinstance(channels, list) or not channels
                or any(c not in CHANNELS for c in channels) or len(set(channels)) != len(channels)):
            problems.append(f"{where}: channels must be a list of distinct {'/'.join(CHANNELS)}")
            channels = []
        digest = spec.get("digest", "none") if is_event else "none"
        if digest not in DIGESTS:
            problems.append(f"{where}: digest must be one of {', '.join(DIGESTS)}")
        if digest != "none" and channels[:1] != ["email"]:
            problems.append(f"{where}: a digest is a mail: channels must start with email")
        if is_event and not spec.get("producer"):
            problems.append(f"{where}: producer is required")
        if is_event and known_events is not None and name not in known_events:
            problems.append(f"{where}: no such event type")
        return Rule(name=name, category=spec.get("category"),
                    mandatory=categories.get(spec.get("category"), False),
                    recipients=spec.get("recipients"), template=template,
                    channels=tuple(channels), digest=digest,
                    producer=spec.get("producer") if is_event else None)

    events = {name: rule(name, spec, True) for name, spec in (data.get("events") or {}).items()}
    schedules = {name: rule(name, spec, False)
                 for name, spec in (data.get("schedules") or {}).items()}
    bulk = {}
    for name, spec in (data.get("bulk") or {}).items():
        where = f"bulk {name}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for key in sorted(set(spec) - {"producer", "items", "each"}):
            problems.append(f"{where}: unknown key {key}")
        if not spec.get("producer"):
            problems.append(f"{where}: producer is required")
        if not isinstance(spec.get("items"), str) or not spec["items"]:
            problems.append(f"{where}: items must name the list in the event's data")
        if known_events is not None and name not in known_events:
            problems.append(f"{where}: no such event type")
        each = events.get(spec.get("each"))
        if each is None:
            problems.append(f"{where}: each must name one of the events above")
        elif each.digest != "none" or each.producer != spec.get("producer"):
            problems.append(f"{where}: its items' event must be sent at once, by the same "
                            "producer")
        else:
            bulk[name] = Bulk(name=name, producer=spec["producer"], items=spec.get("items"),
                              rule=each)
    digest_templates = {}
    for r in events.values():
        if r is not None and r.digest != "none":
            other = digest_templates.setdefault(r.template, r)
            if (other.category, other.digest) != (r.category, r.digest):
                problems.append(f"event {r.name}: digest template {r.template} is shared with "
                                f"{other.name}, which has another category or digest")
    if problems:
        raise RulesError(problems)
    return Rules(events=events, schedules=schedules, categories=categories, bulk=bulk)


def load_rules(path=RULES_FILE, known_events=None):
    with open(path, encoding="utf-8") as fh:
        return parse_rules(yaml.safe_load(fh), known_events)


# -- recipients ---------------------------------------------------------------------------------
def nearest_officials(unit_path, officials_at):
    """(unit_code, person ids) of the nearest unit of ``unit_path`` (the unit itself first,
    then up towards the province) that has officials; (None, []) when none has any.
    ``officials_at(unit_code)`` answers the person ids at exactly that unit."""
    for unit_code in reversed(list(unit_path or ())):
        found = list(officials_at(unit_code) or ())
        if found:
            return unit_code, found
    return None, []


def recipients(rule, data, officials_at, province_code=None):
    """The person ids (strings, no duplicates, in a stable order) a rule names for an event
    whose ``data`` is given (for a schedule: ``{"unit_path": [province]}`` or nothing)."""
    if rule.recipients == "subject_person":
        found = [data["person_id"]]
    elif rule.recipients in ("reviewers_of_unit", "officials_of_unit"):
        _, found = nearest_officials(data.get("unit_path") or [data["unit_code"]], officials_at)
    else:  # province_officials
        path = data.get("unit_path") if data else None
        province = (path[0] if path else None) or province_code
        found = list(officials_at(province) or ()) if province else []
    seen, ordered = set(), []
    for person_id in (str(p) for p in found):
        if person_id not in seen:
            seen.add(person_id)
            ordered.append(person_id)
    return ordered
