"""Memberships over HTTP (a mixin of RegistryService): a person in a group over a period.
Each change is announced (``membership_changed``) and the person's roles follow: joining a
learning unit makes them its staff. The person's row lock orders every change of their
memberships, so two never race (one family at a time holds even then)."""
import uuid

from cdht.auth import EVERYONE, STAFF
from cdht.web import api, load_json
from services.registry import domain
from services.registry.handlers import (
    found, granted, invalid, live, membership_event, membership_in_scope, now,
    person_in_scope, query_of, rules, scope_of, sync_roles, unit_in_scope, with_person,
)
from services.registry.models import Group, Membership, Person
from services.registry.schemas import (
    MembershipPatchSchema, MembershipQuery, MembershipSchema, NewMembershipSchema, page_of,
)


class MembershipEndpoints:

    @api("POST", "/memberships",
         roles=STAFF,
         summary="Put a person into a group",
         body=NewMembershipSchema,
         response=MembershipSchema,
         status=201,
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
            sync_roles(store, person, granted_before)
            return 201, MembershipSchema().dump(membership)

    @api("GET", "/memberships",
         roles=EVERYONE,
         summary="List memberships",
         query=MembershipQuery,
         response=page_of(MembershipSchema))
    def list_memberships(self, request):
        query = query_of(request, MembershipQuery())
        with self.store.read() as store:
            items, page = store.list_memberships(query, scope_of(request))
            return page | {"items": MembershipSchema(many=True).dump(items)}

    @api("GET", "/memberships/<uuid:membership_id>",
         roles=EVERYONE,
         summary="Read a membership",
         response=MembershipSchema)
    def get_membership(self, request, membership_id):
        with self.store.read() as store:
            membership = found(store, Membership, membership_id, "membership")
            membership_in_scope(request, store, membership)
            return MembershipSchema().dump(membership)

    @api("PATCH", "/memberships/<uuid:membership_id>",
         roles=STAFF,
         summary="Change a role or end a membership",
         body=MembershipPatchSchema,
         response=MembershipSchema,
         errors=(409,))
    def update_membership(self, request, membership_id):
        data = load_json(request, MembershipPatchSchema())
        with rules(), self.store.transaction() as store:
            membership, person = with_person(store, Membership, membership_id, "membership")
            membership_in_scope(request, store, membership)
            group = store.row(Group, membership.group_id)
            granted_before = granted(store, person.id)
            if "left_on" in data:
                if membership.left_on is not None:
                    raise invalid({"left_on": [
                        f"the membership already ended on {membership.left_on.isoformat()}"]},
                        409)
                domain.check_period(membership.joined_on, data["left_on"])
                membership.left_on = data["left_on"]
                membership_event(store, membership, group, "left", data["left_on"])
            if "role" in data:
                membership.role = data["role"]
            membership.updated_at = now()
            store.flush()
            sync_roles(store, person, granted_before)
            return MembershipSchema().dump(membership)

    @api("DELETE", "/memberships/<uuid:membership_id>",
         roles=STAFF,
         summary="Delete a membership entered by mistake (soft)",
         response=MembershipSchema)
    def delete_membership(self, request, membership_id):
        """A membership entered by mistake: if it was open, a "left" event effective on the
        day it began takes it out of every count, as if it had never been."""
        with self.store.transaction() as store:
            membership, person = with_person(store, Membership, membership_id, "membership")
            membership_in_scope(request, store, membership)
            granted_before = granted(store, person.id)
            if membership.left_on is None:
                membership_event(store, membership, store.row(Group, membership.group_id),
                                 "left", membership.joined_on)
            membership.deleted_at = membership.updated_at = now()
            store.flush()
            sync_roles(store, person, granted_before)
            return MembershipSchema().dump(membership)
