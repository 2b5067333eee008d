"""The reporting service: projections kept current from registry and assessment events, and
the figures read from them (REST, exports, dashboard, RPC ``progress``).

Each event changes a handful of counters along its unit's path, in the same transaction as
its inbox row (docs/architecture.md §D6): O(tree depth), never a recount. What a person or a group
counts for is domain.py's; this module loads the facts, calls it and applies the deltas.
"""
import functools
from datetime import date
from pathlib import Path

from nameko.dependency_providers import Config
from sqlalchemy import text

from cdht.auth import ADMIN, PROVINCE, REVIEWERS
from cdht.batching import first_deliveries, handle_bulk_events, handle_events, runs
from cdht.broker import rpc  # nameko's, surviving a broker restart
from cdht.consumer import consumer_name, handle_event, handle_large_event
from cdht.contracts.events import INDICATORS
from cdht.db import Database
from cdht.inbox import first_delivery
from cdht.outbox import add_event, add_events
from cdht.web import (
    NotFound, Observed, api, attachment, caller_of, html_page, query_of, require_scope,
)
# the mixins by module: `nameko run` starts every class of this module with entrypoints
from services.reporting import (
    domain, export, group_events, projection as proj, reads, review, rules, unit_events,
)
from services.reporting.group_events import RecognitionNotYetSeen
from services.reporting.queue_depths import QueueDepths
from services.reporting.unit_events import names_of
from services.reporting.schemas import (
    BreakdownQuerySchema, BreakdownSchema, ExportQuerySchema, LagSchema, NationalSchema,
    ProgressQuerySchema, SeriesQuerySchema, SeriesSchema, UnitListSchema, UnitProgressSchema,
)

DASHBOARD = Path(__file__).resolve().parent / "dashboard.html"


@functools.cache
def dashboard_html():
    """The dashboard page, read once (it is part of the code, not data)."""
    return DASHBOARD.read_text(encoding="utf-8")
_TARGETS = {}


def targets_of(config):
    """The targets file named by REPORTING_TARGETS_FILE (default: targets.yaml beside this)."""
    path = config.get("TARGETS_FILE") or None
    if path not in _TARGETS:
        _TARGETS[path] = domain.load_targets(path)
    return _TARGETS[path]


class ReportingService(group_events.GroupEvents, unit_events.UnitEvents, review.ReviewReport,
                       Observed):
    """Progress of every unit toward the Learning Citizen programme's targets, kept from the
    registry's and assessment's events."""
    name = "reporting"
    db = Database(relay=True)
    config = Config()
    queue_depths = QueueDepths()

    @property
    def targets(self):
        return targets_of(self.config)

    @property
    def adult_age(self):
        return proj.adult_age_of(self.config)

    @property
    def digital(self):
        return rules.digital_rules(self.targets)

    # -- the common end of every handler ----------------------------------------------------------
    def _finish(self, session, event, deltas, day, stats_year=None, stats_unit=None,
                count=1):
        """Apply the deltas (dated ``day``), publish crossings and statistics, record lag
        (``count`` events applied, ``event`` the last of them)."""
        deltas = proj.apply(session, deltas, day)
        for kind, data in proj.check_targets(session, deltas, self.targets, self.config):
            add_event(session, kind, data | {"cause_event_id": event.event_id},
                      producer=self.name)
        if stats_unit is not None:
            counters = proj.tallies_of(session, [stats_unit])[stats_unit]
            summary = domain.population_summary(counters, stats_year, self.adult_age)
            add_event(session, "statistics_updated", {
                "unit_code": stats_unit, "year": stats_year, "people": summary["people"],
                "adults": summary["adults"], "titled": summary["titled"],
                "titled_digitally_skilled": summary["titled_digitally_skilled"],
                "titled_digitally_proficient": summary["titled_digitally_proficient"],
                "cause_event_id": event.event_id,
            }, producer=self.name)
        proj.record_applied(session, event.occurred_at, count=count)

    def _people_change(self, session, people, mutate):
        """Deltas of changing ``people`` (loaded rows) with ``mutate(rows)``: what each counted
        for before, taken off along its old path; what it counts for now, added along its
        (merge-resolved) new one."""
        return proj.people_deltas(session, people, mutate, self.adult_age, self.digital)

    # -- people: the registry's person events ----------------------------------------------------
    def _apply_people(self, event, changes):
        """One transaction: the inbox row, the unit paths seen, every person's counters."""
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            self._people_changed(session, [event], changes)

    def _apply_people_batch(self, events, change):
        """A batch of one kind of person event (cdht.batching) in one transaction: the inbox
        rows, then each run of consecutive events of one report day applied as one change,
        in the order they came (a person registered then moved in the batch ends moved)."""
        with self.db.transaction() as session:
            for _, run in runs(first_deliveries(session, events), group_events.event_day):
                self._people_changed(session, run, [(change, e.data) for e in run])

    def _people_changed(self, session, events, changes):
        """Apply ``changes`` (``[(change, person facts)]`` in order) of ``events``, all of
        one report day, in ``session``: the unit paths seen, every person's counters."""
        proj.remember_paths(session, [p[key] for _, p in changes
                                      for key in ("unit_path", "from_unit_path")
                                      if p.get(key)])
        people = proj.load_people(session, {str(p["person_id"]): p["unit_code"]
                                            for _, p in changes})

        def mutate(rows):
            for change, facts in changes:
                row = rows[str(facts["person_id"])]
                if change == "removed":
                    row["removed"] = True
                    continue
                if change == "registered" and row["registered"]:
                    continue  # a later update or move came first and already holds more
                if change in ("registered", "moved") or not row["registered"]:
                    row["unit_code"] = facts["unit_code"]
                row.update(registered=True, birth_year=facts["birth_year"],
                           roles=frozenset(facts["roles"]),
                           target_group=facts["target_group"])
        deltas = self._people_change(session, people, mutate)
        self._finish(session, events[-1], deltas, domain.report_day(events[-1].occurred_at),
                     count=len(events))

    # One person's change per event: taken in batches, like recognitions. An import's
    # people_imported already carries up to 5000 people and is taken one event at a time,
    # with only a few read ahead (handle_large_event).
    @handle_events("registry", "person_registered")
    def on_person_registered(self, events):
        self._apply_people_batch(events, "registered")

    @handle_large_event("registry", "people_imported")
    def on_people_imported(self, event):
        """A batch of an import: up to 5000 people's changes in one transaction."""
        self._apply_people(event, [(p["change"], p) for p in event.data["people"]])

    @handle_events("registry", "person_moved")
    def on_person_moved(self, events):
        self._apply_people_batch(events, "moved")

    @handle_events("registry", "person_updated")
    def on_person_updated(self, events):
        self._apply_people_batch(events, "updated")

    @handle_events("registry", "person_removed")
    def on_person_removed(self, events):
        self._apply_people_batch(events, "removed")

    # -- groups and learning -------------------------------------------------------------------
    @handle_event("registry", "membership_changed")
    def on_membership_changed(self, event):
        """A person joined or left a family, clan, community or learning unit: the person's
        group kinds and the group's member count (a group is known while it has members)."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"]])
            group_unit = proj.placements(session, [data["unit_code"]])[data["unit_code"]][0]
            people = proj.load_people(session, {str(data["person_id"]): group_unit})
            group = proj.load_group(session, data["group_id"], data["group_kind"], group_unit)
            old_group = domain.group_tallies(proj.group_state(group))
            current = session.scalar(text(
                "SELECT current FROM memberships WHERE membership_id = :id FOR UPDATE"),
                {"id": str(data["membership_id"])})
            step = 0
            if data["change"] == "joined" and current is None:
                step = 1
                session.execute(text(
                    "INSERT INTO memberships VALUES (:id, :person, :group, :kind, true)"),
                    {"id": str(data["membership_id"]), "person": str(data["person_id"]),
                     "group": str(data["group_id"]), "kind": data["group_kind"]})
            elif data["change"] == "left":
                if current:
                    step = -1
                    session.execute(text("UPDATE memberships SET current = false "
                                         "WHERE membership_id = :id"),
                                    {"id": str(data["membership_id"])})
                elif current is None:  # left overtook joined: the join must never count
                    session.execute(text(
                        "INSERT INTO memberships VALUES (:id, :person, :group, :kind, false)"),
                        {"id": str(data["membership_id"]), "person": str(data["person_id"]),
                         "group": str(data["group_id"]), "kind": data["group_kind"]})

            def mutate(rows):
                rows[str(data["person_id"])]["kinds"][data["group_kind"]] += step
                proj.refresh_recognised(session, rows)
            deltas = self._people_change(session, people, mutate)
            group["members"] += step
            proj.save_group(session, group)
            group_path = proj.path_of(session, group["unit_code"])
            domain.change_deltas(group_path, old_group, group_path,
                                 domain.group_tallies(proj.group_state(group)), deltas)
            self._finish(session, event, deltas, data["effective_on"])

    @handle_event("registry", "learning_activity_recorded")
    def on_learning_activity_recorded(self, event):
        """A briefing (quán triệt) counts its person as briefed; any other kind is kept as
        training (with whether it was finished) for the digital-skills indicators. The same
        activity recorded again with another kind replaces what it counted for."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"]])
            people = proj.load_people(session, {str(data["person_id"]): data["unit_code"]})
            proj.record_activity(session, data["activity_id"], data["person_id"], data["kind"],
                                 data["started_on"], data.get("ended_on") is not None,
                                 rules.ACTIVITY_TRAINING)
            self._learning_changed(session, event, people, data["person_id"],
                                   data["started_on"])

    @handle_event("registry", "learning_activity_withdrawn")
    def on_learning_activity_withdrawn(self, event):
        """An activity that no longer counts (deleted as a mistake, or its xAPI statement
        voided): what it counted for (briefed, trained) is undone from the day it was
        withdrawn; an activity never seen changes nothing."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"]])
            people = proj.load_people(session, {str(data["person_id"]): data["unit_code"]})
            proj.forget_activity(session, data["activity_id"])
            self._learning_changed(session, event, people, data["person_id"],
                                   domain.report_day(event.occurred_at))

    def _learning_changed(self, session, event, people, person_id, day):
        """A person's briefings and trainings changed: count them again, apply the deltas."""
        briefed, trainings = proj.learning_of(session, person_id)

        def mutate(rows):
            rows[str(person_id)].update(briefed=briefed, trainings=trainings)
        deltas = self._people_change(session, people, mutate)
        self._finish(session, event, deltas, day)

    @handle_event("registry", "units_merged")
    def on_units_merged(self, event):
        """Units merged into one: their counters and history now count under it (so "as of"
        answers under today's tree), their people and groups are placed there."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [data["unit_path"], *data["from_unit_paths"]])
            into, into_path = data["unit_code"], data["unit_path"]
            moved_counters, moved_days = {}, {}
            for from_path in data["from_unit_paths"]:
                code = from_path[-1]
                if code == into:
                    continue
                session.execute(text("UPDATE unit_paths SET merged_into = :into "
                                     "WHERE unit_code = :code"), {"into": into, "code": code})
                rows = {(m, k): n for m, k, n in session.execute(text(
                    "SELECT metric, key, n FROM tallies WHERE unit_code = :c AND n <> 0"),
                    {"c": code})}
                for k, n in domain.rehome(from_path, into_path, rows).items():
                    moved_counters[k] = moved_counters.get(k, 0) + n
                days = {(m, k, d): n for m, k, d, n in session.execute(text(
                    "SELECT metric, key, day, n FROM tally_days WHERE unit_code = :c "
                    "AND n <> 0"), {"c": code})}
                for k, n in domain.rehome(from_path, into_path, days).items():
                    moved_days[k] = moved_days.get(k, 0) + n
                for table in ("people", "groups", "association_bodies"):
                    session.execute(text(f"UPDATE {table} SET unit_code = :into "  # noqa: S608
                                         "WHERE unit_code = :code"), {"into": into, "code": code})
            proj.add_days(session, moved_days)
            proj.add_tallies(session, moved_counters)
            proj.record_applied(session, event.occurred_at)

    # -- titles: assessment's events ----------------------------------------------------------
    @handle_events("assessment", "recognition_granted")
    def on_recognition_granted(self, events):
        """Grants of single decisions, in batches (cdht.batching): one transaction, one
        statement per table, one statistics_updated per unit and year."""
        with self.db.transaction() as session:
            self._grant(session, first_deliveries(session, events))

    @handle_bulk_events("assessment", "recognitions_granted")
    def on_recognitions_granted(self, events):
        """A closing's grants, 500 an event: each recognition applied as a recognition_granted
        of its own would be, with its batch event's time, id and correlation id."""
        with self.db.transaction() as session:
            fresh = first_deliveries(session, events)
            self._grant(session, [grant for event in fresh
                                  for grant in proj.items_of(event, "recognitions")],
                        len(fresh))

    def _grant(self, session, fresh, messages=None):
        """Apply recognition_granted events (or their likes, ``proj.items_of``) the
        inbox let through: the counters, the targets crossed, the statistics sent. GET /lag
        counts ``messages`` applied (by default one a recognition)."""
        if not fresh:
            return
        proj.remember_paths(session, [e.data["unit_path"] for e in fresh])
        deltas, grants = proj.grant_recognitions(session, fresh, self.adult_age,
                                                 self.digital)
        if not grants:
            return
        last, staged = grants[-1][0], {}
        for kind, data in proj.check_targets(session, deltas, self.targets, self.config):
            staged.setdefault((kind, last.correlation_id), []).append(
                data | {"cause_event_id": last.event_id})
        causes = {(unit, e.data["year"]): e for e, unit in grants}
        stats = proj.statistics_of(session, causes, self.adult_age)
        for key, cause in causes.items():
            staged.setdefault(("statistics_updated", cause.correlation_id), []).append(
                stats[key] | {"cause_event_id": cause.event_id})
        # each with its cause's correlation id (the batch's worker has its first's)
        for (kind, correlation_id), datas in staged.items():  # one INSERT per kind
            add_events(session, kind, datas, producer=self.name,
                       correlation_id=correlation_id)
        proj.record_applied(session, max(e.occurred_at for e, _ in grants),
                            count=len(grants) if messages is None else messages)

    @handle_event("assessment", "recognition_revoked")
    def on_recognition_revoked(self, event):
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            fact = session.execute(text(
                "SELECT person_id, year, digital_skills, revoked_at FROM recognition_facts "
                "WHERE recognition_id = :id"), {"id": str(data["recognition_id"])}).first()
            if fact is None:
                raise RecognitionNotYetSeen(str(data["recognition_id"]))
            if fact.revoked_at is not None:
                return
            people = proj.load_people(session, {str(fact.person_id): data["unit_code"]})
            updated = session.execute(text(
                "UPDATE recognition_facts SET revoked_at = :at WHERE recognition_id = :id "
                "AND revoked_at IS NULL"), {"id": str(data["recognition_id"]),
                                            "at": event.occurred_at}).rowcount
            if not updated:
                return

            def mutate(rows):
                rows[str(fact.person_id)]["titles"].remove((fact.year, fact.digital_skills))
            deltas = self._people_change(session, people, mutate)
            unit = people[str(fact.person_id)]["unit_code"]
            self._finish(session, event, deltas, domain.report_day(event.occurred_at),
                         stats_year=fact.year, stats_unit=unit)

    # -- reads --------------------------------------------------------------------------------------
    def _unit(self, session, unit_code):
        """(today's code, path) of a unit reporting knows; NotFound otherwise."""
        try:
            return reads.unit_of(session, unit_code)
        except LookupError:
            raise NotFound(f"unit {unit_code}") from None

    def _in_scope(self, request, session, unit_code):
        """403 unless the unit (as today's tree places it) is in the caller's subtree."""
        _, path = self._unit(session, unit_code)
        require_scope(request, path, f"unit {unit_code}")

    def _progress(self, session, unit_code, year, as_of=None):
        code, path = self._unit(session, unit_code)
        counters = (proj.tallies_as_of(session, code, as_of) if as_of
                    else proj.tallies_of(session, [code])[code])
        names = names_of(session, path)
        return reads.progress_view(self.targets, self.config, code, path, year, counters,
                                   names) | {"as_of": as_of}

    @api("GET", "/units/<string:unit_code>/progress",
         roles=REVIEWERS,
         summary="Each indicator of a unit for a year: numerator, denominator, share, target, gap",
         query=ProgressQuerySchema,
         response=UnitProgressSchema,
         description="Every figure counts the unit's whole subtree. With as_of, the figures "
                     "as they stood at the end of that day, under today's unit tree (merged "
                     "units' history counts under the unit they became).")
    def unit_progress(self, request, unit_code):
        query = query_of(request, ProgressQuerySchema())
        with self.db.read() as session:
            self._in_scope(request, session, unit_code)
            return UnitProgressSchema().dump(self._progress(session, unit_code, query["year"],
                                                            query.get("as_of")))

    def _breakdown(self, session, unit_code, year, indicators=INDICATORS):
        """(code, name, {indicator: (total row, [child rows])}, extra) of a unit's children."""
        self._unit(session, unit_code)
        return reads.breakdown(session, self.targets, self.config, unit_code, year, indicators)

    @api("GET", "/units/<string:unit_code>/breakdown",
         roles=REVIEWERS,
         summary="One indicator per child unit (which communes lag), sorted by gap",
         query=BreakdownQuerySchema,
         response=BreakdownSchema)
    def unit_breakdown(self, request, unit_code):
        query = query_of(request, BreakdownQuerySchema())
        indicator = query["indicator"]
        with self.db.read() as session:
            self._in_scope(request, session, unit_code)
            code, name, found, _ = self._breakdown(session, unit_code, query["year"],
                                                   (indicator,))
        total, children = found[indicator]
        return BreakdownSchema().dump({"unit_code": code, "unit_name": name,
                                       "year": query["year"],
                                       "indicator": indicator, "total": total,
                                       "children": reads.sorted_rows(children, query["sort"])})

    @api("GET", "/national",
         roles=ADMIN,
         summary="The national overview: every province's figures summed, each province a row",
         query=BreakdownQuerySchema,
         response=NationalSchema,
         description="For the national association's deployment, fed by every province: "
                     "the sum of the provinces reporting holds (read from their counters) "
                     "against the programme's targets, every indicator's national figure, "
                     "and one indicator per province against the province's own targets, "
                     "sorted as the breakdown. Admin only: every other token names a unit "
                     "and reaches its province through /units/<code>/progress.")
    def national(self, request):
        query = query_of(request, BreakdownQuerySchema())
        year, indicator = query["year"], query["indicator"]
        with self.db.read() as session:
            totals, provinces, summed = reads.national(session, self.targets, self.config,
                                                       year, indicator)
        summary = domain.population_summary(summed, year, self.adult_age)
        return NationalSchema().dump(summary | {
            "year": year, "indicator": indicator, "total": totals[indicator] | {
                "indicator": indicator},
            "association": domain.association_summary(summed),
            "indicators": [totals[i] | {"indicator": i} for i in INDICATORS],
            "children": reads.sorted_rows(provinces, query["sort"])})

    @api("GET", "/units/<string:unit_code>/series",
         roles=REVIEWERS,
         summary="Every indicator month by month through the year (figures at each month's end)",
         query=SeriesQuerySchema,
         response=SeriesSchema)
    def unit_series(self, request, unit_code):
        year = query_of(request, SeriesQuerySchema())["year"]
        with self.db.read() as session:
            code, path = self._unit(session, unit_code)
            require_scope(request, path, f"unit {unit_code}")
            rows = proj.history(session, code, date(year, 12, 31))
        points = domain.monthly_series(rows, year, self.adult_age,
                                       population=rules.population_rule(self.targets))
        series = {i: [] for i in INDICATORS}
        for end, found in points:
            for indicator, (num, den) in found.items():
                series[indicator].append({"month": end.strftime("%Y-%m"), "numerator": num,
                                          "denominator": den,
                                          "share": num / den if den else None})
        targets = {i: reads.both_targets(self.targets, i, path) for i in INDICATORS}
        return SeriesSchema().dump({"unit_code": code, "year": year, "targets": targets,
                                    "indicators": series})

    @api("GET", "/units",
         roles=REVIEWERS,
         summary="Units known to reporting (today's tree, merged ones marked)",
         response=UnitListSchema)
    def list_units(self, request):
        caller = caller_of(request)
        scoped = "" if caller.is_admin else "WHERE path @> CAST(ARRAY[:unit] AS varchar[]) "
        with self.db.read() as session:
            rows = session.execute(text("SELECT unit_code, path, merged_into FROM unit_paths " +
                                        scoped + "ORDER BY cardinality(path), unit_code"),
                                   {"unit": caller.unit_code}).all()
            names = names_of(session, [c for c, _, _ in rows])
        return UnitListSchema().dump({"items": [
            {"unit_code": c, "unit_name": reads.name_or_code(names, c),
             "kind": (names.get(c) or {}).get("kind"),
             "closed": bool((names.get(c) or {}).get("closed")) or m is not None,
             "path": list(p), "merged_into": m} for c, p, m in rows]})

    def _report(self, request, unit_code):
        """The annual report's sheets, and the name its files are saved under."""
        query = query_of(request, ExportQuerySchema())
        with self.db.read() as session:
            self._in_scope(request, session, unit_code)
            code, name, found, extra = self._breakdown(session, unit_code, query["year"])
        return f"cdht-{code}-{query['year']}", export.report_sheets(
            found, code, query["year"], query["lang"], unit_name=name, extra=extra,
            targets=self.targets)

    @api("GET", "/units/<string:unit_code>/report.csv",
         roles=REVIEWERS,
         summary="The annual report: every indicator, child units as rows, with totals (CSV)",
         query=ExportQuerySchema,
         media_type="text/csv",
         tag="exports")
    def report_csv(self, request, unit_code):
        name, sheets = self._report(request, unit_code)
        return attachment(export.to_csv(sheets), f"{name}.csv", "text/csv")

    @api("GET", "/units/<string:unit_code>/report.xlsx",
         roles=REVIEWERS,
         summary="The annual report to the national association: a sheet per indicator (XLSX)",
         query=ExportQuerySchema,
         tag="exports",
         media_type=export.XLSX_TYPE)
    def report_xlsx(self, request, unit_code):
        name, sheets = self._report(request, unit_code)
        return attachment(export.to_xlsx(sheets), f"{name}.xlsx", export.XLSX_TYPE)

    @api("GET", "/lag",
         roles=PROVINCE,
         summary="Events published but not yet applied, per handler",
         response=LagSchema,
         tag="service")
    def lag(self, request):
        with self.db.read() as session:
            rows = {r.consumer: r for r in session.execute(text(
                "SELECT consumer, applied, last_occurred_at, last_applied_at "
                "FROM consumer_lag")).all()}
        depths = self.queue_depths.get()  # kept a few seconds (queue_depths.py)
        consumers, waiting = [], 0
        for method, queue in self._queues():
            consumer = consumer_name(self.name, method)
            row = rows.get(consumer)
            depth = depths.get(queue)
            waiting = None if depth is None or waiting is None else waiting + depth
            consumers.append({
                "consumer": consumer, "queue": queue, "waiting": depth,
                "applied": row.applied if row else 0,
                "last_occurred_at": row.last_occurred_at if row else None,
                "last_applied_at": row.last_applied_at if row else None,
                "lag_seconds": (row.last_applied_at - row.last_occurred_at).total_seconds()
                if row and row.last_occurred_at else None})
        return LagSchema().dump({"waiting": waiting, "consumers": consumers,
                                 "waiting_read_seconds_ago": self.queue_depths.age()})

    def observe_metrics(self, metrics):
        """/metrics: GET /lag's figures per consumer (cdht_projection_*)."""
        metrics.projection_figures(self.lag(None)["consumers"])

    @classmethod
    def _queues(cls):
        from cdht.consumer import event_handlers
        return event_handlers(cls)

    @api("GET", "/dashboard",
         public=True,
         summary="The dashboard page (Vietnamese, with an English switch)",
         media_type="text/html",
         tag="dashboard")
    def dashboard(self, request):
        return html_page(dashboard_html())

    # -- RPC ------------------------------------------------------------------------------------
    @rpc
    def progress(self, unit_code, year):
        """For notifications: every indicator of a unit and year, with both milestones;
        None for a unit reporting does not know."""
        year = int(year)
        with self.db.read() as session:
            try:
                found = self._progress(session, unit_code, year)
            except NotFound:
                return None
        return {"unit_code": found["unit_code"], "year": year, "indicators": {
            i["indicator"]: {"numerator": i["numerator"], "denominator": i["denominator"],
                             "share": i["share"] or 0.0,
                             "targets": {"2025": i["targets"]["y2025"],
                                         "2030": i["targets"]["y2030"]}}
            for i in found["indicators"]}}

