"""The HTTP API of what went out and what a person wants: the delivery log (addresses
masked), an operator's retry of a failed delivery, and a person's opt-outs by category.

Who sees what (cdht.auth): a citizen their own deliveries and preferences; staff those about
their subtree (a delivery's place: its event's unit_path, or where its subject moved since
(moves.py), or their province's weekly summary; a person where the registry places them); an
admin everything.

Mixed into NotificationsService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints).
"""
import logging

from cdht.auth import EVERYONE, STAFF, STAFF_AND_CITIZEN
from cdht.rpc import RpcUnavailable, deadline
from cdht.web import (
    ApiError, Forbidden, NotFound, api, caller_of, found, list_scope, own_or_in_scope,
    query_of, require_scope,
)
from services.notifications import moves
from services.notifications.extensions import RULES
from services.notifications.schemas import (
    DeliveryPageSchema, DeliveryQuerySchema, DeliverySchema, OptOutSchema, PreferencesSchema,
)
from services.notifications.store import now

log = logging.getLogger(__name__)

FILTERS = ("person_id", "source_event_id", "status", "channel", "category", "template")


def _delivery_in_scope(request, delivery):
    own_or_in_scope(request, delivery.person_id, moves.place_of(delivery.context), "the delivery",
                    "a citizen may only see their own notifications")


class DeliveriesApi:
    """The routes of /preferences and /deliveries."""

    # -- opt-outs ---------------------------------------------------------------------------------
    def _person_in_scope(self, request, person_id):
        """A citizen manages only their own preferences; staff those of the people of their
        subtree (the registry says where a person is)."""
        caller = caller_of(request)
        if caller.is_admin:
            return
        if caller.is_citizen:
            if person_id != caller.person_id:
                raise Forbidden("a citizen manages only their own preferences")
            return
        try:
            with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.profile"):
                profile = self.registry.profile(str(person_id))
        except RpcUnavailable as exc:
            raise ApiError(503, f"registry unavailable: {exc}") from None
        if profile is None:
            raise NotFound("person")
        require_scope(request, profile["unit_path"], "the person")

    @api("GET", "/preferences/<uuid:person_id>",
         roles=STAFF_AND_CITIZEN,
         summary="A person's categories and opt-outs",
         response=PreferencesSchema)
    def preferences(self, request, person_id):
        self._person_in_scope(request, person_id)
        with self.db.store() as store:
            out = store.categories_opted_out(person_id)
        return {"person_id": person_id, "categories": [
            {"name": name, "mandatory": mandatory, "opted_out": name in out}
            for name, mandatory in sorted(RULES.categories.items())]}

    @api("PUT", "/preferences/<uuid:person_id>/<string:category>",
         roles=STAFF_AND_CITIZEN,
         summary="Opt a person out of a category of notifications",
         response=OptOutSchema,
         errors=(409,),
         description="Mandatory categories (rules.yaml) cannot be opted out "
                     "of: 409.")
    def opt_out(self, request, person_id, category):
        self._person_in_scope(request, person_id)
        if category not in RULES.categories:
            raise NotFound(f"category {category}")
        if RULES.is_mandatory(category):
            raise ApiError(409, "invalid input", {"category": [
                f"{category} is mandatory: it cannot be opted out of"]})
        with self.db.store(write=True) as store:
            store.opt_out(person_id, category)
        log.info("person %s opted out of %s", person_id, category)
        return {"person_id": person_id, "category": category, "opted_out": True}

    @api("DELETE", "/preferences/<uuid:person_id>/<string:category>",
         roles=STAFF_AND_CITIZEN,
         summary="Opt a person back in to a category",
         response=OptOutSchema)
    def opt_in(self, request, person_id, category):
        self._person_in_scope(request, person_id)
        if category not in RULES.categories:
            raise NotFound(f"category {category}")
        with self.db.store(write=True) as store:
            store.opt_in(person_id, category)
        return {"person_id": person_id, "category": category, "opted_out": False}

    # -- the delivery log -------------------------------------------------------------------------
    @api("GET", "/deliveries",
         roles=EVERYONE,
         summary="The delivery log: what went to whom, when, how (addresses "
                 "masked)",
         query=DeliveryQuerySchema,
         response=DeliveryPageSchema)
    def deliveries(self, request):
        query = query_of(request, DeliveryQuerySchema())
        filters = {name: query[name] for name in FILTERS if query[name] is not None}
        with self.db.store() as store:
            total, rows = store.page(filters, query["since"], query["until"],
                                     list_scope(request), query["limit"], query["offset"])
            return {"items": DeliverySchema(many=True).dump(rows), "total": total,
                    "limit": query["limit"], "offset": query["offset"]}

    @api("GET", "/deliveries/<uuid:delivery_id>",
         roles=EVERYONE,
         summary="Read a delivery",
         response=DeliverySchema)
    def delivery(self, request, delivery_id):
        with self.db.store() as store:
            row = found(store.delivery(delivery_id), "delivery")
            _delivery_in_scope(request, row)
            return DeliverySchema().dump(row)

    @api("POST", "/deliveries/<uuid:delivery_id>/retry",
         roles=STAFF,
         summary="Send a failed delivery again (after fixing the relay, the gateway, the address)",
         response=DeliverySchema,
         errors=(409,))
    def retry_delivery(self, request, delivery_id):
        with self.db.store(write=True) as store:
            row = found(store.delivery(delivery_id, for_update=True), "delivery")
            _delivery_in_scope(request, row)
            if row.status != "failed":
                raise ApiError(409, "invalid input", {"status": [
                    f"only a failed delivery can be retried; this one is {row.status}"]})
            row.status = "pending"
            row.next_attempt_at = now() + self._lease()
            row.updated_at = now()
        log.info("delivery %s: retried by an operator", delivery_id)
        self._attempt_safely(delivery_id)
        with self.db.store() as store:
            return DeliverySchema().dump(store.delivery(delivery_id))
