"""Events in (cdht.consumer.handle_event): what each event becomes.

The rule of the event (rules.yaml) names the recipients, asked of the registry by RPC; in one
transaction the event is recorded in the inbox and, per recipient, either
- a delivery row (pending; one per (event, person, channel), unique), attempted at once
  (sending.py), or
- a digest item (daily digests: at most one mail a day per recipient; schedules.py), or
- a "skipped" delivery row when the person opted out of a category that is not mandatory.
The event is then acked: from here on the deliveries are this service's own work.

The registry's unit_changed and association_body_changed keep the names messages use
(places.py). Its moves (person_moved, people_imported, units_merged, and unit_changed for a
unit under another parent) place the deliveries concerned where they are now (moves.py).

Each handler's consumer name, and so its queue (``evt-<source>-<type>--notifications.<method>``),
is derived from its method name (cdht.consumer): a handler keeps its name.

Mixed into NotificationsService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints).
"""
import logging

from cdht.consumer import handle_event
from cdht.inbox import first_delivery
from cdht.rpc import RpcUnavailable, deadline
from services.notifications import moves, places, rules
from services.notifications.extensions import RULES

log = logging.getLogger(__name__)


class EventIntake:
    """The event handlers: a rule's recipients, their deliveries or digest items."""

    @handle_event("assessment", "recognition_granted", expected_exceptions=(RpcUnavailable,))
    def on_recognition_granted(self, event):
        self._on_event(event)

    @handle_event("assessment", "recognitions_granted", expected_exceptions=(RpcUnavailable,))
    def on_recognitions_granted(self, event):
        """A closing's recognitions, up to 500 an event: each person is told as for a
        recognition_granted (rules.yaml's bulk), every delivery opened in the one
        transaction that records the event, then attempted."""
        self._on_bulk(event)

    @handle_event("assessment", "recognition_refused", version=2,
                  expected_exceptions=(RpcUnavailable,))
    def on_recognition_refused(self, event):
        """Version 2: the reasons as data, written in each recipient's language (version 1,
        published beside it, is acked unhandled)."""
        self._on_event(event)

    @handle_event("assessment", "recognitions_refused", expected_exceptions=(RpcUnavailable,))
    def on_recognitions_refused(self, event):
        """A closing's refusals, up to 500 an event, each told as a recognition_refused."""
        self._on_bulk(event)

    @handle_event("assessment", "assessment_submitted", expected_exceptions=(RpcUnavailable,))
    def on_assessment_submitted(self, event):
        self._on_event(event)

    @handle_event("reporting", "target_reached", expected_exceptions=(RpcUnavailable,))
    def on_target_reached(self, event):
        self._on_event(event)

    @handle_event("reporting", "target_at_risk", expected_exceptions=(RpcUnavailable,))
    def on_target_at_risk(self, event):
        self._on_event(event)

    @handle_event("registry", "unit_changed")
    def on_unit_changed(self, event):
        """Units by name in every message (places.py); a unit placed under another parent
        takes its deliveries, and those of the units under it, along (moves.py)."""
        data = event.data
        with self.db.transaction() as session:
            if first_delivery(session, event):
                before = places.path_of(session, data["unit_code"])
                places.record_unit(session, data)
                if data["change"] != "created" and before != list(data["unit_path"]):
                    moves.move_units(session, {data["unit_code"]: data["unit_path"]})

    @handle_event("registry", "person_moved")
    def on_person_moved(self, event):
        """A person's own deliveries follow them: the new unit's staff see them."""
        self._follow(event, moves.move_people, [event.data])

    @handle_event("registry", "people_imported")
    def on_people_imported(self, event):
        """An import batch's moved people, as person_moved."""
        self._follow(event, moves.move_people,
                     [p for p in event.data["people"] if p["change"] == "moved"])

    @handle_event("registry", "units_merged")
    def on_units_merged(self, event):
        """The merged units' deliveries are the new unit's."""
        data = event.data
        self._follow(event, moves.move_units,
                     {path[-1]: data["unit_path"] for path in data["from_unit_paths"]})

    def _follow(self, event, move, moved):
        with self.db.transaction() as session:
            if first_delivery(session, event) and moved:
                move(session, moved)

    @handle_event("registry", "association_body_changed")
    def on_association_body_changed(self, event):
        """A commune association's own name signs its decisions' mails."""
        with self.db.transaction() as session:
            if first_delivery(session, event):
                places.record_body(session, event.data)

    def _on_bulk(self, event):
        bulk = RULES.for_bulk(event.event_type)
        self._on_event(event, bulk.rule, event.to_message()["data"][bulk.items])

    def _on_event(self, event, rule=None, facts=None):
        """``facts``: what each notice is about (the event's data, or the items of a bulk
        event, told by ``rule``)."""
        rule = rule or RULES.for_event(event.event_type)
        if rule.asks_registry:  # a duplicate is dropped before the RPC, not only after it
            with self.db.store() as store:
                done = store.processed(event)
            if done:
                log.info("%s %s already handled; duplicate dropped", event.event_type,
                         event.event_id)
                return
        province = self.config.get("PROVINCE_CODE")
        told = []  # (data, the people told of it)
        for data in facts if facts is not None else [event.to_message()["data"]]:
            people = rules.recipients(rule, data, self._officials, province)
            if not people:
                log.warning("%s %s: nobody to tell (%s of %s)", event.event_type,
                            event.event_id, rule.recipients, data.get("unit_code"))
            told.append((data, people))
        to_open = []  # (person_id, what they are told of)
        with self.db.store(write=True) as store:
            if not store.first_delivery(event):
                log.info("%s %s already handled; duplicate dropped", event.event_type,
                         event.event_id)
                return  # or a concurrent copy of the event got here first
            opted_out = store.opted_out(list(dict.fromkeys(
                person_id for _, people in told for person_id in people)), rule)
            for data, people in told:
                for person_id in people:
                    if person_id in opted_out:
                        store.skip(event.event_id, person_id, rule, event.correlation_id)
                    elif rule.digest == "daily":
                        store.hold_for_digest(event, person_id, rule, data)
                    else:
                        to_open.append((person_id, data))
            opened = self._open_many(store, event.event_id, to_open, rule,
                                     event.correlation_id)
        self._attempt_opened(opened)

    def _officials(self, unit_code):
        """The registry's association officials of a unit (rules.recipients)."""
        with deadline(self.config.get("CONTACT_TIMEOUT"), "registry.association_officials"):
            return self.registry.association_officials(unit_code)
