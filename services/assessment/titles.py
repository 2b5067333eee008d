"""Granting and revoking titles inside a caller's transaction: the rows, the outbox events
(and, for a revoked title with a credential, its status bit: credential_store.py), and the
re-evaluation of the groups a changed title belongs to. Shared by the HTTP API, the
event handlers (through store.AssessmentStore) and year closing, so that each path writes
titles the same way. The events carry the worker's correlation id (cdht.outbox.add_event);
the year close binds its own."""
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from cdht.contracts.events import group_recognitions_granted
from cdht.ids import time_ordered_ids
from cdht.outbox import add_event, add_wire_events
from services.assessment import closing_store
from services.assessment import criteria as criteria_sets
from services.assessment.credential_store import set_status_bit
from services.assessment import domain
from services.assessment import reasons as refusal_reasons
from services.assessment.models import (
    AssessmentStep, CriteriaVersion, GroupMember, GroupRecognition, Recognition,
)

PRODUCER = "assessment"


def now():
    return datetime.now(timezone.utc)


def placed(row):
    return {"unit_code": row.unit_code, "unit_path": list(row.unit_path)}


def step(session, assessment_id, action, actor_id=None, **detail):
    session.add(AssessmentStep(assessment_id=assessment_id, action=action, actor_id=actor_id,
                               detail=detail))


def record_criteria(session, criteria):
    """Remember the set a decision is made under (its content, for provenance)."""
    session.execute(insert(CriteriaVersion).values(
        version=criteria.version, kind=criteria.kind, fingerprint=criteria.fingerprint,
        content=_jsonable(criteria.describe())).on_conflict_do_nothing())


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def grant(session, assessment, decision):
    """The Learning Citizen title for the assessment's person and year, and its event."""
    recognition = Recognition(
        id=uuid.uuid4(), person_id=assessment.person_id, year=assessment.year,
        assessment_id=assessment.id, unit_code=assessment.unit_code,
        unit_path=assessment.unit_path, target_group=assessment.target_group,
        total_score=decision.total, criteria_version=decision.criteria_version,
        digital_skills=decision.digital_skills)
    session.add(recognition)
    session.flush()
    add_event(session, "recognition_granted", placed(recognition) | {
        "recognition_id": recognition.id, "assessment_id": assessment.id,
        "person_id": assessment.person_id, "target_group": assessment.target_group,
        "year": assessment.year, "criteria_version": decision.criteria_version,
        "total_score": decision.total, "digital_skills": decision.digital_skills,
    }, producer=PRODUCER)
    return recognition


def revoke(session, recognition, reason):
    recognition.revoked_at = now()
    recognition.revoke_reason = reason
    set_status_bit(session, recognition.id, recognition.revoked_at)
    add_event(session, "recognition_revoked", placed(recognition) | {
        "recognition_id": recognition.id, "person_id": recognition.person_id,
        "year": recognition.year, "reason": reason,
    }, producer=PRODUCER)


def refusal_events(facts, reasons):
    """{version: data} of recognition_refused for ``facts`` (placed, ids, year, criteria,
    total_score): version 1 with the reasons as sentences, version 2 with them as data."""
    return {version: facts | {"reasons": said}
            for version, said in refusal_reasons.for_event(reasons).items()}


def refuse(session, assessment, reasons):
    """Both versions of recognition_refused, in the caller's transaction (two outbox rows)."""
    facts = placed(assessment) | {
        "assessment_id": assessment.id, "person_id": assessment.person_id,
        "year": assessment.year, "criteria_version": assessment.criteria_version,
        "total_score": assessment.total}
    for version, data in refusal_events(facts, reasons).items():
        add_event(session, "recognition_refused", data, producer=PRODUCER,
                  schema_version=version)


def announce_submission(session, assessment):
    """assessment_submitted: a self-assessment (or its resubmission) waits for review."""
    add_event(session, "assessment_submitted", placed(assessment) | {
        "assessment_id": assessment.id, "person_id": assessment.person_id,
        "year": assessment.year, "criteria_version": assessment.criteria_version,
        "total_score": assessment.total, "passed": assessment.passed,
    }, producer=PRODUCER)


# -- groups -----------------------------------------------------------------------------------

def _year_end(year):
    return date(year, 12, 31)


def members_at_year_end(year):
    """Memberships that count for ``year``: joined by 31 Dec and not left by then."""
    end = _year_end(year)
    return and_(or_(GroupMember.joined_on.is_(None), GroupMember.joined_on <= end),
                or_(GroupMember.left_on.is_(None), GroupMember.left_on > end))


def group_counts(session, year, group_filter):
    """{group_id: (kind, unit_code, unit_path, members, members titled)} for the groups
    matched by ``group_filter`` (a condition on GroupMember), in one aggregate query."""
    return {r[0]: tuple(r[1:]) for r in session.execute(_counts(year, group_filter))}


def group_counts_in_order(session, year, group_filter, held_filter, size):
    """``group_counts`` of every group matched by ``group_filter``, and the groups holding a
    current title of ``year`` matched by ``held_filter`` (a condition on GroupRecognition),
    as lists of (group_id, counts or None when no member counts any more) of up to ``size``,
    in group id order. Streamed from a server-side cursor: a province's quarter of a million
    groups, held at once, took the closing process over 300 MB."""
    counted = _counts(year, group_filter).subquery()
    held = (select(GroupRecognition.group_id)
            .where(GroupRecognition.year == year, GroupRecognition.revoked_at.is_(None),
                   held_filter).subquery())
    group_id = func.coalesce(counted.c.group_id, held.c.group_id)
    # planned as the whole result is wanted (not for the first rows fast, as cursors are)
    session.execute(text("SET LOCAL cursor_tuple_fraction = 1"))
    rows = session.execute(
        select(group_id, *list(counted.c)[1:])
        .select_from(counted.join(held, counted.c.group_id == held.c.group_id, full=True))
        .order_by(group_id).execution_options(yield_per=size))
    for part in rows.partitions():  # members is NULL where only the title is
        yield [(group, (kind, code, path, members, titled) if members is not None else None)
               for group, kind, code, path, members, titled in part]


def _counts(year, group_filter):
    """Per group matched: kind, place, members at year end, and how many of them hold the
    year's title (a join: at most one current title per person and year)."""
    titled = and_(Recognition.person_id == GroupMember.person_id, Recognition.year == year,
                  Recognition.revoked_at.is_(None))
    return (select(GroupMember.group_id, func.min(GroupMember.group_kind),
                   func.min(GroupMember.unit_code), func.min(GroupMember.unit_path),
                   func.count(), func.count(Recognition.id))
            .select_from(GroupMember).outerjoin(Recognition, titled)
            .where(group_filter, members_at_year_end(year))
            .group_by(GroupMember.group_id))


def evaluate_groups(session, sets, year, group_ids):
    """Re-evaluate ``group_ids`` for ``year`` and grant / revoke their titles (a level change
    is a revoke and a new grant). Returns (granted, revoked, evaluated)."""
    if not group_ids:
        return 0, 0, 0
    lock_groups(session, group_ids)
    counts = group_counts(session, year, GroupMember.group_id.in_(list(group_ids)))
    return apply_group_results(session, sets, year, counts, set(group_ids))


def lock_groups(session, group_ids):
    """Serialise the evaluations of the same groups until this transaction ends: two members
    of one family decided at the same moment would each count the other's title as not yet
    there, and both insert the group's title. Taken in one order, so two transactions never
    wait on each other crosswise; the counts read after it include what the other committed."""
    session.execute(text(
        "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT hashtextextended(g, 7) AS k "
        "FROM unnest(CAST(:ids AS text[])) AS g ORDER BY 1) AS keys"),
        {"ids": sorted(str(g) for g in group_ids)})


def apply_group_results(session, sets, year, counts, group_ids=None, closing_id=None):
    """Grant / revoke from ``counts`` (see group_counts). ``group_ids`` names groups to look
    at even if they no longer have members at year end (their title goes). New titles and
    their events are written in bulk: for a closing (``closing_id``), the titles as
    group_recognitions_granted, 500 an event."""
    ids = set(counts) | set(group_ids or ())
    held = {}
    for chunk in _chunks(sorted(ids), 5000):
        held.update({g.group_id: g for g in session.scalars(
            select(GroupRecognition).where(closing_store.any_of(GroupRecognition.group_id, chunk),
                                           GroupRecognition.year == year,
                                           GroupRecognition.revoked_at.is_(None))
            .with_for_update())})
    grants, events, used, revoked = [], [], {}, 0
    in_force = {}  # group kind -> its set for the year
    new_ids = iter(time_ordered_ids(len(ids)))
    for group_id in sorted(ids):
        current = held.get(group_id)
        if group_id in counts:
            kind, unit_code, unit_path, members, titled = counts[group_id]
        elif current is not None:
            kind, unit_code, unit_path, members, titled = (
                current.group_kind, current.unit_code, current.unit_path, 0, 0)
        else:
            continue
        if kind not in in_force:
            in_force[kind] = criteria_sets.for_group_kind(sets, kind, year)
        criteria = in_force[kind]
        result = _evaluate_group(criteria, members, titled)
        change = domain.group_change(current.level if current is not None else False, result)
        if change in ("revoke", "regrant"):
            _revoke_group(session, current, result.explanation if change == "revoke" else
                          f"level changed: {result.explanation}")
            revoked += 1
        if change in ("grant", "regrant"):
            used[criteria.version] = criteria
            place = {"unit_code": unit_code, "unit_path": list(unit_path)}
            title = place | {"id": next(new_ids), "group_id": group_id, "group_kind": kind,
                             "year": year, "level": result.level,
                             "criteria_version": result.criteria_version,
                             "members": members, "members_titled": titled,
                             "explanation": result.explanation}
            grants.append(title)
            events.append(place | {
                "group_recognition_id": title["id"], "group_id": str(group_id),
                "group_kind": kind,
                "year": year, "criteria_version": result.criteria_version,
                "level": result.level, "members": members, "members_titled": titled})
    session.flush()  # revocations first: the unique index allows one current title
    for criteria in used.values():
        record_criteria(session, criteria)
    if grants:  # in bulk (closing_store): a year's closing grants one title per family
        closing_store.insert_group_titles(session, grants)
        if closing_id is None:
            add_wire_events(session, "group_recognition_granted", events, producer=PRODUCER)
        else:
            add_wire_events(session, "group_recognitions_granted",
                            group_recognitions_granted(str(closing_id), events),
                            producer=PRODUCER)
    return len(grants), revoked, len(ids)


_GROUP_RESULTS = {}


def _evaluate_group(criteria, members, titled):
    """domain.evaluate_group, once per set and (members, titled): a province's families are a
    quarter of a million groups with a few dozen distinct counts."""
    key = (criteria.version, criteria.fingerprint, members, titled)
    result = _GROUP_RESULTS.get(key)
    if result is None:
        if len(_GROUP_RESULTS) > 100_000:
            _GROUP_RESULTS.clear()
        result = _GROUP_RESULTS[key] = domain.evaluate_group(criteria, members, titled)
    return result


def _revoke_group(session, title, reason):
    title.revoked_at = now()
    title.revoke_reason = reason[:500]
    add_event(session, "group_recognition_revoked", placed(title) | {
        "group_recognition_id": title.id, "group_id": title.group_id,
        "group_kind": title.group_kind, "year": title.year, "reason": reason[:500],
    }, producer=PRODUCER)


def groups_of(session, person_ids, year):
    """The groups ``person_ids`` belong to at the end of ``year``."""
    return set(session.scalars(select(GroupMember.group_id).distinct().where(
        GroupMember.person_id.in_(list(person_ids)), members_at_year_end(year))))


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]
