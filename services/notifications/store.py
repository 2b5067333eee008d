"""The delivery log as the path from an event to a message sees it: the inbox, opt-outs,
deliveries opened, skipped, held for a digest, locked while being sent, and the outcome's
event, in one transaction of the caller.

``DeliveryStore`` is the interface that path (service.py: ``_on_event``, ``_attempt``) is
written against, so it runs on an in-memory fake in unit tests. ``StoreDatabase`` is the
service's database dependency: a worker's ``db.store()`` (reads) and ``db.store(write=True)``
(one transaction) yield a DeliveryStore; ``db.transaction()`` and ``db.read()`` still give
plain sessions.
"""
import logging
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError

from cdht.db import Database
from cdht.inbox import first_delivery, processed
from cdht.outbox import add_event
from services.notifications import domain
from services.notifications.models import Delivery, DigestItem, OptOut

log = logging.getLogger(__name__)

PRODUCER = "notifications"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: FOR UPDATE NOWAIT found the row locked


def now():
    return datetime.now(timezone.utc)


class DeliveryStore:
    """The delivery log in the caller's transaction (a SQLAlchemy session)."""

    def __init__(self, session):
        self.session = session

    # -- the inbox (cdht.inbox: under the handler this worker runs for) -------------------------
    def processed(self, event):
        return processed(self.session, event)

    def first_delivery(self, event):
        return first_delivery(self.session, event)

    # -- before a delivery -------------------------------------------------------------------------
    def opted_out(self, people, rule):
        """Those of ``people`` (ids) who opted out of the rule's category, as strings."""
        if rule.mandatory or not people:
            return set()
        return {str(p) for p in self.session.scalars(select(OptOut.person_id).where(
            OptOut.category == rule.category,
            OptOut.person_id.in_([uuid.UUID(str(p)) for p in people])))}

    def skip(self, source_id, person_id, rule, correlation_id):
        """A "skipped" delivery: the person opted out of the rule's category."""
        log.info("%s to %s skipped: opted out of %s", rule.name, person_id, rule.category)
        self.session.execute(insert(Delivery).values(
            id=uuid.uuid4(), source_event_id=source_id, person_id=person_id,
            channel=rule.channels[0], template=rule.template, rule=rule.name,
            category=rule.category, status="skipped", attempts=0,
            last_error=f"opted out of {rule.category}", correlation_id=correlation_id,
        ).on_conflict_do_nothing(constraint="uq_deliveries_event_person_channel"))

    def hold_for_digest(self, event, person_id, rule, data):
        """The event waits for the person's daily digest."""
        self.session.execute(insert(DigestItem).values(
            id=uuid.uuid4(), person_id=person_id, template=rule.template,
            category=rule.category, source_event_id=event.event_id,
            event_type=event.event_type, occurred_at=event.occurred_at, data=data,
            correlation_id=event.correlation_id,
        ).on_conflict_do_nothing(constraint="uq_digest_items_event_person"))

    def open(self, source_id, person_id, rule, channel, context, correlation_id, lease):
        """Insert a pending delivery, leased (``lease``, a timedelta) to this worker, which
        attempts it at once; its id, or None when it exists and is no longer pending. (A
        pending row of migration 0001 gets the facts it lacks.)"""
        stmt = insert(Delivery).values(
            id=uuid.uuid4(), source_event_id=source_id, person_id=person_id, channel=channel,
            template=rule.template, rule=rule.name, category=rule.category,
            language=domain.DEFAULT_LANGUAGE, status="pending", attempts=0, context=context,
            correlation_id=correlation_id, next_attempt_at=now() + lease)
        stmt = stmt.on_conflict_do_update(
            constraint="uq_deliveries_event_person_channel",
            set_={"context": func.coalesce(Delivery.context, stmt.excluded.context),
                  "rule": func.coalesce(Delivery.rule, stmt.excluded.rule),
                  "category": func.coalesce(Delivery.category, stmt.excluded.category)},
            where=(Delivery.status == "pending") & Delivery.context.is_(None))
        return self.session.execute(stmt.returning(Delivery.id)).scalar_one_or_none()

    # -- an attempt --------------------------------------------------------------------------------
    def delivery(self, delivery_id):
        return self.session.get(Delivery, delivery_id)

    def lock(self, delivery_id):
        """The delivery, locked for this transaction; None when another worker holds it (it
        is sending it right now)."""
        try:
            return self.session.execute(select(Delivery).where(Delivery.id == delivery_id)
                                        .with_for_update(nowait=True)).scalar_one_or_none()
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
                log.info("delivery %s is being sent by another worker", delivery_id)
                return None
            raise

    def announce(self, delivery, event_type, data):
        """notification_sent or notification_failed, with the correlation id of the event
        the delivery is for (a retry runs in a timer's worker, with another)."""
        add_event(self.session, event_type, data, producer=PRODUCER,
                  correlation_id=delivery.correlation_id)


# -- the service's dependency -----------------------------------------------------------------
class Stores:
    """What a worker gets: cdht.db's transactions, plus ``store()`` yielding a DeliveryStore
    (``write=True``: in one transaction, committed at the end)."""

    def __init__(self, sessions):
        self.sessions = sessions

    def transaction(self):
        return self.sessions.transaction()

    def read(self):
        return self.sessions.read()

    @contextmanager
    def store(self, write=False):
        with (self.sessions.transaction() if write else self.sessions.read()) as session:
            yield DeliveryStore(session)


class StoreDatabase(Database):
    """cdht.db.Database (with its outbox relay) whose workers get ``Stores``."""

    def get_dependency(self, worker_ctx):
        return Stores(super().get_dependency(worker_ctx))
