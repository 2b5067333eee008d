"""The notifications service: tells people about their recognition, by email.

For each recognition_granted event, one delivery row per (event, person, channel):
- the row is inserted first (ON CONFLICT DO NOTHING), so a duplicate event finds it and stops;
- the contact is asked of the registry by RPC at send time and never stored or logged
  (logs show a masked address only);
- the mail is sent while the row is locked, and the outcome (sent, or failed for good) is
  committed together with its notification_sent / notification_failed event (outbox);
- a transient SMTP failure records the attempt and raises: cdht.consumer retries the message
  with backoff and dead-letters it when the retries are exhausted (the row stays pending, so a
  replay from the dead-letter queue sends it).

A crash between the SMTP server accepting the mail and the commit sends it again on
redelivery (SMTP has no transactions); the Message-ID is derived from the delivery id, so the
copy carries the same id.
"""
import logging
import uuid
from datetime import datetime, timezone


from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError

from cdht.consumer import handle_event
from cdht.db import Database
from cdht.inbox import first_delivery
from cdht.outbox import add_event
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import ApiError, api, health
from services.notifications import domain
from services.notifications.mailer import Mailer
from services.notifications.models import Delivery
from services.notifications.schemas import DeliveryQuerySchema, DeliverySchema

log = logging.getLogger(__name__)

EMAIL = "email"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: FOR UPDATE NOWAIT found the row locked


class TransientDeliveryError(Exception):
    """The mail could not be sent this time (4xx, connection refused, timeout); try later.
    Its message is already redacted: it ends up in logs and dead-letter headers."""


class DeliveryInProgress(Exception):
    """Another worker is sending this delivery right now; look again later."""


class NotificationsService:
    name = "notifications"
    config = Config()
    db = Database(relay=True)
    registry = RpcProxy("registry")
    mailer = Mailer()

    @api("GET", "/health")
    def health(self, request):
        return health(self.db, self.config["AMQP_URI"])

    # -- events ----------------------------------------------------------------------------
    @handle_event("assessment", "recognition_granted",
                  expected_exceptions=(TransientDeliveryError, DeliveryInProgress,
                                       RpcUnavailable))
    def on_recognition_granted(self, event):
        self._notify(event, event.data["person_id"])

    def _notify(self, event, person_id):
        template = domain.TEMPLATE_FOR_EVENT[event.event_type]
        delivery_id = self._open_delivery(event, person_id, template)
        if delivery_id is None:
            return

        contact = self._contact(person_id)

        failure = None
        with self.db.transaction() as session:
            delivery = self._lock(session, delivery_id)
            if delivery.status != "pending":  # finished by another worker meanwhile
                log.info("delivery %s already %s; duplicate %s dropped", delivery.id,
                         delivery.status, event.event_type)
                return
            reason = domain.missing_contact_reason(contact)
            if reason:
                log.warning("delivery %s failed: %s", delivery.id, reason)
                self._finish(session, delivery, event, "failed", reason)
                return
            message, delivery.template, delivery.language = domain.compose(
                event.event_type, event.data, contact)
            delivery.attempts += 1
            try:
                self.mailer.send(message, delivery.id)
            except Exception as exc:  # smtplib, socket, ssl: classified below
                reason = domain.describe_smtp_error(exc)
                if domain.classify_smtp_error(exc) == domain.PERMANENT:
                    log.warning("delivery %s to %s failed for good: %s", delivery.id,
                                domain.mask_email(message.to), reason)
                    self._finish(session, delivery, event, "failed", reason)
                    return
                log.warning("delivery %s to %s, attempt %d failed: %s", delivery.id,
                            domain.mask_email(message.to), delivery.attempts, reason)
                delivery.last_error = reason
                failure = TransientDeliveryError(reason)  # raised once the attempt is saved
            else:
                log.info("delivery %s: %s (%s) sent to %s", delivery.id, delivery.template,
                         delivery.language, domain.mask_email(message.to))
                self._finish(session, delivery, event, "sent")
        if failure is not None:
            raise failure

    def _contact(self, person_id):
        """The registry's contact record (or None), asked now and kept in memory only."""
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.contact"):
            return self.registry.contact(str(person_id))

    def _open_delivery(self, event, person_id, template):
        """The delivery's id, inserting the row if it is new; None when it is already done."""
        with self.db.transaction() as session:
            session.execute(
                insert(Delivery)
                .values(id=uuid.uuid4(), source_event_id=event.event_id, person_id=person_id,
                        channel=EMAIL, template=template, language=domain.DEFAULT_LANGUAGE,
                        status="pending", attempts=0)
                .on_conflict_do_nothing(constraint="uq_deliveries_event_person_channel"))
            delivery_id, status = session.execute(
                select(Delivery.id, Delivery.status).where(
                    Delivery.source_event_id == event.event_id,
                    Delivery.person_id == person_id, Delivery.channel == EMAIL)).one()
        if status != "pending":
            log.info("delivery %s already %s; duplicate %s %s dropped", delivery_id, status,
                     event.event_type, event.event_id)
            return None
        return delivery_id

    @staticmethod
    def _lock(session, delivery_id):
        """The delivery row, locked for this transaction; another sender makes us retry."""
        try:
            return session.execute(select(Delivery).where(Delivery.id == delivery_id)
                                   .with_for_update(nowait=True)).scalar_one()
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
                raise DeliveryInProgress(f"delivery {delivery_id} is being sent") from None
            raise

    def _finish(self, session, delivery, event, status, reason=None):
        """Record the outcome and announce it, in the caller's transaction."""
        delivery.status = status
        delivery.last_error = reason
        data = {"notification_id": delivery.id, "source_event_id": delivery.source_event_id,
                "person_id": delivery.person_id, "channel": delivery.channel,
                "template": delivery.template, "language": delivery.language}
        if status == "sent":
            delivery.sent_at = datetime.now(timezone.utc)
            add_event(session, "notification_sent", data, producer=self.name,
                      correlation_id=event.correlation_id)
        else:
            add_event(session, "notification_failed",
                      data | {"reason": reason, "attempts": delivery.attempts},
                      producer=self.name, correlation_id=event.correlation_id)
        first_delivery(session, event, f"{self.name}.{event.event_type}")

    # -- the delivery log ----------------------------------------------------------------------
    @api("GET", "/deliveries")
    def deliveries(self, request):
        try:
            query = DeliveryQuerySchema().load(request.args.to_dict())
        except ValidationError as exc:
            raise ApiError(400, "invalid query", exc.messages) from None
        conditions = [getattr(Delivery, field) == query[field]
                      for field in ("person_id", "source_event_id", "status", "channel")
                      if query[field] is not None]
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(Delivery)
                                   .where(*conditions))
            rows = session.scalars(
                select(Delivery).where(*conditions)
                .order_by(Delivery.created_at.desc(), Delivery.id)
                .limit(query["limit"]).offset(query["offset"])).all()
            return {"items": DeliverySchema(many=True).dump(rows), "total": total,
                    "limit": query["limit"], "offset": query["offset"]}
