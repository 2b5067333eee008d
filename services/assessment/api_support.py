"""What assessment's HTTP handlers share: reading a query, who acts and on what (cdht.auth's
caller and scope), and how an assessment, a title and a group title are shown."""
import uuid

from marshmallow import ValidationError

from cdht.web import ApiError, Forbidden, caller_of, require_scope
from services.assessment import reasons as refusal_reasons


def invalid(field, message, status=400):
    return ApiError(status, "invalid input", {field: [message] if isinstance(message, str)
                                              else message})


def query_of(request, schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid query", exc.messages) from None


def filters_of(query, names):
    """The filters of a list query among ``names`` (absent ones are not filters)."""
    return {name: query[name] for name in names if name in query}


# -- who acts, and on what (cdht.auth) ---------------------------------------------------------
def subject_id(caller):
    try:
        return uuid.UUID(str(caller.subject))
    except ValueError:
        return None


def actor(request, given, field, required=False):
    """Who acts: the token's subject (a registry person id). Given in the body, it must be
    the subject; only an admin records an act on someone else's behalf. Left out, it is the
    subject (for an operator's token naming no person: None, or a 400 when ``required``)."""
    caller = caller_of(request)
    subject = subject_id(caller)
    if given is None:
        if subject is None and required:
            raise invalid(field, "your token names no registry person: give the person id "
                                 "of who acts")
        return subject
    if given != subject and not caller.is_admin:
        raise Forbidden(f"{field} must be the token's subject")
    return given


def own_or_in_scope(request, person_id, unit_path, what):
    """A citizen reaches only their own records; others those in their unit subtree."""
    caller = caller_of(request)
    if caller.is_citizen:
        if person_id != subject_id(caller):
            raise Forbidden("a citizen may only see and change their own records")
        return
    require_scope(request, unit_path, what)


def scope_of(request):
    """What a list shows the caller (store.AssessmentStore.page): everything to an admin,
    a citizen's own rows, the rows of the caller's subtree to staff."""
    caller = caller_of(request)
    if caller.is_admin:
        return None
    if caller.is_citizen:
        return ("person", subject_id(caller))
    return ("unit", caller.unit_code)


def unit_in_scope(request, store, unit_code):
    caller = caller_of(request)
    if caller.is_admin or unit_code == caller.unit_code:
        return
    require_scope(request, store.known_path(unit_code) or [unit_code], f"unit {unit_code}")


def page(rows, total, query, view):
    return {"items": [view(row) for row in rows], "total": total,
            "limit": query["limit"], "offset": query["offset"]}


# -- views -------------------------------------------------------------------------------------
def assessment_view(assessment, steps=None):
    details, sentences = refusal_reasons.view(assessment.refusal_reasons)
    view = {"assessment_id": assessment.id, "person_id": assessment.person_id,
            "year": assessment.year, "unit_code": assessment.unit_code,
            "target_group": assessment.target_group, "status": assessment.status,
            "criteria_version": assessment.criteria_version,
            "self_scores": assessment.self_scores, "scores": assessment.scores,
            "decision": assessment.explanation,
            "refusal_reasons": sentences, "refusal_details": details,
            "supersedes_id": assessment.supersedes_id,
            "submitted_by": assessment.submitted_by, "reviewed_by": assessment.reviewed_by,
            "decided_by": assessment.decided_by, "decided_at": assessment.decided_at,
            "created_at": assessment.created_at}
    if steps is not None:
        view["history"] = [{"action": s.action, "actor_id": s.actor_id, "at": s.at,
                            **s.detail} for s in steps]
    return view


def recognition_view(r):
    return {"recognition_id": r.id, "person_id": r.person_id, "year": r.year,
            "assessment_id": r.assessment_id, "unit_code": r.unit_code,
            "unit_path": r.unit_path, "target_group": r.target_group,
            "total_score": r.total_score, "criteria_version": r.criteria_version,
            "digital_skills": r.digital_skills, "granted_at": r.granted_at,
            "revoked_at": r.revoked_at, "revoke_reason": r.revoke_reason}


def group_view(g):
    return {"group_recognition_id": g.id, "group_id": g.group_id, "group_kind": g.group_kind,
            "year": g.year, "level": g.level, "criteria_version": g.criteria_version,
            "members": g.members, "members_titled": g.members_titled,
            "unit_code": g.unit_code, "unit_path": g.unit_path, "explanation": g.explanation,
            "granted_at": g.granted_at, "revoked_at": g.revoked_at,
            "revoke_reason": g.revoke_reason}
