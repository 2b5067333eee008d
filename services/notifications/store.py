"""The delivery log and every query of the service: the inbox, opt-outs, deliveries opened,
skipped, held for a digest, claimed by the retry timer, locked while being sent, and the
outcome's event, in one transaction of the caller; the digests waiting, the schedules run,
and the pages of the delivery log the HTTP API shows. (The unit names messages use are
places.py's.)

``DeliveryStore`` is the interface the handlers (events.py, sending.py, schedules.py,
deliveries_api.py) are written against, so the path from an event to a message runs on an
in-memory fake in unit tests. ``StoreDatabase`` is the service's database dependency: a
worker's ``db.store()`` (reads) and ``db.store(write=True)`` (one transaction) yield a
DeliveryStore; ``db.transaction()`` and ``db.read()`` still give plain sessions.
"""
import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError

import cdht.db
from cdht.inbox import first_delivery, processed
from cdht.outbox import add_event
from services.notifications import domain, moves
from services.notifications.models import Delivery, DigestItem, OptOut, ScheduleRun

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
        return self.open_many(source_id, [(person_id, context)], rule, channel, correlation_id,
                              lease).get(str(person_id))

    def open_many(self, source_id, people, rule, channel, correlation_id, lease):
        """``open`` for each ``(person_id, context)`` of one event, in one statement (a
        closing's event tells hundreds): ``{str(person_id): delivery id}`` of those opened."""
        if not people:
            return {}
        leased_until = now() + lease
        stmt = insert(Delivery).values([dict(
            id=uuid.uuid4(), source_event_id=source_id, person_id=person_id, channel=channel,
            template=rule.template, rule=rule.name, category=rule.category,
            language=domain.DEFAULT_LANGUAGE, status="pending", attempts=0, context=context,
            correlation_id=correlation_id, next_attempt_at=leased_until)
            for person_id, context in people])
        stmt = stmt.on_conflict_do_update(
            constraint="uq_deliveries_event_person_channel",
            set_={"context": func.coalesce(Delivery.context, stmt.excluded.context),
                  "rule": func.coalesce(Delivery.rule, stmt.excluded.rule),
                  "category": func.coalesce(Delivery.category, stmt.excluded.category)},
            where=(Delivery.status == "pending") & Delivery.context.is_(None))
        return {str(person_id): delivery_id for person_id, delivery_id in self.session.execute(
            stmt.returning(Delivery.person_id, Delivery.id))}

    # -- an attempt --------------------------------------------------------------------------------
    def delivery(self, delivery_id, for_update=False):
        """The delivery, or None; ``for_update``: locked, waiting for a worker sending it."""
        return self.session.get(Delivery, delivery_id, with_for_update=for_update)

    def claim_due(self, at, lease, limit, channel=None):
        """Up to ``limit`` pending deliveries due at ``at`` (retries, postponed sends, expired
        leases), of ``channel`` if given, leased to this worker for ``lease`` so that other
        instances leave them alone (SKIP LOCKED: those another instance is claiming are left
        to it); their ids."""
        due = (select(Delivery.id).where(Delivery.status == "pending",
                                         Delivery.next_attempt_at <= at,
                                         *([Delivery.channel == channel] if channel else []))
               .order_by(Delivery.next_attempt_at).limit(limit)
               .with_for_update(skip_locked=True))
        return self.session.scalars(
            update(Delivery).where(Delivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=at + lease).returning(Delivery.id)).all()

    def release(self, ids, at):
        """Deliveries leased to this worker that it will not attempt, due at ``at`` for the
        retry timer; one a worker is sending right now (locked) is left alone."""
        mine = (select(Delivery.id).where(Delivery.id.in_(ids), Delivery.status == "pending")
                .with_for_update(skip_locked=True))
        self.session.execute(update(Delivery).where(Delivery.id.in_(mine.scalar_subquery()))
                             .values(next_attempt_at=at))

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

    # -- digests and schedules ---------------------------------------------------------------------
    def waiting_digest_items(self):
        """The digest items in no digest yet, by person, template and time, locked (SKIP
        LOCKED: another instance flushing at the same moment takes the others)."""
        return self.session.scalars(
            select(DigestItem).where(DigestItem.delivery_id.is_(None))
            .order_by(DigestItem.person_id, DigestItem.template, DigestItem.occurred_at)
            .with_for_update(skip_locked=True)).all()

    def delivery_id(self, source_id, person_id, channel):
        """The id of the delivery of ``source_id`` to the person by ``channel``, or None."""
        return self.session.scalar(select(Delivery.id).where(
            Delivery.source_event_id == source_id, Delivery.person_id == person_id,
            Delivery.channel == channel))

    def schedule_ran(self, name, period):
        return self.session.get(ScheduleRun, (name, period)) is not None

    def record_schedule_run(self, name, period, recipients):
        """The schedule ``name`` ran for ``period`` (kept when it already had)."""
        self.session.execute(insert(ScheduleRun).values(
            name=name, period=period, recipients=recipients).on_conflict_do_nothing())

    # -- preferences -------------------------------------------------------------------------------
    def categories_opted_out(self, person_id):
        return set(self.session.scalars(select(OptOut.category)
                                        .where(OptOut.person_id == person_id)))

    def opt_out(self, person_id, category):
        self.session.execute(insert(OptOut).values(person_id=person_id, category=category)
                             .on_conflict_do_nothing())

    def opt_in(self, person_id, category):
        self.session.execute(delete(OptOut).where(OptOut.person_id == person_id,
                                                  OptOut.category == category))

    # -- the delivery log --------------------------------------------------------------------------
    def page(self, filters, since, until, scope, limit, offset):
        """(total, rows) of the deliveries matching ``filters`` (columns' values), created
        from ``since`` and before ``until`` (None: no bound), newest first, within
        ``scope``: None (all), ("person", id), or ("unit", code): those placed in the unit's
        subtree (moves.place_of: an event's unit, where its subject moved, a province's
        weekly summary)."""
        conditions = [getattr(Delivery, name) == value for name, value in filters.items()]
        if since is not None:
            conditions.append(Delivery.created_at >= since)
        if until is not None:
            conditions.append(Delivery.created_at < until)
        if scope is not None:
            kind, value = scope
            conditions.append(Delivery.person_id == value if kind == "person" else
                              moves.placed_in(value))
        total = self.session.scalar(select(func.count()).select_from(Delivery)
                                    .where(*conditions))
        rows = self.session.scalars(
            select(Delivery).where(*conditions)
            .order_by(Delivery.created_at.desc(), Delivery.id)
            .limit(limit).offset(offset)).all()
        return total, rows


# -- the service's dependency -----------------------------------------------------------------
class StoreDatabase(cdht.db.StoreDatabase):
    """cdht.db.StoreDatabase (with its outbox relay) whose workers' ``store()`` yields a
    DeliveryStore."""

    store_class = DeliveryStore
