"""The registry's tables for bulk imports: one row per import job, one per reported error.

On the registry's ``Base`` so that its Alembic environment sees them (migration 0003).
"""
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.models import Base

IMPORT_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(Base):
    """One file imported (or being imported): progress, counts, timings, and why it failed."""
    __tablename__ = "import_jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True,
                                          default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20), server_default="people")
    source_filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str | None] = mapped_column(String(10))  # csv | xlsx
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # progress: rows read so far of an estimated total (exact once done)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(Integer, server_default="0")
    # outcome
    good: Mapped[int] = mapped_column(Integer, server_default="0")
    bad: Mapped[int] = mapped_column(Integer, server_default="0")
    registered: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    moved: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    error_count: Mapped[int] = mapped_column(Integer, server_default="0")
    events: Mapped[int] = mapped_column(Integer, server_default="0")
    # groups imports only: memberships opened and titles recorded
    members_joined: Mapped[int] = mapped_column(Integer, server_default="0")
    titles_recorded: Mapped[int] = mapped_column(Integer, server_default="0")
    # the file's layout as found: header row, column per field, ignored columns
    layout: Mapped[dict | None] = mapped_column(JSONB)
    # a failure of the file as a whole: {"code", "reason_vi", "reason_en"}
    failure: Mapped[dict | None] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_import_jobs_created_at", "created_at"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                        name="ck_import_jobs_status"),
    )


class ImportRowError(Base):
    """One problem of one row, as the error report shows it (never a full national ID)."""
    __tablename__ = "import_errors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    import_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(50))
    reason_vi: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_import_errors_import_id_row", "import_id", "row", "id"),)


