"""Learning activities over HTTP (a mixin of RegistryService): the courses, MOOCs, trainings
and briefings people took part in, evidence for the indicators. What counts (kind, dates,
hours) is announced as ``learning_activity_recorded``; consumers keep the latest."""
import uuid

from cdht.auth import EVERYONE, STAFF
from cdht.web import api, load_json, query_of
from services.registry import domain
from services.registry.handlers import (
    Resource, changing, dumped, list_page, live, now, patch, person_in_scope, reading, rules,
)
from services.registry.models import LearningActivity, Person
from services.registry.schemas import (
    ActivityPatchSchema, ActivityQuery, ActivitySchema, NewActivitySchema, page_of,
)

COUNTED = ("kind", "started_on", "ended_on", "hours")


def _in_scope(request, store, activity):
    """Whose activity it is: the person's record in the caller's reach."""
    person_in_scope(request, store, store.row(Person, activity.person_id))


ACTIVITY = Resource(LearningActivity, "learning activity", _in_scope)


def _recorded(store, activity, person):
    store.stage("learning_activity_recorded", {
        "activity_id": activity.id, "person_id": person.id, "kind": activity.kind,
        "started_on": activity.started_on, "ended_on": activity.ended_on,
        "hours": activity.hours, "unit_code": person.unit_code,
        "unit_path": store.unit_path(person.unit_code),
    })


class ActivityEndpoints:

    @api("POST", "/learning-activities",
         roles=STAFF,
         summary="Record a learning activity",
         body=NewActivitySchema,
         response=ActivitySchema,
         status=201)
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
            _recorded(store, activity, person)
            return 201, ActivitySchema().dump(activity)

    @api("GET", "/learning-activities",
         roles=EVERYONE,
         summary="List learning activities",
         query=ActivityQuery,
         response=page_of(ActivitySchema))
    def list_activities(self, request):
        return list_page(self.store, request, query_of(request, ActivityQuery()),
                         "list_activities", dumped(ActivitySchema))

    @api("GET", "/learning-activities/<uuid:activity_id>",
         roles=EVERYONE,
         summary="Read a learning activity",
         response=ActivitySchema)
    def get_activity(self, request, activity_id):
        with reading(self.store, request, ACTIVITY, activity_id) as (_, activity):
            return ActivitySchema().dump(activity)

    @api("PATCH", "/learning-activities/<uuid:activity_id>",
         roles=STAFF,
         summary="Change a learning activity",
         body=ActivityPatchSchema,
         response=ActivitySchema)
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
                _recorded(store, activity, store.row(Person, activity.person_id))
            return ActivitySchema().dump(activity)

    @api("DELETE", "/learning-activities/<uuid:activity_id>",
         roles=STAFF,
         summary="Delete a learning activity entered by mistake (soft)",
         response=ActivitySchema)
    def delete_activity(self, request, activity_id):
        with changing(self.store, request, ACTIVITY, activity_id) as (_, activity):
            activity.deleted_at = activity.updated_at = now()
            return ActivitySchema().dump(activity)
