"""How each indicator is counted, read from the targets file (targets.yaml): whom the
adults' indicator counts, what makes a title holder "trained with digital skills", the
document each rule comes from and what it leaves unconfirmed.

Pure (no nameko, no database). domain.py counts with these rules; a file that names an
unknown indicator, rule, level or activity kind is refused when loaded, so a typo cannot
silently change a figure.
"""
from dataclasses import dataclass

from cdht.contracts.events import ACTIVITY_KINDS, DIGITAL_SKILLS, INDICATORS

# whom "adults holding the title" counts (numerator and denominator under the same rule)
POPULATIONS = ("adults_in_recognised_groups", "adults_in_groups", "all_adults")
DEFAULT_POPULATION = "adults_in_recognised_groups"
PERIODS = (2025, 2030)
BASELINE_YEAR = 2021
DIGITAL_INDICATORS = ("titled_with_digital_skills", "titled_digitally_proficient")


@dataclass(frozen=True)
class DigitalRule:
    """A title holder counts when their title's level is in ``levels`` and, if
    ``activities`` is not empty, a learning activity of one of those kinds is recorded for
    them (finished, with its end date, when ``completed``)."""
    levels: frozenset
    activities: frozenset = frozenset()
    completed: bool = True

    def counts(self, level, trainings):
        """``trainings``: ((activity kind, finished), ...) of the person."""
        if level not in self.levels:
            return False
        if not self.activities:
            return True
        return any(kind in self.activities and (done or not self.completed)
                   for kind, done in trainings)


TRAINING_KINDS = frozenset({"digital_skills_basic", "digital_skills_proficient"})
# activity kinds reporting keeps per person as training (every kind but the briefing)
ACTIVITY_TRAINING = frozenset(ACTIVITY_KINDS) - {"briefing"}
DEFAULT_DIGITAL = {
    "titled_with_digital_skills": DigitalRule(frozenset({"basic", "proficient"}),
                                              TRAINING_KINDS, True),
    "titled_digitally_proficient": DigitalRule(frozenset({"proficient"}), TRAINING_KINDS, True),
}


def definitions(targets):
    return (targets or {}).get("indicators") or {}


def population_rule(targets):
    """The rule in force for adults_titled (default: adults in recognised groups)."""
    return (definitions(targets).get("adults_titled") or {}).get("population",
                                                                 DEFAULT_POPULATION)


def digital_rules(targets):
    """``{indicator: DigitalRule}`` for the two digital-skills indicators."""
    rules = dict(DEFAULT_DIGITAL)
    for indicator in DIGITAL_INDICATORS:
        spec = (definitions(targets).get(indicator) or {}).get("digital")
        if spec:
            rules[indicator] = DigitalRule(frozenset(spec.get("levels") or ()),
                                           frozenset(spec.get("activities") or ()),
                                           bool(spec.get("completed", True)))
    return rules


def baseline_year(targets):
    return int((targets or {}).get("baseline_year") or BASELINE_YEAR)


def periods(targets):
    return tuple(sorted(int(y) for y in (targets or {}).get("periods") or PERIODS))


def document_of(targets, indicator):
    """``{"code", "title", "wording", "unconfirmed"}`` of the document behind an indicator."""
    spec = definitions(targets).get(indicator) or {}
    code = spec.get("document")
    doc = ((targets or {}).get("documents") or {}).get(code) or {}
    return {"code": code, "title": " ".join(str(doc.get("title") or "").split()) or None,
            "wording": " ".join(str(spec.get("wording") or "").split()) or None,
            "unconfirmed": sorted(set(spec.get("unconfirmed") or ()) |
                                  {f"document.{u}" for u in doc.get("unconfirmed") or ()})}


def check(targets):
    """The problems of a targets file's rule sections (empty when it is sound)."""
    problems = []
    docs = (targets or {}).get("documents") or {}
    for indicator, spec in definitions(targets).items():
        if indicator not in INDICATORS:
            problems.append(f"indicators: unknown indicator {indicator!r}")
            continue
        spec = spec or {}
        if spec.get("document") and spec["document"] not in docs:
            problems.append(f"indicators.{indicator}: document {spec['document']!r} is not "
                            "under documents")
        if "population" in spec:
            if indicator != "adults_titled":
                problems.append(f"indicators.{indicator}: population is adults_titled's")
            elif spec["population"] not in POPULATIONS:
                problems.append(f"indicators.adults_titled.population: {spec['population']!r}"
                                f" is not one of {', '.join(POPULATIONS)}")
        if "digital" in spec:
            digital = spec["digital"] or {}
            if indicator not in DIGITAL_INDICATORS:
                problems.append(f"indicators.{indicator}: digital is for "
                                f"{' and '.join(DIGITAL_INDICATORS)}")
            for level in digital.get("levels") or ():
                if level not in DIGITAL_SKILLS:
                    problems.append(f"indicators.{indicator}.digital.levels: {level!r}")
            if not digital.get("levels"):
                problems.append(f"indicators.{indicator}.digital.levels: none given")
            for kind in digital.get("activities") or ():
                if kind not in ACTIVITY_KINDS:
                    problems.append(f"indicators.{indicator}.digital.activities: {kind!r}")
    for indicator, share in ((targets or {}).get("baselines") or {}).items():
        if indicator not in INDICATORS or not 0 <= float(share) <= 1:
            problems.append(f"baselines.{indicator}: {share}")
    return problems
