"""What the clock makes due: the daily digests (one mail a day per recipient listing every
change held for it, from DIGEST_HOUR local time) and the weekly summary of the province's
progress to its officials (once per ISO week and recipient). A timer sends them; two admin
routes do the same on demand, for operators and tests.

Mixed into NotificationsService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints).
"""
import logging
from itertools import groupby

from cdht.auth import ADMIN
from cdht.redact import redact
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import ApiError, api, load_json
from services.notifications import rules, timing
from services.notifications.extensions import RULES, config_timer
from services.notifications.schemas import FlushResultSchema, SummaryResultSchema, TriggerSchema
from services.notifications.store import now as _now

log = logging.getLogger(__name__)

WEEKLY = "weekly_summary"


class Schedules:
    """The digest and weekly-summary timer, and its two routes."""

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
         body_required=False,
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
         body_required=False,
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
        with self.db.store(write=True) as store:
            waiting = store.waiting_digest_items()
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
                    delivery_id = store.delivery_id(source, person_id, rule.channels[0])
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
            with self.db.store() as store:
                if store.schedule_ran(WEEKLY, week.key):
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
        with self.db.store(write=True) as store:
            store.record_schedule_run(WEEKLY, week.key, len(people))
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
