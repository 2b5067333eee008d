"""A resource's HTTP routes declared once: its collection path, its item path, the schema it
is shown with and the page its lists answer with.

    GROUPS = Routes("/groups", "/groups/<uuid:group_id>", GroupSchema, rows=GROUP)

    class GroupEndpoints:
        list_groups = GROUPS.list(REVIEWERS, "List groups", query=GroupQuery, view=dump_groups)
        get_group = GROUPS.read(REVIEWERS, "Read a group", view=dump_group)

        @GROUPS.create(STAFF, "Create a group", body=NewGroupSchema, errors=(409,))
        def create_group(self, request):
            ...

``read`` and ``list`` write the whole handler; ``create``, ``update``, ``delete``, ``reads``
and ``lists`` decorate one written by hand. Each is an ``@api`` route (cdht.web) with the
resource's path and schema filled in: the OpenAPI document and the role table are derived
from it as from any other, and anything ``@api`` takes may be given to override them.
nameko binds an entrypoint by the class attribute it is assigned to (``get_group`` above).

How a generated handler finds its rows is the service's: ``rows`` has
``one(service, request, view, **path)`` (one row, in the caller's scope, as ``view`` shows
it) and ``page(service, request, query, view)`` (a page for a loaded query). ``view`` is
passed through as the route gives it; a string names a method of the service (a view that
reads the service's settings).
"""
import inspect

from cdht.openapi import openapi_path, page_of
from cdht.web import api, query_of


class Routes:
    """The routes of one resource: ``collection`` (``/groups``), ``item``
    (``/groups/<uuid:group_id>``), ``response`` (the schema of one row), ``page`` (that of a
    list, ``page_of(response)`` unless given), ``tag`` (the document's, when not the path's
    first segment) and ``rows`` (what the generated handlers read through)."""

    def __init__(self, collection, item, response, *, page=None, tag=None, rows=None):
        self.collection, self.item, self.response = collection, item, response
        self.page, self.tag, self.rows = page, tag, rows

    def _route(self, method, path, roles, summary, documented):
        defaults = {"response": self.response, **({"tag": self.tag} if self.tag else {})}
        return api(method, path, roles=roles, summary=summary, **(defaults | documented))

    # -- decorators of the handlers written by hand ----------------------------------------
    def create(self, roles, summary, *, body, **documented):
        """``POST`` on the collection: a 201 with the row made from ``body``."""
        return self._route("POST", self.collection, roles, summary,
                           {"body": body, "status": 201} | documented)

    def update(self, roles, summary, *, body, **documented):
        """``PATCH`` on the item."""
        return self._route("PATCH", self.item, roles, summary, {"body": body} | documented)

    def delete(self, roles, summary, **documented):
        """``DELETE`` on the item (the row as it was removed)."""
        return self._route("DELETE", self.item, roles, summary, documented)

    def reads(self, roles, summary, **documented):
        """``GET`` on the item, handled by hand."""
        return self._route("GET", self.item, roles, summary, documented)

    def lists(self, roles, summary, **documented):
        """``GET`` on the collection, handled by hand: a page unless ``response`` says."""
        return self._route("GET", self.collection, roles, summary,
                           {"response": self.page or page_of(self.response)} | documented)

    # -- whole handlers -----------------------------------------------------------------------
    def read(self, roles, summary, *, view, **documented):
        """The ``GET`` handler of one row: ``rows.one`` of the item path's parameters (by
        name; the handler takes them as a written one would, ``(self, request, group_id)``)."""
        rows = self._rows("read")
        signature = _signature(self.item)

        def read(*args, **kwargs):
            path = signature.bind(*args, **kwargs).arguments
            service, request = path.pop("self"), path.pop("request")
            return rows.one(service, request, _bound(service, view), **path)
        read.__signature__ = signature
        return self.reads(roles, summary, **documented)(_named(read, "read", self.item))

    def list(self, roles, summary, *, query, view, **documented):
        """The ``GET`` handler of a page: ``rows.page`` of the query string loaded with
        ``query`` (a 400 when it does not load)."""
        rows = self._rows("list")

        def list_(service, request):
            return rows.page(service, request, query_of(request, query()),
                             _bound(service, view))
        return self.lists(roles, summary, query=query, **documented)(
            _named(list_, "list", self.collection))

    def _rows(self, what):
        if self.rows is None:
            raise TypeError(f"{self.collection}: a generated {what} route needs rows=...")
        return self.rows


def _signature(rule):
    """``(self, request, <the rule's parameters>)``."""
    names = ["self", "request"] + [p["name"] for p in openapi_path(rule)[1]]
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                              for n in names])


def _bound(service, view):
    return getattr(service, view) if isinstance(view, str) else view


def _named(handler, verb, path):
    """A generated handler as tracebacks name it (nameko names the entrypoint by the class
    attribute it is assigned to)."""
    handler.__name__ = handler.__qualname__ = f"{verb} {path}"
    return handler
