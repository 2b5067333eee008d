"""The portal's SQL: sessions and submitted forms (models.py says what each holds)."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.portal.models import Session, Submission


def _now():
    return datetime.now(timezone.utc)


class PortalStore:
    """Over one SQLAlchemy session (cdht.db's ``Stores`` opens it)."""

    def __init__(self, session):
        self.session = session

    def ping(self):
        self.session.execute(text("SELECT 1"))

    def load(self, id_hash):
        """The data of a live session, or None (unknown or expired)."""
        return self.session.scalar(select(Session.data).where(
            Session.id_hash == id_hash, Session.expires_at > _now()))

    def save(self, id_hash, data, lifetime_seconds):
        self.session.execute(pg_insert(Session).values(
            id_hash=id_hash, data=data,
            expires_at=_now() + timedelta(seconds=lifetime_seconds),
        ).on_conflict_do_update(index_elements=[Session.id_hash], set_={
            "data": data, "expires_at": _now() + timedelta(seconds=lifetime_seconds)}))

    def update(self, id_hash, data):
        """New data, the expiry kept."""
        self.session.execute(update(Session).where(Session.id_hash == id_hash)
                             .values(data=data))

    def drop(self, id_hash):
        self.session.execute(delete(Session).where(Session.id_hash == id_hash))

    def drop_expired(self):
        return self.session.execute(delete(Session).where(Session.expires_at <= _now())).rowcount

    def claim_form(self, form_id, id_hash):
        """True when this form id is new (the caller acts on it), False when it was already
        claimed: the second click of a double click. The primary key decides, so two requests
        at the same moment cannot both win."""
        done = self.session.execute(pg_insert(Submission).values(
            form_id=form_id, session_hash=id_hash).on_conflict_do_nothing()
            .returning(Submission.form_id))
        return done.scalar() is not None

    def release_form(self, form_id):
        """The action failed (a form error): the same form may be sent again."""
        self.session.execute(delete(Submission).where(Submission.form_id == form_id))

    def finish_form(self, form_id, result_url):
        self.session.execute(update(Submission).where(Submission.form_id == form_id)
                             .values(result_url=result_url))

    def form_result(self, form_id):
        """(claimed, result_url) of a form id."""
        row = self.session.execute(select(Submission.result_url).where(
            Submission.form_id == form_id)).first()
        return (row is not None, row[0] if row else None)

