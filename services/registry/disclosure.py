"""What each role sees of a person, and how often a caller may be told that a national ID is
held outside their scope (docs/architecture.md §D8, "Minimum necessary").

``PERSON_VIEW`` is the one declaration: for each role, each personal field of a person's
response shown whole, masked, reduced to the year, or left out. Every person response
(``GET /people``, ``GET /people/<id>``, the answers of POST and PATCH) passes through
``visible``; docs/roles.md prints the table. Plain Python: no framework here.
"""
import time
from collections import deque

WHOLE, MASKED, YEAR, LEFT_OUT, LAST_DIGITS = (
    "whole", "masked", "year only", "left out", "last 4 digits")

# The personal fields of a person's response, in the order the table prints them; fields
# not named here (id, unit_code, target_group, roles, times) are what scope already allows.
PERSONAL_FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone",
                   "email")

_STAFF = {"national_id": LAST_DIGITS, "full_name": WHOLE, "gender": WHOLE,
          "birth_date": WHOLE, "ethnicity": WHOLE, "phone": WHOLE, "email": WHOLE}
PERSON_VIEW = {
    # staff register people and contact them; a citizen reads their own record
    "admin": _STAFF,
    "province_staff": _STAFF,
    "commune_staff": _STAFF,
    # a reviewer judges assessments: a name, an age, a way to be recognised, no more
    "reviewer": {"national_id": LAST_DIGITS, "full_name": WHOLE, "gender": WHOLE,
                 "birth_date": YEAR, "ethnicity": LEFT_OUT, "phone": MASKED,
                 "email": MASKED},
    "citizen": _STAFF,
    # a learning platform calls no person route: it is told nothing of anyone
    "learning_platform": {field: LEFT_OUT for field in PERSONAL_FIELDS},
}


def mask_phone(phone):
    """``0912345612`` -> ``09******12``: enough to recognise a number, not to dial it."""
    if not phone:
        return phone
    return phone[:2] + "*" * max(len(phone) - 4, 1) + phone[-2:]


def mask_email(email):
    """``nguyen.an@example.org`` -> ``n***@example.org``."""
    if not email:
        return email
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


_MASKS = {"phone": mask_phone, "email": mask_email}


def visible(person, role):
    """The response ``person`` (a dict as PersonSchema dumps it) as ``role`` may see it. The
    national ID is never dumped whole (``national_id_masked``); ``birth_year`` stands for
    the birth date where only the year is shown."""
    shown = dict(person)
    for field, how in PERSON_VIEW[role].items():
        if field not in shown:
            continue
        if how == MASKED:
            shown[field] = _MASKS[field](shown[field])
        elif how in (LEFT_OUT, YEAR):  # birth_year is in every response
            del shown[field]
    return shown


# -- refusals of a national ID held outside the caller's scope ------------------------------
REFUSALS_PER_HOUR = 20


class RefusalLimit:
    """At most ``limit`` refusals per caller within a sliding ``window`` (seconds), counted in
    this process's memory: with several registry processes a caller may get ``limit`` per
    process, and a restart forgets the count. Past the limit the caller's registrations are
    refused (429) whatever the ID, so the refusal itself tells nothing more."""

    def __init__(self, limit=REFUSALS_PER_HOUR, window=3600, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits = {}

    def _recent(self, who):
        hits = self._hits.get(who)
        if hits is None:
            return deque()
        horizon = self.clock() - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[who]
        return hits

    def retry_after(self, who):
        """Seconds until ``who`` may be refused again (0: not blocked now)."""
        hits = self._recent(who)
        if len(hits) < self.limit:
            return 0
        return max(1, int(hits[len(hits) - self.limit] + self.window - self.clock()) + 1)

    def record(self, who, count=1):
        """``count`` refusals of ``who``, now."""
        hits = self._hits.setdefault(who, deque())
        hits.extend([self.clock()] * count)

    def remaining(self, who):
        return max(0, self.limit - len(self._recent(who)))


NATIONAL_ID_REFUSALS = RefusalLimit()
