"""The association (Hội Khuyến học) over HTTP (a mixin of RegistryService): its bodies and
the officials' and members' positions in them. A body hangs under one above it in the unit
tree, never under itself; a position grants the person the association's role."""
import uuid

from cdht.auth import REVIEWERS, STAFF
from cdht.web import api, load_json
from services.registry import domain, structure_events as announce
from services.registry.handlers import (
    found, granted, invalid, known_unit, live, now, open_unit, person_in_scope, query_of,
    rules, scope_of, sync_roles, unit_in_scope, with_person,
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
        query = query_of(request, BodyQuery())
        with self.store.read() as store:
            if "unit_code" in query:
                known_unit(store, query["unit_code"])
            items, page = store.list_bodies(query, scope_of(request))
            return page | {"items": BodySchema(many=True).dump(items)}

    @api("GET", "/association/bodies/<uuid:body_id>",
         roles=REVIEWERS,
         summary="Read an association body",
         response=BodySchema)
    def get_body(self, request, body_id):
        with self.store.read() as store:
            body = found(store, AssociationBody, body_id, "association body")
            unit_in_scope(request, store, body.unit_code, "the association body")
            return BodySchema().dump(body)

    @api("PATCH", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Change an association body",
         body=BodyPatchSchema,
         response=BodySchema)
    def update_body(self, request, body_id):
        data = load_json(request, BodyPatchSchema())
        with self.store.transaction() as store:
            body = found(store, AssociationBody, body_id, "association body", lock="update")
            unit_in_scope(request, store, body.unit_code, "the association body")
            if "parent_id" in data:
                _check_parent(store, body.kind, body.unit_code, data["parent_id"],
                              body_id=body.id)
            before = announce.body_state(body)
            for key, value in data.items():
                setattr(body, key, value)
            body.updated_at = now()
            store.flush()
            announce.body_updated(store, body, before)
            return BodySchema().dump(body)

    @api("DELETE", "/association/bodies/<uuid:body_id>",
         roles=STAFF,
         summary="Delete an empty association body (soft)",
         response=BodySchema,
         errors=(409,))
    def delete_body(self, request, body_id):
        with self.store.transaction() as store:
            body = found(store, AssociationBody, body_id, "association body", lock="update")
            unit_in_scope(request, store, body.unit_code, "the association body")
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
        query = query_of(request, PositionQuery())
        with self.store.read() as store:
            items, page = store.list_positions(query, scope_of(request))
            return page | {"items": PositionSchema(many=True).dump(items)}

    @api("GET", "/association/members/<uuid:position_id>",
         roles=REVIEWERS,
         summary="Read an official's or member's "
                 "position",
         response=PositionSchema)
    def get_position(self, request, position_id):
        with self.store.read() as store:
            position = found(store, AssociationMember, position_id, "position")
            _position_in_scope(request, store, position)
            return PositionSchema().dump(position)

    @api("PATCH", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Change a role or end a position",
         body=PositionPatchSchema,
         response=PositionSchema,
         errors=(409,))
    def update_position(self, request, position_id):
        data = load_json(request, PositionPatchSchema())
        with rules(), self.store.transaction() as store:
            position, person = with_person(store, AssociationMember, position_id, "position")
            _position_in_scope(request, store, position)
            granted_before = granted(store, person.id)
            if "left_on" in data:
                if position.left_on is not None:
                    raise invalid({"left_on": [
                        f"the position already ended on {position.left_on.isoformat()}"]}, 409)
                domain.check_period(position.joined_on, data["left_on"])
            for key, value in data.items():
                setattr(position, key, value)
            position.updated_at = now()
            store.flush()
            sync_roles(store, person, granted_before)
            return PositionSchema().dump(position)

    @api("DELETE", "/association/members/<uuid:position_id>",
         roles=STAFF,
         summary="Delete a position entered by mistake (soft)",
         response=PositionSchema)
    def delete_position(self, request, position_id):
        with self.store.transaction() as store:
            position, person = with_person(store, AssociationMember, position_id, "position")
            _position_in_scope(request, store, position)
            granted_before = granted(store, person.id)
            position.deleted_at = position.updated_at = now()
            store.flush()
            sync_roles(store, person, granted_before)
            return PositionSchema().dump(position)
