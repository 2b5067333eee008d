"""Separation of duties (SEPARATION_OF_DUTIES, on by default): the positions that let a person
review or decide assessments (an association official; the head of a learning unit, who
reviews its staff) are given by someone else.

- Nobody makes themselves (the token's subject as a person id) such a position holder.
- Staff do not appoint officials to an association body they created: who set a body up
  and who staffs it are two people. An admin (the operator's token, which sets up the
  structure) is exempt from this one.

Pure: no nameko, no database. The handlers (association.py, memberships.py) turn a refusal
into a 403 with its code, before anything is written.
"""
from dataclasses import dataclass

DECIDING_POSITIONS = {("association", "official"), ("learning_unit", "head")}
"""(where, role) of a position that reviews or decides: an association official (cán bộ hội),
the head of a learning unit (thủ trưởng đơn vị học tập)."""


@dataclass(frozen=True)
class Refusal:
    """Why an appointment is refused: a code for programs, a message for people."""
    code: str
    field: str
    message: str


def enabled(config):
    """SEPARATION_OF_DUTIES from the service's config: on unless set to a false value."""
    value = config.get("SEPARATION_OF_DUTIES")
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


def deciding(where, role):
    return (where, role) in DECIDING_POSITIONS


def appointment_refusal(caller, person_id, where, role, body_created_by=None):
    """The Refusal of giving ``person_id`` the position (``where``, ``role``), by ``caller``
    (cdht.auth.Caller), or None. ``body_created_by``: the token subject that created the
    association body (None: not recorded)."""
    if not deciding(where, role):
        return None
    if caller.person_id is not None and caller.person_id == person_id:
        return Refusal("self_appointment", "person_id",
                       "không thể tự bổ nhiệm mình vào vị trí xét duyệt hay công nhận (you "
                       "cannot give yourself a position that reviews or decides)")
    if where == "association" and not caller.is_admin and body_created_by is not None \
            and str(body_created_by) == str(caller.subject):
        return Refusal("own_body", "body_id",
                       "không thể bổ nhiệm cán bộ cho tổ chức hội do chính mình tạo (you "
                       "cannot appoint officials to an association body you created)")
    return None
