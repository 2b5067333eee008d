"""Deciding one assessment, and what follows from a decision: its title, its refusal with
reasons, the groups its person belongs to. The HTTP API (a commune association's decision, a
re-evaluation, a revocation) and the event handlers (a learning activity, a membership) use
it; closing a year decides thousands at a time its own way (closing.py) under the same rules
(domain.py).

Plain Python on a ``store`` (store.AssessmentStore, or an in-memory fake in unit tests), in
the caller's transaction. The events a decision stages carry the worker's correlation id
(cdht.outbox.add_event).
"""
from datetime import datetime, timezone

from services.assessment import criteria as criteria_sets
from services.assessment import domain
from services.assessment import reasons as refusal_reasons


def now():
    return datetime.now(timezone.utc)


def evaluate(store, criteria, scores, person_id, year, target_group):
    """The decision ``scores`` earn under ``criteria``, with the evidence of the person's
    learning activities of ``year`` (domain.evaluate; InvalidScores if they do not fit)."""
    return domain.evaluate(criteria, scores, target_group,
                           store.activities_of([person_id], year).get(person_id, ()))


def rescore(assessment, scores, decision, status):
    """New scores for an open assessment (resubmitted, adjusted in review) and their
    provisional outcome."""
    assessment.scores = scores
    assessment.total = decision.total
    assessment.passed = decision.passed
    assessment.explanation = domain.explanation(decision)
    assessment.status = status
    assessment.updated_at = now()


def decide_one(store, sets, assessment, verdict, reasons, actor):
    """Recognise or refuse one (locked) assessment; the recognition id or None.

    WorkflowError when it cannot be decided so (not reviewed, or recognised while it does not
    meet the criteria); InvalidScores when refused while it meets them, with no reasons."""
    criteria = criteria_sets.known(sets, assessment.criteria_version)
    decision = evaluate(store, criteria, assessment.scores, assessment.person_id,
                        assessment.year, assessment.target_group)
    status, refusal = domain.decide(assessment.status, verdict, decision, reasons)
    _mark_decided(assessment, status, decision, refusal, actor)
    if status == domain.RECOGNISED:
        recognition = store.grant(assessment, decision)
        store.step(assessment.id, "recognised", actor, summary=decision.summary,
                   recognition_id=str(recognition.id))
        _regroup(store, sets, assessment.person_id, assessment.year)
        return recognition.id
    store.refuse(assessment, refusal)
    store.step(assessment.id, "refused", actor, reasons=refusal_reasons.sentences(refusal),
               details=refusal)
    return None


def _mark_decided(assessment, status, decision, refusal, actor):
    assessment.status = status
    assessment.explanation = domain.explanation(decision)
    assessment.total, assessment.passed = decision.total, decision.passed
    assessment.refusal_reasons = refusal_reasons.stored(refusal)
    assessment.decided_by = actor
    assessment.decided_at = assessment.updated_at = now()


def _regroup(store, sets, person_id, year):
    """Re-evaluate the groups of a person whose title changed."""
    store.evaluate_groups(sets, year, store.groups_of([person_id], year))


def re_evaluate(store, sets, old, criteria, scores, reason, actor):
    """A new assessment under ``criteria`` supersedes the decided ``old`` (both traced). The
    title follows the new outcome: kept if it still holds at the same digital level, else
    revoked (and granted again if still earned). WorkflowError if ``old`` cannot be
    re-evaluated so; InvalidScores if ``scores`` do not fit ``criteria``."""
    domain.re_evaluation(old.status, old.criteria_version, criteria)
    decision = evaluate(store, criteria, scores, old.person_id, old.year, old.target_group)
    old.status, old.updated_at = domain.SUPERSEDED, now()
    store.flush()
    new = store.add_assessment(
        person_id=old.person_id, year=old.year, unit_code=old.unit_code,
        unit_path=old.unit_path, target_group=old.target_group,
        criteria_version=criteria.version, status=domain.REVIEWED,
        self_scores=old.self_scores, scores=scores, total=decision.total,
        passed=decision.passed, explanation=domain.explanation(decision), supersedes_id=old.id,
        submitted_by=old.submitted_by, reviewed_by=old.reviewed_by)
    store.record_criteria(criteria)
    store.step(old.id, "superseded", actor, by=str(new.id), reason=reason)
    store.step(new.id, "re-evaluated", actor, supersedes=str(old.id),
               from_version=old.criteria_version, reason=reason, summary=decision.summary)
    current = store.current_title(old.person_id, old.year, lock=True)
    changed = False
    if current is not None and (not decision.passed
                                or current.digital_skills != decision.digital_skills):
        store.revoke(current, f"re-evaluated under {criteria.version}: {reason}"[:500])
        changed = True
        store.flush()
    if decision.passed:
        _mark_decided(new, domain.RECOGNISED, decision, [], actor)
        if current is None or changed:
            store.grant(new, decision)
            changed = True
        else:
            store.step(new.id, "title_kept", actor, recognition_id=str(current.id))
    else:
        refusal = refusal_reasons.of_decision(decision)
        _mark_decided(new, domain.REFUSED, decision, refusal, actor)
        store.refuse(new, refusal)
    if changed:
        _regroup(store, sets, old.person_id, old.year)
    return new


def revoke(store, sets, recognition, reason, actor):
    """Revoke a (locked) title with a reason; its groups are decided again. WorkflowError if
    it is revoked already."""
    if recognition.revoked_at:
        raise domain.WorkflowError("this title is already revoked")
    store.revoke(recognition, reason)
    store.step(recognition.assessment_id, "revoked", actor, reason=reason)
    _regroup(store, sets, recognition.person_id, recognition.year)


def confirm_digital_skills(store, sets, person_id, year):
    """A digital-skills activity recorded after the title was granted: if it raises the
    title's digital level, the title is revoked and granted again at that level (traced), so
    the digital-skills targets count it. True if it did."""
    current = store.current_title(person_id, year, lock=True)
    if current is None:
        return False
    assessment = store.assessment(current.assessment_id)
    decision = evaluate(store, criteria_sets.known(sets, assessment.criteria_version),
                        assessment.scores, person_id, year, assessment.target_group)
    if domain.DIGITAL_LEVELS.index(decision.digital_skills) <= \
            domain.DIGITAL_LEVELS.index(current.digital_skills):
        return False
    store.revoke(current, f"digital skills now {decision.digital_skills}, "
                          "confirmed by a learning activity")
    store.flush()
    assessment.explanation = domain.explanation(decision)
    recognition = store.grant(assessment, decision)
    store.step(assessment.id, "digital_confirmed", None,
               digital_skills=decision.digital_skills, recognition_id=str(recognition.id),
               summary=decision.summary)
    return True


def membership_changed(store, sets, group_id, unit_path, year):
    """A member joined or left a group: a group whose title for ``year`` is already a matter
    of record (it held one, or the year was closed above it) is decided again. True if it
    was."""
    if not store.group_decided(group_id, unit_path, year):
        return False
    store.evaluate_groups(sets, year, {group_id})
    return True
