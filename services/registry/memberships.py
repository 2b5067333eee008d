"""Memberships over HTTP (a mixin of RegistryService): a person in a group over a period.
Each change is announced (``membership_changed``) and the person's roles follow: joining a
learning unit makes them its staff. The person's row lock orders every change of their
memberships, so two never race (one family at a time holds even then). Nobody makes
themselves the head of a learning unit, who reviews its staff (duties.py)."""
import uuid

from cdht.auth import EVERYONE, STAFF
from cdht.resources import Routes
from cdht.web import load_json
from services.registry import domain
from services.registry.handlers import (
    Resource, changing_tenure, check_duties, check_end, dumped, granted, live,
    membership_event, membership_in_scope, now, patch, person_in_scope, rules, shown,
    sync_roles, unit_in_scope,
)
from services.registry.models import Group, Membership, Person
from services.registry.schemas import (
    MembershipPatchSchema, MembershipQuery, MembershipSchema, NewMembershipSchema,
)


MEMBERSHIP = Resource(Membership, "membership", membership_in_scope, "list_memberships")
MEMBERSHIPS = Routes("/memberships", "/memberships/<uuid:membership_id>", MembershipSchema,
                     rows=MEMBERSHIP)


class MembershipEndpoints:
    list_memberships = MEMBERSHIPS.list(EVERYONE, "List memberships", query=MembershipQuery,
                                        view=dumped(MembershipSchema))
    get_membership = MEMBERSHIPS.read(EVERYONE, "Read a membership",
                                      view=shown(MembershipSchema))

    @MEMBERSHIPS.create(STAFF, "Put a person into a group", body=NewMembershipSchema,
                        errors=(409,))
    def create_membership(self, request):
        data = load_json(request, NewMembershipSchema())
        with rules(), self.store.transaction() as store:
            # the person's row lock serialises every change of their memberships
            person = live(store, Person, data["person_id"], "person_id", "person",
                          lock="update")
            group = live(store, Group, data["group_id"], "group_id", "group", lock="share")
            person_in_scope(request, store, person)
            unit_in_scope(request, store, group.unit_code, "the group")
            check_duties(self.config, request, person.id, group.kind, data["role"])
            joined, left = data["joined_on"], data["left_on"]
            domain.check_period(joined, left)
            others = store.memberships_of(person.id)
            domain.check_not_twice([(o.joined_on, o.left_on) for o in others
                                    if o.group_id == group.id], joined, left,
                                   "group_id", "a member of this group")
            if group.kind == "family":
                domain.check_single_family([(o.joined_on, o.left_on) for o in others
                                            if o.group_kind == "family"], joined, left)
            granted_before = granted(store, person.id)
            membership = Membership(id=uuid.uuid4(), person_id=person.id, group_id=group.id,
                                    group_kind=group.kind, role=data["role"],
                                    joined_on=joined, left_on=left)
            store.add(membership)
            store.flush()
            membership_event(store, membership, group, "joined", joined)
            if left is not None:
                membership_event(store, membership, group, "left", left)
            sync_roles(store, person, granted_before, request)
            return 201, MembershipSchema().dump(membership)

    @MEMBERSHIPS.update(STAFF, "Change a role or end a membership", body=MembershipPatchSchema,
                        errors=(409,))
    def update_membership(self, request, membership_id):
        data = load_json(request, MembershipPatchSchema())
        with changing_tenure(self.store, request, MEMBERSHIP, membership_id) as (
                store, membership):
            if data.get("role", membership.role) != membership.role:
                check_duties(self.config, request, membership.person_id,
                             membership.group_kind, data["role"])
            if "left_on" in data:
                check_end(membership, data["left_on"], "membership")
                membership_event(store, membership, store.row(Group, membership.group_id),
                                 "left", data["left_on"])
            patch(membership, data)
            return MembershipSchema().dump(membership)

    @MEMBERSHIPS.delete(STAFF, "Delete a membership entered by mistake (soft)")
    def delete_membership(self, request, membership_id):
        """A membership entered by mistake: if it was open, a "left" event effective on the
        day it began takes it out of every count, as if it had never been."""
        with changing_tenure(self.store, request, MEMBERSHIP, membership_id) as (
                store, membership):
            if membership.left_on is None:
                membership_event(store, membership, store.row(Group, membership.group_id),
                                 "left", membership.joined_on)
            membership.deleted_at = membership.updated_at = now()
            return MembershipSchema().dump(membership)
