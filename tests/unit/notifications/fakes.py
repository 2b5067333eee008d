"""In-memory fakes of notifications' own interfaces and adapters, for handler-level unit tests
without PostgreSQL, RabbitMQ, SMTP or an SMS gateway: ``FakeDeliveryStore``
(store.DeliveryStore), ``FakeDb`` (a worker's ``db.store()``), ``FakeMailer`` and ``FakeSms``
(mailer.Mailer, gateway.SmsGatewayProvider: ``send(message, delivery_id)``), ``FakeRegistry``
(the RPC methods notifications calls) and ``FakeUnits`` (places.UnitDirectory)."""
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from types import SimpleNamespace

from services.notifications import domain, moves, wording


class FakeDeliveryStore:
    """store.DeliveryStore in memory: one delivery per (source, person, channel)."""

    session = None  # what UnitDirectory.places reads in (FakeUnits reads nothing)

    def __init__(self):
        self.inbox = set()
        self.opt_outs = set()   # (person id, category)
        self.deliveries = {}    # id -> row
        self.digest = []        # digest items: person_id, template, ..., delivery_id
        self.events = []        # (event type, data, correlation id)
        self.schedule_runs = {}  # (name, period) -> recipients

    def rows(self, **columns):
        return [d for d in self.deliveries.values()
                if all(getattr(d, k) == v for k, v in columns.items())]

    def _find(self, source_id, person_id, channel):
        return next((d for d in self.deliveries.values() if (
            d.source_event_id, str(d.person_id), d.channel) == (source_id, str(person_id),
                                                                channel)), None)

    def _row(self, source_id, person_id, rule, channel, **columns):
        row = SimpleNamespace(**({
            "id": uuid.uuid4(), "source_event_id": source_id, "person_id": person_id,
            "channel": channel, "template": rule.template, "rule": rule.name,
            "category": rule.category, "language": domain.DEFAULT_LANGUAGE,
            "status": "pending", "attempts": 0, "last_error": None, "context": None,
            "correlation_id": None, "next_attempt_at": None, "address_masked": None,
            "sent_at": None, "updated_at": None,
            "created_at": datetime.now(timezone.utc)} | columns))
        self.deliveries[row.id] = row
        return row

    # -- store.DeliveryStore -------------------------------------------------------------------
    def processed(self, event):
        return event.event_id in self.inbox

    def first_delivery(self, event):
        if event.event_id in self.inbox:
            return False
        self.inbox.add(event.event_id)
        return True

    def opted_out(self, people, rule):
        if rule.mandatory or not people:
            return set()
        return {str(p) for p in people if (str(p), rule.category) in self.opt_outs}

    def skip(self, source_id, person_id, rule, correlation_id):
        if self._find(source_id, person_id, rule.channels[0]) is None:
            self._row(source_id, person_id, rule, rule.channels[0], status="skipped",
                      last_error=f"opted out of {rule.category}",
                      correlation_id=correlation_id)

    def hold_for_digest(self, event, person_id, rule, data):
        if not any((i.source_event_id, str(i.person_id)) == (event.event_id, str(person_id))
                   for i in self.digest):
            self.digest.append(SimpleNamespace(
                person_id=person_id, template=rule.template, category=rule.category,
                source_event_id=event.event_id, event_type=event.event_type,
                occurred_at=event.occurred_at, data=data, delivery_id=None))

    def open(self, source_id, person_id, rule, channel, context, correlation_id, lease):
        found = self._find(source_id, person_id, channel)
        if found is not None:
            if found.status != "pending" or found.context is not None:
                return None
            found.context = context
            return found.id
        return self._row(source_id, person_id, rule, channel, context=context,
                         correlation_id=correlation_id,
                         next_attempt_at=datetime.now(timezone.utc) + lease).id

    def open_many(self, source_id, people, rule, channel, correlation_id, lease):
        opened = {str(person_id): self.open(source_id, person_id, rule, channel, context,
                                            correlation_id, lease)
                  for person_id, context in people}
        return {person_id: delivery_id for person_id, delivery_id in opened.items()
                if delivery_id}

    def delivery(self, delivery_id, for_update=False):
        return self.deliveries.get(delivery_id)

    def claim_due(self, at, lease, limit, channel=None):
        due = sorted((d for d in self.deliveries.values() if d.status == "pending"
                      and d.next_attempt_at is not None and d.next_attempt_at <= at
                      and channel in (None, d.channel)),
                     key=lambda d: d.next_attempt_at)[:limit]
        for row in due:
            row.next_attempt_at = at + lease
        return [row.id for row in due]

    def release(self, ids, at):
        for delivery_id in ids:
            if self.deliveries[delivery_id].status == "pending":
                self.deliveries[delivery_id].next_attempt_at = at

    def lock(self, delivery_id):
        return self.deliveries.get(delivery_id)

    def announce(self, delivery, event_type, data):
        self.events.append((event_type, data, delivery.correlation_id))

    def waiting_digest_items(self):
        return sorted((i for i in self.digest if i.delivery_id is None),
                      key=lambda i: (str(i.person_id), i.template, i.occurred_at))

    def delivery_id(self, source_id, person_id, channel):
        found = self._find(source_id, person_id, channel)
        return found.id if found else None

    def schedule_ran(self, name, period):
        return (name, period) in self.schedule_runs

    def record_schedule_run(self, name, period, recipients):
        self.schedule_runs.setdefault((name, period), recipients)

    def categories_opted_out(self, person_id):
        return {category for person, category in self.opt_outs if person == str(person_id)}

    def opt_out(self, person_id, category):
        self.opt_outs.add((str(person_id), category))

    def opt_in(self, person_id, category):
        self.opt_outs.discard((str(person_id), category))

    def page(self, filters, since, until, scope, limit, offset):
        def shown(row):
            context = row.context or {}
            if scope is None:
                return True
            kind, value = scope
            if kind == "person":
                return str(row.person_id) == str(value)
            return value in moves.place_of(context)
        rows = [r for r in self.deliveries.values() if shown(r)
                and all(str(getattr(r, k)) == str(v) for k, v in filters.items())
                and (since is None or r.created_at >= since)
                and (until is None or r.created_at < until)]
        rows.sort(key=lambda r: (-r.created_at.timestamp(), str(r.id)))
        return len(rows), rows[offset:offset + limit]


class FakeDb:
    """A worker's ``db`` (store.Stores) over one FakeDeliveryStore."""

    def __init__(self, store):
        self.fake = store

    @contextmanager
    def store(self, write=False):
        yield self.fake


class FakeMailer:
    """Keeps what it is given; ``refuse`` makes every send raise it."""

    def __init__(self, refuse=None):
        self.sent, self.refuse = [], refuse

    def send(self, message, delivery_id):
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((message, delivery_id))


class FakeSms(FakeMailer):
    gsm7_only = True
    max_parts = 2


class FakeRegistry:
    """Contacts by person id, officials by unit code."""

    def __init__(self):
        self.contacts, self.officials = {}, {}

    def contact(self, person_id):
        return self.contacts.get(person_id)

    def association_officials(self, unit_code):
        return self.officials.get(unit_code, [])


class FakeUnits:
    """places.UnitDirectory with what the registry's events said of the units."""

    def __init__(self, units=None, bodies=None):
        self.known = wording.Places(units or {}, bodies or {}, wording.COMMUNE)

    def learn(self, db, paths, export_units):
        """Every unit is known already."""

    def places(self, session, paths):
        return self.known


class NoLimits:
    """RateLimits with no limit."""

    def wait(self, channel):
        return 0

    def ready_in(self, channel):
        return 0

    def room(self, channel):
        return None
