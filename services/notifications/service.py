"""The notifications service: tells people what concerns them, by email and SMS.

Events in (cdht.consumer.handle_event): the rule of the event (rules.yaml) names the
recipients, asked of the registry by RPC; in one transaction the event is recorded in the
inbox and, per recipient, either
- a delivery row (pending; one per (event, person, channel), unique), or
- a digest item (daily digests: at most one mail a day per recipient), or
- a "skipped" delivery row when the person opted out of a category that is not mandatory.
The event is then acked: from here on the deliveries are this service's own work.

A delivery attempt (at once for new rows, then by the retry timer) asks the registry for the
contact (kept in memory only; the log shows it masked), locks the row, sends while holding
the lock, and commits the outcome with its notification_sent / notification_failed event
(outbox):
- sent: done;
- failed for good (a 5xx refusal, a 4xx from the SMS gateway, no address, retries
  exhausted): recorded and announced; then the rule's next channel (email -> SMS) is tried
  when the person has an address for it;
- failed for now (connection refused, 4xx, 5xx gateway answer, timeout): the attempt is
  counted and the next one scheduled with exponential backoff and jitter (timing.py), up to
  SEND_MAX_ATTEMPTS. A registry that does not answer, or a channel's rate limit, only
  postpones the attempt.

Messages name units and are signed by the association that decides (places.py keeps the
names from the registry's unit_changed and association_body_changed; wording.py says them);
a refusal (recognition_refused version 2) states its reasons in the recipient's language.

A crash between the server accepting a message and the commit sends it again (SMTP and HTTP
have no transactions); the Message-ID and the gateway reference are the delivery id, so the
copy can be recognised.

The rows on the way from an event to a message are store.py's (``self.db.store()``).
"""
import logging
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from itertools import groupby

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from cdht.auth import ADMIN, EVERYONE, STAFF, STAFF_AND_CITIZEN
from cdht.broker import RpcProxy  # nameko's, surviving a broker restart
from cdht.consumer import handle_event
from cdht.contracts.events import EVENT_SCHEMAS
from cdht.inbox import first_delivery
from cdht.redact import redact
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import (
    ApiError, Forbidden, NotFound, Observed, api, caller_of, load_json,
    require_scope,
)
from services.notifications import domain, places, rules, timing
from services.notifications.gateway import SmsError, SmsGatewayProvider
from services.notifications.mailer import Mailer
from services.notifications.models import Delivery, DigestItem, OptOut, ScheduleRun
from services.notifications.schemas import (
    DeliveryPageSchema, DeliveryQuerySchema, DeliverySchema, FlushResultSchema, OptOutSchema,
    PreferencesSchema, SummaryResultSchema, TriggerSchema,
)
from services.notifications.store import DeliveryStore, StoreDatabase

log = logging.getLogger(__name__)

RULES = rules.load_rules(known_events={name for name, _ in EVENT_SCHEMAS})
WEEKLY = "weekly_summary"
RETRY_BATCH = 50


def _now():
    return datetime.now(timezone.utc)


# -- scope (cdht.auth) -------------------------------------------------------------------------
def _subject_id(caller):
    try:
        return uuid.UUID(str(caller.subject))
    except ValueError:
        return None


def _delivery_place(delivery):
    """The unit path a delivery concerns: the event's unit_path (an assessment, a title, a
    target), or the province of a weekly summary; () when it names none (a digest)."""
    context = delivery.context or {}
    if isinstance(context.get("unit_path"), list):
        return context["unit_path"]
    if context.get("province"):
        return [context["province"]]
    return ()


def _deliveries_in_scope(request):
    """Conditions keeping the deliveries a caller may see: a citizen's own; for staff,
    those about an event in their subtree (or their province's weekly summary)."""
    caller = caller_of(request)
    if caller.is_admin:
        return []
    if caller.is_citizen:
        return [Delivery.person_id == _subject_id(caller)]
    return [Delivery.context["unit_path"].contains([caller.unit_code])
            | (Delivery.context["province"].astext == caller.unit_code)]


def _delivery_in_scope(request, delivery):
    caller = caller_of(request)
    if caller.is_citizen:
        if delivery.person_id != _subject_id(caller):
            raise Forbidden("a citizen may only see their own notifications")
        return
    require_scope(request, _delivery_place(delivery), "the delivery")


class ConfigTimer(Timer):
    """nameko's timer with its interval (seconds) read from the config at start."""

    def __init__(self, key, default, **kwargs):
        self.key = key
        self.default = default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(self.container.config.get(self.key) or self.default)


config_timer = ConfigTimer.decorator


class RateLimits(DependencyProvider):
    """One token bucket per channel for the whole service process (RATE_LIMIT_*_PER_MINUTE;
    0: no limit). ``self.limits.wait(channel)``: 0 when a send may go now, else seconds."""

    def setup(self):
        config = self.container.config
        start = time.monotonic()
        self.buckets = {
            "email": timing.TokenBucket(float(config.get("RATE_LIMIT_EMAIL_PER_MINUTE") or 0),
                                        now=start),
            "sms": timing.TokenBucket(float(config.get("RATE_LIMIT_SMS_PER_MINUTE") or 0),
                                      now=start),
        }

    def wait(self, channel):
        return self.buckets[channel].take(time.monotonic())

    def get_dependency(self, worker_ctx):
        return self


class NotificationsService(Observed):
    """Tells citizens, reviewers and association staff what concerns them: by email (SMTP) and
    SMS (an HTTP gateway), from the rules in rules.yaml, with retries, fallback, opt-outs,
    daily digests and a weekly summary."""
    name = "notifications"
    config = Config()
    db = StoreDatabase(relay=True)
    registry = RpcProxy("registry")
    reporting = RpcProxy("reporting")
    mailer = Mailer()
    sms = SmsGatewayProvider()
    limits = RateLimits()
    units = places.UnitDirectory()

    # -- documentation --------------------------------------------------------------------------

    # -- settings -------------------------------------------------------------------------------
    def _setting(self, key, default, kind=float):
        value = self.config.get(key)
        return kind(value) if value not in (None, "") else default

    def _tz(self):
        return timing.parse_timezone(self.config.get("NOTIFICATIONS_TIMEZONE"))

    # -- events -----------------------------------------------------------------------------------
    @handle_event("assessment", "recognition_granted", expected_exceptions=(RpcUnavailable,))
    def on_recognition_granted(self, event):
        self._on_event(event)

    @handle_event("assessment", "recognition_refused", version=2,
                  expected_exceptions=(RpcUnavailable,))
    def on_recognition_refused(self, event):
        """Version 2: the reasons as data, written in each recipient's language (version 1,
        published beside it, is acked unhandled)."""
        self._on_event(event)

    @handle_event("assessment", "assessment_submitted", expected_exceptions=(RpcUnavailable,))
    def on_assessment_submitted(self, event):
        self._on_event(event)

    @handle_event("reporting", "target_reached", expected_exceptions=(RpcUnavailable,))
    def on_target_reached(self, event):
        self._on_event(event)

    @handle_event("reporting", "target_at_risk", expected_exceptions=(RpcUnavailable,))
    def on_target_at_risk(self, event):
        self._on_event(event)

    @handle_event("registry", "unit_changed")
    def on_unit_changed(self, event):
        """Units by name in every message (places.py)."""
        with self.db.transaction() as session:
            if first_delivery(session, event):
                places.record_unit(session, event.data)

    @handle_event("registry", "association_body_changed")
    def on_association_body_changed(self, event):
        """A commune association's own name signs its decisions' mails."""
        with self.db.transaction() as session:
            if first_delivery(session, event):
                places.record_body(session, event.data)

    def _on_event(self, event):
        rule = RULES.for_event(event.event_type)
        with self.db.store() as store:
            done = store.processed(event)
        if done:
            log.info("%s %s already handled; duplicate dropped", event.event_type,
                     event.event_id)
            return
        data = event.to_message()["data"]
        people = rules.recipients(rule, data, self._officials,
                                  self.config.get("PROVINCE_CODE"))
        if not people:
            log.warning("%s %s: nobody to tell (%s of %s)", event.event_type, event.event_id,
                        rule.recipients, data.get("unit_code"))
        created = []
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                return  # a concurrent copy of the event got here first
            opted_out = store.opted_out(people, rule)
            for person_id in people:
                if person_id in opted_out:
                    store.skip(event.event_id, person_id, rule, event.correlation_id)
                elif rule.digest == "daily":
                    store.hold_for_digest(event, person_id, rule, data)
                else:
                    delivery_id = self._open(store, event.event_id, person_id, rule,
                                             rule.channels[0], data, event.correlation_id)
                    if delivery_id:
                        created.append(delivery_id)
        for delivery_id in created:
            self._attempt_safely(delivery_id)

    def _officials(self, unit_code):
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.association_officials"):
            return self.registry.association_officials(unit_code)

    def _contact(self, person_id):
        """The registry's contact record (or None), asked now and kept in memory only."""
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.contact"):
            return self.registry.contact(str(person_id))

    def _open(self, store, source_id, person_id, rule, channel, context, correlation_id):
        """A pending delivery leased to this worker (store.DeliveryStore.open)."""
        return store.open(source_id, person_id, rule, channel, context, correlation_id,
                          self._lease())

    # -- attempts ---------------------------------------------------------------------------------
    def _lease(self):
        """How long an attempt may take (registry, then SMTP or gateway): a pending row is
        leased that long to the worker attempting it; the retry timer takes it back after,
        should that worker have died."""
        return timedelta(seconds=self._setting("CONTACT_TIMEOUT", 10.0) + max(
            self._setting("SMTP_TIMEOUT", 30.0), self._setting("SMS_TIMEOUT", 10.0)) + 10)

    @config_timer("RETRY_POLL_SECONDS", 5)
    def retry_due(self):
        """Attempt the pending deliveries whose time has come (retries, postponed sends,
        expired leases), claiming them first so that other instances leave them alone."""
        now = _now()
        with self.db.transaction() as session:
            due = (select(Delivery.id).where(Delivery.status == "pending",
                                             Delivery.next_attempt_at <= now)
                   .order_by(Delivery.next_attempt_at).limit(RETRY_BATCH)
                   .with_for_update(skip_locked=True))
            claimed = session.scalars(
                update(Delivery).where(Delivery.id.in_(due.scalar_subquery()))
                .values(next_attempt_at=now + self._lease()).returning(Delivery.id)).all()
        for delivery_id in claimed:
            self._attempt_safely(delivery_id)

    def _attempt_safely(self, delivery_id):
        """Attempt a delivery, then its fallback if it failed for good; an unexpected error
        is logged and the delivery stays pending for the retry timer."""
        queue = [delivery_id]
        while queue:
            current = queue.pop(0)
            try:
                following = self._attempt(current)
            except Exception:
                log.exception("delivery %s: attempt failed unexpectedly; tried again later",
                              current)
                return
            if following:
                queue.append(following)

    def _attempt(self, delivery_id):
        """One attempt; returns the id of a fallback delivery to attempt next, or None."""
        with self.db.store() as store:
            row = store.delivery(delivery_id)
            if row is None or row.status != "pending":
                return None
            person_id, channel, attempts = row.person_id, row.channel, row.attempts
        try:
            contact = self._contact(person_id)
        except RpcUnavailable as exc:
            self._postpone(delivery_id, self._backoff(attempts + 1), str(exc))
            log.warning("delivery %s: %s; asked again later", delivery_id, exc)
            return None

        with self.db.store(write=True) as store:
            delivery = store.lock(delivery_id)
            if delivery is None or delivery.status != "pending":
                return None
            rule = RULES.by_name(delivery.rule or "") or RULES.for_event("recognition_granted")
            reason = domain.missing_address_reason(contact, channel)
            if reason is None and channel == "sms" and self.sms is None:
                reason = "SMS is off: no SMS_GATEWAY_URL configured"
            if reason:
                log.warning("delivery %s failed: %s", delivery.id, reason)
                return self._fail(store, delivery, reason, contact, rule)
            wait = self.limits.wait(channel)
            if wait > 0:
                delivery.next_attempt_at = _now() + timedelta(seconds=wait)
                log.info("delivery %s: %s rate limit reached; sent in %.1fs", delivery.id,
                         channel, wait)
                return None
            try:
                message, delivery.language = self._compose(delivery, contact)
            except Exception as exc:  # a template that cannot render never will
                reason = redact(f"template {delivery.template} cannot be rendered: "
                                f"{type(exc).__name__}: {exc}")[:500]
                log.error("delivery %s failed: %s", delivery.id, reason)
                return self._fail(store, delivery, reason, contact, rule)
            to = domain.masked_address(contact, channel)
            delivery.address_masked = to
            delivery.attempts += 1
            try:
                self._send(channel, message, delivery.id)
            except Exception as exc:  # smtplib, socket, ssl, SmsError: classified here
                kind, reason = self._classify(channel, exc)
                if kind == domain.PERMANENT:
                    log.warning("delivery %s to %s failed for good: %s", delivery.id, to, reason)
                    return self._fail(store, delivery, reason, contact, rule)
                max_attempts = self._setting("SEND_MAX_ATTEMPTS", 6, int)
                if delivery.attempts >= max_attempts:
                    reason = f"gave up after {delivery.attempts} attempts: {reason}"[:500]
                    log.warning("delivery %s to %s failed: %s", delivery.id, to, reason)
                    return self._fail(store, delivery, reason, contact, rule)
                delay = self._backoff(delivery.attempts)
                delivery.last_error = reason
                delivery.next_attempt_at = _now() + timedelta(seconds=delay)
                delivery.updated_at = _now()
                log.warning("delivery %s to %s, attempt %d failed: %s; next in %.1fs",
                            delivery.id, to, delivery.attempts, reason, delay)
                return None
            log.info("delivery %s: %s (%s) sent to %s by %s", delivery.id, delivery.template,
                     delivery.language, to, channel)
            self._finish(store, delivery, "sent")
            return None

    def _backoff(self, attempt):
        return timing.backoff_delay(attempt, self._setting("RETRY_BASE_SECONDS", 30.0),
                                    self._setting("RETRY_MAX_SECONDS", 3600.0), random.random)

    def _postpone(self, delivery_id, seconds, reason):
        with self.db.store(write=True) as store:
            delivery = store.lock(delivery_id)
            if delivery is not None and delivery.status == "pending":
                delivery.next_attempt_at = _now() + timedelta(seconds=seconds)
                delivery.last_error = redact(reason)[:500]

    def _compose(self, delivery, contact):
        context = delivery.context or {}
        known = self.units.places(self.db, domain.unit_paths(delivery.template, context),
                                  self._export_units)
        if delivery.channel == "email":
            return domain.compose_email(delivery.template, context, contact, places=known)
        return domain.compose_sms(delivery.template, context, contact, places=known,
                                  gsm7_only=self.sms.gsm7_only, max_parts=self.sms.max_parts)

    def _export_units(self):
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.export_units"):
            return self.registry.export_units()

    def _send(self, channel, message, delivery_id):
        if channel == "email":
            return self.mailer.send(message, delivery_id)
        return self.sms.send(message, delivery_id)

    @staticmethod
    def _classify(channel, exc):
        if channel == "email":
            return domain.classify_smtp_error(exc), domain.describe_smtp_error(exc)
        if isinstance(exc, SmsError):
            return exc.kind, redact(exc.reason)[:500]
        return domain.TRANSIENT, redact(f"{type(exc).__name__}: {exc}")[:500]

    def _fail(self, store, delivery, reason, contact, rule):
        """Record a failure for good, announce it, and open the fallback delivery (the rule's
        next channel) when the person has an address for it; returns the fallback's id."""
        self._finish(store, delivery, "failed", reason)
        following = rule.next_channel(delivery.channel)
        if following is None or domain.missing_address_reason(contact, following):
            return None
        if following == "sms" and self.sms is None:
            return None
        fallback = self._open(store, delivery.source_event_id, delivery.person_id, rule,
                              following, delivery.context, delivery.correlation_id)
        if fallback:
            log.info("delivery %s failed: falling back to %s (delivery %s)", delivery.id,
                     following, fallback)
        return fallback

    def _finish(self, store, delivery, status, reason=None):
        """Record the outcome and announce it, in the caller's transaction."""
        delivery.status = status
        delivery.last_error = reason
        delivery.next_attempt_at = None
        self.telemetry.delivery_finished(delivery.channel, status)  # cdht_notifications_*
        delivery.updated_at = _now()
        data = {"notification_id": delivery.id, "source_event_id": delivery.source_event_id,
                "person_id": delivery.person_id, "channel": delivery.channel,
                "template": delivery.template, "language": delivery.language}
        if status == "sent":
            delivery.sent_at = _now()
            store.announce(delivery, "notification_sent", data)
        else:
            store.announce(delivery, "notification_failed",
                           data | {"reason": reason, "attempts": delivery.attempts})

    # -- digests and the weekly summary -----------------------------------------------------------
    @config_timer("SCHEDULE_POLL_SECONDS", 60)
    def scheduled(self):
        """Send what the clock makes due: the day's digests, the week's summary."""
        now = _now()
        try:
            self._flush_digests(now)
        except Exception:
            log.exception("daily digests: flush failed; tried again at the next tick")
        try:
            self._weekly_summary(now, only_if_due=True)
        except Exception as exc:
            log.warning("weekly summary: not sent now (%s: %s); tried again at the next tick",
                        type(exc).__name__, redact(exc))

    @api("POST", "/digests/flush",
         roles=ADMIN,
         summary="Send the daily digests that are due",
         body=TriggerSchema,
         response=FlushResultSchema,
         description="What the digest timer does, for operators and tests: one mail per "
                     "recipient listing every change waiting, at most one a day, from "
                     "DIGEST_HOUR (local time, NOTIFICATIONS_TIMEZONE).")
    def flush_digests(self, request):
        body = self._trigger(request)
        return self._flush_digests(body["now"] or _now())

    @api("POST", "/summaries/weekly",
         roles=ADMIN,
         summary="Send the weekly summary to the province's officials",
         body=TriggerSchema,
         response=SummaryResultSchema,
         errors=(503,),
         description="What the weekly timer does, for operators and tests; once per ISO "
                     "week and recipient, however often it is called.")
    def send_weekly_summary(self, request):
        body = self._trigger(request)
        try:
            return self._weekly_summary(body["now"] or _now(), only_if_due=False,
                                        year=body["year"])
        except RpcUnavailable as exc:
            raise ApiError(503, str(exc)) from None

    @staticmethod
    def _trigger(request):
        if not request.get_data():
            return TriggerSchema().load({})
        return load_json(request, TriggerSchema())

    def _flush_digests(self, now):
        day = timing.digest_day(now, self._tz(), self._setting("DIGEST_HOUR", 7, int))
        if day is None:
            return {"day": None, "digests": 0, "items": 0}
        created, listed = [], 0
        with self.db.transaction() as session:
            store = DeliveryStore(session)
            waiting = session.scalars(
                select(DigestItem).where(DigestItem.delivery_id.is_(None))
                .order_by(DigestItem.person_id, DigestItem.template, DigestItem.occurred_at)
                .with_for_update(skip_locked=True)).all()
            for (person_id, template), group in groupby(
                    waiting, key=lambda item: (item.person_id, item.template)):
                items = list(group)
                rule = RULES.digest_rule(template)
                source = timing.digest_id(template, person_id, day)
                context = {"day": day.isoformat(), "items": [
                    {"event_id": str(i.source_event_id), "event_type": i.event_type,
                     "occurred_at": i.occurred_at.isoformat(), "data": i.data} for i in items]}
                if store.opted_out([person_id], rule):
                    store.skip(source, person_id, rule, None)
                    delivery_id = session.scalar(select(Delivery.id).where(
                        Delivery.source_event_id == source, Delivery.person_id == person_id,
                        Delivery.channel == rule.channels[0]))
                else:
                    delivery_id = self._open(store, source, person_id, rule,
                                             rule.channels[0], context, None)
                    if delivery_id is None:
                        continue  # today's digest already went: these wait for tomorrow's
                    created.append(delivery_id)
                    listed += len(items)
                for item in items:
                    item.delivery_id = delivery_id
        for delivery_id in created:
            self._attempt_safely(delivery_id)
        if created:
            log.info("daily digests of %s: %d, listing %d changes", day, len(created), listed)
        return {"day": day.isoformat(), "digests": len(created), "items": listed}

    def _weekly_summary(self, now, only_if_due, year=None):
        tz = self._tz()
        if only_if_due:
            week = timing.weekly_due(now, tz, self._setting("WEEKLY_SUMMARY_WEEKDAY", 1, int),
                                     self._setting("WEEKLY_SUMMARY_HOUR", 7, int))
            if week is None:
                return None
            with self.db.read() as session:
                if session.get(ScheduleRun, (WEEKLY, week.key)) is not None:
                    return None
        else:
            week = timing.iso_week(now, tz)
        province = str(self.config.get("PROVINCE_CODE") or "AG")
        rule = RULES.schedule(WEEKLY)
        year = year or timing.local(now, tz).year
        people = rules.recipients(rule, {"unit_path": [province]}, self._officials)
        with deadline(self.config.get("REPORTING_TIMEOUT"), "reporting.progress"):
            progress = self.reporting.progress(province, year)
        context = {"province": province, "week": week.key, "year": year,
                   "progress": progress}
        source = timing.summary_id(province, week)
        created = []
        with self.db.transaction() as session:
            store = DeliveryStore(session)
            session.execute(insert(ScheduleRun).values(
                name=WEEKLY, period=week.key, recipients=len(people)).on_conflict_do_nothing())
            opted_out = store.opted_out(people, rule)
            for person_id in people:
                if person_id in opted_out:
                    store.skip(source, person_id, rule, None)
                    continue
                delivery_id = self._open(store, source, person_id, rule, rule.channels[0],
                                         context, None)
                if delivery_id:
                    created.append(delivery_id)
        for delivery_id in created:
            self._attempt_safely(delivery_id)
        log.info("weekly summary %s of %s: %d recipients, %d new deliveries", week.key,
                 province, len(people), len(created))
        return {"week": week.key, "province": province, "recipients": len(people),
                "created": len(created)}

    # -- opt-outs ---------------------------------------------------------------------------------
    def _person_in_scope(self, request, person_id):
        """A citizen manages only their own preferences; staff those of the people of their
        subtree (the registry says where a person is)."""
        caller = caller_of(request)
        if caller.is_admin:
            return
        if caller.is_citizen:
            if person_id != _subject_id(caller):
                raise Forbidden("a citizen manages only their own preferences")
            return
        try:
            with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.profile"):
                profile = self.registry.profile(str(person_id))
        except RpcUnavailable as exc:
            raise ApiError(503, f"registry unavailable: {exc}") from None
        if profile is None:
            raise NotFound("person")
        require_scope(request, profile["unit_path"], "the person")

    @api("GET", "/preferences/<uuid:person_id>",
         roles=STAFF_AND_CITIZEN,
         summary="A person's categories and opt-outs",
         response=PreferencesSchema)
    def preferences(self, request, person_id):
        self._person_in_scope(request, person_id)
        with self.db.read() as session:
            out = set(session.scalars(select(OptOut.category)
                                      .where(OptOut.person_id == person_id)))
        return {"person_id": person_id, "categories": [
            {"name": name, "mandatory": mandatory, "opted_out": name in out}
            for name, mandatory in sorted(RULES.categories.items())]}

    @api("PUT", "/preferences/<uuid:person_id>/<string:category>",
         roles=STAFF_AND_CITIZEN,
         summary="Opt a person out of a category of notifications",
         response=OptOutSchema,
         errors=(409,),
         description="Mandatory categories (rules.yaml) cannot be opted out "
                     "of: 409.")
    def opt_out(self, request, person_id, category):
        self._person_in_scope(request, person_id)
        if category not in RULES.categories:
            raise NotFound(f"category {category}")
        if RULES.is_mandatory(category):
            raise ApiError(409, "invalid input", {"category": [
                f"{category} is mandatory: it cannot be opted out of"]})
        with self.db.transaction() as session:
            session.execute(insert(OptOut).values(person_id=person_id, category=category)
                            .on_conflict_do_nothing())
        log.info("person %s opted out of %s", person_id, category)
        return {"person_id": person_id, "category": category, "opted_out": True}

    @api("DELETE", "/preferences/<uuid:person_id>/<string:category>",
         roles=STAFF_AND_CITIZEN,
         summary="Opt a person back in to a category",
         response=OptOutSchema)
    def opt_in(self, request, person_id, category):
        self._person_in_scope(request, person_id)
        if category not in RULES.categories:
            raise NotFound(f"category {category}")
        with self.db.transaction() as session:
            session.execute(delete(OptOut).where(OptOut.person_id == person_id,
                                                 OptOut.category == category))
        return {"person_id": person_id, "category": category, "opted_out": False}

    # -- the delivery log -------------------------------------------------------------------------
    @api("GET", "/deliveries",
         roles=EVERYONE,
         summary="The delivery log: what went to whom, when, how (addresses "
                 "masked)",
         query=DeliveryQuerySchema,
         response=DeliveryPageSchema)
    def deliveries(self, request):
        try:
            query = DeliveryQuerySchema().load(request.args.to_dict())
        except ValidationError as exc:
            raise ApiError(400, "invalid query", exc.messages) from None
        conditions = [getattr(Delivery, field) == query[field]
                      for field in ("person_id", "source_event_id", "status", "channel",
                                    "category", "template")
                      if query[field] is not None]
        if query["since"] is not None:
            conditions.append(Delivery.created_at >= query["since"])
        if query["until"] is not None:
            conditions.append(Delivery.created_at < query["until"])
        conditions += _deliveries_in_scope(request)
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(Delivery)
                                   .where(*conditions))
            rows = session.scalars(
                select(Delivery).where(*conditions)
                .order_by(Delivery.created_at.desc(), Delivery.id)
                .limit(query["limit"]).offset(query["offset"])).all()
            return {"items": DeliverySchema(many=True).dump(rows), "total": total,
                    "limit": query["limit"], "offset": query["offset"]}

    @api("GET", "/deliveries/<uuid:delivery_id>",
         roles=EVERYONE,
         summary="Read a delivery",
         response=DeliverySchema)
    def delivery(self, request, delivery_id):
        with self.db.read() as session:
            row = session.get(Delivery, delivery_id)
            if row is None:
                raise NotFound("delivery")
            _delivery_in_scope(request, row)
            return DeliverySchema().dump(row)

    @api("POST", "/deliveries/<uuid:delivery_id>/retry",
         roles=STAFF,
         summary="Send a failed delivery again (after fixing the relay, the gateway, the address)",
         response=DeliverySchema,
         errors=(409,))
    def retry_delivery(self, request, delivery_id):
        with self.db.transaction() as session:
            row = session.get(Delivery, delivery_id, with_for_update=True)
            if row is None:
                raise NotFound("delivery")
            _delivery_in_scope(request, row)
            if row.status != "failed":
                raise ApiError(409, "invalid input", {"status": [
                    f"only a failed delivery can be retried; this one is {row.status}"]})
            row.status = "pending"
            row.next_attempt_at = _now() + self._lease()
            row.updated_at = _now()
        log.info("delivery %s: retried by an operator", delivery_id)
        self._attempt_safely(delivery_id)
        with self.db.read() as session:
            return DeliverySchema().dump(session.get(Delivery, delivery_id))
