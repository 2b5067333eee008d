"""Learning activities' queries."""
from sqlalchemy import select

from services.registry.models import LearningActivity, Person


class ActivityQueries:

    def list_activities(self, query, scope):
        stmt = self.owned_or_within(
            select(LearningActivity).where(LearningActivity.deleted_at.is_(None)), scope,
            LearningActivity.person_id, LearningActivity.person_id, Person)
        for key in ("person_id", "kind"):
            if key in query:
                stmt = stmt.where(getattr(LearningActivity, key) == query[key])
        if "unit_code" in query:
            stmt = stmt.where(self.placed_in(LearningActivity.person_id, Person,
                                             query["unit_code"]))
        if "started_from" in query:
            stmt = stmt.where(LearningActivity.started_on >= query["started_from"])
        if "started_to" in query:
            stmt = stmt.where(LearningActivity.started_on <= query["started_to"])
        return self.page(stmt, query, (LearningActivity.started_on, LearningActivity.id))
