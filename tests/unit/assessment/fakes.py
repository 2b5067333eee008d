"""In-memory fakes of assessment's own interfaces, for handler-level unit tests without
PostgreSQL or RabbitMQ: ``FakeStore`` (store.AssessmentStore), ``FakeDb`` (what a worker's
``db`` gives: ``store()``), ``FakeRegistry`` (the registry's RPC methods assessment calls).

Rows are plain objects with the columns the code reads; what the store is told to write
(titles, steps, events, groups evaluated) is kept in lists to be asserted on.
"""
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from types import SimpleNamespace

from services.assessment import domain
from services.assessment import reasons as refusal_reasons

ASSESSMENT_DEFAULTS = dict(
    refusal_reasons=None, supersedes_id=None, submitted_by=None, reviewed_by=None,
    decided_by=None, decided_at=None, updated_at=None)


def now():
    return datetime.now(timezone.utc)


class FakeStore:
    """store.AssessmentStore in memory."""

    def __init__(self):
        self.assessments = {}   # id -> row
        self.recognitions = {}  # id -> row
        self.evidence = {}      # person_id -> [domain.Activity]
        self.evidence_by_id = {}  # activity_id -> (person_id, domain.Activity)
        self.groups = {}        # person_id -> {group_id}
        self.decided_groups = set()
        self.criteria_used = {}  # version -> fingerprint
        self.inbox = set()
        self.steps = []         # (assessment_id, action, actor, detail)
        self.events = []        # (event_type, data)
        self.evaluated = []     # (year, sorted group ids)
        self.memberships = []
        self.moves = []         # ("people", [person ids], cause) or ("units", {code: path}, cause)

    # -- what a test puts in -------------------------------------------------------------------
    def put_assessment(self, **columns):
        row = SimpleNamespace(**(ASSESSMENT_DEFAULTS | {"id": uuid.uuid4(),
                                                        "created_at": now()} | columns))
        self.assessments[row.id] = row
        return row

    def actions(self, assessment_id=None):
        return [action for a, action, _, _ in self.steps
                if assessment_id is None or a == assessment_id]

    def of_type(self, event_type):
        return [data for kind, data in self.events if kind == event_type]

    # -- reads -----------------------------------------------------------------------------------
    def recorded_criteria(self):
        return dict(self.criteria_used)

    def activities_of(self, person_ids, year):
        return {p: [a for a in self.evidence.get(p, ()) if a.year == year]
                for p in person_ids if p in self.evidence}

    def known_path(self, unit_code):
        for row in self.assessments.values():
            if unit_code in row.unit_path:
                return list(row.unit_path)[:list(row.unit_path).index(unit_code) + 1]
        return None

    def group_decided(self, group_id, unit_path, year):
        return (group_id, year) in self.decided_groups

    def assessment(self, assessment_id, lock=False):
        return self.assessments.get(assessment_id)

    def history(self, assessment_id):
        return [SimpleNamespace(action=action, actor_id=actor, at=None, detail=detail)
                for a, action, actor, detail in self.steps if a == assessment_id]

    def recognition(self, recognition_id, lock=False):
        return self.recognitions.get(recognition_id)

    def current_title(self, person_id, year, lock=False):
        return next((r for r in self.recognitions.values() if r.person_id == person_id
                     and r.year == year and r.revoked_at is None), None)

    def closing(self, closing_id):
        return None

    def closings(self, year=None, unit_code=None):
        return []

    def groups_of(self, person_ids, year):
        return set().union(*(self.groups.get(p, set()) for p in person_ids))

    def page(self, listed, filters, scope, limit, offset):
        rows = list({"assessments": self.assessments,
                     "recognitions": self.recognitions}[listed].values())
        if scope is not None:
            kind, value = scope
            rows = [r for r in rows if (r.person_id == value if kind == "person"
                                        else value in r.unit_path)]
        for name, value in filters.items():
            rows = [r for r in rows if (value in r.unit_path if name == "unit_code"
                                        else getattr(r, name) == value)]
        return len(rows), rows[offset:offset + limit]

    def current_titles(self, group, after_id, limit):
        return sorted((r for r in self.recognitions.values() if r.revoked_at is None),
                      key=lambda r: r.id)[:limit]

    # -- writes ----------------------------------------------------------------------------------
    def first_delivery(self, envelope):
        if envelope.event_id in self.inbox:
            return False
        self.inbox.add(envelope.event_id)
        return True

    def add_assessment(self, **columns):
        return self.put_assessment(**columns)

    def flush(self):
        pass

    def step(self, assessment_id, action, actor_id=None, **detail):
        self.steps.append((assessment_id, action, actor_id, detail))

    def record_criteria(self, criteria):
        self.criteria_used[criteria.version] = criteria.fingerprint

    def grant(self, assessment, decision):
        title = SimpleNamespace(
            id=uuid.uuid4(), person_id=assessment.person_id, year=assessment.year,
            assessment_id=assessment.id, unit_code=assessment.unit_code,
            unit_path=assessment.unit_path, target_group=assessment.target_group,
            total_score=decision.total, criteria_version=decision.criteria_version,
            digital_skills=decision.digital_skills, granted_at=now(), revoked_at=None,
            revoke_reason=None)
        self.recognitions[title.id] = title
        self.events.append(("recognition_granted", {
            "recognition_id": title.id, "person_id": title.person_id,
            "digital_skills": title.digital_skills,
            "criteria_version": title.criteria_version}))
        return title

    def revoke(self, recognition, reason):
        recognition.revoked_at, recognition.revoke_reason = now(), reason
        self.events.append(("recognition_revoked", {"recognition_id": recognition.id,
                                                    "reason": reason}))

    def refuse(self, assessment, reasons):
        self.events.append(("recognition_refused", {
            "assessment_id": assessment.id, "reasons": reasons,
            "sentences": [refusal_reasons.sentence(r) for r in reasons]}))

    def evaluate_groups(self, sets, year, group_ids):
        self.evaluated.append((year, sorted(group_ids)))
        return 0, 0, len(group_ids)

    def announce_submission(self, assessment):
        self.events.append(("assessment_submitted", {"assessment_id": assessment.id,
                                                     "passed": assessment.passed}))

    def record_evidence(self, activity_id, person_id, kind, ended_on):
        self.drop_evidence(activity_id)  # a correction replaces it
        activity = domain.Activity(kind, ended_on.year, f"{kind} {ended_on.isoformat()}")
        self.evidence.setdefault(person_id, []).append(activity)
        self.evidence_by_id[activity_id] = (person_id, activity)

    def drop_evidence(self, activity_id):
        person_id, activity = self.evidence_by_id.pop(activity_id, (None, None))
        if activity is not None:
            self.evidence[person_id].remove(activity)

    def record_membership(self, data):
        self.memberships.append(data)

    def move_people(self, people, cause):
        self.moves.append(("people", [str(p["person_id"]) for p in people], cause))
        where = {str(p["person_id"]): (p["unit_code"], list(p["unit_path"])) for p in people}
        for row in (*self.assessments.values(), *self.recognitions.values()):
            if str(row.person_id) in where:
                row.unit_code, row.unit_path = where[str(row.person_id)]

    def move_units(self, places, cause):
        self.moves.append(("units", dict(places), cause))
        for row in (*self.assessments.values(), *self.recognitions.values()):
            code = next((c for c in row.unit_path if c in places), None)
            if code is not None:
                row.unit_path = (list(places[code])
                                 + list(row.unit_path[list(row.unit_path).index(code) + 1:]))
                row.unit_code = row.unit_path[-1] if row.unit_code == code else row.unit_code


class FakeDb:
    """A worker's ``db`` (store.Stores) over one FakeStore; ``write=True`` counts commits."""

    def __init__(self, store):
        self.fake = store
        self.commits = 0
        self.sessions = 0  # stores opened, read or write

    @contextmanager
    def store(self, write=False):
        self.sessions += 1
        yield self.fake
        if write:
            self.commits += 1


class FakeRegistry:
    """The registry's RPC methods assessment calls: profiles and memberships by person id."""

    def __init__(self):
        self.profiles = {}
        self.positions = {}
        self.asked = []  # the RPCs made, by name

    def profile(self, person_id):
        self.asked.append("profile")
        return self.profiles.get(person_id)

    def memberships(self, person_id):
        self.asked.append("memberships")
        return self.positions.get(person_id, [])

    def profile_and_memberships(self, person_id, member_id):
        self.asked.append("profile_and_memberships")
        return {"profile": self.profiles.get(person_id),
                "memberships": self.positions.get(member_id, [])}
