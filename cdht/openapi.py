"""OpenAPI 3 documents for the services' HTTP APIs, built from their marshmallow schemas.

A route is declared once, by its ``@api`` decorator (cdht.web), which carries everything
about it: method, path, the roles that may call it, summary, query, body and response
schemas. ``routes_of`` collects those declarations from a service class (mixins included),
``build_document`` turns them into an OpenAPI document with apispec's MarshmallowPlugin, and
``render_html`` into a self-contained docs page (no Swagger UI or CDN). ``permissions``
derives the role table from the same declarations.

    @api("GET", "/people/<uuid:person_id>", roles=EVERYONE, response=PersonSchema)
    def get_person(self, request, person_id):
        ...                     # the docstring's first paragraph is the summary, if none given
"""
import re
from dataclasses import dataclass, field, replace

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from jinja2 import Environment
from marshmallow import Schema, fields, validate
from nameko.web.handlers import HttpRequestHandler

OPENAPI_VERSION = "3.0.3"

ERROR_DESCRIPTIONS = {
    400: "Invalid input, against this document (text holding a NUL character included): "
         "`errors` holds a message per field",
    401: "No bearer token, or one that is expired, badly signed or names an unknown role",
    403: "The token's role may not call this, or the target is outside the caller's unit "
         "subtree (a citizen: not their own record)",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with what is recorded: `errors` holds a message per field",
    413: "Body too large",
    415: "Body is not `application/json`",
    422: "Well-formed, but refused by a rule this document cannot state (a unit, person or "
         "group that is not recorded; a rule between fields or against what is recorded): "
         "`errors` holds a message per field",
    503: "A dependency (database, broker) does not answer",
}

# werkzeug converters -> OpenAPI schema of the path parameter
_CONVERTERS = {
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
    "any": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}
_RULE_PART = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
# werkzeug converter arguments the document states (``<int(min=2021, max=2100):year>``)
_CONVERTER_BOUNDS = {"min": "minimum", "max": "maximum", "minlength": "minLength",
                     "maxlength": "maxLength", "length": ("minLength", "maxLength")}


class ErrorSchema(Schema):
    """The body of every 4xx/5xx answer (cdht.web)."""
    error = fields.String(required=True, metadata={"description": "what went wrong"})
    errors = fields.Dict(keys=fields.String(), metadata={
        "description": "field name -> list of messages (nested for nested fields)"})


_PAGES = {}


def page_of(item_schema):
    """The schema of one page of a list: items, the total matching, and the page asked for."""
    if item_schema not in _PAGES:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _PAGES[item_schema] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "total": fields.Integer(required=True,
                                    metadata={"description": "rows matching the filters"}),
            "limit": fields.Integer(required=True),
            "offset": fields.Integer(required=True),
            "__doc__": f"One page of {item_schema.__name__.removesuffix('Schema')} items.",
        })
    return _PAGES[item_schema]


MAX_PAGE = 500


class PageQuery(Schema):
    """The paging of a list's query string, the same for every list: a query schema
    subclasses it and adds its filters. The offset stays within PostgreSQL's integer."""
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": f"page size, at most {MAX_PAGE}"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


@dataclass(frozen=True)
class ListOf:
    """A response that is a JSON array of ``item`` (a marshmallow schema has no top-level
    array): ``Route(..., response=ListOf(ItemSchema))``."""
    item: type


@dataclass(frozen=True)
class Route:
    """One HTTP route as the documentation shows it.

    ``path`` is the werkzeug rule exactly as given to ``@api`` (``/people/<uuid:person_id>``).
    ``query``, ``body`` and ``response`` are marshmallow schema classes; ``errors`` adds error
    statuses to those implied (400 and 422 for a body or query, 415 for a body, 404 for a
    path parameter). ``roles`` may call it (admin always may); a ``public`` route needs no token.
    """
    method: str
    path: str
    summary: str | None = None
    response: type | None = None
    status: int = 200
    body: type | None = None
    body_required: bool = True  # False: the body may be left out (its fields' defaults)
    query: type | None = None
    errors: tuple = ()
    description: str | None = None
    tag: str | None = None
    media_type: str = "application/json"
    roles: tuple = ()
    public: bool = False
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def allows(self, role):
        """Whether ``role`` may call the route at all (scope inside it is the handler's)."""
        return self.public or role == "admin" or role in self.roles


def _entrypoints(service_cls):
    """(handler name, handler, HTTP entrypoint) of every HTTP entrypoint of a service class."""
    for name in sorted(dir(service_cls)):
        member = getattr(service_cls, name, None)
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                yield name, member, entrypoint


def entrypoint_routes(service_cls):
    """{(METHOD, rule): handler name} of every HTTP entrypoint (``@api``/``@http``)."""
    found = {}
    for name, _, entrypoint in _entrypoints(service_cls):
        for method in entrypoint.method.split(","):
            found[(method.strip().upper(), entrypoint.url)] = name
    return found


def routes_of(service_cls):
    """Every route a service class serves, as its ``@api`` decorator declared it (the
    summary taken from the handler's docstring when the decorator gives none). A plain
    nameko ``@http`` entrypoint, which declares nothing, still appears, marked
    ``x-undeclared``: the document never silently lacks a route."""
    routes = []
    for name, handler, entrypoint in _entrypoints(service_cls):
        doc = (handler.__doc__ or "").strip()
        first = doc.split("\n\n")[0].replace("\n", " ").strip() if doc else name
        route = getattr(entrypoint, "route", None)
        if route is None:
            routes.append(Route(entrypoint.method.upper(), entrypoint.url, first,
                                description=doc or None, extra={"x-undeclared": True}))
        elif route.summary is None:
            routes.append(replace(route, summary=first))
        else:
            routes.append(route)
    return sorted(routes, key=lambda r: (r.path, r.method))


def permissions(service_cls):
    """{(METHOD, rule): roles} of every route that needs a token: the role table, derived
    from the routes' declarations (README, "Security", prints it)."""
    return {(r.method, r.path): r.roles for r in routes_of(service_cls)
            if not r.public and "x-undeclared" not in r.extra}


def openapi_path(rule):
    """werkzeug rule -> (OpenAPI path, its path parameters)."""
    parameters = []

    def replace(match):
        converter = match.group("converter") or "default"
        schema = dict(_CONVERTERS.get(converter, {"type": "string"}))
        for argument in filter(None, (match.group("args") or "").split(",")):
            name, _, value = (part.strip() for part in argument.partition("="))
            keys = _CONVERTER_BOUNDS.get(name, ())
            for key in (keys,) if isinstance(keys, str) else keys:
                schema[key] = int(value)
        parameters.append({"name": match.group("name"), "in": "path", "required": True,
                           "schema": schema})
        return "{" + match.group("name") + "}"
    return _RULE_PART.sub(replace, rule), parameters


SECURITY_SCHEME = "bearerAuth"


def _secure(operation, route):
    """Declare the bearer token (cdht.auth) on a route that needs one: the roles allowed
    (x-roles), 401 and 403; a public route says ``security: []``."""
    if route.public:
        operation["security"] = []
        return
    roles = list(route.roles) or ["admin"]
    operation["security"] = [{SECURITY_SCHEME: []}]
    operation["x-roles"] = roles
    note = "Roles: " + ", ".join(roles) + "."
    operation["description"] = (operation["description"] + "\n\n" + note
                                if operation.get("description") else note)
    for status in (401, 403):
        operation["responses"].setdefault(str(status), {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ErrorSchema}}})


def _operation(route, path_parameters):
    operation = {"summary": route.summary,
                 "tags": [route.tag or route.path.strip("/").split("/")[0] or "root"],
                 "operationId": f"{route.method.lower()}_" + re.sub(
                     r"\W+", "_", route.path.strip("/")).strip("_")}
    if route.description:
        operation["description"] = route.description
    parameters = list(path_parameters)
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": route.body_required, "content": {
            "application/json": {"schema": route.body}}}
    ok = {"description": route.summary}
    if isinstance(route.response, ListOf):
        ok["content"] = {route.media_type: {"schema": {"type": "array",
                                                       "items": route.response.item}}}
    elif route.response is not None:
        ok["content"] = {route.media_type: {"schema": route.response}}
    elif route.media_type != "application/json":
        ok["content"] = {route.media_type: {"schema": {"type": "string"}}}
    responses = {str(route.status): ok}
    implied = set(route.errors)
    if route.body is not None:
        implied |= {400, 415, 422}
    if route.query is not None:
        implied |= {400, 422}
    if path_parameters:
        implied.add(404)
    for status in sorted(implied):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": ErrorSchema}}}
    operation["responses"] = responses
    operation.update(route.extra)
    return operation


def build_document(routes, *, title, version, description=None, schemas=(), secured=True):
    """The OpenAPI 3 document (a dict) of ``routes``; ``schemas`` are extra schema classes to
    list as components (e.g. one only referenced from a field's metadata). When ``secured``
    every route but the public ones declares the bearer token and the roles that may call
    it."""
    spec = APISpec(title=title, version=version, openapi_version=OPENAPI_VERSION,
                   plugins=[MarshmallowPlugin()],
                   **({"info": {"description": description}} if description else {}))
    spec.components.schema("Error", schema=ErrorSchema)
    if secured:
        spec.components.security_scheme(SECURITY_SCHEME, {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from `cdht token` (EdDSA/Ed25519, verified with "
                           "AUTH_PUBLIC_KEYS by its kid): claims sub, role, unit, iss, aud, "
                           "jti, iat, nbf, exp."})
    for schema in schemas:
        name = schema.__name__.removesuffix("Schema")
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=schema)
    by_path = {}
    for route in routes:
        by_path.setdefault(route.path, []).append(route)
    for rule in sorted(by_path):
        path, path_parameters = openapi_path(rule)
        operations = {}
        for route in by_path[rule]:
            method = route.method.lower()
            if method in operations:
                raise ValueError(f"{route.method} {rule} is declared twice")
            operations[method] = _operation(route, path_parameters)
            if secured:
                _secure(operations[method], route)
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def service_document(service_cls, *, title, version, description=None, schemas=()):
    """``build_document`` of every route a service class serves (``routes_of``)."""
    return build_document(routes_of(service_cls), title=title, version=version,
                          description=description or (service_cls.__doc__ or "").strip(),
                          schemas=schemas)


# -- the docs page ----------------------------------------------------------------------------
def _ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def describe(schema):
    """A short type description of a JSON schema: ("array of <a href>Person</a>", notes)."""
    if not isinstance(schema, dict):
        return {"type": str(schema), "ref": None, "notes": []}
    if "$ref" in schema:
        return {"type": None, "ref": _ref_name(schema["$ref"]), "notes": []}
    notes = []
    for key in ("format", "minimum", "maximum", "minLength", "maxLength", "minItems",
                "maxItems", "pattern", "default"):
        if key in schema:
            notes.append(f"{key}: {schema[key]}")
    if "enum" in schema:
        notes.append("one of: " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    if schema.get("nullable"):
        notes.append("nullable")
    if schema.get("readOnly"):
        notes.append("read only")
    if "oneOf" in schema:
        options = [describe(o) for o in schema["oneOf"]]
        return {"type": "one of", "ref": None, "notes": notes, "options": options}
    if schema.get("type") == "array":
        inner = describe(schema.get("items", {}))
        return {"type": "array of", "ref": None, "notes": notes, "items": inner}
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    return {"type": kind or "any", "ref": None, "notes": notes}


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ doc.info.title }} {{ doc.info.version }}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{margin-bottom:0}.muted{color:#666}code{font-size:.95em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.2em;font-weight:700;text-transform:uppercase}
.get{color:#1769aa}.post{color:#2e7d32}.patch{color:#b26a00}.delete{color:#c62828}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border-bottom:1px solid #eee;text-align:left;padding:.25em .5em;vertical-align:top}
th{background:#fafafa}nav a{margin-right:.8em}
</style></head><body>
<h1>{{ doc.info.title }}</h1>
<p class="muted">version {{ doc.info.version }} &middot; OpenAPI {{ doc.openapi }} &middot;
<a href="openapi.json">openapi.json</a></p>
{% if doc.info.description %}<p>{{ doc.info.description }}</p>{% endif %}
{% macro typ(d) -%}
{%- if d.ref %}<a href="#schema-{{ d.ref }}">{{ d.ref }}</a>
{%- elif d.items %}array of {{ typ(d['items']) }}
{%- elif d.options %}one of: {% for o in d.options -%}
  {{ typ(o) }}{% if not loop.last %} | {% endif %}{% endfor %}
{%- else %}{{ d.type }}{% endif %}
{%- if d.notes %} <span class="muted">({{ d.notes|join('; ') }})</span>{% endif %}
{%- endmacro %}
<h2>Operations</h2>
<nav>{% for tag in tags %}<a href="#tag-{{ tag }}">{{ tag }}</a>{% endfor %}</nav>
{% for tag in tags %}<h3 id="tag-{{ tag }}">{{ tag }}</h3>
{% for op in operations if op.tag == tag %}
<div class="op" id="{{ op.id }}"><span class="m {{ op.method }}">{{ op.method }}</span>
<code>{{ op.path }}</code> &mdash; {{ op.summary }}
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th>
<th>description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p['in'] }}</td>
<td>{{ typ(p.type) }}</td><td>{{ 'yes' if p.required else '' }}</td>
<td>{{ p.description or '' }}</td></tr>{% endfor %}</table>{% endif %}
{% if op.body %}<p>Body: {{ typ(op.body) }}</p>{% endif %}
<table><tr><th>status</th><th>meaning</th><th>body</th></tr>
{% for r in op.responses %}<tr><td>{{ r.status }}</td><td>{{ r.description }}</td>
<td>{% for media, d in r.content %}<code>{{ media }}</code> {{ typ(d) }}{% endfor %}</td></tr>
{% endfor %}</table></div>
{% endfor %}{% endfor %}
<h2>Schemas</h2>
{% for s in schemas %}<div class="op" id="schema-{{ s.name }}"><strong>{{ s.name }}</strong>
{% if s.description %}<span class="muted"> &mdash; {{ s.description }}</span>{% endif %}
<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>
{% for f in s.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ typ(f.type) }}</td>
<td>{{ 'yes' if f.required else '' }}</td><td>{{ f.description or '' }}</td></tr>
{% endfor %}</table></div>{% endfor %}
</body></html>
"""

_env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_html(document):
    """A readable, self-contained HTML page of an OpenAPI document (no scripts, no CDN)."""
    operations = []
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete", "head", "options"):
                continue
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required"),
                       "description": p.get("description") or p.get("schema", {}).get(
                           "description"),
                       "type": describe(p.get("schema", {}))}
                      for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = [{"status": status, "description": r.get("description", ""),
                          "content": [(media, describe(c.get("schema", {})))
                                      for media, c in r.get("content", {}).items()]}
                         for status, r in op.get("responses", {}).items()]
            operations.append({
                "id": op.get("operationId", f"{method}-{path}"), "method": method,
                "path": path, "summary": op.get("summary", ""),
                "description": op.get("description"), "tag": (op.get("tags") or ["root"])[0],
                "parameters": params, "body": describe(body["schema"]) if body else None,
                "responses": responses})
    tags = sorted({op["tag"] for op in operations})
    schemas = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas.append({"name": name, "description": schema.get("description"),
                        "fields": [{"name": prop, "type": describe(spec),
                                    "required": prop in required,
                                    "description": spec.get("description")
                                    if isinstance(spec, dict) else None}
                                   for prop, spec in schema.get("properties", {}).items()]})
    return _env.from_string(_TEMPLATE).render(doc=document, operations=operations, tags=tags,
                                             schemas=schemas)
