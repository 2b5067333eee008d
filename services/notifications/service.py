"""The notifications service: tells people what concerns them, by email and SMS.

An event (events.py) becomes, per recipient its rule names, a delivery, a digest item or a
skipped row, in one transaction with the inbox; a delivery is attempted (sending.py) at once,
retried with backoff, and falls back from email to SMS; the clock (schedules.py) sends the
daily digests and the weekly summary; the HTTP API (deliveries_api.py) shows the delivery
log and keeps each person's opt-outs. Every query is store.py's (``self.db.store()``); the
rules, the wording and the timing are plain Python (rules.py, domain.py, wording.py,
timing.py).

The parts are mixins this class composes, imported by module: ``nameko run
services.notifications.service`` starts every class of this module that has entrypoints.
"""
from nameko.dependency_providers import Config

from cdht.broker import RpcProxy  # nameko's, surviving a broker restart
from cdht.web import Observed
from services.notifications import deliveries_api, events, places, schedules, sending, timing
from services.notifications.extensions import RateLimits
from services.notifications.gateway import SmsGatewayProvider
from services.notifications.mailer import Mailer
from services.notifications.store import StoreDatabase


class NotificationsService(events.EventIntake, sending.Sending, schedules.Schedules,
                           deliveries_api.DeliveriesApi, Observed):
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

    # -- settings the parts read ----------------------------------------------------------------
    def _setting(self, key, default, kind=float):
        value = self.config.get(key)
        return kind(value) if value not in (None, "") else default

    def _tz(self):
        return timing.parse_timezone(self.config.get("NOTIFICATIONS_TIMEZONE"))
