"""Learning activities' queries."""
from sqlalchemy import select

from services.registry.models import LearningActivity, Person


class ActivityQueries:

    def list_activities(self, query, scope):
        stmt = select(LearningActivity).where(LearningActivity.deleted_at.is_(None))
        if scope.own:
            stmt = stmt.where(LearningActivity.person_id == scope.person_id)
        elif scope.within is not None:
            stmt = stmt.where(LearningActivity.person_id.in_(select(Person.id).where(
                self.in_units(Person.unit_code, scope.within))))
        for key in ("person_id", "kind"):
            if key in query:
                stmt = stmt.where(getattr(LearningActivity, key) == query[key])
        if "unit_code" in query:
            stmt = stmt.where(LearningActivity.person_id.in_(select(Person.id).where(
                self.in_units(Person.unit_code, query["unit_code"]))))
        if "started_from" in query:
            stmt = stmt.where(LearningActivity.started_on >= query["started_from"])
        if "started_to" in query:
            stmt = stmt.where(LearningActivity.started_on <= query["started_to"])
        return self.page(stmt, query, (LearningActivity.started_on, LearningActivity.id))
