"""The notifications service's table: the delivery log.

One row per (source event, person, channel). The unique constraint is what makes sending
idempotent: a redelivered or re-published event finds its row and is not sent twice.
No contact data is stored here: the address is looked up at send time and then forgotten.
"""
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint, DateTime, Index, Integer, String, Text, UniqueConstraint, func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("pending", "sent", "failed")


class Base(DeclarativeBase):
    pass


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("source_event_id", "person_id", "channel",
                         name="uq_deliveries_event_person_channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_deliveries_status"),
        Index("ix_deliveries_person_created", "person_id", "created_at"),
        Index("ix_deliveries_status_created", "status", "created_at"),
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
