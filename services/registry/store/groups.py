"""Groups' queries: lists, member counts, a person's memberships, recorded titles."""
from sqlalchemy import func, select

from services.registry.models import Group, GroupTitle, Membership


class GroupQueries:

    def list_groups(self, query, scope):
        stmt = self.within(select(Group).where(Group.deleted_at.is_(None)), Group.unit_code,
                           scope)
        if "unit_code" in query:
            stmt = stmt.where(self.in_units(Group.unit_code, query["unit_code"],
                                            query["subtree"]))
        for key in ("kind", "level"):
            if key in query:
                stmt = stmt.where(getattr(Group, key) == query[key])
        if "q" in query:
            stmt = stmt.where(Group.name.icontains(query["q"], autoescape=True))
        return self.page(stmt, query, (Group.name, Group.id))

    def member_counts(self, group_ids):
        """{group_id: current members} (groups without any left out)."""
        if not group_ids:
            return {}
        return dict(self.session.execute(select(Membership.group_id, func.count()).where(
            Membership.group_id.in_(group_ids), Membership.left_on.is_(None),
            Membership.deleted_at.is_(None)).group_by(Membership.group_id)).all())

    def has_current_members(self, group_id):
        return self.session.scalar(select(Membership.id).where(
            Membership.group_id == group_id, Membership.left_on.is_(None),
            Membership.deleted_at.is_(None)).limit(1)) is not None

    # -- memberships ---------------------------------------------------------------------------
    def memberships_of(self, person_id):
        """The person's memberships, current and past: (group_id, group_kind, joined_on,
        left_on) rows."""
        return self.session.execute(select(
            Membership.group_id, Membership.group_kind, Membership.joined_on,
            Membership.left_on).where(Membership.person_id == person_id,
                                      Membership.deleted_at.is_(None))).all()

    def list_memberships(self, query, scope):
        stmt = self.owned_or_within(
            select(Membership).where(Membership.deleted_at.is_(None)), scope,
            Membership.person_id, Membership.group_id, Group)
        return self.tenures(Membership, stmt, query, ("person_id", "group_id", "group_kind"))

    def person_groups(self, person_id):
        """(membership, group) pairs of the person, current and past, oldest first."""
        return self.held_by(Membership, Group, Membership.group_id, person_id)

    # -- titles --------------------------------------------------------------------------------
    def title_years(self, group_id):
        """The years of the group's recorded (not withdrawn) titles."""
        return list(self.session.scalars(select(GroupTitle.year).where(
            GroupTitle.group_id == group_id, GroupTitle.withdrawn_at.is_(None))))

    def titles_of(self, group_id):
        return self.session.scalars(select(GroupTitle).where(
            GroupTitle.group_id == group_id, GroupTitle.withdrawn_at.is_(None))
            .order_by(GroupTitle.year)).all()
