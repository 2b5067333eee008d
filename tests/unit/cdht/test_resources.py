"""cdht.resources on a small service of its own: the routes it writes are @api routes like
any other (in routes_of, the role table and the document, bound by nameko under the attribute
they are assigned to), and a generated handler answers real requests."""
import uuid

import pytest
from marshmallow import Schema, fields
from nameko.containers import ServiceContainer

from cdht import openapi
from cdht.openapi import PageQuery, page_of
from cdht.resources import Routes
from cdht.web import found
from tests.support import TEST_PUBLIC_KEYS, free_port

READERS = ("reviewer", "citizen")
WRITERS = ("commune_staff",)


class ThingSchema(Schema):
    id = fields.UUID()
    name = fields.String(required=True)


class ThingDetailSchema(ThingSchema):
    label = fields.String()


class ThingQuery(PageQuery):
    name = fields.String()


class NewThingSchema(Schema):
    name = fields.String(required=True)


class Shelf:
    """The rows of the generated routes: things kept on the service class, in a dict."""

    def one(self, service, request, view, **path):
        return view(found(service.things.get(path["thing_id"]), "thing"))

    def page(self, service, request, query, view):
        rows = [t for t in service.things.values()
                if query.get("name") in (None, t["name"])]
        items = rows[query["offset"]:query["offset"] + query["limit"]]
        return {"items": view(items), "total": len(rows), "limit": query["limit"],
                "offset": query["offset"]}


THINGS = Routes("/things", "/things/<uuid:thing_id>", ThingSchema, rows=Shelf())
PARTS = Routes("/things/<uuid:thing_id>/parts", "/things/<uuid:thing_id>/parts/<int:number>",
               ThingSchema, tag="things")
A, B = uuid.uuid4(), uuid.uuid4()


class Things:
    """A service of things."""
    name = "things"
    things = {A: {"id": A, "name": "a"}, B: {"id": B, "name": "b"}}
    prefix = "thing "

    list_things = THINGS.list(READERS, "List things", query=ThingQuery,
                              view=lambda rows: ThingSchema(many=True).dump(rows))
    get_thing = THINGS.read(READERS, "Read a thing", view="_labelled",
                            response=ThingDetailSchema)

    def _labelled(self, thing):
        return ThingSchema().dump(thing) | {"label": self.prefix + thing["name"]}

    @THINGS.create(WRITERS, "Make a thing", body=NewThingSchema, errors=(409,))
    def make_thing(self, request):
        return 201, {}

    @THINGS.update(WRITERS, "Rename a thing", body=NewThingSchema)
    def rename_thing(self, request, thing_id):
        return {}

    @THINGS.delete(WRITERS, "Drop a thing", description="For good.")
    def drop_thing(self, request, thing_id):
        return {}

    @PARTS.lists(READERS, "A thing's parts", response=ThingSchema)
    def list_parts(self, request, thing_id):
        return {}

    @PARTS.reads(READERS, "One part")
    def get_part(self, request, thing_id, number):
        return {}


def declared(cls):
    return {(r.method, r.path): r for r in openapi.routes_of(cls)}


def test_each_route_is_declared_with_the_resources_path_and_schemas():
    routes = declared(Things)
    listing = routes["GET", "/things"]
    assert (listing.summary, listing.query, listing.response, listing.roles) == (
        "List things", ThingQuery, page_of(ThingSchema), READERS)
    assert routes["GET", "/things/<uuid:thing_id>"].response is ThingDetailSchema
    made = routes["POST", "/things"]
    assert (made.status, made.body, made.response, made.errors) == (
        201, NewThingSchema, ThingSchema, (409,))
    renamed = routes["PATCH", "/things/<uuid:thing_id>"]
    assert (renamed.status, renamed.body, renamed.response) == (200, NewThingSchema, ThingSchema)
    dropped = routes["DELETE", "/things/<uuid:thing_id>"]
    assert (dropped.response, dropped.description, dropped.body) == (
        ThingSchema, "For good.", None)
    parts = routes["GET", "/things/<uuid:thing_id>/parts"]
    assert (parts.response, parts.tag) == (ThingSchema, "things")
    assert routes["GET", "/things/<uuid:thing_id>/parts/<int:number>"].tag == "things"
    assert routes["GET", "/things"].tag is None


def test_the_role_table_and_the_document_come_from_them():
    assert openapi.permissions(Things) == {
        ("GET", "/things"): READERS, ("POST", "/things"): WRITERS,
        ("GET", "/things/<uuid:thing_id>"): READERS,
        ("PATCH", "/things/<uuid:thing_id>"): WRITERS,
        ("DELETE", "/things/<uuid:thing_id>"): WRITERS,
        ("GET", "/things/<uuid:thing_id>/parts"): READERS,
        ("GET", "/things/<uuid:thing_id>/parts/<int:number>"): READERS}
    doc = openapi.service_document(Things, title="Things", version="1")
    read = doc["paths"]["/things/{thing_id}"]["get"]
    assert read["summary"] == "Read a thing" and read["x-roles"] == list(READERS)
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ThingDetail"}
    assert set(read["responses"]) == {"200", "401", "403", "404"}
    listing = doc["paths"]["/things"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ThingPage"}


def test_nameko_binds_the_generated_handlers_by_their_attribute_names():
    assert openapi.entrypoint_routes(Things) == {
        ("GET", "/things"): "list_things", ("POST", "/things"): "make_thing",
        ("GET", "/things/<uuid:thing_id>"): "get_thing",
        ("PATCH", "/things/<uuid:thing_id>"): "rename_thing",
        ("DELETE", "/things/<uuid:thing_id>"): "drop_thing",
        ("GET", "/things/<uuid:thing_id>/parts"): "list_parts",
        ("GET", "/things/<uuid:thing_id>/parts/<int:number>"): "get_part"}
    container = ServiceContainer(Things, {"AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS})
    assert {(e.method_name, e.method, e.url) for e in container.entrypoints} >= {
        ("list_things", "GET", "/things"), ("get_thing", "GET", "/things/<uuid:thing_id>")}


def test_a_generated_read_is_called_as_a_written_one_would_be():
    service = Things()
    assert service.get_thing(None, A)["label"] == "thing a"
    assert service.get_thing(request=None, thing_id=B)["name"] == "b"
    with pytest.raises(TypeError):
        service.get_thing(None, A, "one too many")
    with pytest.raises(TypeError):
        service.get_thing(None, other_id=A)


def test_a_generated_route_needs_its_rows():
    with pytest.raises(TypeError, match="needs rows"):
        PARTS.read(READERS, "Read a part", view=dict)


@pytest.fixture
def things(container_factory, web_session):
    config = {"AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    container_factory(Things, config).start()
    return lambda **caller: web_session(config, **caller)


def test_generated_handlers_answer_real_requests(things):
    reviewer = things(role="reviewer", unit_code="AG")
    read = reviewer.get(f"/things/{A}")
    assert read.status_code == 200
    assert read.json() == {"id": str(A), "name": "a", "label": "thing a"}
    page = reviewer.get("/things?name=b&limit=5")
    assert page.status_code == 200
    assert page.json() == {"items": [{"id": str(B), "name": "b"}], "total": 1, "limit": 5,
                           "offset": 0}
    assert reviewer.get(f"/things/{uuid.uuid4()}").status_code == 404
    assert reviewer.get("/things?limit=0").json()["errors"] == {
        "limit": ["Must be greater than or equal to 1 and less than or equal to 500."]}
    assert reviewer.get("/things?colour=red").status_code == 400


def test_generated_handlers_keep_the_door(things):
    assert things(auth=False).get(f"/things/{A}").status_code == 401
    assert things(role="commune_staff", unit_code="AG").get("/things").status_code == 403
    assert things().get("/things").status_code == 200  # an admin may call every route
