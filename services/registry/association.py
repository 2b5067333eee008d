"""The association (Hội Khuyến học) over HTTP (a mixin of RegistryService): its bodies and
the officials' and members' positions in them. A body hangs under one above it in the unit
tree, never under itself; a position grants the person the association's role."""
import uuid

from cdht.auth import REVIEWERS, STAFF
from cdht.web import api, load_json, query_of
from services.registry import domain, structure_events as announce
from services.registry.handlers import (
    Resource, changing, changing_tenure, check_end, dumped, granted, in_unit, invalid,
    list_page, live, now, open_unit, patch, person_in_scope, reading, rules, sync_roles,
    unit_in_scope,
)
from services.registry.models import AssociationBody, AssociationMember, Person
from services.registry.schemas import (
    BodyPatchSchema, BodyQuery, BodySchema, NewBodySchema, NewPositionSchema,
    PositionPatchSchema, PositionQuery, PositionSchema, page_of,
)


def _ancestors(store, body):
    seen, node = [], body
    while node is not None and len(seen) < 16:
        seen.append(node.id)
        node = store.row(AssociationBody, node.parent_id) if node.parent_id else None
    return seen


def _check_parent(store, kind, unit_code, parent_id, body_id=None):
    parent = store.row(AssociationBody, parent_id) if parent_id else None
    known = parent_id is None or (parent is not None and parent.deleted_at is None)
    above = parent is None or parent.unit_code in store.unit_path(unit_code)
    with rules():
        domain.check_body(kind, parent.kind if parent else None, parent_known=known,
                          parent_above=above)
    if body_id is not None and parent is not None and body_id in _ancestors(store, parent):
        raise invalid({"parent_id": ["would make the body its own ancestor"]})


def _position_in_scope(request, store, position):
    unit_in_scope(request, store, store.row(AssociationBody, position.body_id).unit_code,
                  "the association body")


BODY = Resource(AssociationBody, "association body", in_unit("the association body"))
POSITION = Resource(AssociationMember, "position", _position_in_scope)


class AssociationEndpoints:

    @api("POST", "/association/bodies",
         roles=STAFF,
         summary="Create an association body",
         body=NewBodySchema,
         response=BodySchema,
         status=201)
    def create_body(self, request):
        data = load_json(request, NewBodySchema())
        with self.store.transaction() as store:
            open_unit(store, data["unit_code"])
            unit_in_scope(request, store, data["unit_code"])
            _check_parent(store, data["kind"], data["unit_code"], data["parent_id"])
            body = AssociationBody(id=uuid.uuid4(), **data)
            store.add(body)
            store.flush()
            announce.body_changed(store, body, "created")
            return 201, BodySchema().dump(body)

    @api("GET", "/association/bodies",
         roles=REVIEWERS,
         summary="List association bodies",
         query=BodyQuery,
         response=page_of(BodySchema))
    def list_bodies(self, request):
        return list_page(self.store, request, query_of(request, BodyQuery()), "list_bodies",
                         dumped(BodySchema))

    @api("GET", "/association/bodies/<uuid:body_id>",
         roles=REVIEWERS,
         summary="Read an association body",
         response=BodySchema)
    def get_body(self, request, body_id):
        with reading(self.store, request, BODY, body_id) as (_, body):
            return BodySchema().dump(body)

    @api("PATCH", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Change an association body",
         body=BodyPatchSchema,
         response=BodySchema)
    def update_body(self, request, body_id):
        data = load_json(request, BodyPatchSchema())
        with changing(self.store, request, BODY, body_id) as (store, body):
            if "parent_id" in data:
                _check_parent(store, body.kind, body.unit_code, data["parent_id"],
                              body_id=body.id)
            before = announce.body_state(body)
            patch(body, data)
            store.flush()
            announce.body_updated(store, body, before)
            return BodySchema().dump(body)

    @api("DELETE", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Delete an empty association body (soft)",
         response=BodySchema,
         errors=(409,))
    def delete_body(self, request, body_id):
        with changing(self.store, request, BODY, body_id) as (store, body):
            busy = store.body_busy(body.id)
            if busy:
                raise invalid({"body_id": ["still has current " + " and ".join(busy)]}, 409)
            body.deleted_at = now()
            announce.body_changed(store, body, "removed")
            return BodySchema().dump(body)

    # -- officials and members ------------------------------------------------------------------
    @api("POST", "/association/members",
         roles=STAFF,
         summary="Make a person an official or member of a body",
         body=NewPositionSchema,
         response=PositionSchema,
         status=201,
         errors=(409,))
    def create_position(self, request):
        data = load_json(request, NewPositionSchema())
        with rules(), self.store.transaction() as store:
            person = live(store, Person, data["person_id"], "person_id", "person",
                          lock="update")
            body = live(store, AssociationBody, data["body_id"], "body_id",
                        "association body", lock="share")
            person_in_scope(request, store, person)
            unit_in_scope(request, store, body.unit_code, "the association body")
            domain.check_period(data["joined_on"], data["left_on"])
            domain.check_not_twice(store.position_periods(person.id, body.id),
                                   data["joined_on"], data["left_on"], "person_id",
                                   "in this body")
            granted_before = granted(store, person.id)
            position = AssociationMember(id=uuid.uuid4(), **data)
            store.add(position)
            store.flush()
            sync_roles(store, person, granted_before)
            return 201, PositionSchema().dump(position)

    @api("GET", "/association/members",
         roles=REVIEWERS,
         summary="List officials and members",
         query=PositionQuery,
         response=page_of(PositionSchema))
    def list_positions(self, request):
        return list_page(self.store, request, query_of(request, PositionQuery()),
                         "list_positions", dumped(PositionSchema))

    @api("GET", "/association/members/<uuid:position_id>",
         roles=REVIEWERS,
         summary="Read an official's or member's "
                 "position",
         response=PositionSchema)
    def get_position(self, request, position_id):
        with reading(self.store, request, POSITION, position_id) as (_, position):
            return PositionSchema().dump(position)

    @api("PATCH", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Change a role or end a position",
         body=PositionPatchSchema,
         response=PositionSchema,
         errors=(409,))
    def update_position(self, request, position_id):
        data = load_json(request, PositionPatchSchema())
        with changing_tenure(self.store, request, POSITION, position_id) as (_, position):
            if "left_on" in data:
                check_end(position, data["left_on"], "position")
            patch(position, data)
            return PositionSchema().dump(position)

    @api("DELETE", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Delete a position entered by mistake (soft)",
         response=PositionSchema)
    def delete_position(self, request, position_id):
        with changing_tenure(self.store, request, POSITION, position_id) as (_, position):
            position.deleted_at = position.updated_at = now()
            return PositionSchema().dump(position)
