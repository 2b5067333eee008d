"""What the people and groups imports share when they write a chunk: COPY into a temporary
table, the advisory lock that keeps concurrent imports' chunks apart, and the unit tree read
once per import."""
import io
from contextlib import contextmanager

from sqlalchemy import text

from services.registry import domain
from services.registry.models import Unit

PRODUCER = "registry"
EVENT_ITEMS = 5000  # the contracts' limit of people, groups or titles per event
LOCK_KEY = 0x43444854494D50  # pg_advisory_xact_lock key of imports ("CDHTIMP")
ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
"""What COPY's text format needs escaped in a value."""


def lock_imports(session):
    """Wait until no other import is writing chunks; held until this transaction ends (the
    runner holds it in a transaction of its own around the chunks it writes at once)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


@contextmanager
def blocking_copy():
    """psycopg2 refuses COPY while a wait callback is installed (eventlet's green mode).
    Remove it for the duration of one COPY from memory: nothing in between yields to the
    hub, so no other greenthread can run a query meanwhile; the COPY of a chunk takes
    milliseconds, far below the heartbeat interval."""
    import psycopg2.extensions as ext
    callback = ext.get_wait_callback()
    if callback is None:
        yield
        return
    ext.set_wait_callback(None)
    try:
        yield
    finally:
        ext.set_wait_callback(callback)


def copy_into(session, create_sql, table, columns, lines, *, analyze=False):
    """COPY ``lines`` (COPY's text format: the lines, or their text joined) into the
    temporary ``table``, made by ``create_sql`` if this connection has none yet;
    ``analyze`` gives it statistics."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(create_sql)
        buffer = io.StringIO(lines if isinstance(lines, str) else "".join(lines))
        with blocking_copy():
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
        if analyze:
            cur.execute(f"ANALYZE {table}")


class Units:
    """The unit tree, read once per import: which codes exist, which are valid today, paths,
    and which lie in the importer's scope (``within``: their unit's subtree; None: all)."""

    def __init__(self, rows, today, within=None):
        self.within = within
        self.parents = {}
        self.valid = {}  # code -> valid today; a deleted unit is unknown
        for code, parent, valid_from, valid_to, deleted in rows:
            self.parents[code] = parent
            if not deleted:
                self.valid[code] = ((valid_from is None or valid_from <= today) and
                                    (valid_to is None or today <= valid_to))
        self._paths = {}

    @classmethod
    def load(cls, session, today, within=None):
        deleted = "deleted_at IS NOT NULL" if "deleted_at" in Unit.__table__.c else "false"
        rows = session.execute(text(
            f"SELECT code, parent_code, valid_from, valid_to, {deleted} FROM units")).all()
        return cls(rows, today, within)

    def in_scope(self, code):
        """Whether the unit ``code`` lies in the importer's scope."""
        return self.within is None or (code in self.parents and self.within in self.path(code))

    def path(self, code):
        found = self._paths.get(code)
        if found is None:
            found = self._paths[code] = domain.unit_path(self.parents, code)
        return found
