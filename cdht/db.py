"""The database side shared by every service: its nameko dependency, creation and migrations.

Each service owns one PostgreSQL database (docs/architecture.md §D1), named by ``DATABASE_URL`` in its
config. The outbox and inbox tables live in ``plumbing_metadata`` and are created by each
service's first Alembic migration (cdht.migrations), beside its models.
"""
import logging
from contextlib import contextmanager

from eventlet.patcher import original
from nameko.extensions import DependencyProvider
import orjson
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import sessionmaker

from cdht.config import load_config, service_dir

log = logging.getLogger(__name__)

plumbing_metadata = MetaData()
"""Tables every service has (outbox, inbox): defined once in cdht, migrated by each service."""


_select = original("select")  # the real module: eventlet's green one has no poll()
_SAID_SOMETHING = _select.POLLIN | _select.POLLERR | _select.POLLHUP


def _checked_on_checkout(engine):
    """The pool's check of a connection it hands out, in place of a ping per checkout: a
    connection the server closed while it sat idle (PostgreSQL restarted, the backend
    terminated) must not fail the request that takes it. An idle connection has nothing to
    read unless the server said something, its last words before hanging up most often;
    only then is it pinged. A ping that fails raises DisconnectionError, and the pool
    replaces the connection."""
    def check(dbapi_connection, record, proxy):
        if dbapi_connection.closed:
            raise DisconnectionError("the connection is closed")
        poller = _select.poll()
        poller.register(dbapi_connection.fileno(), _SAID_SOMETHING)
        if not poller.poll(0):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"the server closed the connection: {exc}") from exc
    return check


def make_engine(url, **kwargs):
    """An engine whose errors never print their parameters: they hold national IDs, phones.

    A connection taken from the pool is checked without a round trip unless the server has
    spoken on it (``_checked_on_checkout``); ``pool_pre_ping=True`` pings every time.
    ``json`` and ``jsonb`` values are read with orjson (the stdlib decoder was a tenth of a
    bulk closing's CPU); an integer beyond 64 bits would come back as a float, and no CDHT
    value holds one."""
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_deserializer", orjson.loads)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping") and engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", _checked_on_checkout(engine))
    return engine


class Transactions:
    """What a worker gets: ``with db.transaction() as session`` commits once, or rolls back.

    After a commit that wrote outbox rows, the outbox relay is woken so the events leave at
    once rather than at the next poll.
    """

    def __init__(self, session_factory, on_commit=None):
        self._session_factory = session_factory
        self._on_commit = on_commit

    @contextmanager
    def transaction(self):
        session = self._session_factory()
        try:
            with session.begin():
                yield session
            wrote_outbox = session.info.pop("outbox_rows", 0)
        finally:
            session.close()
        if wrote_outbox and self._on_commit:
            self._on_commit()

    @contextmanager
    def read(self):
        """A session for reads only (rolled back at the end)."""
        session = self._session_factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()


class Database(DependencyProvider):
    """nameko dependency: the service's engine, plus its outbox relay when it produces events.

    ``relay=True`` runs cdht.outbox.Relay in a managed thread of the container, so a service
    process publishes what it committed, including rows stranded by an earlier crash.
    """

    def __init__(self, relay=False):
        self.relay_enabled = relay
        self.relay = None

    def setup(self):
        config = self.container.config
        self.engine = make_engine(config["DATABASE_URL"])
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.relay_enabled:
            from cdht.outbox import Relay
            self.relay = Relay(self.engine, config["AMQP_URI"], self.container.service_name,
                               config=config)

    def start(self):
        if self.relay:
            self.container.spawn_managed_thread(self.relay.run, identifier="outbox-relay")

    def stop(self):
        if self.relay:
            self.relay.stop()
        self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return Transactions(self.sessions, on_commit=self.relay.wake if self.relay else None)


class Stores:
    """What a worker of a ``StoreDatabase`` gets: cdht.db's ``transaction()`` and ``read()``
    (plain sessions), plus ``store()`` yielding the service's store over one session
    (``write=True``: in one transaction, committed at the end)."""

    def __init__(self, sessions, store_class, conflict=None):
        self.sessions = sessions
        self.store_class = store_class
        self.conflict = conflict

    def transaction(self):
        return self.sessions.transaction()

    def read(self):
        return self.sessions.read()

    @contextmanager
    def store(self, write=False):
        try:
            with (self.sessions.transaction() if write else self.sessions.read()) as session:
                yield self.store_class(session)
        except IntegrityError as exc:  # at commit
            if self.conflict is None:
                raise
            raise self.conflict(exc) from None


class StoreDatabase(Database):
    """``Database`` whose workers get ``Stores``: the handlers are written against the
    service's store (``store_class``, set by the service's subclass), so that they run on an
    in-memory fake of it in unit tests. ``conflict``, if set, turns a unique rule broken at
    commit (an IntegrityError) into the service's own error."""

    store_class = None
    conflict = None

    def get_dependency(self, worker_ctx):
        return Stores(super().get_dependency(worker_ctx), self.store_class, self.conflict)


def json_text(value):
    """``value`` as JSON text for a ``json``/``jsonb`` parameter (orjson: bulk writers stage
    millions of values, and the stdlib encoder was a tenth of a year's closing)."""
    return orjson.dumps(value).decode()


def insert_unnested(connection, table, columns, rows):
    """INSERT ``rows`` (tuples) into ``table`` in one statement: one text[] parameter per
    column, unnested and cast to the column's SQL type server-side. ``columns``: (name, SQL
    type) pairs. Bulk writers use it because a multi-row INSERT through the ORM's types costs
    more than building the rows; COPY would cost less still, but psycopg2 refuses it under
    eventlet, where services run."""
    if not rows:
        return
    names = [name for name, _ in columns]
    connection.execute(text(
        f"INSERT INTO {table} ({', '.join(names)}) "
        f"SELECT {', '.join(f'CAST(r.{n} AS {t})' for n, t in columns)} "
        f"FROM unnest({', '.join(f'CAST(:{n} AS text[])' for n in names)}) "
        f"AS r({', '.join(names)})"),
        {name: [None if v is None else str(v) for v in column]
         for name, column in zip(names, zip(*rows))})


def create_database(url):
    """Create the database named in ``url`` if it does not exist (idempotent)."""
    url = make_url(url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": url.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
                log.info("created database %s", url.database)
            return not exists
    finally:
        admin.dispose()


def drop_database(url):
    url = make_url(url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def alembic_config(service, url=None):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(service_dir(service) / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = url or migration_url(load_config(service))
    cfg.attributes["service"] = service
    return cfg


def migration_url(config):
    """The URL migrations run with: the owner role's where the service has one."""
    return config.get("MIGRATION_DATABASE_URL") or config["DATABASE_URL"]


def upgrade(service, revision="head", url=None):
    """Create the service's database if needed and migrate it to ``revision``."""
    from alembic import command
    cfg = alembic_config(service, url)
    create_database(cfg.attributes["database_url"])
    command.upgrade(cfg, revision)


def downgrade(service, revision, url=None):
    from alembic import command
    command.downgrade(alembic_config(service, url), revision)


def run_migrations(context, target_metadata):
    """The body of every service's migrations/env.py (online mode only)."""
    import cdht.inbox  # noqa: F401  (registers the inbox table on plumbing_metadata)
    import cdht.outbox  # noqa: F401  (and the outbox table)
    url = context.config.attributes.get("database_url") or \
        load_config(context.config.attributes["service"])["DATABASE_URL"]
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection,
                          target_metadata=[target_metadata, plumbing_metadata],
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
