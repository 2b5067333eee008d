"""The OpenAPI document and the docs page, served by the running registry."""
from cdht.openapi import entrypoint_routes, openapi_path
from services.registry.service import RegistryService


def test_openapi_json_lists_every_route(registry):
    doc = registry.get("/openapi.json")
    assert doc["openapi"].startswith("3.")
    served = {(method.lower(), openapi_path(rule)[0])
              for method, rule in entrypoint_routes(RegistryService)}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert documented == served
    people = doc["paths"]["/people"]
    assert people["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewPerson"}


def test_docs_page_is_self_contained_html(registry):
    response = registry.call("GET", "/docs", status=200)
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<script" not in page and "http://" not in page and "https://cdn" not in page
    for fragment in ("/people/{person_id}", "/units/merge", 'id="schema-Person"',
                     "national_id_masked", "limit"):
        assert fragment in page
