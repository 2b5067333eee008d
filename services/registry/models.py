"""The registry's tables: the unit tree and its history, people, groups and their
memberships, the association's bodies and positions, learning activities, and the xAPI
statements learning platforms post with the accounts that match their learners to people.

Rows are soft-deleted (``deleted_at``): other services hold their ids in events and facts.
"""
import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY, CheckConstraint, Computed, Date, DateTime, Float, ForeignKey, ForeignKeyConstraint,
    Index, Integer, String, Text, UniqueConstraint, func, true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.registry.audit_chain import AUDIT_ACTIONS
from services.registry.domain import (
    ACTIVITY_KINDS, ASSOCIATION_ROLES, BODY_KINDS, FOLD_FROM, FOLD_TO, GROUP_KINDS, GROUP_ROLES,
)


class Base(DeclarativeBase):
    pass


def _id():
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _created():
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class _Kept:
    """When a row was made and last changed, and when it was (softly) deleted."""
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class _Tenure(_Kept):
    """A person's place for a time (a membership, a position): from ``joined_on`` until
    ``left_on``, open while it is None."""
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)


def _sql_in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Unit(Base):
    """An administrative unit: province, (pre-2025) district, commune, ward or special zone.
    ``valid_from``/``valid_to`` are inclusive; None means open."""
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UnitChange(Base):
    """One merge or split of units: the history behind "as of" reports. A merge's id is the
    event id of its units_merged event."""
    __tablename__ = "unit_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('merge', 'split')", name="ck_unit_changes_kind"),
        Index("ix_unit_changes_from_codes", "from_codes", postgresql_using="gin"),
        Index("ix_unit_changes_to_codes", "to_codes", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(10))
    effective_on: Mapped[date] = mapped_column(Date)
    from_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    to_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    note: Mapped[str | None] = mapped_column(Text)
    people_moved: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _created()


class Person(Base):
    __tablename__ = "people"

    id: Mapped[uuid.UUID] = _id()
    national_id: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date] = mapped_column(Date)
    ethnicity: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), server_default="vi")
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    target_group: Mapped[str] = mapped_column(String(20))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(30)), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Kept by PostgreSQL itself, so rows written by any path (HTTP, bulk import) are found.
    name_folded: Mapped[str | None] = mapped_column(
        String(200), Computed(f"lower(translate(full_name, '{FOLD_FROM}', '{FOLD_TO}'))",
                              persisted=True))


class Group(_Kept, Base):
    """A Family, Clan, Community (hamlet / residential group) or Learning Unit (an agency,
    with its level)."""
    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("id", "kind", name="uq_groups_id_kind"),  # target of memberships' FK
        CheckConstraint(_sql_in("kind", GROUP_KINDS),
                        name="ck_groups_kind"),
        CheckConstraint("(kind = 'learning_unit') = (level IS NOT NULL)",
                        name="ck_groups_level"),
        Index("uq_groups_kind_code", "kind", "code", unique=True,
              postgresql_where="code IS NOT NULL AND deleted_at IS NULL"),
        Index("ix_groups_unit_kind", "unit_code", "kind"),
    )

    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(10))


class Membership(_Tenure, Base):
    """A person in a group from ``joined_on`` until ``left_on`` (not a member from that day).
    ``group_kind`` repeats the group's kind (kept equal by a foreign key) so that one partial
    unique index holds "at most one open family per person" even against concurrent writers."""
    __tablename__ = "memberships"
    __table_args__ = (
        ForeignKeyConstraint(["group_id", "group_kind"], ["groups.id", "groups.kind"],
                             name="fk_memberships_group"),
        CheckConstraint("left_on IS NULL OR left_on >= joined_on",
                        name="ck_memberships_period"),
        CheckConstraint(_sql_in("role", GROUP_ROLES), name="ck_memberships_role"),
        Index("uq_memberships_one_open_family", "person_id", unique=True,
              postgresql_where="group_kind = 'family' AND left_on IS NULL "
                               "AND deleted_at IS NULL"),
        Index("ix_memberships_group", "group_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    group_kind: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(10), server_default="member")


class AssociationBody(_Kept, Base):
    """A body of the association (Hội Khuyến học): a commune association, a branch (chi hội)
    or a learning board (ban khuyến học)."""
    __tablename__ = "association_bodies"
    __table_args__ = (
        CheckConstraint(_sql_in("kind", BODY_KINDS),
                        name="ck_association_bodies_kind"),
    )

    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("association_bodies.id"),
                                                        index=True)
    # the token subject that created it: its officials are appointed by someone else (duties.py)
    created_by: Mapped[str | None] = mapped_column(Text)


class AssociationMember(_Tenure, Base):
    """An official (cán bộ hội) or member (hội viên) of a body, over time."""
    __tablename__ = "association_members"
    __table_args__ = (
        CheckConstraint(_sql_in("role", ASSOCIATION_ROLES), name="ck_association_members_role"),
        CheckConstraint("left_on IS NULL OR left_on >= joined_on",
                        name="ck_association_members_period"),
        Index("uq_association_members_open", "person_id", "body_id", unique=True,
              postgresql_where="left_on IS NULL AND deleted_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    body_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("association_bodies.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))


class LearningActivity(_Kept, Base):
    """A course, MOOC, digital-skills training or briefing (quán triệt) a person took part in:
    evidence for the indicators and the digital-skills and briefing targets."""
    __tablename__ = "learning_activities"
    __table_args__ = (
        CheckConstraint(_sql_in("kind", ACTIVITY_KINDS),
                        name="ck_learning_activities_kind"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on",
                        name="ck_learning_activities_period"),
    )

    id: Mapped[uuid.UUID] = _id()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str | None] = mapped_column(String(200))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    hours: Mapped[float | None] = mapped_column(Float)
    evidence_url: Mapped[str | None] = mapped_column(String(1000))


class PersonalDataAudit(Base):
    """Who changed or read which personal data, when, why (docs/architecture.md §D8): the
    names of the fields changed, never their values; whose records (``person_id`` for one,
    ``person_ids`` for many: an import chunk, a merge, a page read, up to a cap; ``people``
    is how many in all). Changes are audited in their own transaction, reads once per
    request. Append-only and hash-chained (``prev_hash``, ``hash``: services.registry.
    audit_chain), both kept by the database's triggers (migration 0006)."""
    __tablename__ = "personal_data_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = _created()
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    import_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    people: Mapped[int] = mapped_column(Integer, server_default="1")
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(200))
    person_ids: Mapped[list[uuid.UUID] | None] = mapped_column(
        postgresql.ARRAY(UUID(as_uuid=True)))  # (the dialect's: ``contains`` is @>, indexed)
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    hash: Mapped[str] = mapped_column(String(64), server_default="")

    __table_args__ = (
        CheckConstraint(_sql_in("action", AUDIT_ACTIONS), name="ck_personal_data_audit_action"),
        Index("ix_personal_data_audit_person", "person_id", "at"),
        Index("ix_personal_data_audit_at", "at"),
        Index("ix_personal_data_audit_actor", "actor", "at"),
        Index("ix_personal_data_audit_person_ids", "person_ids", postgresql_using="gin"),
    )


class PersonalDataAuditHead(Base):
    """The chain's last link (one row): the trigger locks it to chain each insert after the
    rows committed before, so concurrent writers never fork the chain; verifying compares it
    with the last row, so a row cut off the end shows too."""
    __tablename__ = "personal_data_audit_head"
    __table_args__ = (CheckConstraint("id", name="ck_personal_data_audit_head_only"),)

    id: Mapped[bool] = mapped_column(primary_key=True, server_default=true())
    last_id: Mapped[int | None] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class GroupTitle(Base):
    """A group's title as a paper decision records it (granted before CDHT, or outside it):
    a record of fact, counted by reporting beside the titles assessment computes. At most
    one per group and year; a record entered by mistake is withdrawn, not deleted."""
    __tablename__ = "group_titles"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="ck_group_titles_year"),
        Index("uq_group_titles_group_year", "group_id", "year", unique=True,
              postgresql_where="withdrawn_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = _id()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    decision_number: Mapped[str] = mapped_column(String(50))
    decision_date: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(200))
    import_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _created()
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


XAPI_STATUSES = ("pending", "counted", "not_counted", "voiding")
"""What became of a statement: ``pending`` (its account is linked to no one yet: it is counted,
or not, once staff link it), ``counted`` (it made ``activity_id``), ``not_counted`` (``reason``
says why), ``voiding`` (it voids the statement ``voids``). A voided statement keeps its status
and names its voiding statement in ``voided_by``."""


class XapiStatement(Base):
    """An xAPI statement as a learning platform posted it (``statement``, with its id), the
    account it names its learner by, and what it made."""
    __tablename__ = "xapi_statements"
    __table_args__ = (
        CheckConstraint(_sql_in("status", XAPI_STATUSES), name="ck_xapi_statements_status"),
        Index("ix_xapi_statements_pending", "home_page", "account_name",
              postgresql_where="status = 'pending'"),
        Index("ix_xapi_statements_voids", "voids"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    statement: Mapped[dict] = mapped_column(JSONB)
    fingerprint: Mapped[str] = mapped_column(String(64))
    home_page: Mapped[str] = mapped_column(String(1000))
    account_name: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    voids: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    voided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("learning_activities.id"))
    stored_at: Mapped[datetime] = _created()


class XapiAccount(Base):
    """A learner's account on a learning platform (``home_page``, ``account_name``: the
    statements' ``actor.account``) linked by staff to the person it is: how statements find
    their person, never by a national ID or an email address."""
    __tablename__ = "xapi_accounts"
    __table_args__ = (
        Index("uq_xapi_accounts_account", "home_page", "account_name", unique=True,
              postgresql_where="deleted_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = _id()
    home_page: Mapped[str] = mapped_column(String(1000))
    account_name: Mapped[str] = mapped_column(String(1000))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id"), index=True)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
