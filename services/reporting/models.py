"""Reporting's projections, kept from events only (registry and assessment).

- the facts a count depends on, one row per thing (people, memberships, briefings, groups,
  titles, group titles), so a later event can undo exactly what an earlier one counted;
- ``tallies``: the counters per unit (every unit counting its subtree), what every read uses;
- ``tally_days``: the same deltas dated by day, for the monthly series and "as of";
- ``unit_paths``: where each unit seen sits (root first) and what it was merged into;
- ``target_status``: the last status of each indicator, to publish crossings once;
- ``consumer_lag``: what each handler applied last, for the lag figures.
"""
import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY, BigInteger, Boolean, Date, DateTime, Float, Index, Integer, SmallInteger, String,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Person(Base):
    """What reporting knows of a person. ``registered`` is false for someone only a title
    has named so far (the registry's event may still be on its way)."""
    __tablename__ = "people"

    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    target_group: Mapped[str | None] = mapped_column(String(30))


class Membership(Base):
    __tablename__ = "memberships"

    membership_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    group_kind: Mapped[str] = mapped_column(String(20))
    current: Mapped[bool] = mapped_column(Boolean)


class Briefing(Base):
    """A person's "briefing" learning activity (kept by id: a changed kind undoes it)."""
    __tablename__ = "briefings"

    activity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    started_on: Mapped[date] = mapped_column(Date)


class Training(Base):
    """A person's digital-skills learning activity (any kind but a briefing), and whether it
    was finished: what "trained" means is the targets file's (rules.DigitalRule)."""
    __tablename__ = "trainings"

    activity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    completed: Mapped[bool] = mapped_column(Boolean)


class Group(Base):
    __tablename__ = "groups"

    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    members: Mapped[int] = mapped_column(Integer, default=0)


class RecognitionFact(Base):
    """Each title counted, so a revocation undoes exactly what its grant did."""
    __tablename__ = "recognition_facts"

    recognition_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    digital_skills: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class GroupTitle(Base):
    """A group's title for a year: ``computed`` by assessment or ``recorded`` from a paper
    decision (then ``revoked_at`` is when the record was withdrawn)."""
    __tablename__ = "group_titles"

    group_recognition_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True),
                                                            primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    group_kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    level: Mapped[int | None] = mapped_column(SmallInteger)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(10), server_default="computed")
    decision_number: Mapped[str | None] = mapped_column(String(50))


class UnitName(Base):
    """A unit's name and kind (the registry's unit_changed), to show names, not codes."""
    __tablename__ = "unit_names"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class AssociationBody(Base):
    """A commune association, branch or learning board, counted at the unit it serves."""
    __tablename__ = "association_bodies"

    body_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    body_name: Mapped[str] = mapped_column(String(200))
    unit_code: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Tally(Base):
    """A counter of a unit's subtree: see services/reporting/domain.py for the metrics."""
    __tablename__ = "tallies"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class TallyDay(Base):
    """The counters' changes by day (report day in Vietnam): sums to ``tallies``."""
    __tablename__ = "tally_days"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class UnitPath(Base):
    """Where each unit seen in an event sits in the tree (root first); ``merged_into`` when
    a merge closed it (its figures now count under that unit)."""
    __tablename__ = "unit_paths"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    merged_into: Mapped[str | None] = mapped_column(String(64))


class TargetStatus(Base):
    """The last status (reached / on_track / at_risk) of an indicator of a unit and year."""
    __tablename__ = "target_status"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str | None] = mapped_column(String(10))
    share: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class ConsumerLag(Base):
    """Per event handler: how many events it applied, the newest event's time, when."""
    __tablename__ = "consumer_lag"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    last_occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


Index("ix_unit_paths_merged_into", UnitPath.merged_into)
