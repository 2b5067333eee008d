"""Assessment's rows, as the API, the event handlers and the decisions (decisions.py) see
them: the queries they share and the writes they make (titles.py: the titles and their
events), in one transaction of the caller.

``AssessmentStore`` is the interface decisions.py and the HTTP handlers are written against,
so that they run on an in-memory fake of it in unit tests. ``StoreDatabase`` is the service's
database dependency: a worker's ``db.store()`` (reads) and ``db.store(write=True)`` (one
transaction) yield an AssessmentStore, while ``db.transaction()`` and ``db.read()`` still give
plain sessions (health checks, the year close's batches).
"""
import uuid
from collections import defaultdict

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import cdht.db
from cdht.db import make_engine
from cdht.inbox import first_delivery
from services.assessment import closing_store, domain, moves, titles
from services.assessment.credential_store import CredentialStore
from services.assessment.models import (
    Assessment, AssessmentStep, CriteriaVersion, Evidence, GroupMember, GroupRecognition,
    Recognition, YearClosing,
)

EXPORT_MAX = 5000
_LISTED = {  # what GET lists page through, in the order they show it
    "assessments": (Assessment, (Assessment.created_at, Assessment.id)),
    "recognitions": (Recognition, (Recognition.granted_at, Recognition.id)),
    "group_recognitions": (GroupRecognition, (GroupRecognition.granted_at,
                                              GroupRecognition.id)),
}


class Conflict(Exception):
    """A unique rule of the records broke at commit: a concurrent twin (a second open
    assessment, a second current title for the same person and year) got there first."""


class AssessmentStore:
    """Assessment's rows in the caller's transaction (a SQLAlchemy session)."""

    def __init__(self, session):
        self.session = session

    @property
    def credentials(self):
        """The credentials of titles, their issuers and keys (credential_store.py)."""
        return CredentialStore(self.session)

    # -- reads -------------------------------------------------------------------------------
    def recorded_criteria(self):
        """{version: fingerprint} of every criteria set a decision was made under."""
        return recorded_criteria(self.session)

    def activities_of(self, person_ids, year):
        """{person_id: [Activity]} of the learning activities that count for ``year``."""
        found = defaultdict(list)
        rows = self.session.execute(
            select(Evidence.person_id, Evidence.kind, Evidence.ended_on)
            .where(closing_store.any_of(Evidence.person_id, person_ids), Evidence.year == year)
            .order_by(Evidence.ended_on, Evidence.activity_id))
        for person_id, kind, ended_on in rows:
            found[person_id].append(domain.Activity(kind, year,
                                                    f"{kind} {ended_on.isoformat()}"))
        return found

    def known_path(self, unit_code):
        """The unit's path as assessment has seen it (in any assessment or group's path), or
        None for a unit it has seen nothing of."""
        for model in (Assessment, GroupMember, GroupRecognition):
            path = self.session.scalar(select(model.unit_path).where(
                model.unit_path.contains([unit_code])).limit(1))
            if path:
                return list(path)[:list(path).index(unit_code) + 1]
        return None

    def group_decided(self, group_id, unit_path, year):
        """Whether a group's title for ``year`` is already a matter of record: it held one,
        or the year was closed for a unit above it."""
        if self.session.scalar(select(GroupRecognition.id).where(
                GroupRecognition.group_id == group_id, GroupRecognition.year == year)
                .limit(1)):
            return True
        return bool(self.session.scalar(select(YearClosing.id).where(
            YearClosing.year == year, YearClosing.status == "finished",
            YearClosing.unit_code.in_(list(unit_path))).limit(1)))

    def assessment(self, assessment_id, lock=False):
        """The assessment (locked for this transaction with ``lock``), or None."""
        return self.session.get(Assessment, assessment_id, with_for_update=lock or None)

    def history(self, assessment_id):
        """The steps of an assessment, oldest first."""
        return self.session.scalars(select(AssessmentStep)
                                    .where(AssessmentStep.assessment_id == assessment_id)
                                    .order_by(AssessmentStep.id)).all()

    def recognition(self, recognition_id, lock=False):
        return self.session.get(Recognition, recognition_id, with_for_update=lock or None)

    def current_title(self, person_id, year, lock=False):
        """The person's title for ``year`` not revoked (locked with ``lock``), or None."""
        stmt = select(Recognition).where(Recognition.person_id == person_id,
                                         Recognition.year == year,
                                         Recognition.revoked_at.is_(None))
        return self.session.scalar(stmt.with_for_update() if lock else stmt)

    def closing(self, closing_id):
        return self.session.get(YearClosing, closing_id)

    def closings(self, year=None, unit_code=None):
        """Every year closing (a handful a year), newest first, of ``year`` and ``unit_code``
        when given."""
        stmt = select(YearClosing).order_by(YearClosing.started_at.desc(), YearClosing.id)
        if year is not None:
            stmt = stmt.where(YearClosing.year == year)
        if unit_code is not None:
            stmt = stmt.where(YearClosing.unit_code == unit_code)
        return self.session.scalars(stmt).all()

    def groups_of(self, person_ids, year):
        """The groups ``person_ids`` belong to at the end of ``year``."""
        return titles.groups_of(self.session, person_ids, year)

    def page(self, listed, filters, scope, limit, offset):
        """(total, rows) of ``listed`` (a key of _LISTED) matching ``filters`` (columns'
        values; ``unit_code``: in that unit's subtree), within ``scope``: None (all),
        ("person", id) or ("unit", code)."""
        model, order = _LISTED[listed]
        stmt = select(model)
        if scope is not None:
            kind, value = scope
            stmt = stmt.where(model.person_id == value if kind == "person"
                              else model.unit_path.contains([value]))
        for name, value in filters.items():
            stmt = stmt.where(model.unit_path.contains([value]) if name == "unit_code"
                              else getattr(model, name) == value)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = self.session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).all()
        return total, rows

    def current_titles(self, group, after_id, limit):
        """One page (by id) of the current titles, individual or of groups (``group``)."""
        limit = int(limit)
        if not 1 <= limit <= EXPORT_MAX:
            raise ValueError(f"limit must be between 1 and {EXPORT_MAX}")
        model = GroupRecognition if group else Recognition
        stmt = (select(model).where(model.revoked_at.is_(None)).order_by(model.id)
                .limit(limit))
        if after_id is not None:
            stmt = stmt.where(model.id > uuid.UUID(str(after_id)))
        return self.session.scalars(stmt).all()

    # -- writes ------------------------------------------------------------------------------
    def first_delivery(self, envelope):
        """Record an event as processed by the handler this worker runs for (cdht.inbox);
        False if it already was."""
        return first_delivery(self.session, envelope)

    def add_assessment(self, **columns):
        """A new assessment row, flushed (a second open one per person and year is a
        Conflict at commit, or here)."""
        assessment = Assessment(id=uuid.uuid4(), **columns)
        self.session.add(assessment)
        self.flush()
        return assessment

    def flush(self):
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict(str(exc.orig).splitlines()[0]) from None

    def step(self, assessment_id, action, actor_id=None, **detail):
        titles.step(self.session, assessment_id, action, actor_id, **detail)

    def record_criteria(self, criteria):
        titles.record_criteria(self.session, criteria)

    def grant(self, assessment, decision):
        return titles.grant(self.session, assessment, decision)

    def revoke(self, recognition, reason):
        titles.revoke(self.session, recognition, reason)

    def refuse(self, assessment, reasons):
        titles.refuse(self.session, assessment, reasons)

    def evaluate_groups(self, sets, year, group_ids):
        return titles.evaluate_groups(self.session, sets, year, group_ids)

    def announce_submission(self, assessment):
        titles.announce_submission(self.session, assessment)

    def record_evidence(self, activity_id, person_id, kind, ended_on):
        """Evidence of a learning activity, kept by its id (a correction replaces it)."""
        stmt = insert(Evidence).values(activity_id=activity_id, person_id=person_id,
                                       kind=kind, year=ended_on.year, ended_on=ended_on)
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=["activity_id"],
            set_={"kind": stmt.excluded.kind, "year": stmt.excluded.year,
                  "ended_on": stmt.excluded.ended_on}))

    def drop_evidence(self, activity_id):
        """A withdrawn activity's evidence, gone (nothing when there was none)."""
        self.session.execute(delete(Evidence).where(Evidence.activity_id == activity_id))

    def move_people(self, people, cause):
        """Each person's assessments and titles placed where the person is now (moves.py)."""
        return moves.move_people(self.session, people, cause)

    def move_units(self, places, cause):
        """The rows of the units of ``places`` ({code: path now}) and below them placed
        there (moves.py)."""
        return moves.move_units(self.session, places, cause)

    def record_membership(self, data):
        """A membership_changed event's facts: who is in which group, from and until when."""
        day = data["effective_on"]
        values = {"joined_on": day} if data["change"] == "joined" else {"left_on": day}
        stmt = insert(GroupMember).values(
            membership_id=data["membership_id"], group_id=data["group_id"],
            group_kind=data["group_kind"], person_id=data["person_id"],
            unit_code=data["unit_code"], unit_path=data["unit_path"], **values)
        self.session.execute(stmt.on_conflict_do_update(index_elements=["membership_id"],
                                                        set_=values))


def recorded_criteria(session):
    return dict(session.execute(select(CriteriaVersion.version,
                                       CriteriaVersion.fingerprint)).all())


def recorded_criteria_at(url):
    """recorded_criteria of the database at ``url`` (before the service's dependencies
    exist: the criteria sets are checked when the service starts)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return recorded_criteria(session)
    finally:
        engine.dispose()


# -- the service's dependency -----------------------------------------------------------------
class StoreDatabase(cdht.db.StoreDatabase):
    """cdht.db.StoreDatabase (with its outbox relay) whose workers' ``store()`` yields an
    AssessmentStore; a unique rule broken at commit is a ``Conflict``."""

    store_class = AssessmentStore

    @staticmethod
    def conflict(exc):
        return Conflict(str(exc.orig).splitlines()[0])
