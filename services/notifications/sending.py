"""Sending: one attempt at a delivery, its retries and its fallback to the next channel.

An attempt (at once for a new row, then by the retry timer) asks the registry for the
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
names; wording.py says them); a refusal (recognition_refused version 2) states its reasons
in the recipient's language.

A crash between the server accepting a message and the commit sends it again (SMTP and HTTP
have no transactions); the Message-ID and the gateway reference are the delivery id, so the
copy can be recognised.

Mixed into NotificationsService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints).
"""
import logging
import random
import time
from datetime import timedelta
from typing import NamedTuple

import eventlet

from cdht.redact import redact
from cdht.rpc import RpcUnavailable, deadline
from services.notifications import domain, timing
from services.notifications.extensions import RULES, config_timer
from services.notifications.gateway import SmsError
from services.notifications.store import now

log = logging.getLogger(__name__)

RETRY_BATCH = 50
HELD_BACK = "held back"
"""What an attempt the rate limit postponed returns (``_attempt``, ``_attempt_safely``)."""


class Opened(NamedTuple):
    """What an attempt needs to know of a pending delivery before it asks for the contact."""
    person_id: object
    channel: str
    template: str
    context: dict
    attempts: int = 0


class Sending:
    """Deliveries opened, attempted, retried, failed over to the next channel, finished."""

    def _lease(self):
        """How long an attempt may take (registry, then SMTP or gateway): a pending row is
        leased that long to the worker attempting it; the retry timer takes it back after,
        should that worker have died."""
        return timedelta(seconds=self._setting("CONTACT_TIMEOUT", 10.0) + max(
            self._setting("SMTP_TIMEOUT", 30.0), self._setting("SMS_TIMEOUT", 10.0)) + 10)

    def _open(self, store, source_id, person_id, rule, channel, context, correlation_id):
        """A pending delivery leased to this worker (store.DeliveryStore.open)."""
        return store.open(source_id, person_id, rule, channel, context, correlation_id,
                          self._lease())

    def _open_many(self, store, source_id, people, rule, correlation_id):
        """Deliveries by the rule's first channel to ``people`` (``[(person_id, context)]``),
        leased to this worker: ``[(id, Opened)]`` of those opened, to attempt. A person named
        twice gets one delivery, about the first (one row per event, person and channel)."""
        channel = rule.channels[0]
        first = {}
        for person_id, context in people:
            first.setdefault(str(person_id), (person_id, context))
        people = list(first.values())
        ids = store.open_many(source_id, people, rule, channel, correlation_id, self._lease())
        return [(ids[str(person_id)], Opened(person_id, channel, rule.template, context))
                for person_id, context in people if str(person_id) in ids]

    @config_timer("RETRY_POLL_SECONDS", 5)
    def retry_due(self):
        """Attempt the pending deliveries whose time has come (retries, postponed sends,
        expired leases), claiming them first so that other instances leave them alone.
        RETRY_CONCURRENCY attempts run at once, and a full batch is followed at once by the
        next: a backlog left by an outage (registry, SMTP relay, database) drains at the pace
        of the attempts, not one batch per tick. Those that fail again are due later
        (backoff), so the loop ends. Under a channel's rate limit only what the limit lets
        go now is claimed, and the tick waits for the bucket to refill, for up to
        RETRY_POLL_SECONDS: a backlog drains at the limit, and nothing is claimed only to be
        postponed. SMS go first, within half that time, so neither channel starves the
        other."""
        pool = eventlet.GreenPool(self._setting("RETRY_CONCURRENCY", 10, int))
        tick = self._setting("RETRY_POLL_SECONDS", 5.0)
        started = time.monotonic()
        for channel, share in (("sms", 0.5), ("email", 1.0)):
            until = started + tick * share
            while True:
                room = self.limits.room(channel)
                if room is not None and time.monotonic() >= until:
                    break  # a limited channel's share of the tick is over
                if room == 0:
                    wait = self.limits.ready_in(channel)
                    if time.monotonic() + wait >= until:
                        break
                    eventlet.sleep(wait)
                    continue
                batch = RETRY_BATCH if room is None else min(room, RETRY_BATCH)
                with self.db.store(write=True) as store:
                    claimed = store.claim_due(now(), self._lease(), batch, channel)
                list(pool.imap(self._attempt_safely, claimed))
                if len(claimed) < batch:
                    break

    def _attempt_opened(self, created):
        """Attempt the deliveries an event has just opened (``[(id, Opened)]``),
        RETRY_CONCURRENCY at a time: a closing's event opens hundreds. Once the rate limit
        held one back, or half the lease has passed, the rest are not begun here: they are
        given back to the retry timer, due at once, so a slow or absent relay cannot keep the
        event's worker for hours, and no delivery waits out a lease nobody is using."""
        give_up_at = time.monotonic() + self._attempt_window()
        held_back, left = [], []

        def attempt(item):
            if held_back or time.monotonic() >= give_up_at:
                left.append(item[0])
            elif self._attempt_safely(*item) is HELD_BACK:
                held_back.append(item[0])
        pool = eventlet.GreenPool(self._setting("RETRY_CONCURRENCY", 10, int))
        for _ in pool.imap(attempt, created):
            pass
        if left:
            with self.db.store(write=True) as store:
                store.release(left, now())
            log.info("%d deliveries left to the retry timer", len(left))

    def _attempt_window(self):
        """Seconds an event's worker may go on beginning the attempts it opened: half the
        lease, so that the last one begun ends within it."""
        return self._lease().total_seconds() / 2

    def _attempt_safely(self, delivery_id, opened=None):
        """Attempt a delivery, then its fallback if it failed for good; an unexpected error
        is logged and the delivery stays pending for the retry timer. ``opened``: what
        ``_attempt`` would read of a delivery its caller has just opened."""
        queue = [(delivery_id, opened)]
        while queue:
            current, opened = queue.pop(0)
            try:
                following = self._attempt(current, opened)
            except Exception:
                log.exception("delivery %s: attempt failed unexpectedly; tried again later",
                              current)
                return None
            if following is HELD_BACK:
                return HELD_BACK
            if following:
                queue.append((following, None))
        return None

    def _attempt(self, delivery_id, opened=None):
        """One attempt; returns the id of a fallback delivery to attempt next, HELD_BACK when
        the rate limit postponed it, or None.
        ``opened`` (``Opened``): the facts of a delivery just opened, which need no read;
        the row is read and locked again before anything is sent."""
        if opened is None:
            with self.db.store() as store:
                row = store.delivery(delivery_id)
                if row is None or row.status != "pending":
                    return None
                opened = Opened(row.person_id, row.channel, row.template, row.context,
                                row.attempts)
        person_id, channel, attempts = opened.person_id, opened.channel, opened.attempts
        paths = domain.unit_paths(opened.template, opened.context or {})
        self.units.learn(self.db, paths, self._export_units)
        ahead = self.limits.ready_in(channel)
        if ahead > 0:  # nothing asked of the registry for a message that cannot go yet
            self._postpone(delivery_id, ahead)
            log.info("delivery %s: %s rate limit reached; sent in %.1fs", delivery_id,
                     channel, ahead)
            return HELD_BACK
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
                delivery.next_attempt_at = now() + timedelta(seconds=wait)
                log.info("delivery %s: %s rate limit reached; sent in %.1fs", delivery.id,
                         channel, wait)
                return None
            try:
                message, delivery.language = self._compose(store, delivery, contact)
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
                delivery.next_attempt_at = now() + timedelta(seconds=delay)
                delivery.updated_at = now()
                log.warning("delivery %s to %s, attempt %d failed: %s; next in %.1fs",
                            delivery.id, to, delivery.attempts, reason, delay)
                return None
            log.info("delivery %s: %s (%s) sent to %s by %s", delivery.id, delivery.template,
                     delivery.language, to, channel)
            self._finish(store, delivery, "sent")
            return None

    def _contact(self, person_id):
        """The registry's contact record (or None), asked now and kept in memory only."""
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.contact"):
            return self.registry.contact(str(person_id))

    def _backoff(self, attempt):
        return timing.backoff_delay(attempt, self._setting("RETRY_BASE_SECONDS", 30.0),
                                    self._setting("RETRY_MAX_SECONDS", 3600.0), random.random)

    def _postpone(self, delivery_id, seconds, reason=None):
        with self.db.store(write=True) as store:
            delivery = store.lock(delivery_id)
            if delivery is not None and delivery.status == "pending":
                delivery.next_attempt_at = now() + timedelta(seconds=seconds)
                if reason is not None:
                    delivery.last_error = redact(reason)[:500]

    def _compose(self, store, delivery, contact):
        """The message, naming units as this transaction reads them (places.py)."""
        context = delivery.context or {}
        known = self.units.places(store.session, domain.unit_paths(delivery.template, context))
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
        delivery.updated_at = now()
        data = {"notification_id": delivery.id, "source_event_id": delivery.source_event_id,
                "person_id": delivery.person_id, "channel": delivery.channel,
                "template": delivery.template, "language": delivery.language}
        if status == "sent":
            delivery.sent_at = now()
            store.announce(delivery, "notification_sent", data)
        else:
            store.announce(delivery, "notification_failed",
                           data | {"reason": reason, "attempts": delivery.attempts})
