"""The assessment service: self-assessment -> review -> recognition by the commune
association, under the criteria version in force; group titles from members' titles; closing
a year. Every change and its events (recognition_granted, recognition_refused, ...) commit
together through the outbox.

The routes live by resource: the individual workflow in workflow_api.py, the titles in
titles_api.py, the proof of a title (credentials, certificates, their public verification)
in credentials_api.py, the criteria and year closing here, beside the event handlers and the RPC the
other services call. The decisions they make are decisions.py's, on the rows of store.py.
"""
import eventlet
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider

from cdht import observability
from cdht.auth import EVERYONE, STAFF, in_scope
from cdht.broker import RpcProxy, rpc  # nameko's, surviving a broker restart
from cdht.consumer import handle_event
from cdht.openapi import ListOf, page_of
from cdht.web import ApiError, Observed, api, caller_of, found, load_json, query_of
# the mixins by module: `nameko run` starts every class of this module with entrypoints
from services.assessment import (
    approval, closing, credentials_api, decisions, store as stores, titles_api, workflow_api,
)
from services.assessment import criteria as criteria_sets
from services.assessment.api_support import invalid, page, unit_in_scope
from services.assessment.schemas import (
    FIRST_YEAR, LAST_YEAR, ClosingQuerySchema, ClosingSchema, CloseYearSchema, CriteriaSetSchema,
)

EXPORT_MAX = stores.EXPORT_MAX


class Criteria(DependencyProvider):
    """The criteria sets: the shipped ones and those in CRITERIA_DIRS, loaded when the service
    starts. A set already used for a decision whose file changed stops the start with a
    clear error (an edited set in use would silently change past decisions' meaning)."""

    def setup(self):
        config = self.container.config
        directories = [d for d in str(config.get("CRITERIA_DIRS") or "").split(":") if d]
        self.sets = criteria_sets.load_criteria(criteria_sets.CRITERIA_DIR, *directories)
        criteria_sets.check_unchanged(self.sets,
                                      stores.recorded_criteria_at(config["DATABASE_URL"]))

    def get_dependency(self, worker_ctx):
        return self.sets


class ApprovalSettings(DependencyProvider):
    """APPROVAL_LEVEL and ASSESSMENT_CYCLE (approval.py), checked when the service starts."""

    def setup(self):
        self.settings = approval.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


class AssessmentService(workflow_api.WorkflowApi, titles_api.TitlesApi,
                        credentials_api.CredentialsApi, Observed):
    name = "assessment"
    db = stores.StoreDatabase(relay=True)
    config = Config()
    registry = RpcProxy("registry")
    criteria = Criteria()
    approval = ApprovalSettings()

    # -- criteria -------------------------------------------------------------------------------
    @api("GET", "/criteria",
         roles=EVERYONE,
         summary="Every criteria set loaded, individual and group",
         response=ListOf(CriteriaSetSchema),
         tag="criteria")
    def list_criteria(self, request):
        with self.db.store() as store:
            used = store.recorded_criteria()
        return [c.describe() | {"in_use": c.version in used}
                for c in sorted(self.criteria.values(), key=lambda c: (c.kind, c.effective_from))]

    @api("GET", "/criteria/<path:version>",
         roles=EVERYONE,
         summary="One criteria set, with its indicators, forms "
                 "per target group and evidence rules",
         response=CriteriaSetSchema,
         tag="criteria")
    def get_criteria(self, request, version):
        criteria = found(self.criteria.get(version), "criteria version")
        with self.db.store() as store:
            used = store.recorded_criteria()
        return criteria.describe() | {"in_use": version in used}

    # -- closing a year --------------------------------------------------------------------------
    @api("POST", f"/years/<int(min={FIRST_YEAR}, max={LAST_YEAR}):year>/close",
         roles=STAFF,
         summary="Close a year for a unit's subtree: decide the "
                 "submissions the workflow allows (CLOSE_DECIDES) and every group (resumable)",
         body=CloseYearSchema,
         response=ClosingSchema,
         status=202,
         errors=(409,),
         tag="closing")
    def close_year(self, request, year):
        """Start (or resume) closing ``year`` for a unit's subtree; answers at once with the
        closing to follow at GET /closings/<id>, which records the caller and their
        authority."""
        data = load_json(request, CloseYearSchema())
        if not closing.year_closable(year):
            raise ApiError(409, f"năm {year} chưa bắt đầu, chưa thể khóa sổ (year {year} has "
                                f"not begun: it cannot be closed yet)",
                           {"year": [f"year {year} has not begun"], "code": "year_not_over"})
        caller = caller_of(request)
        with self.db.store(write=True) as store:
            unit_in_scope(request, store, data["unit_code"])
            if not closing.may_close(store, data["unit_code"], self.approval.level):
                raise invalid("unit_code", f"closing a year (khóa sổ năm) is the act of "
                                           f"the association that decides "
                                           f"({self.approval.deciding_body}): close it for "
                                           f"the province", 409)
            run = closing.start(store.session, year, data["unit_code"],
                                running_here=closing.ACTIVE,
                                decides=self.approval.close_decides, closed_by=caller.subject,
                                authority={"role": caller.role, "unit_code": caller.unit_code,
                                           "approval_level": self.approval.level})
        if run.id not in closing.ACTIVE:
            closing.ACTIVE.add(run.id)
            self._close_in_background(run.id)
        return 202, closing.view(run)

    def _close_in_background(self, closing_id):
        """Run a closing in a green thread of its own, the request answered at once; the
        request's correlation id is bound there for the events the closing stages."""
        db, sets = self.db, self.criteria
        corr = observability.current_correlation_id()

        def work():
            bound = observability.bind_correlation_id(corr)
            try:
                closing.run(db, sets, closing_id)
            finally:
                closing.ACTIVE.discard(closing_id)
                observability.unbind_correlation_id(bound)
        eventlet.spawn_n(work)

    @api("GET", "/closings/<uuid:closing_id>",
         roles=STAFF,
         summary="Progress and summary of a year closing",
         response=ClosingSchema,
         tag="closing")
    def get_closing(self, request, closing_id):
        with self.db.store() as store:
            run = found(store.closing(closing_id), "closing")
            unit_in_scope(request, store, run.unit_code)
            return closing.view(run) | {
                "left_open_ids": closing.left_open_ids(store.session, run)}

    @api("GET", "/closings", roles=STAFF, query=ClosingQuerySchema,
         response=page_of(ClosingSchema), tag="closing")
    def list_closings(self, request):
        """The year closings in the caller's subtree, newest first.

        Staff see when each year was closed for their commune or above it, and whether a
        closing was interrupted and needs resuming."""
        query = query_of(request, ClosingQuerySchema())
        caller = caller_of(request)
        with self.db.store() as store:
            runs = [closing.view(run)
                    for run in store.closings(query.get("year"), query.get("unit_code"))
                    if in_scope(caller, store.known_path(run.unit_code) or [run.unit_code])]
        shown = runs[query["offset"]:query["offset"] + query["limit"]]
        return page(shown, len(runs), query, dict)

    # -- events from the registry ----------------------------------------------------------------
    @handle_event("registry", "learning_activity_recorded")
    def on_learning_activity(self, event):
        """Evidence for the indicators it confirms (kept by activity id: a correction of the
        same activity replaces it). A title already granted for that year whose digital level
        the activity raises is granted again at the new level."""
        data = event.data
        ended = data["ended_on"] or data["started_on"]
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                return
            store.record_evidence(data["activity_id"], data["person_id"], data["kind"], ended)
            decisions.confirm_digital_skills(store, self.criteria, data["person_id"],
                                             ended.year)

    @handle_event("registry", "learning_activity_withdrawn")
    def on_learning_activity_withdrawn(self, event):
        """The activity no longer counts (deleted as a mistake, or its xAPI statement voided):
        its evidence goes, so no prefill or later decision is confirmed by it. Titles already
        granted stay as decided."""
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                return
            store.drop_evidence(event.data["activity_id"])

    @handle_event("registry", "membership_changed")
    def on_membership_changed(self, event):
        """Keep who is in which group; a group already decided for the year is decided again."""
        data = event.data
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                return
            store.record_membership(data)
            decisions.membership_changed(store, self.criteria, data["group_id"],
                                         data["unit_path"], data["effective_on"].year)

    # -- people and units that move: scope follows them (moves.py) --------------------------------
    @handle_event("registry", "person_moved")
    def on_person_moved(self, event):
        """The person's assessments and titles follow them: the new unit's staff review,
        decide and revoke them, the old unit's no longer see them."""
        self._follow(event, people=[event.data])

    @handle_event("registry", "people_imported")
    def on_people_imported(self, event):
        """An import batch's moved people, as person_moved."""
        self._follow(event, people=[p for p in event.data["people"] if p["change"] == "moved"])

    @handle_event("registry", "units_merged")
    def on_units_merged(self, event):
        """The merged units' rows (and those of units under them) are the new unit's: its
        staff see them and its year closing decides them."""
        data = event.data
        self._follow(event, units={path[-1]: data["unit_path"]
                                   for path in data["from_unit_paths"]})

    @handle_event("registry", "unit_changed")
    def on_unit_changed(self, event):
        """A unit placed under another parent: the paths of its subtree's rows (a rename or a
        closing changes no path, and finds nothing to move)."""
        data = event.data
        moved = {} if data["change"] == "created" else {data["unit_code"]: data["unit_path"]}
        self._follow(event, units=moved)  # a new unit has no rows yet: only the inbox row

    def _follow(self, event, people=(), units=None):
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                return
            if people:
                store.move_people(people, event.event_type)
            if units:
                store.move_units(units, event.event_type)

    # -- RPC for the other services (rebuilds) ---------------------------------------------------
    @rpc
    def export_recognitions(self, after_id=None, limit=EXPORT_MAX):
        """One page of the current (not revoked) titles, ordered by id: call again with
        ``after_id=next_after`` until it is None."""
        return self._page(False, after_id, limit, lambda r: {
            "recognition_id": str(r.id), "assessment_id": str(r.assessment_id),
            "person_id": str(r.person_id), "target_group": r.target_group, "year": r.year,
            "criteria_version": r.criteria_version, "total_score": r.total_score,
            "digital_skills": r.digital_skills, "unit_code": r.unit_code,
            "unit_path": list(r.unit_path), "granted_at": r.granted_at.isoformat()})

    @rpc
    def export_group_recognitions(self, after_id=None, limit=EXPORT_MAX):
        """One page of the current group titles, ordered by id (same paging)."""
        return self._page(True, after_id, limit, lambda g: {
            "group_recognition_id": str(g.id), "group_id": str(g.group_id),
            "group_kind": g.group_kind, "year": g.year, "criteria_version": g.criteria_version,
            "level": g.level, "members": g.members, "members_titled": g.members_titled,
            "unit_code": g.unit_code, "unit_path": list(g.unit_path),
            "granted_at": g.granted_at.isoformat()})

    def _page(self, group, after_id, limit, item):
        with self.db.store() as store:
            rows = store.current_titles(group, after_id, limit)
            return {"items": [item(row) for row in rows],
                    "next_after": str(rows[-1].id) if len(rows) == int(limit) else None}
