"""The association (Hội Khuyến học) over HTTP (a mixin of RegistryService): its bodies and
the officials' and members' positions in them. A body hangs under one above it in the unit
tree, never under itself; a position grants the person the association's role. An official
is appointed by someone other than the person, and than the staff who created the body
(duties.py)."""
import uuid

from cdht.auth import REVIEWERS, STAFF
from cdht.resources import Routes
from cdht.web import caller_of, load_json
from services.registry import domain, structure_events as announce
from services.registry.handlers import (
    Resource, changing, changing_tenure, check_duties, check_end, dumped, granted, in_unit,
    invalid, live, now, open_unit, patch, person_in_scope, rules, shown, sync_roles,
    unit_in_scope,
)
from services.registry.models import AssociationBody, AssociationMember, Person
from services.registry.schemas import (
    BodyPatchSchema, BodyQuery, BodySchema, NewBodySchema, NewPositionSchema,
    PositionPatchSchema, PositionQuery, PositionSchema,
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


BODY = Resource(AssociationBody, "association body", in_unit("the association body"),
                "list_bodies")
POSITION = Resource(AssociationMember, "position", _position_in_scope, "list_positions")
BODIES = Routes("/association/bodies", "/association/bodies/<uuid:body_id>", BodySchema,
                rows=BODY)
POSITIONS = Routes("/association/members", "/association/members/<uuid:position_id>",
                   PositionSchema, rows=POSITION)


class AssociationEndpoints:
    list_bodies = BODIES.list(REVIEWERS, "List association bodies", query=BodyQuery,
                              view=dumped(BodySchema))
    get_body = BODIES.read(REVIEWERS, "Read an association body", view=shown(BodySchema))
    list_positions = POSITIONS.list(REVIEWERS, "List officials and members",
                                    query=PositionQuery, view=dumped(PositionSchema))
    get_position = POSITIONS.read(REVIEWERS, "Read an official's or member's position",
                                  view=shown(PositionSchema))

    @BODIES.create(STAFF, "Create an association body", body=NewBodySchema)
    def create_body(self, request):
        data = load_json(request, NewBodySchema())
        with self.store.transaction() as store:
            open_unit(store, data["unit_code"])
            unit_in_scope(request, store, data["unit_code"])
            _check_parent(store, data["kind"], data["unit_code"], data["parent_id"])
            body = AssociationBody(id=uuid.uuid4(), created_by=caller_of(request).subject,
                                   **data)
            store.add(body)
            store.flush()
            announce.body_changed(store, body, "created")
            return 201, BodySchema().dump(body)

    @BODIES.update(STAFF, "Change an association body", body=BodyPatchSchema)
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

    @BODIES.delete(STAFF, "Delete an empty association body (soft)", errors=(409,))
    def delete_body(self, request, body_id):
        with changing(self.store, request, BODY, body_id) as (store, body):
            busy = store.body_busy(body.id)
            if busy:
                raise invalid({"body_id": ["still has current " + " and ".join(busy)]}, 409)
            body.deleted_at = now()
            announce.body_changed(store, body, "removed")
            return BodySchema().dump(body)

    # -- officials and members ------------------------------------------------------------------
    @POSITIONS.create(STAFF, "Make a person an official or member of a body",
                      body=NewPositionSchema, errors=(409,))
    def create_position(self, request):
        data = load_json(request, NewPositionSchema())
        with rules(), self.store.transaction() as store:
            person = live(store, Person, data["person_id"], "person_id", "person",
                          lock="update")
            body = live(store, AssociationBody, data["body_id"], "body_id",
                        "association body", lock="share")
            person_in_scope(request, store, person)
            unit_in_scope(request, store, body.unit_code, "the association body")
            check_duties(self.config, request, person.id, "association", data["role"],
                         body.created_by)
            domain.check_period(data["joined_on"], data["left_on"])
            domain.check_not_twice(store.position_periods(person.id, body.id),
                                   data["joined_on"], data["left_on"], "person_id",
                                   "in this body")
            granted_before = granted(store, person.id)
            position = AssociationMember(id=uuid.uuid4(), **data)
            store.add(position)
            store.flush()
            sync_roles(store, person, granted_before, request)
            return 201, PositionSchema().dump(position)

    @POSITIONS.update(STAFF, "Change a role or end a position", body=PositionPatchSchema,
                      errors=(409,))
    def update_position(self, request, position_id):
        data = load_json(request, PositionPatchSchema())
        with changing_tenure(self.store, request, POSITION, position_id) as (store, position):
            if data.get("role", position.role) != position.role:
                check_duties(self.config, request, position.person_id, "association",
                             data["role"], store.row(AssociationBody, position.body_id)
                             .created_by)
            if "left_on" in data:
                check_end(position, data["left_on"], "position")
            patch(position, data)
            return PositionSchema().dump(position)

    @POSITIONS.delete(STAFF, "Delete a position entered by mistake (soft)")
    def delete_position(self, request, position_id):
        with changing_tenure(self.store, request, POSITION, position_id) as (_, position):
            position.deleted_at = position.updated_at = now()
            return PositionSchema().dump(position)
