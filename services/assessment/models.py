"""Assessment's tables: self-assessments through their review, the titles granted from them,
the evidence and group memberships kept from registry events, group titles, the criteria
versions decisions were made under, year closings, and the proof of titles: the credentials
issued, their issuing associations and those associations' signing keys."""
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OPEN_STATUSES = "status IN ('submitted', 'reviewed', 'returned')"


class Base(DeclarativeBase):
    pass


def _uuid(*args, **kwargs):
    return mapped_column(UUID(as_uuid=True), *args, **kwargs)


def _now():
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Assessment(Base):
    """A self-assessment, its review and the decision on it, with the criteria version used.
    At most one open (not yet decided) assessment per person and year."""
    __tablename__ = "assessments"
    __table_args__ = (
        Index("uq_assessments_open", "person_id", "year", unique=True,
              postgresql_where=OPEN_STATUSES),
        Index("ix_assessments_year_status", "year", "status"),
        Index("ix_assessments_unit_path", "unit_path", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid(primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = _uuid(index=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_code: Mapped[str] = mapped_column(String(64))  # looked up by unit_path
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    target_group: Mapped[str] = mapped_column(String(20))
    criteria_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(12))
    self_scores: Mapped[dict] = mapped_column(JSONB)  # as the citizen gave them
    scores: Mapped[dict] = mapped_column(JSONB)  # after the review's adjustments
    total: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    explanation: Mapped[dict] = mapped_column(JSON)  # written and read whole (migration 0007)
    submitted_by: Mapped[uuid.UUID | None] = _uuid()
    reviewed_by: Mapped[uuid.UUID | None] = _uuid()
    decided_by: Mapped[uuid.UUID | None] = _uuid()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refusal_reasons: Mapped[list | None] = mapped_column(JSONB)
    supersedes_id: Mapped[uuid.UUID | None] = _uuid(ForeignKey("assessments.id",
                                                               name="fk_assessments_supersedes"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AssessmentStep(Base):
    """The trace of an assessment: who did what, when, and why (submitted, reviewed with
    adjustments, sent back, decided, re-evaluated...)."""
    __tablename__ = "assessment_steps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    assessment_id: Mapped[uuid.UUID] = _uuid(ForeignKey("assessments.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None] = _uuid()
    detail: Mapped[dict] = mapped_column(JSONB)
    at: Mapped[datetime] = _now()


class Recognition(Base):
    """The Learning Citizen title: at most one current (not revoked) per person and year."""
    __tablename__ = "recognitions"
    __table_args__ = (
        Index("uq_recognitions_current", "person_id", "year", unique=True,
              postgresql_where="revoked_at IS NULL"),
        Index("ix_recognitions_year_person", "year", "person_id"),
        # a person's move and a merger of units find the titles to follow them (moves.py)
        Index("ix_recognitions_person", "person_id"),
        Index("ix_recognitions_unit_path", "unit_path", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid(primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = _uuid()
    year: Mapped[int] = mapped_column(Integer)
    assessment_id: Mapped[uuid.UUID] = _uuid()
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    target_group: Mapped[str] = mapped_column(String(20))
    total_score: Mapped[int] = mapped_column(Integer)
    criteria_version: Mapped[str] = mapped_column(String(50))
    digital_skills: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class Evidence(Base):
    """A learning activity recorded in the registry (learning_activity_recorded), kept to
    confirm indicators: the kind and the year it counts for."""
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_person_year", "person_id", "year"),)

    activity_id: Mapped[uuid.UUID] = _uuid(primary_key=True)
    person_id: Mapped[uuid.UUID] = _uuid()
    kind: Mapped[str] = mapped_column(String(30))
    year: Mapped[int] = mapped_column(Integer)
    ended_on: Mapped[date] = mapped_column(Date)


class GroupMember(Base):
    """A membership of a family, clan, community or learning unit (membership_changed): a
    member from ``joined_on`` until ``left_on``."""
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_unit_path", "unit_path", postgresql_using="gin"),)

    membership_id: Mapped[uuid.UUID] = _uuid(primary_key=True)
    group_id: Mapped[uuid.UUID] = _uuid(index=True)
    group_kind: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[uuid.UUID] = _uuid(index=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    joined_on: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)


class GroupRecognition(Base):
    """A group's title for a year (and level, for a learning unit), with its explanation."""
    __tablename__ = "group_recognitions"
    __table_args__ = (
        Index("uq_group_recognitions_current", "group_id", "year", unique=True,
              postgresql_where="revoked_at IS NULL"),
        Index("ix_group_recognitions_unit_path", "unit_path", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid(primary_key=True, default=uuid.uuid4)
    group_id: Mapped[uuid.UUID] = _uuid()
    group_kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    level: Mapped[int | None] = mapped_column(Integer)
    criteria_version: Mapped[str] = mapped_column(String(50))
    members: Mapped[int] = mapped_column(Integer)
    members_titled: Mapped[int] = mapped_column(Integer)
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    explanation: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class CriteriaVersion(Base):
    """Each criteria set a decision was made under, with its content: the provenance of every
    decision, and the guard that a set in use is never edited (only superseded)."""
    __tablename__ = "criteria_versions"

    version: Mapped[str] = mapped_column(String(50), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    fingerprint: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSONB)
    first_used_at: Mapped[datetime] = _now()


class YearClosing(Base):
    """Closing a year for a unit's subtree: progress counters, so that an interrupted closing
    resumes where it stopped and a finished one shows its summary; who closed, on whose
    authority, what it was set to decide, and what it left open."""
    __tablename__ = "year_closings"

    id: Mapped[uuid.UUID] = _uuid(primary_key=True, default=uuid.uuid4)
    year: Mapped[int] = mapped_column(Integer)
    unit_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # running, finished, failed
    phase: Mapped[str] = mapped_column(String(20))   # submissions, groups, done
    to_decide: Mapped[int] = mapped_column(Integer, server_default="0")
    decided: Mapped[int] = mapped_column(Integer, server_default="0")
    recognised: Mapped[int] = mapped_column(Integer, server_default="0")
    refused: Mapped[int] = mapped_column(Integer, server_default="0")
    groups_evaluated: Mapped[int] = mapped_column(Integer, server_default="0")
    groups_granted: Mapped[int] = mapped_column(Integer, server_default="0")
    groups_revoked: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decides: Mapped[str | None] = mapped_column(String(12))  # CLOSE_DECIDES when it ran
    closed_by: Mapped[str | None] = mapped_column(Text)      # the token's subject, --by
    authority: Mapped[dict | None] = mapped_column(JSONB)    # role, unit_code, approval_level
    left_open: Mapped[dict | None] = mapped_column(JSONB)    # {status: count} not decided


# -- proof of a title (credentials.py, issuer_keys.py) ------------------------------------------
class CredentialIssuer(Base):
    """An association that signs credentials (the deciding unit's), as the registry named it
    when it last signed; ``current_list`` is the status list new credentials go in."""
    __tablename__ = "credential_issuers"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    name: Mapped[str] = mapped_column(Text)
    unit_name: Mapped[str] = mapped_column(Text)
    province_name: Mapped[str] = mapped_column(Text)
    current_list: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IssuerKey(Base):
    """An issuer's Ed25519 key: the private half encrypted (issuer_keys.py), the public half
    published for good. One active (not retired) key per issuer signs."""
    __tablename__ = "issuer_keys"
    __table_args__ = (
        Index("uq_issuer_keys_active", "unit_code", unique=True,
              postgresql_where="retired_at IS NULL"),
    )

    unit_code: Mapped[str] = mapped_column(ForeignKey("credential_issuers.unit_code"),
                                           primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Credential(Base):
    """The credential of a title (one per title), as issued: what it said (holder, issuer,
    year, criteria), its signed form, its verification code and its bit in the issuer's
    status list (``revoked_at`` set: the bit is set)."""
    __tablename__ = "credentials"
    __table_args__ = (
        Index("uq_credentials_status_entry", "issuer_code", "list_no", "status_index",
              unique=True),
        Index("ix_credentials_revoked", "issuer_code", "list_no",
              postgresql_where="revoked_at IS NOT NULL"),
    )

    id: Mapped[uuid.UUID] = _uuid(primary_key=True)
    recognition_id: Mapped[uuid.UUID] = _uuid(ForeignKey("recognitions.id"), unique=True)
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)
    issuer_code: Mapped[str] = mapped_column(ForeignKey("credential_issuers.unit_code"))
    key_id: Mapped[str] = mapped_column(String(40))
    list_no: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(Text)
    issuer_name: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    criteria_version: Mapped[str] = mapped_column(String(50))
    document: Mapped[dict] = mapped_column(JSONB)
    jwt: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
