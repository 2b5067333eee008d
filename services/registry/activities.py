"""Learning activities over HTTP (a mixin of RegistryService): the courses, MOOCs, trainings
and briefings people took part in, evidence for the indicators. What counts (kind, dates,
hours) is announced as ``learning_activity_recorded``; consumers keep the latest. One that no
longer counts (deleted here, or its xAPI statement voided: xapi_api.py) is announced as
``learning_activity_withdrawn``, so consumers drop what they kept of it."""
import uuid

from cdht.auth import EVERYONE, STAFF
from cdht.resources import Routes
from cdht.web import load_json
from services.registry import domain
from services.registry.handlers import (
    Resource, changing, dumped, live, now, patch, person_in_scope, rules, shown,
)
from services.registry.models import LearningActivity, Person
from services.registry.schemas import (
    ActivityPatchSchema, ActivityQuery, ActivitySchema, NewActivitySchema,
)

COUNTED = ("kind", "started_on", "ended_on", "hours")


def _in_scope(request, store, activity):
    """Whose activity it is: the person's record in the caller's reach."""
    person_in_scope(request, store, store.row(Person, activity.person_id))


ACTIVITY = Resource(LearningActivity, "learning activity", _in_scope, "list_activities")
ACTIVITIES = Routes("/learning-activities", "/learning-activities/<uuid:activity_id>",
                    ActivitySchema, rows=ACTIVITY)


def stage_recorded(store, activity, person):
    store.stage("learning_activity_recorded", {
        "activity_id": activity.id, "person_id": person.id, "kind": activity.kind,
        "started_on": activity.started_on, "ended_on": activity.ended_on,
        "hours": activity.hours, "unit_code": person.unit_code,
        "unit_path": store.unit_path(person.unit_code),
    })


def withdraw(store, activity, reason):
    """Soft-delete the activity and announce it (``reason``: deleted or voided)."""
    activity.deleted_at = activity.updated_at = now()
    person = store.row(Person, activity.person_id)
    store.stage("learning_activity_withdrawn", {
        "activity_id": activity.id, "person_id": person.id, "reason": reason,
        "unit_code": person.unit_code, "unit_path": store.unit_path(person.unit_code)})


class ActivityEndpoints:
    list_activities = ACTIVITIES.list(EVERYONE, "List learning activities", query=ActivityQuery,
                                      view=dumped(ActivitySchema))
    get_activity = ACTIVITIES.read(EVERYONE, "Read a learning activity",
                                   view=shown(ActivitySchema))

    @ACTIVITIES.create(STAFF, "Record a learning activity", body=NewActivitySchema)
    def record_activity(self, request):
        data = load_json(request, NewActivitySchema())
        with rules():
            domain.check_activity(data["started_on"], data["ended_on"], data["hours"])
        with self.store.transaction() as store:
            person = live(store, Person, data["person_id"], "person_id", "person",
                          lock="share")
            person_in_scope(request, store, person)
            activity = LearningActivity(id=uuid.uuid4(), **data)
            store.add(activity)
            store.flush()
            stage_recorded(store, activity, person)
            return 201, ActivitySchema().dump(activity)

    @ACTIVITIES.update(STAFF, "Change a learning activity", body=ActivityPatchSchema)
    def update_activity(self, request, activity_id):
        """A change of what counts (kind, dates, hours) is published again as
        learning_activity_recorded with the same activity_id: consumers keep the latest."""
        data = load_json(request, ActivityPatchSchema())
        with changing(self.store, request, ACTIVITY, activity_id) as (store, activity):
            before = {k: getattr(activity, k) for k in COUNTED}
            merged = before | {k: v for k, v in data.items() if k in COUNTED}
            domain.check_activity(merged["started_on"], merged["ended_on"], merged["hours"])
            patch(activity, data)
            store.flush()
            if merged != before:
                stage_recorded(store, activity, store.row(Person, activity.person_id))
            return ActivitySchema().dump(activity)

    @ACTIVITIES.delete(STAFF, "Delete a learning activity entered by mistake (soft)")
    def delete_activity(self, request, activity_id):
        """Announced as learning_activity_withdrawn (reason ``deleted``): the indicators and
        figures it confirmed stop counting it."""
        with changing(self.store, request, ACTIVITY, activity_id) as (store, activity):
            withdraw(store, activity, "deleted")
            return ActivitySchema().dump(activity)
