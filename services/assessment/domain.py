"""Assessment rules (pure): the Learning Citizen pass rule, evidence from learning activities,
the review workflow, and the group titles decided from members' titles.

A decision always names the criteria version it was made under and explains itself per
indicator ("TC2.1: 4/10, under the minimum 5"), so a citizen or reviewer can see why. A refusal
keeps its reasons as data (reasons.py), so that a mail states them in the reader's language.
"""
import functools
from dataclasses import dataclass, field
from fractions import Fraction

from services.assessment import approval
from services.assessment import reasons as refusal_reasons
from services.assessment.criteria import DIGITAL_LEVELS, CriteriaSet  # noqa: F401 (re-export)

# -- the individual title -------------------------------------------------------------------


class InvalidScores(ValueError):
    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class IndicatorResult:
    code: str
    name: str
    score: int
    maximum: int
    minimum: int
    met: bool
    reason: str
    evidence: str | None = None


@dataclass(frozen=True)
class Decision:
    criteria_version: str
    form: str
    total: int
    min_total: int
    passed: bool
    digital_skills: str
    results: tuple[IndicatorResult, ...] = field(default_factory=tuple)
    summary: str = ""

    @property
    def failures(self):
        """Why the rule is not met, one English sentence per broken part (empty when passed):
        the summary's words; people read them from the reasons as data (reasons.py)."""
        return refusal_reasons.sentences(refusal_reasons.of_decision(self))


@dataclass(frozen=True)
class Activity:
    """A learning activity recorded in the registry, as evidence (kind and when it ended)."""
    kind: str
    year: int
    label: str  # e.g. "digital_skills_basic 2025-03-20"


def check_scores(criteria, scores):
    """Exactly the set's indicators, each a whole number within 0..max; raises InvalidScores."""
    errors = {}
    if not isinstance(scores, dict):
        raise InvalidScores({"scores": ["must be an object of indicator codes to scores"]})
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


def digital_skill_level(criteria, scores, activities=()):
    """The level for the digital-skills targets: from the TC2.1 score, raised by a
    digital-skills activity of the year (a course proves the level whatever the score)."""
    score = scores[criteria.digital_indicator]
    level = ("proficient" if score >= criteria.digital_proficient
             else "basic" if score >= criteria.digital_basic else "none")
    for rule, _ in _confirmations(criteria, activities):
        if rule.digital_skills and DIGITAL_LEVELS.index(rule.digital_skills) > \
                DIGITAL_LEVELS.index(level):
            level = rule.digital_skills
    return level


def _confirmations(criteria, activities):
    """(evidence rule, activity) for each activity that confirms an indicator."""
    rules = {e.activity: e for e in criteria.evidence}
    return [(rules[a.kind], a) for a in activities if a.kind in rules]


def evaluate(criteria: CriteriaSet, scores, target_group=None, activities=()):
    """The pass rule: at least ``min_total`` points and no indicator under the minimum.
    ``activities`` of the assessed year confirm indicators (noted in the explanation)."""
    check_scores(criteria, scores)
    names = _indicator_names(criteria, target_group)
    confirmed = {}
    for rule, activity in _confirmations(criteria, activities):
        confirmed.setdefault(rule.indicator, []).append(activity.label)
    results = []
    for indicator in criteria.indicators:
        evidence = confirmed.get(indicator.code)
        results.append(_indicator_result(
            indicator.code, names[indicator.code], scores[indicator.code], indicator.max,
            criteria.min_per_indicator,
            "confirmed by " + ", ".join(sorted(evidence)) if evidence else None))
    total = sum(scores.values())
    passed = total >= criteria.min_total and all(r.met for r in results)
    decision = Decision(criteria.version, criteria.form(target_group), total, criteria.min_total,
                        passed, digital_skill_level(criteria, scores, activities), tuple(results))
    summary = (f"passed with {total} points under {criteria.version}" if passed
               else f"not passed under {criteria.version}: " + "; ".join(decision.failures))
    return Decision(**{**decision.__dict__, "summary": summary})


_NAMES = {}


def _indicator_names(criteria, target_group):
    """criteria.indicator_names, once per set (as loaded: its fingerprint) and form."""
    key = (criteria.version, criteria.fingerprint, target_group)
    names = _NAMES.get(key)
    if names is None:
        names = _NAMES[key] = criteria.indicator_names(target_group)
    return names


@functools.lru_cache(maxsize=100_000)
def _indicator_result(code, name, score, maximum, minimum, evidence):
    """One indicator's verdict; the same facts give the same (immutable) result, made once
    (closing a year evaluates a million assessments with a few hundred distinct lines)."""
    met = score >= minimum
    reason = f"{code}: {score}/{maximum}" + ("" if met else f", under the minimum {minimum}")
    return IndicatorResult(code, name, score, maximum, minimum, met, reason, evidence)


def explanation(decision):
    """The decision as stored and shown (JSON): the version, the form, each indicator's score,
    threshold and verdict, and the summary."""
    return explanation_head(decision) | {
        "results": [indicator_view(r) for r in decision.results]}


def explanation_head(decision):
    """An explanation without its indicator lines."""
    return {"criteria_version": decision.criteria_version, "form": decision.form,
            "total": decision.total, "min_total": decision.min_total,
            "passed": decision.passed, "digital_skills": decision.digital_skills,
            "summary": decision.summary}


def indicator_view(result):
    """One indicator's line of an explanation."""
    return {"code": result.code, "name": result.name, "score": result.score,
            "maximum": result.maximum, "minimum": result.minimum, "met": result.met,
            "reason": result.reason, "evidence": result.evidence}


def prefill(criteria, activities):
    """Suggested scores from evidence: each confirmed indicator at its evidence's minimum
    score, the rest left for the citizen (None)."""
    suggested = {i.code: None for i in criteria.indicators}
    sources = {}
    for rule, activity in _confirmations(criteria, activities):
        if suggested[rule.indicator] is None or rule.min_score > suggested[rule.indicator]:
            suggested[rule.indicator] = rule.min_score
        sources.setdefault(rule.indicator, []).append(activity.label)
    return {"scores": suggested, "evidence": {k: sorted(v) for k, v in sources.items()},
            "digital_skills": digital_skill_level(
                criteria, {criteria.digital_indicator: 0}, activities)}


# -- the workflow ----------------------------------------------------------------------------
# submitted --review: accept / adjust--> reviewed --recognise--> recognised
#     |  ^                                  |      --refuse-----> refused
#     |  '--resubmit-- returned <--send back'-(from submitted)
# recognised / refused --re-evaluate--> superseded (a new assessment carries on)

SUBMITTED, REVIEWED, RETURNED = "submitted", "reviewed", "returned"
RECOGNISED, REFUSED, SUPERSEDED = "recognised", "refused", "superseded"
OPEN = (SUBMITTED, REVIEWED, RETURNED)
DECIDED = (RECOGNISED, REFUSED)


class WorkflowError(Exception):
    """The step does not fit the assessment's state (a 409 for the caller)."""


def review(status, action, scores, adjustments, criteria):
    """A reviewer's step on a submitted assessment: (new status, new scores, notes).
    ``adjustments``: {code: {"score": n, "reason": why}} for action "adjust"."""
    if status != SUBMITTED:
        raise WorkflowError(f"only a submitted assessment can be reviewed; this one is {status}")
    if action == "send_back":
        return RETURNED, scores, []
    if action == "accept":
        return REVIEWED, scores, []
    if not adjustments:
        raise InvalidScores({"adjustments": ["adjust needs at least one score to change"]})
    changed = dict(scores)
    notes = []
    for code, change in sorted(adjustments.items()):
        if code not in changed:
            raise InvalidScores({code: [f"not an indicator of {criteria.version}"]})
        notes.append(f"{code}: {changed[code]} -> {change['score']} ({change['reason']})")
        changed[code] = change["score"]
    check_scores(criteria, changed)
    return REVIEWED, changed, notes


def resubmit(status):
    if status != RETURNED:
        raise WorkflowError(f"only an assessment sent back can be resubmitted; this one is "
                            f"{status}")
    return SUBMITTED


def decide(status, verdict, decision, reasons=(), *, allowed=(REVIEWED,)):
    """The approving association's decision: (new status, reasons for a refusal, as data:
    the rule's, then the reviewer's ``reasons``). Recognising needs a reviewed assessment
    that meets the rule; ``allowed``: the statuses a year's closing decides
    (``closing_decides``)."""
    if status not in allowed:
        raise WorkflowError(f"only a reviewed assessment can be decided; this one is {status}")
    if verdict == "recognise":
        if not decision.passed:
            raise WorkflowError("the assessment does not meet the criteria: "
                                + "; ".join(decision.failures))
        return RECOGNISED, []
    found = refusal_reasons.refusal(decision, reasons)
    if not found:  # the rule is met: only the reviewer can say why
        raise InvalidScores({"reasons": ["refusing an assessment that meets the criteria "
                                         "needs the reviewer's reasons"]})
    return REFUSED, found


def closing_verdict(decision):
    return "recognise" if decision.passed else "refuse"


CLOSING_DECIDES = {approval.REVIEWED_ONLY: (REVIEWED,), approval.ALL_SUBMITTED: OPEN}
"""The statuses closing a year decides, by CLOSE_DECIDES (approval.py): by default only what
a reviewer accepted, so that no title rests on scores nobody checked."""


def closing_decides(setting):
    """(statuses the closing decides, statuses it leaves open and lists)."""
    decided = CLOSING_DECIDES[setting]
    return decided, tuple(s for s in OPEN if s not in decided)


def re_evaluation(status, old_version, new_criteria):
    if status not in DECIDED:
        raise WorkflowError(f"only a decided assessment can be re-evaluated; this one is {status}")
    if new_criteria.version == old_version:
        raise WorkflowError(f"the assessment was already decided under {old_version}")


# -- group titles ----------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupResult:
    criteria_version: str
    members: int
    members_titled: int
    recognised: bool
    level: int | None
    explanation: str


def evaluate_group(criteria: CriteriaSet, members, members_titled):
    """The highest level whose share of titled members is reached (exact fractions: 89.9%
    is not 90%)."""
    if members_titled > members or members_titled < 0:
        raise ValueError("members_titled must be between 0 and members")
    share = Fraction(members_titled, members) if members else Fraction(0)
    head = f"{members_titled} of {members} members titled ({float(share) * 100:.1f}%)"
    if members < criteria.min_members:
        return GroupResult(criteria.version, members, members_titled, False, None,
                           f"{head}: fewer than {criteria.min_members} members")
    reached = [lv for lv in criteria.levels if share >= lv.min_titled_share]
    if not reached:
        lowest = criteria.levels[0]
        return GroupResult(criteria.version, members, members_titled, False, None,
                           f"{head}, under {lowest.percent}" + _level_words(lowest))
    best = reached[-1]
    return GroupResult(criteria.version, members, members_titled, True, best.level,
                       f"{head}, at least {best.percent}" + _level_words(best))


def _level_words(level):
    return f" for level {level.level}" if level.level is not None else ""


def group_change(current, result):
    """What to do with a group's title after re-evaluation: "grant", "revoke", "regrant"
    (the level changed) or None. ``current``: the level of the title held, or False when
    none is held (a level of None means a title without levels)."""
    holds = current is not False
    if result.recognised and not holds:
        return "grant"
    if not result.recognised and holds:
        return "revoke"
    if result.recognised and holds and current != result.level:
        return "regrant"
    return None


# -- who may act -----------------------------------------------------------------------------
# ``positions`` and ``groups`` are the registry's answer to memberships(person): current
# association positions ({"body_kind", "unit_code", "role", "current"}) and group memberships.

def _officials_on(positions, unit_path, body_kinds=None):
    return [p for p in positions if p["current"] and p["role"] == "official"
            and p["unit_code"] in unit_path
            and (body_kinds is None or p["body_kind"] in body_kinds)]


def may_act_for(staff, unit_path):
    """Staff who enter a self-assessment on a citizen's behalf: an official of the
    association at the citizen's unit or above."""
    return bool(staff and _officials_on(staff["association"], unit_path))


def may_review(reviewer, subject, unit_path):
    """The branch or unit reviews: an official of an association body at the person's unit
    or above, or the head of a learning unit the person belongs to."""
    if reviewer is None:
        return False
    if _officials_on(reviewer["association"], unit_path):
        return True
    headed = {g["group_id"] for g in reviewer["groups"]
              if g["current"] and g["role"] == "head" and g["group_kind"] == "learning_unit"}
    return bool(subject) and any(g["current"] and g["group_id"] in headed
                                 for g in subject["groups"])


def may_decide(decider, unit_path, level=approval.COMMUNE):
    """The association at the approval level recognises: an official of the association
    (commune level: at the person's unit or above; province level: at the province)."""
    return bool(decider and _officials_on(decider["association"],
                                          approval.deciding_units(unit_path, level),
                                          (approval.DECIDING_BODY,)))
