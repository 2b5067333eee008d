"""The portal's own tables: who is signed in, and which forms were already acted on.

- ``sessions``: one row per browser session, found by the SHA-256 of its cookie (the
  database never holds a cookie a thief could replay). ``data`` holds what the pages need:
  the user (subject, role, unit, name), the access token the services are called with, the
  CSRF secret, the language, and during sign-in the PKCE verifier, state and nonce.
- ``submissions``: the one-time id of every form acted on, with where its result is shown, so
  a second click (or a resent request) is answered with the first one's result.
"""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Session(Base):
    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Submission(Base):
    __tablename__ = "submissions"
    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id_hash", ondelete="CASCADE"), index=True)
    result_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
