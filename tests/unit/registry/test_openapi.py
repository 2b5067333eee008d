"""cdht.openapi on a small service of its own, and the registry's document: every @api route
of RegistryService is in the document and every documented route is served."""
import pytest
from marshmallow import Schema, fields

from cdht import openapi
from cdht.openapi import Route
from cdht.web import api
from services.registry.service import RegistryService


class ThingSchema(Schema):
    """A thing."""
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, metadata={"description": "what it is called"})


class ThingQuery(Schema):
    limit = fields.Integer(load_default=10)


class Mixin:
    openapi_routes = (Route("GET", "/extra", "From a mixin"),)

    @api("GET", "/extra")
    def extra(self, request):
        return {}


class Toy(Mixin):
    """A toy service."""
    name = "toy"
    openapi_routes = (
        Route("POST", "/things", "Create a thing", body=ThingSchema, response=ThingSchema,
              status=201),
        Route("GET", "/things", "List things", query=ThingQuery, response=ThingSchema),
        Route("GET", "/things/<uuid:thing_id>", "Read a thing", response=ThingSchema),
    )

    @api("POST", "/things")
    def create(self, request):
        pass

    @api("GET", "/things")
    def list(self, request):
        pass

    @api("GET", "/things/<uuid:thing_id>")
    def read(self, request, thing_id):
        pass

    @api("DELETE", "/things/<int:number>")
    def forgotten(self, request, number):
        """Delete by number.

        Nobody declared this one."""


@pytest.mark.parametrize("rule, path, params", [
    ("/people", "/people", []),
    ("/people/<uuid:person_id>", "/people/{person_id}",
     [("person_id", {"type": "string", "format": "uuid"})]),
    ("/units/<string:code>/x/<int:n>", "/units/{code}/x/{n}",
     [("code", {"type": "string"}), ("n", {"type": "integer"})]),
    ("/files/<path:rest>", "/files/{rest}", [("rest", {"type": "string"})]),
    ("/plain/<name>", "/plain/{name}", [("name", {"type": "string"})]),
])
def test_openapi_path(rule, path, params):
    converted, parameters = openapi.openapi_path(rule)
    assert converted == path
    assert [(p["name"], p["schema"]) for p in parameters] == params
    assert all(p["in"] == "path" and p["required"] for p in parameters)


def test_routes_of_collects_mixins_first():
    assert [r.path for r in openapi.routes_of(Toy)] == ["/extra", "/things", "/things",
                                                       "/things/<uuid:thing_id>"]


def test_undocumented_names_both_directions():
    missing, unserved = openapi.undocumented(Toy)
    assert missing == [("DELETE", "/things/<int:number>")]
    assert unserved == []
    _, unserved = openapi.undocumented(Toy, [Route("GET", "/ghost", "Not served")])
    assert unserved == [("GET", "/ghost")]


def test_document_of_a_service():
    doc = openapi.service_document(Toy, title="Toy", version="0.1")
    assert doc["info"] == {"title": "Toy", "version": "0.1", "description": "A toy service."}
    post = doc["paths"]["/things"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}
    assert set(post["responses"]) == {"201", "400", "415"}
    assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    listing = doc["paths"]["/things"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["limit"]
    assert set(doc["paths"]["/things/{thing_id}"]["get"]["responses"]) == {"200", "404"}
    thing = doc["components"]["schemas"]["Thing"]
    assert thing["required"] == ["name"] and thing["properties"]["id"]["readOnly"] is True
    undeclared = doc["paths"]["/things/{number}"]["delete"]
    assert undeclared["x-undeclared"] is True and undeclared["summary"] == "Delete by number."
    assert doc["paths"]["/extra"]["get"]["summary"] == "From a mixin"


def test_a_route_declared_twice_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        openapi.build_document([Route("GET", "/a", "one"), Route("GET", "/a", "two")],
                               title="t", version="1")


def test_html_page_escapes_and_links():
    doc = openapi.build_document(
        [Route("POST", "/things", "Create <things>", body=ThingSchema, response=ThingSchema)],
        title="Toy & co", version="1")
    page = openapi.render_html(doc)
    assert "Toy &amp; co" in page and "Create &lt;things&gt;" in page
    assert 'href="#schema-Thing"' in page and 'id="schema-Thing"' in page
    assert "what it is called" in page
    assert "<script" not in page


# -- the registry ------------------------------------------------------------------------------
def test_every_registry_route_is_in_the_document_and_vice_versa():
    doc = RegistryService.openapi_document()
    served = {(method.lower(), openapi.openapi_path(rule)[0])
              for method, rule in openapi.entrypoint_routes(RegistryService)}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert served == documented
    _, unserved = openapi.undocumented(RegistryService)
    assert unserved == []


def test_the_registrys_own_routes_are_declared_with_schemas():
    """Routes of RegistryService itself (not of a mixin) must be declared in ROUTES; a mixin
    declares its own ``openapi_routes`` (until then its routes appear as x-undeclared)."""
    own = {name for name, value in vars(RegistryService).items()
           if getattr(value, "nameko_entrypoints", None)}
    missing, _ = openapi.undocumented(RegistryService)
    handlers = openapi.entrypoint_routes(RegistryService)
    assert [route for route in missing if handlers[route] in own] == []
    for route in openapi.routes_of(RegistryService):
        if route.method in ("POST", "PATCH") and route.path != "/units/merge":
            assert route.body is not None and route.response is not None, route


def test_registry_document_references_resolve():
    doc = RegistryService.openapi_document()
    schemas = doc["components"]["schemas"]
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(doc)
    assert refs and refs <= set(schemas)
    assert "national_id" not in schemas["Person"]["properties"] or \
        schemas["Person"]["properties"]["national_id"].get("writeOnly")
