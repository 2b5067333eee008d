"""What every query of the registry's store shares: one transaction's session, rows by id,
locks, paging, the caller's scope as a condition, and staging events in the outbox.

Handlers never see SQL: they ask a ``Store`` (built per transaction by ``Stores``) and get
model rows back. Locks are named, not written: ``"update"`` (FOR UPDATE) and ``"share"``
(FOR SHARE: waits for a merge or delete of the row, so a new row pointing at it is safe).
"""
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text

from cdht.outbox import add_event
from services.registry.models import Person, Unit

PRODUCER = "registry"

_LOCKS = {None: None, "update": True, "share": {"read": True}}

_PATH_SQL = text("""
    WITH RECURSIVE up(code, parent_code, depth) AS (
        SELECT code, parent_code, 0 FROM units WHERE code = :code
        UNION ALL
        SELECT u.code, u.parent_code, up.depth + 1 FROM units u JOIN up ON u.code = up.parent_code
        WHERE up.depth < 16)
    SELECT code FROM up ORDER BY depth DESC""")


@dataclass(frozen=True)
class Scope:
    """What a caller may list: everything (``within`` None: an admin), the subtree of the unit
    ``within``, or, for a citizen (``own``), the records of ``person_id`` only."""
    within: str | None = None
    own: bool = False
    person_id: uuid.UUID | None = None


class BaseStore:
    """One transaction (or read) of the registry's database."""

    def __init__(self, session):
        self.session = session

    # -- rows ----------------------------------------------------------------------------------
    def row(self, model, ident, *, lock=None):
        """The row of ``model`` with this primary key (deleted or not), or None."""
        if ident is None:
            return None
        return self.session.get(model, ident, with_for_update=_LOCKS[lock])

    def lock_with_person(self, model, ident):
        """A membership or position and its person, both locked FOR UPDATE, the person first;
        (None, None) when the row is missing or deleted (also once the lock is had)."""
        row = self.row(model, ident)
        if row is None or row.deleted_at is not None:
            return None, None
        person = self.session.get(Person, row.person_id, with_for_update=True)
        self.session.refresh(row, with_for_update=True)
        if row.deleted_at is not None:
            return None, None
        return row, person

    def add(self, row):
        self.session.add(row)

    def flush(self):
        """Write what is pending, so that later queries (and server defaults) see it."""
        self.session.flush()

    def stage(self, event_type, data):
        """Stage an event in this transaction (outbox); it carries the worker's correlation
        id. Returns the envelope (its event_id names a merge)."""
        return add_event(self.session, event_type, data, producer=PRODUCER)

    # -- the unit tree -------------------------------------------------------------------------
    def unit_path(self, code):
        """Codes from the province down to ``code`` (one recursive query); [] if unknown."""
        return list(self.session.scalars(_PATH_SQL, {"code": code}))

    # -- shared by the lists -------------------------------------------------------------------
    @staticmethod
    def subtree(code):
        """A SELECT of ``code`` and every unit below it, for ``IN (...)`` filters."""
        # unnamed: a list filtered by unit within a scoped caller holds two of these
        tree = select(Unit.code).where(Unit.code == code).cte(recursive=True)
        tree = tree.union(select(Unit.code).where(Unit.parent_code == tree.c.code))
        return select(tree.c.code)

    def in_units(self, column, code, subtree=True):
        """``column`` is the unit ``code`` (or in its subtree)."""
        return column.in_(self.subtree(code)) if subtree else column == code

    def within(self, stmt, column, scope):
        """``stmt`` kept to the rows whose unit ``column`` is in the scope's subtree."""
        return stmt if scope.within is None else stmt.where(self.in_units(column, scope.within))

    def placed_in(self, ref, parent, code):
        """``ref`` points to a ``parent`` row (a person, group or body) placed in the unit
        ``code`` or its subtree."""
        return ref.in_(select(parent.id).where(self.in_units(parent.unit_code, code)))

    def owned_or_within(self, stmt, scope, person_id, ref, parent):
        """``stmt`` kept to the scope: a citizen's own rows (``person_id``), else the rows
        whose ``ref`` points to a ``parent`` row placed in the scope's subtree."""
        if scope.own:
            return stmt.where(person_id == scope.person_id)
        if scope.within is None:
            return stmt
        return stmt.where(self.placed_in(ref, parent, scope.within))

    def held_by(self, model, parent, ref, person_id):
        """(row, parent) pairs of the person's memberships or positions (``ref`` points to
        the group or body), current and past, oldest first."""
        return self.session.execute(select(model, parent).join(parent, parent.id == ref).where(
            model.person_id == person_id, model.deleted_at.is_(None))
            .order_by(model.joined_on, model.id)).all()

    def tenures(self, model, stmt, query, keys):
        """One page of memberships or positions: the query's ``keys`` equal, current (not
        left) or past when it asks, oldest first."""
        for key in keys:
            if key in query:
                stmt = stmt.where(getattr(model, key) == query[key])
        if "current" in query:
            stmt = stmt.where(model.left_on.is_(None) if query["current"]
                              else model.left_on.is_not(None))
        return self.page(stmt, query, (model.joined_on, model.id))

    def page(self, stmt, query, order_by):
        """(rows, {total, limit, offset}) of one page of ``stmt``."""
        total = self.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery()))
        items = self.session.scalars(stmt.order_by(*order_by).limit(query["limit"])
                                     .offset(query["offset"])).all()
        return items, {"total": total, "limit": query["limit"], "offset": query["offset"]}
