"""Groups over HTTP (a mixin of RegistryService): families, clans, communities and learning
units. A group with current members is not deleted: their memberships end first, so no count
loses people silently."""
import uuid

from cdht.auth import REVIEWERS, STAFF
from cdht.resources import Routes
from cdht.web import load_json
from services.registry import domain
from services.registry.handlers import (
    Resource, changing, in_unit, invalid, now, open_unit, patch, rules, unit_in_scope,
)
from services.registry.models import Group
from services.registry.schemas import GroupPatchSchema, GroupQuery, GroupSchema, NewGroupSchema


GROUP = Resource(Group, "group", in_unit("the group"), "list_groups")
GROUPS = Routes("/groups", "/groups/<uuid:group_id>", GroupSchema, rows=GROUP)


def dump_groups(store, groups):
    """Groups as the API shows them: with their current number of members."""
    counts = store.member_counts([g.id for g in groups])
    return [GroupSchema().dump(g) | {"members": counts.get(g.id, 0)} for g in groups]


def dump_group(store, group):
    return dump_groups(store, [group])[0]


class GroupEndpoints:
    list_groups = GROUPS.list(REVIEWERS, "List groups", query=GroupQuery, view=dump_groups)
    get_group = GROUPS.read(REVIEWERS, "Read a group", view=dump_group)

    @GROUPS.create(STAFF, "Create a family, clan, community or learning unit",
                   body=NewGroupSchema, errors=(409,))
    def create_group(self, request):
        data = load_json(request, NewGroupSchema())
        with rules():
            domain.check_group(data["kind"], data["level"])
            with self.store.transaction() as store:
                open_unit(store, data["unit_code"])
                unit_in_scope(request, store, data["unit_code"])
                group = Group(id=uuid.uuid4(), **data)
                store.add(group)
                store.flush()
                return 201, dump_group(store, group)

    @GROUPS.update(STAFF, "Change a group", body=GroupPatchSchema, errors=(409,))
    def update_group(self, request, group_id):
        data = load_json(request, GroupPatchSchema())
        with changing(self.store, request, GROUP, group_id) as (store, group):
            domain.check_group(group.kind, data.get("level", group.level))
            patch(group, data)
            store.flush()
            return dump_group(store, group)

    @GROUPS.delete(STAFF, "Delete a group without current members (soft)", errors=(409,))
    def delete_group(self, request, group_id):
        with changing(self.store, request, GROUP, group_id) as (store, group):
            if store.has_current_members(group.id):
                raise invalid({"group_id": ["the group has current members: end their "
                                            "memberships first"]}, 409)
            group.deleted_at = now()
            return dump_group(store, group)
