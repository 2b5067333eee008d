"""Reporting's projections: counters per unit (every ancestor of a fact's unit included)."""
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Population(Base):
    """People registered in a unit's subtree, by birth year (so adulthood is per year)."""
    __tablename__ = "population"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    birth_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    people: Mapped[int] = mapped_column(Integer, default=0)


class TitleCount(Base):
    """Learning Citizen titles held in a unit's subtree for a year."""
    __tablename__ = "title_counts"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    titled: Mapped[int] = mapped_column(Integer, default=0)
    digitally_skilled: Mapped[int] = mapped_column(Integer, default=0)
    digitally_proficient: Mapped[int] = mapped_column(Integer, default=0)


class RecognitionFact(Base):
    """Each title counted, so a revocation undoes exactly what its grant did."""
    __tablename__ = "recognition_facts"

    recognition_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    year: Mapped[int] = mapped_column(Integer)
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    digital_skills: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class UnitPath(Base):
    """Where each unit seen in an event sits in the tree (root first), for target overrides."""
    __tablename__ = "unit_paths"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
