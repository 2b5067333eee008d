"""Assessment's tables: submitted self-assessments and the titles granted from them."""
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, Boolean, DateTime, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Assessment(Base):
    """A self-assessment and the decision made on it, with the criteria version used."""
    __tablename__ = "assessments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True,
                                          default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    target_group: Mapped[str] = mapped_column(String(20))
    criteria_version: Mapped[str] = mapped_column(String(50))
    scores: Mapped[dict] = mapped_column(JSONB)
    total: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    explanation: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class Recognition(Base):
    """The Learning Citizen title: one per person and year."""
    __tablename__ = "recognitions"
    __table_args__ = (UniqueConstraint("person_id", "year", name="uq_recognition_person_year"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True,
                                          default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    year: Mapped[int] = mapped_column(Integer)
    assessment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    criteria_version: Mapped[str] = mapped_column(String(50))
    digital_skills: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
