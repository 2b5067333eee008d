"""The registry service: units and people over HTTP, profiles and contacts over RPC.

Each change and the event announcing it are committed together (outbox).
"""
import uuid

from nameko.rpc import rpc
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cdht.db import Database
from nameko.dependency_providers import Config
from cdht.outbox import add_event
from cdht.web import ApiError, NotFound, api, correlation_id, health, load_json
from services.registry import domain
from services.registry.import_api import ImportEndpoints
from services.registry.models import Person, Unit
from services.registry.schemas import NewPersonSchema, PersonSchema, UnitSchema


def _unit_path(session, code):
    parents = dict(session.execute(select(Unit.code, Unit.parent_code)).all())
    return domain.unit_path(parents, code)


class RegistryService(ImportEndpoints):
    name = "registry"
    db = Database(relay=True)
    config = Config()

    @api("GET", "/health")
    def health(self, request):
        return health(self.db, self.config["AMQP_URI"])

    # -- units -----------------------------------------------------------------------------
    @api("POST", "/units")
    def create_unit(self, request):
        data = load_json(request, UnitSchema())
        with self.db.transaction() as session:
            if session.get(Unit, data["code"]):
                raise ApiError(409, "invalid input", {"code": ["a unit with this code exists"]})
            if data["parent_code"] and not session.get(Unit, data["parent_code"]):
                raise ApiError(400, "invalid input", {"parent_code": ["unknown unit"]})
            session.add(Unit(**data))
        return 201, UnitSchema().dump(data)

    @api("GET", "/units/<string:code>")
    def get_unit(self, request, code):
        with self.db.read() as session:
            unit = session.get(Unit, code)
            if unit is None:
                raise NotFound("unit")
            return UnitSchema().dump(unit) | {"path": _unit_path(session, code)}

    # -- people ----------------------------------------------------------------------------
    @api("POST", "/people")
    def register_person(self, request):
        data = load_json(request, NewPersonSchema())
        data["full_name"] = domain.normalise_name(data["full_name"])
        try:
            domain.check_new_person(data["national_id"], data["birth_date"], data["gender"])
        except domain.InvalidPerson as exc:
            raise ApiError(400, "invalid input", exc.errors) from None
        try:
            with self.db.transaction() as session:
                if not session.get(Unit, data["unit_code"]):
                    raise ApiError(400, "invalid input", {"unit_code": ["unknown unit"]})
                person = Person(id=uuid.uuid4(), **data)
                session.add(person)
                session.flush()
                add_event(session, "person_registered", {
                    "person_id": person.id,
                    "unit_code": person.unit_code,
                    "unit_path": _unit_path(session, person.unit_code),
                    "target_group": person.target_group,
                    "roles": person.roles,
                    "birth_year": person.birth_date.year,
                }, producer=self.name, correlation_id=correlation_id(request))
        except IntegrityError:
            raise ApiError(409, "invalid input",
                           {"national_id": ["a person with this national ID exists"]}) from None
        return 201, PersonSchema().dump(person)

    @api("GET", "/people/<uuid:person_id>")
    def get_person(self, request, person_id):
        with self.db.read() as session:
            person = session.get(Person, person_id)
            if person is None or person.deleted_at:
                raise NotFound("person")
            return PersonSchema().dump(person)

    # -- RPC for the other services ----------------------------------------------------------
    @rpc
    def profile(self, person_id):
        """What assessment needs to place a person: unit, path, group, birth year. No PII."""
        with self.db.read() as session:
            person = session.get(Person, uuid.UUID(str(person_id)))
            if person is None or person.deleted_at:
                return None
            return {"person_id": str(person.id), "unit_code": person.unit_code,
                    "unit_path": _unit_path(session, person.unit_code),
                    "target_group": person.target_group, "roles": list(person.roles),
                    "birth_year": person.birth_date.year}

    @rpc
    def contact(self, person_id):
        """Contact details, asked at the moment a notification is sent (never in events)."""
        with self.db.read() as session:
            person = session.get(Person, uuid.UUID(str(person_id)))
            if person is None or person.deleted_at:
                return None
            return {"person_id": str(person.id), "full_name": person.full_name,
                    "email": person.email, "phone": person.phone, "language": person.language}
