"""Each service's own keys: one broken service must not open the others.

Per service (docs/operator-guide.md, "Credentials"):
- a PostgreSQL **owner** role that owns the service's database and runs its migrations
  (``<SERVICE>_MIGRATION_DATABASE_URL``);
- a PostgreSQL **run-time** role (``<SERVICE>_DATABASE_URL``) that may connect to that
  database only, read and write its rows, and only add to the append-only tables; no
  superuser, no DDL;
- a RabbitMQ **user** (``<SERVICE>_AMQP_URI``) that may declare, write and read only its own
  exchange and queues, bind only to the exchanges of the events it consumes, and call over
  RPC only the methods it uses (topic permissions on ``nameko-rpc``).

``cdht provision`` creates or updates all of them from those URLs, connected with the
administrators' ``POSTGRES_ADMIN_URL`` and ``RABBITMQ_ADMIN_URL`` (the management API), and
is safe to run again: a changed password in a URL is how a key is rotated. After each
migration the run-time role's grants are renewed (``grant_runtime``), so tables a migration
adds are covered.
"""
import importlib
import inspect
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from cdht.config import SERVICES

# Tables whose rows the run-time role may only add and read (an auditor's evidence).
APPEND_ONLY = {"registry": ("personal_data_audit", "personal_data_audit_head")}

# The RPC methods each service calls on another: the routing keys its broker user may
# publish to nameko-rpc (besides replies). tests/unit/tools/test_credentials.py checks this
# against the calls in the code.
RPC_CALLS = {
    "registry": (),
    "assessment": ("registry.profile", "registry.memberships",
                   "registry.profile_and_memberships", "registry.certificate_holder",
                   "registry.issuer_profile"),
    "reporting": ("registry.export_units", "registry.export_people",
                  "registry.export_memberships", "registry.export_activities",
                  "registry.export_association_bodies", "registry.export_group_titles"),
    "notifications": ("registry.profile", "registry.contact", "registry.export_units",
                      "registry.association_officials", "reporting.progress"),
}
RPC_EXCHANGE = "nameko-rpc"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DEAD_LETTER_EXCHANGE = "cdht.dead-letter"


@dataclass(frozen=True)
class ServiceKeys:
    service: str
    database_url: str    # the run-time role
    migration_url: str   # the owner role
    amqp_uri: str


def keys_from_configs(configs):
    """``ServiceKeys`` of each service from its loaded config (cdht.config.load_config)."""
    return [ServiceKeys(s, c["DATABASE_URL"], c.get("MIGRATION_DATABASE_URL") or "",
                        c["AMQP_URI"]) for s, c in configs.items()]


def event_sources(service):
    """The services whose events ``service`` consumes, from its handlers (cdht.consumer)."""
    from cdht.consumer import ReliableEventHandler
    module = importlib.import_module(f"services.{service}.service")
    cls = next(c for _, c in inspect.getmembers(module, inspect.isclass)
               if getattr(c, "name", None) == service and c.__module__ == module.__name__)
    found = set()
    for attr in dir(cls):
        for entrypoint in getattr(getattr(cls, attr, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                found.add(entrypoint.source_service)
    return sorted(found)


def _alternatives(*patterns):
    return "^(" + "|".join(patterns) + ")$"


def broker_permissions(service, sources, calls):
    """(configure, write, read) regexes and the nameko-rpc topic permission of the service's
    broker user. Its queues: ``evt-<source>-<type>--<service>.<method>`` with their retry and
    dead-letter queues, ``rpc-<service>``, its RPC reply queues."""
    s = re.escape(service)
    own_queues = (rf"evt-[a-z_]+-[a-z_]+--{s}\..+", f"rpc-{s}", rf"rpc\.reply-{s}-.+",
                  # a standalone RPC proxy's replies (reporting's rebuild)
                  r"rpc\.reply-standalone_rpc_proxy-.+")
    shared = (re.escape(RPC_EXCHANGE), re.escape(DEAD_LETTER_EXCHANGE))
    configure = _alternatives(rf"{s}\.events", *shared, *own_queues)
    # amq.default: retries go to the consumer's own delay queues through it
    write = _alternatives(rf"{s}\.events", *shared, r"amq\.default", *own_queues)
    read = _alternatives(*shared, *(rf"{re.escape(src)}\.events" for src in sources),
                         *own_queues)
    topic = {"exchange": RPC_EXCHANGE,
             # requests it makes, and replies (routed by the asker's reply key, a UUID)
             "write": _alternatives(UUID, *(re.escape(c) for c in calls)),
             # bindings: its own RPC queue's key (``<service>.*``) and its reply keys
             "read": _alternatives(rf"{s}\.\*", UUID)}
    return {"configure": configure, "write": write, "read": read}, topic


# -- PostgreSQL ------------------------------------------------------------------------------

def _ident(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(value):
    return "'" + value.replace("'", "''") + "'"


def _role_sql(url):
    from sqlalchemy.engine import make_url
    url = make_url(url)
    return url.username, url.password or "", url.database


def provision_database(admin_url, keys):
    """Create or update the owner and run-time roles and the database they share; hand every
    object in it to the owner (a database an earlier, one-role deployment made)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    owner, owner_password, database = _role_sql(keys.migration_url)
    runtime, runtime_password, runtime_database = _role_sql(keys.database_url)
    if runtime_database != database or owner == runtime:
        raise ValueError(f"{keys.service}: the run-time and migration URLs must name the same "
                         "database and two different roles")
    admin = create_engine(make_url(admin_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for role, password in ((owner, owner_password), (runtime, runtime_password)):
                verb = "ALTER" if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                              {"r": role}) else "CREATE"
                conn.execute(text(f"{verb} ROLE {_ident(role)} LOGIN PASSWORD "
                                  f"{_literal(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                  "NOREPLICATION NOBYPASSRLS"))
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                           {"d": database}):
                conn.execute(text(f"ALTER DATABASE {_ident(database)} OWNER TO {_ident(owner)}"))
            else:
                conn.execute(text(f"CREATE DATABASE {_ident(database)} OWNER {_ident(owner)}"))
            conn.execute(text(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC"))
            conn.execute(text(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} "
                              f"TO {_ident(runtime)}"))
    finally:
        admin.dispose()
    inside = create_engine(make_url(admin_url).set(database=database),
                           isolation_level="AUTOCOMMIT")
    try:
        with inside.connect() as conn:
            conn.execute(text("SELECT set_config('cdht.owner', :owner, false)"),
                         {"owner": owner})
            conn.execute(text(_REASSIGN))
            conn.execute(text(f"ALTER SCHEMA public OWNER TO {_ident(owner)}"))
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    finally:
        inside.dispose()


_REASSIGN = """
DO $$
DECLARE r record; owner text := current_setting('cdht.owner', true);
BEGIN
  -- a sequence that belongs to a column (serial, identity) follows its table
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             AND pg_get_userbyid(c.relowner) <> owner
             AND NOT (c.relkind = 'S' AND EXISTS (
                 SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                 AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
           ORDER BY c.relkind = 'S' LOOP
    EXECUTE format('ALTER %s public.%I OWNER TO %I',
                   CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                  WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                   r.relname, owner);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> owner LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, owner);
  END LOOP;
END $$;
"""


def grant_runtime(service, migration_url, database_url):
    """As the owner, after migrating: the run-time role may use every table and sequence,
    and only SELECT and INSERT on the append-only ones."""
    from sqlalchemy import create_engine, text
    runtime = _role_sql(database_url)[0]
    role = _ident(runtime)
    engine = create_engine(migration_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
            conn.execute(text("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES "
                              f"IN SCHEMA public TO {role}"))
            conn.execute(text("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public "
                              f"TO {role}"))
            conn.execute(text(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}"))
            for table in APPEND_ONLY.get(service, ()):
                if conn.scalar(text("SELECT to_regclass(:t)"), {"t": f"public.{table}"}):
                    conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {_ident(table)} "
                                      f"FROM {role}"))
    finally:
        engine.dispose()


# -- RabbitMQ --------------------------------------------------------------------------------

def _management(admin_url):
    """(base URL, auth) of the management API from ``http://user:password@host:15672``."""
    parts = urlsplit(admin_url)
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/api", auth


def _management_call(requests, method, url, body, auth, wait=60.0):
    """One management API call; the API may still be starting beside a broker that answers
    AMQP already: connection errors are tried again for ``wait`` seconds."""
    import time
    deadline = time.monotonic() + wait
    while True:
        try:
            return requests.request(method, url, json=body, auth=auth, timeout=15)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def provision_broker(admin_url, keys, sources, calls):
    """Create or update the service's broker user and its permissions on its vhost, and
    declare its events exchange (its consumers only bind to the others', as nameko declares
    them: cdht.consumer)."""
    import requests
    base, auth = _management(admin_url)
    parts = urlsplit(keys.amqp_uri)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    if not user or user == auth[0]:
        raise ValueError(f"{keys.service}: its AMQP URI must name a user of its own")
    permissions, topic = broker_permissions(keys.service, sources, calls)
    v, u = quote(vhost, safe=""), quote(user, safe="")
    exchange = quote(f"{keys.service}.events", safe="")
    for method, path, body in (
            ("PUT", f"/exchanges/{v}/{exchange}",
             {"type": "topic", "durable": True, "auto_delete": False}),
            ("PUT", f"/users/{u}", {"password": password, "tags": ""}),
            ("PUT", f"/permissions/{v}/{u}", permissions),
            ("PUT", f"/topic-permissions/{v}/{u}", topic)):
        response = _management_call(requests, method, base + path, body, auth)
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"{keys.service}: {method} {path}: {response.status_code} "
                               f"{response.text[:300]}")


def provision(postgres_admin_url, rabbitmq_admin_url, keys_list, *, echo=print):
    """Everything above for every service; ``echo`` tells what was done. Keys without an
    AMQP URI (the portal, which uses no broker) get their database roles only."""
    for keys in keys_list:
        if not keys.migration_url:
            raise ValueError(f"{keys.service}: set {keys.service.upper()}_MIGRATION_DATABASE_URL"
                             " (the owner role) beside its DATABASE_URL")
        provision_database(postgres_admin_url, keys)
        echo(f"{keys.service}: database roles {_role_sql(keys.migration_url)[0]} (owner) and "
             f"{_role_sql(keys.database_url)[0]} (run time)")
        if not keys.amqp_uri:
            continue
        provision_broker(rabbitmq_admin_url, keys, event_sources(keys.service),
                         RPC_CALLS[keys.service])
        echo(f"{keys.service}: broker user {unquote(urlsplit(keys.amqp_uri).username)}")


__all__ = ["APPEND_ONLY", "RPC_CALLS", "SERVICES", "ServiceKeys", "broker_permissions",
           "event_sources", "grant_runtime", "keys_from_configs", "provision"]
