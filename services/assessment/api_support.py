"""What assessment's HTTP handlers share: a page of a list, the workflow's refusals as HTTP
errors, who acts and on what (cdht.auth's caller and scope), and how an assessment, a title
and a group title are shown."""
from contextlib import contextmanager

from cdht.web import (
    UNPROCESSABLE, ApiError, Forbidden, caller_of, list_scope, query_of, require_scope,
)
from services.assessment import domain
from services.assessment import reasons as refusal_reasons


def invalid(field, message, status=UNPROCESSABLE):
    """Well-formed input a rule refuses (an unknown person, no criteria set for the year):
    a 422 naming ``field``, unless ``status`` says otherwise."""
    return ApiError(status, "invalid input", {field: [message] if isinstance(message, str)
                                              else message})


def filters_of(query, names):
    """The filters of a list query among ``names`` (absent ones are not filters)."""
    return {name: query[name] for name in names if name in query}


def list_page(db, request, kind, schema, filters, view):
    """One page of a GET list of ``kind`` (store.AssessmentStore.page): the query's
    ``filters`` that are given, within the caller's scope, each row shown by ``view``."""
    query = query_of(request, schema())
    with db.store() as store:
        total, rows = store.page(kind, filters_of(query, filters), list_scope(request),
                                 query["limit"], query["offset"])
        return page(rows, total, query, view)


@contextmanager
def workflow_errors(scores_field=None):
    """A step the record's status does not allow is a 409; scores the criteria refuse are a
    422, under ``scores_field`` (or field by field without one)."""
    try:
        yield
    except domain.WorkflowError as exc:
        raise ApiError(409, str(exc)) from None
    except domain.InvalidScores as exc:
        if scores_field is None:
            raise ApiError(UNPROCESSABLE, "invalid input", exc.errors) from None
        raise invalid(scores_field, exc.errors) from None


# -- who acts, and on what (cdht.auth) ---------------------------------------------------------
def actor(request, given, field, required=False):
    """Who acts: the token's subject (a registry person id). Given in the body, it must be
    the subject; only an admin records an act on someone else's behalf. Left out, it is the
    subject (for an operator's token naming no person: None, or a 422 when ``required``)."""
    caller = caller_of(request)
    subject = caller.person_id
    if given is None:
        if subject is None and required:
            raise invalid(field, "your token names no registry person: give the person id "
                                 "of who acts")
        return subject
    if given != subject and not caller.is_admin:
        raise Forbidden(f"{field} must be the token's subject")
    return given


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


_TITLE_FIELDS = ("year", "criteria_version", "unit_code", "unit_path", "granted_at",
                "revoked_at", "revoke_reason")
"""What a person's title and a group's title both show (schemas._TitleViewSchema)."""


def _title_view(title, **own):
    return {name: getattr(title, name) for name in _TITLE_FIELDS} | own


def recognition_view(r):
    return _title_view(r, recognition_id=r.id, person_id=r.person_id,
                      assessment_id=r.assessment_id, target_group=r.target_group,
                      total_score=r.total_score, digital_skills=r.digital_skills)


def group_view(g):
    return _title_view(g, group_recognition_id=g.id, group_id=g.group_id,
                      group_kind=g.group_kind, level=g.level, members=g.members,
                      members_titled=g.members_titled, explanation=g.explanation)
