"""An in-memory stand-in for the registry's store (services.registry.store), for testing the
HTTP handlers without PostgreSQL or RabbitMQ: rows are the models' own objects, kept by
primary key; staged events are checked against their contracts and kept in order.

It implements the store's methods the tested handlers call, with the same signatures
(test_handlers.py checks that), and a transaction that rolls everything back on an error.
"""
import copy
import itertools
from contextlib import contextmanager

from cdht.contracts import make_envelope
from services.registry import domain
from services.registry.models import (
    AssociationBody, AssociationMember, Group, Membership, Person, PersonalDataAudit, Unit,
    UnitChange,
)
from services.registry.store import PRODUCER


def _key(row):
    return row.code if isinstance(row, Unit) else row.id


def _live(row):
    return row.deleted_at is None


def _open(row):
    return row.left_on is None and row.deleted_at is None


class FakeStore:
    """The registry's tables as dicts, and the events staged, in order."""

    def __init__(self):
        self.tables = {}
        self.events = []  # (event_type, data) as staged
        self._audit_ids = itertools.count(1)

    # -- what tests read ------------------------------------------------------------------------
    def all(self, model):
        return list(self.tables.get(model, {}).values())

    def event_types(self):
        return [event_type for event_type, _ in self.events]

    def staged(self, event_type):
        return [data for kind, data in self.events if kind == event_type]

    # -- the store's base ------------------------------------------------------------------------
    def row(self, model, ident, *, lock=None):
        return self.tables.get(model, {}).get(ident)

    def lock_with_person(self, model, ident):
        row = self.row(model, ident)
        if row is None or row.deleted_at is not None:
            return None, None
        return row, self.row(Person, row.person_id)

    def add(self, row):
        if isinstance(row, PersonalDataAudit) and row.id is None:
            row.id = next(self._audit_ids)
        self.tables.setdefault(type(row), {})[_key(row)] = row

    def flush(self):
        pass

    def stage(self, event_type, data):
        envelope = make_envelope(event_type, data, producer=PRODUCER)  # the contract holds
        self.events.append((event_type, data))
        return envelope

    def unit_path(self, code):
        return domain.unit_path(self.unit_parents(), code) if self.row(Unit, code) else []

    # -- units ------------------------------------------------------------------------------------
    def successor_of(self, code):
        merges = sorted((c for c in self.all(UnitChange) if code in c.from_codes),
                        key=lambda c: c.effective_on)
        return merges[-1].to_codes if merges else None

    def child_kinds(self, code):
        return [u.kind for u in self.all(Unit) if u.parent_code == code and _live(u)]

    def unit_parents(self):
        return {u.code: u.parent_code for u in self.all(Unit)}

    def _subtree(self, code):
        return {u.code for u in self.all(Unit) if code in self.unit_path(u.code)}

    def people_under(self, code):
        below = self._subtree(code)
        return any(p.unit_code in below for p in self.all(Person) if _live(p))

    def lock_units(self, codes):
        return [u for u in self.all(Unit) if u.code in codes and _live(u)]

    def with_open_children(self, codes, on):
        return {u.parent_code for u in self.all(Unit) if u.parent_code in codes and _live(u)
                and (u.valid_to is None or u.valid_to >= on)}

    def move_to_unit(self, codes, code, now):
        moved = {}
        for model, key in ((Person, "people"), (Group, "groups"), (AssociationBody, "bodies")):
            rows = [r for r in self.all(model) if r.unit_code in codes and _live(r)]
            for r in rows:
                r.unit_code, r.updated_at = code, now
            moved[key] = len(rows)
            if model is Person:
                moved["person_ids"] = sorted(r.id for r in rows)
        return moved

    def units(self, codes):
        return sorted((u for u in self.all(Unit) if u.code in codes), key=lambda u: u.code)

    def body_ids_in(self, codes):
        return sorted(b.id for b in self.all(AssociationBody)
                      if b.unit_code in codes and _live(b))

    def bodies(self, body_ids):
        return sorted((b for b in self.all(AssociationBody) if b.id in body_ids),
                      key=lambda b: b.id)

    # -- people -----------------------------------------------------------------------------------
    def national_id_taken(self, national_id, but=None):
        return self.national_id_holder(national_id, but) is not None

    def national_id_holder(self, national_id, but=None):
        return next((p for p in self.all(Person)
                     if p.national_id == national_id and p.id != but), None)

    def open_positions(self, person_id):
        return ([("association", p.role) for p in self.all(AssociationMember)
                 if p.person_id == person_id and _open(p)]
                + [("group", m.group_kind) for m in self.all(Membership)
                   if m.person_id == person_id and _open(m)])

    def open_memberships(self, person_id):
        return [m for m in self.all(Membership) if m.person_id == person_id and _open(m)]

    def end_positions(self, person_id, on, now):
        for p in self.all(AssociationMember):
            if p.person_id == person_id and _open(p):
                p.left_on, p.updated_at = on, now

    # -- groups and memberships -------------------------------------------------------------------
    def member_counts(self, group_ids):
        counts = {}
        for m in self.all(Membership):
            if m.group_id in group_ids and _open(m):
                counts[m.group_id] = counts.get(m.group_id, 0) + 1
        return counts

    def has_current_members(self, group_id):
        return group_id in self.member_counts([group_id])

    def memberships_of(self, person_id):
        return [m for m in self.all(Membership) if m.person_id == person_id and _live(m)]


class FakeStores:
    """The ``store`` dependency: every transaction and read sees the one FakeStore; a
    transaction that raises leaves the store (rows and events) as it found it."""

    def __init__(self, store=None):
        self.store = store or FakeStore()

    @contextmanager
    def transaction(self):
        saved = copy.deepcopy((self.store.tables, self.store.events))
        try:
            yield self.store
        except BaseException:
            self.store.tables, self.store.events = saved
            raise

    @contextmanager
    def read(self):
        yield self.store
