"""cdht.openapi on a small service of its own, and the registry's document: every @api route
of RegistryService is in the document and every documented route is served."""
import pytest
from marshmallow import Schema, fields
from nameko.web.handlers import http

from cdht import openapi
from cdht.openapi import Route
from cdht.web import UtcDateTime, api
from services.registry.service import RegistryService


class ThingSchema(Schema):
    """A thing."""
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, metadata={"description": "what it is called"})


class ThingQuery(Schema):
    limit = fields.Integer(load_default=10)


class Mixin:
    @api("GET", "/extra", roles=("reviewer",), summary="From a mixin")
    def extra(self, request):
        return {}


class Toy(Mixin):
    """A toy service."""
    name = "toy"

    @api("POST", "/things", roles=("commune_staff",), summary="Create a thing",
         body=ThingSchema, response=ThingSchema, status=201)
    def create(self, request):
        pass

    @api("GET", "/things", public=True, query=ThingQuery, response=ThingSchema)
    def list(self, request):
        """List things.

        The summary is the docstring's first paragraph when the decorator gives none."""

    @api("GET", "/things/<uuid:thing_id>", roles=("citizen",), summary="Read a thing",
         response=ThingSchema)
    def read(self, request, thing_id):
        pass

    @http("DELETE", "/things/<int:number>")
    def forgotten(self, request, number):
        """Delete by number.

        Declared with nameko's plain decorator: it still appears, marked."""


@pytest.mark.parametrize("rule, path, params", [
    ("/people", "/people", []),
    ("/people/<uuid:person_id>", "/people/{person_id}",
     [("person_id", {"type": "string", "format": "uuid"})]),
    ("/units/<string:code>/x/<int:n>", "/units/{code}/x/{n}",
     [("code", {"type": "string"}), ("n", {"type": "integer"})]),
    ("/files/<path:rest>", "/files/{rest}", [("rest", {"type": "string"})]),
    ("/plain/<name>", "/plain/{name}", [("name", {"type": "string"})]),
    ("/years/<int(min=2021, max=2100):year>/close", "/years/{year}/close",
     [("year", {"type": "integer", "minimum": 2021, "maximum": 2100})]),
    ("/codes/<string(length=2):code>", "/codes/{code}",
     [("code", {"type": "string", "minLength": 2, "maxLength": 2})]),
])
def test_openapi_path(rule, path, params):
    converted, parameters = openapi.openapi_path(rule)
    assert converted == path
    assert [(p["name"], p["schema"]) for p in parameters] == params
    assert all(p["in"] == "path" and p["required"] for p in parameters)


def test_routes_of_collects_every_decorator_mixins_included():
    assert [(r.method, r.path) for r in openapi.routes_of(Toy)] == [
        ("GET", "/extra"), ("GET", "/things"), ("POST", "/things"),
        ("DELETE", "/things/<int:number>"), ("GET", "/things/<uuid:thing_id>")]
    listed = {r.path + r.method: r for r in openapi.routes_of(Toy)}
    assert listed["/thingsGET"].summary == "List things."


def test_permissions_are_derived_from_the_declarations():
    assert openapi.permissions(Toy) == {
        ("GET", "/extra"): ("reviewer",), ("POST", "/things"): ("commune_staff",),
        ("GET", "/things/<uuid:thing_id>"): ("citizen",)}
    route = next(r for r in openapi.routes_of(Toy) if r.path == "/extra")
    assert route.allows("reviewer") and route.allows("admin")
    assert not route.allows("citizen")


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give roles=... or public=True"),
    ({"roles": ("admin",), "public": True}, "give roles=... or public=True"),
    ({"roles": ("mayor",)}, "unknown roles"),
])
def test_a_route_must_say_who_may_call_it(kwargs, message):
    with pytest.raises(TypeError, match=message):
        class Bad:
            @api("GET", "/x", **kwargs)
            def x(self, request):
                pass
        Bad.x.nameko_entrypoints  # noqa: B018  the decorator runs at definition


def test_document_of_a_service():
    doc = openapi.service_document(Toy, title="Toy", version="0.1")
    assert doc["info"] == {"title": "Toy", "version": "0.1", "description": "A toy service."}
    post = doc["paths"]["/things"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}
    assert post["requestBody"]["required"] is True  # unless the route says body_required=False
    assert set(post["responses"]) == {"201", "400", "401", "403", "415", "422"}
    assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    listing = doc["paths"]["/things"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["limit"]
    assert set(doc["paths"]["/things/{thing_id}"]["get"]["responses"]) == {"200", "401", "403", "404"}
    thing = doc["components"]["schemas"]["Thing"]
    assert thing["required"] == ["name"] and thing["properties"]["id"]["readOnly"] is True
    undeclared = doc["paths"]["/things/{number}"]["delete"]
    assert undeclared["x-undeclared"] is True and undeclared["summary"] == "Delete by number."
    assert doc["paths"]["/extra"]["get"]["summary"] == "From a mixin"
    assert doc["paths"]["/extra"]["get"]["x-roles"] == ["reviewer"]
    assert listing["security"] == []


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


def test_the_registrys_routes_are_declared_with_schemas():
    for route in openapi.routes_of(RegistryService):
        assert "x-undeclared" not in route.extra, route
        if route.method in ("POST", "PATCH") and route.path != "/units/merge":
            body = route.body or route.extra.get("requestBody")  # an LRS's: one or an array
            assert body is not None and route.response is not None, route


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


def test_list_filters_say_what_a_unit_code_may_be():
    """An empty or odd unit_code is refused (400); the document says so, so that a client
    (or schemathesis) generating valid requests does not send one."""
    doc = RegistryService.openapi_document()
    for path in ("/people", "/groups", "/association/bodies", "/learning-activities"):
        [unit_code] = [p for p in doc["paths"][path]["get"]["parameters"]
                       if p["name"] == "unit_code"]
        assert unit_code["schema"]["pattern"] == "^[A-Za-z0-9._-]{1,64}$", path


def test_rules_the_schemas_check_are_in_the_document():
    """A 400 names a rule the document states: a client (or schemathesis) generating valid
    requests from it is never refused with one."""
    doc = RegistryService.openapi_document()
    schemas = doc["components"]["schemas"]
    for name in ("NewPerson", "PersonPatch"):
        assert schemas[name]["properties"]["national_id"]["pattern"].startswith("^(00[1-9]")
    merge = schemas["Merge"]["properties"]
    assert merge["from_codes"]["uniqueItems"] is True
    assert merge["into"]["oneOf"][0]["pattern"] == "^[A-Za-z0-9._-]{1,64}$"
    assert schemas["NewActivity"]["properties"]["evidence_url"]["pattern"].startswith(
        "^https?://")
    assert "restore_removed" not in str(doc["paths"]["/imports/groups"]["post"]["parameters"])
    audit = [p for p in doc["paths"]["/audit"]["get"]["parameters"] if p["name"] == "since"]
    assert audit[0]["schema"]["pattern"] == UtcDateTime.PATTERN


def test_every_operation_with_a_body_or_query_documents_422():
    """But the LRS's: the xAPI specification answers 400 to every statement it refuses."""
    doc = RegistryService.openapi_document()
    for path, item in doc["paths"].items():
        if path.startswith("/xapi/"):
            assert all("400" in op["responses"] for op in item.values()
                       if "requestBody" in op or op.get("parameters")), path
            continue
        for method, operation in item.items():
            if "requestBody" in operation or any(p["in"] == "query" for p in
                                                 operation.get("parameters", [])):
                assert "422" in operation["responses"], (method, path)
