"""The registry service: units, people, groups, the association and learning activities over
HTTP (learning records also as xAPI statements, xapi_api.py); profiles, contacts,
memberships and paged exports over RPC.

The handlers live in one module per resource, as mixins this class composes; every query is
in store/, every rule in domain.py. Each change and the events announcing it are committed
together (outbox).
"""
from nameko.dependency_providers import Config

from cdht.db import Database
from cdht.web import Observed
# the mixins by module: `nameko run services.registry.service` starts every class of this
# module that has entrypoints, so no mixin may be a module attribute here
from services.registry import (
    activities, association, exports, group_titles, groups, memberships, people, rpc, units,
    xapi_api,
)
from services.registry.imports import api as import_api
from services.registry.schemas import NewMergedUnitSchema, PersonFactsSchema
from services.registry.store import Stores


class RegistryService(units.UnitEndpoints, people.PeopleEndpoints, groups.GroupEndpoints,
                      memberships.MembershipEndpoints, association.AssociationEndpoints,
                      activities.ActivityEndpoints, group_titles.TitleEndpoints,
                      xapi_api.XapiEndpoints, rpc.RegistryRpc, exports.StructureExports,
                      import_api.ImportEndpoints, Observed):
    """The province's people, groups, association and units: who is counted toward every
    target of the Learning Citizen programme."""
    name = "registry"
    db = Database(relay=True)
    store = Stores()
    config = Config()
    api_schemas = (NewMergedUnitSchema, PersonFactsSchema)  # referenced from descriptions only
