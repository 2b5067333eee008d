"""The notifications service's tables: the delivery log, digest items, opt-outs, schedule runs.

One delivery row per (source, person, channel). The unique constraint is what makes sending
idempotent: a redelivered or re-published event finds its row and is not sent twice. The
source is the event, or for a digest or a weekly summary an id derived from what it covers
(timing.digest_id, timing.summary_id).

No contact data is stored: the address is looked up at send time and then forgotten; only
its masked form (``h***@example.org``, ``***78``) stays, for the delivery log. ``context`` holds
the facts the template needs (an event's data, which carries ids and figures only).
"""
import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean, CheckConstraint, Date, DateTime, Index, Integer, PrimaryKeyConstraint, String,
    Text, UniqueConstraint, false, func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("pending", "sent", "failed", "skipped")


class Base(DeclarativeBase):
    pass


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("source_event_id", "person_id", "channel",
                         name="uq_deliveries_event_person_channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped')",
                        name="ck_deliveries_status"),
        Index("ix_deliveries_person_created", "person_id", "created_at"),
        Index("ix_deliveries_status_created", "status", "created_at"),
        Index("ix_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True,
                                          default=uuid.uuid4)
    source_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2), server_default="vi")
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the rule (event type or schedule) and its category: what opt-outs and fallbacks go by
    rule: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(50))
    context: Mapped[dict | None] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    address_masked: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                        server_default=func.now())


class DigestItem(Base):
    """A change waiting for a recipient's next digest; ``delivery_id`` is the digest that
    carried it (null: still waiting)."""
    __tablename__ = "digest_items"
    __table_args__ = (
        UniqueConstraint("source_event_id", "person_id", name="uq_digest_items_event_person"),
        Index("ix_digest_items_waiting", "person_id", postgresql_where="delivery_id IS NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True,
                                          default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    template: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(50))
    source_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class OptOut(Base):
    """A person who asked not to get a (non-mandatory) category of notification."""
    __tablename__ = "opt_outs"
    __table_args__ = (PrimaryKeyConstraint("person_id", "category", name="pk_opt_outs"),)

    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    category: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class ScheduleRun(Base):
    """A scheduled notification done for a period (``weekly_summary``, ``2025-W27``)."""
    __tablename__ = "schedule_runs"
    __table_args__ = (PrimaryKeyConstraint("name", "period", name="pk_schedule_runs"),)

    name: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(50))
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    recipients: Mapped[int] = mapped_column(Integer, server_default="0")


class Unit(Base):
    """A unit's name and kind as the registry announced them (unit_changed), or as its
    export_units gave them for a unit announced before this table existed."""
    __tablename__ = "units"

    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    unit_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class AssociationBody(Base):
    """A body of the association (association_body_changed): the commune association's own
    name signs its decisions' mails."""
    __tablename__ = "association_bodies"
    __table_args__ = (Index("ix_association_bodies_unit", "unit_code"),)

    body_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    body_name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    unit_code: Mapped[str] = mapped_column(String(64))
    unit_path: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    removed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
