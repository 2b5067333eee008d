"""The paged exports other services rebuild their projections from: one keyset-paged query
per kind, each row with its ``id`` and ``unit_code``."""
import uuid

from sqlalchemy import select

from services.registry.models import (
    AssociationBody, Group, GroupTitle, LearningActivity, Membership, Person,
)


def _people():
    return (select(Person.id, Person.unit_code, Person.target_group, Person.roles,
                   Person.birth_date, Person.created_at)
            .where(Person.deleted_at.is_(None))), Person.id


def _memberships():
    return (select(Membership.id, Membership.person_id, Membership.group_id, Membership.role,
                   Membership.joined_on, Membership.left_on, Group.kind, Group.level,
                   Group.unit_code)
            .join(Group, Group.id == Membership.group_id)
            .join(Person, Person.id == Membership.person_id)
            .where(Membership.deleted_at.is_(None), Group.deleted_at.is_(None),
                   Person.deleted_at.is_(None))), Membership.id


def _activities():
    return (select(LearningActivity.id, LearningActivity.person_id, LearningActivity.kind,
                   LearningActivity.started_on, LearningActivity.ended_on,
                   LearningActivity.hours, Person.unit_code)
            .join(Person, Person.id == LearningActivity.person_id)
            .where(LearningActivity.deleted_at.is_(None), Person.deleted_at.is_(None))), \
        LearningActivity.id


def _bodies():
    return (select(AssociationBody.id, AssociationBody.kind, AssociationBody.name,
                   AssociationBody.parent_id, AssociationBody.unit_code)
            .where(AssociationBody.deleted_at.is_(None))), AssociationBody.id


def _titles():
    return (select(GroupTitle.id, GroupTitle.group_id, Group.kind, GroupTitle.year,
                   GroupTitle.decision_number, GroupTitle.decision_date, GroupTitle.issued_by,
                   Group.unit_code)
            .join(Group, Group.id == GroupTitle.group_id)
            .where(GroupTitle.withdrawn_at.is_(None))), GroupTitle.id


EXPORTS = {"people": _people, "memberships": _memberships, "activities": _activities,
           "bodies": _bodies, "titles": _titles}


class ExportQueries:

    def export_rows(self, kind, after_id, limit):
        """Up to ``limit`` rows of the export ``kind`` whose id follows ``after_id``, by id:
        each page is one index range scan, however deep the caller is."""
        stmt, key = EXPORTS[kind]()
        stmt = stmt.order_by(key).limit(limit)
        if after_id is not None:
            stmt = stmt.where(key > uuid.UUID(str(after_id)))
        return self.session.execute(stmt).all()
