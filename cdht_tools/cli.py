"""``cdht``: the operator's command line (``.venv/bin/cdht``, or ``python -m cdht_tools``).

    cdht db create|upgrade|current [SERVICE|all]      databases: create, migrate, show revision
                                                       (SERVICE: one of the four, or portal)
    cdht db downgrade SERVICE REVISION                 cdht db revision SERVICE -m MSG
    cdht seed demo [--people N] [--seed S] [--year Y]  demo data into the running system
    cdht import people FILE [--dry-run] [--errors REPORT] [--restore-removed]
    cdht import groups FILE [--dry-run] [--errors REPORT]
    cdht close-year YEAR --unit CODE [--by NAME]       decide what was reviewed, then groups
    cdht rebuild reporting [--dry-run]                 recompute the projections, print drift
    cdht report export --unit CODE --year Y --out FILE the annual report (xlsx or csv)
    cdht dead-letters list|replay SERVICE [--queue Q] [--limit N]
    cdht token --role R [--unit CODE] --subject ID     a bearer token for the HTTP APIs
    cdht audit-verify                                  check the personal data audit's chain
    cdht up | down | status                            the local processes; health of each
    cdht provision                                     each service's database roles, broker user
                                                       (and the portal's roles)

``cdht --help`` and ``cdht COMMAND --help`` say more. The commands are thin: each calls the
module that does the work (cdht.db, cdht_tools.deadletters, cdht_tools.local, cdht_tools.demo,
the services' imports, closing, rebuild and export), so tests and scripts can call those
directly too.

Exit status: 0 done; 1 failed (a server did not answer, the data refused it); 2 wrong usage
(a bad argument, an unknown service, a missing file); 130 interrupted. A failure is one line
on stderr, never a traceback, unless ``--debug`` (or ``CDHT_DEBUG=1``) asks for one.
"""
import json
import logging
import os
import sys
import traceback
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

from cdht.config import PORTAL, PROCESSES, SERVICES

os.environ.setdefault("EVENTLET_TESTS", "1")  # no deprecation banner when nameko is imported

app = typer.Typer(name="cdht", help="CDHT operator commands: databases, demo data, imports, "
                  "year closing, reporting, dead letters, tokens, local processes.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
db_app = typer.Typer(help="Create and migrate the services' databases.", no_args_is_help=True)
seed_app = typer.Typer(help="Seed data into the running system.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk imports into the registry.", no_args_is_help=True)
rebuild_app = typer.Typer(help="Recompute projections from their sources.",
                          no_args_is_help=True)
report_app = typer.Typer(help="Reports for the national association.", no_args_is_help=True)
dead_app = typer.Typer(help="List or replay a service's dead letters.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (seed_app, "seed"), (import_app, "import"),
                  (rebuild_app, "rebuild"), (report_app, "report"), (dead_app, "dead-letters")):
    app.add_typer(sub, name=name)

_state = {"debug": bool(os.environ.get("CDHT_DEBUG"))}


class CliError(Exception):
    """A failure to report as one line on stderr, with this exit status."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# -- argument types ------------------------------------------------------------------------------
Service = Literal[SERVICES]
# a database: a service's, or the portal's
Database = Literal[PROCESSES]
DatabaseOrAll = Literal[(*PROCESSES, "all")]
YEAR = {"min": 2021, "max": 2100}  # the programme runs 2021-2030; the services accept to 2100


def _services(name):
    """The databases NAME means; all: the four services', and the portal's where the portal
    is deployed (PORTAL_DATABASE_URL set, as compose's migrate step has it)."""
    if name != "all":
        return (name,)
    return PROCESSES if os.environ.get("PORTAL_DATABASE_URL") else SERVICES


@contextmanager
def _database(service):
    """Names the database that did not answer: the service's, host, port and name."""
    from sqlalchemy.exc import OperationalError
    try:
        yield
    except OperationalError as exc:
        from sqlalchemy.engine import make_url

        from cdht.config import load_config
        url = make_url(load_config(service)["DATABASE_URL"])
        reason = str(getattr(exc, "orig", None) or exc).strip()
        raise CliError(f"cannot reach {service}'s database {url.database} at "
                       f"{url.host or 'localhost'}:{url.port or 5432}: {reason}") from exc


def _role(value):
    """--role: argparse's wording ("invalid choice"), which scripts and tests look for."""
    from cdht.auth import ROLES
    if value not in ROLES:
        raise typer.BadParameter(f"invalid choice: {value!r} (choose from {', '.join(ROLES)})")
    return value


def _console(stderr=False):
    from rich.console import Console
    return Console(stderr=stderr, highlight=False)


@app.callback()
def root(debug: Annotated[bool, typer.Option(
        "--debug", help="show the traceback of a failure (also CDHT_DEBUG=1)")] = False):
    """CDHT operator commands. A failure prints one line on stderr and exits non-zero:
    1 when the work failed, 2 for wrong usage."""
    if debug:
        _state["debug"] = True


# -- databases -----------------------------------------------------------------------------------
@db_app.command("create")
def db_create(service: Annotated[DatabaseOrAll, typer.Argument(help="a service, portal, or all")]
              = "all"):
    """Create the service's database if it does not exist (no migrations)."""
    from cdht import db
    from cdht.config import load_config
    for name in _services(service):
        with _database(name):
            made = db.create_database(load_config(name)["DATABASE_URL"])
        typer.echo(f"{name}: database {'created' if made else 'already there'}")


@db_app.command("upgrade")
def db_upgrade(service: Annotated[DatabaseOrAll, typer.Argument(help="a service, portal, or all")]
               = "all",
               revision: Annotated[str, typer.Argument(help="target revision")] = "head"):
    """Create the database if needed and migrate it (to head by default); where the service
    has an owner role of its own, renew its run-time role's grants (cdht provision)."""
    from cdht import db
    from cdht.config import load_config
    from cdht_tools.credentials import grant_runtime
    for name in _services(service):
        config = load_config(name)
        with _database(name):
            db.upgrade(name, revision)
            if config.get("MIGRATION_DATABASE_URL"):
                grant_runtime(name, config["MIGRATION_DATABASE_URL"], config["DATABASE_URL"])
        typer.echo(f"{name}: migrated to {revision}")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(service: Annotated[Database, typer.Argument()],
                 revision: Annotated[str, typer.Argument(help="e.g. 0003, or -1")]):
    """Migrate one service's database down to REVISION (a revision id, or -1 for one step)."""
    from cdht import db
    with _database(service):
        db.downgrade(service, revision)
    typer.echo(f"{service}: downgraded to {revision}")


@db_app.command("current")
def db_current(service: Annotated[DatabaseOrAll, typer.Argument(help="a service, portal, or all")]
               = "all"):
    """Show each database's revision next to the newest migration."""
    from rich.table import Table

    from cdht import db
    table = Table("service", "database", "current", "head", "state")
    for name in _services(service):
        with _database(name):
            database, current, head = _revisions(db.alembic_config(name))
        state = ("no database" if current is False else "not migrated" if current is None
                 else "up to date" if current == head else "behind")
        table.add_row(name, database, current or "-", head, state)
    _console().print(table)


def _revisions(cfg):
    """(database name, its revision: None if never migrated, False if no such database,
    the newest migration's revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from cdht.db import make_engine
    url = make_url(cfg.attributes["database_url"])
    head = ScriptDirectory.from_config(cfg).get_current_head()
    admin = make_engine(url.set(database="postgres"), pool_size=1, max_overflow=0)
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": url.database}):
                return url.database, False, head
    finally:
        admin.dispose()
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            return url.database, MigrationContext.configure(conn).get_current_revision(), head
    finally:
        engine.dispose()


@db_app.command("revision")
def db_revision(service: Annotated[Database, typer.Argument()],
                message: Annotated[str, typer.Option("-m", "--message")] = "change"):
    """Autogenerate a migration from the models (for developers)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from cdht import db
    cfg = db.alembic_config(service)
    with _database(service):
        db.create_database(cfg.attributes["database_url"])
        command.upgrade(cfg, "head")
        count = len(list(ScriptDirectory.from_config(cfg).walk_revisions()))
        command.revision(cfg, message=message, autogenerate=True, rev_id=f"{count + 1:04d}")


# -- demo data, imports, closing, rebuild, report ---------------------------------------------
@seed_app.command("demo")
def seed_demo(people: Annotated[int, typer.Option(min=10, max=5000,
                                                  help="how many people")] = 200,
              seed: Annotated[int, typer.Option(help="same seed, same people")] = 1,
              year: Annotated[int | None, typer.Option(
                  **YEAR, help="the year assessed (default: this year)")] = None):
    """Seed a small demo province into the RUNNING system over its HTTP APIs: units,
    association, people, groups, learning activities, assessments reviewed and decided.
    Does nothing (exit 0) when the demo province is already there."""
    from cdht_tools import demo
    try:
        return demo.seed(people=people, seed=seed, year=year or date.today().year)
    except demo.DemoError as exc:
        raise CliError(str(exc)) from None


# The options both import commands take, declared once.
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="check every row and count what would change; write nothing")]
ErrorReport = Annotated[str | None, typer.Option(
    metavar="REPORT", help="also write the error report to REPORT (.csv or .xlsx)")]
ShowErrors = Annotated[int, typer.Option(help="how many errors to print")]
ChunkRows = Annotated[int, typer.Option(hidden=True)]


def _import(kind, **options):
    from types import SimpleNamespace

    from services.registry.imports.cli import run_import
    return run_import(kind, SimpleNamespace(**options))


@import_app.command("people")
def import_people(
        file: Annotated[str, typer.Argument(help="a .csv (UTF-8, comma or semicolon) or .xlsx")],
        dry_run: DryRun = False, errors: ErrorReport = None, show_errors: ShowErrors = 20,
        chunk_rows: ChunkRows = 5000,
        restore_removed: Annotated[bool, typer.Option(
            "--restore-removed", help="restore a removed person a row names (audited); "
                                      "without it such a row is a row error")] = False):
    """Bulk-import a commune's spreadsheet of people into the registry database. Exit 0
    when imported (bad rows go to the report), 2 when the file cannot be imported at all."""
    return _import("people", file=file, dry_run=dry_run, errors=errors,
                   show_errors=show_errors, chunk_rows=chunk_rows,
                   restore_removed=restore_removed)


@import_app.command("groups")
def import_groups(
        file: Annotated[str, typer.Argument(help="a .csv (UTF-8, comma or semicolon) or .xlsx, "
                                                 "one row per member")],
        dry_run: DryRun = False, errors: ErrorReport = None, show_errors: ShowErrors = 20,
        chunk_rows: ChunkRows = 5000):
    """Bulk-import groups (families, clans, communities, learning units), their members (people
    already registered) and their titles from paper decisions into the registry database.
    Exit 0 when imported (bad rows go to the report), 2 when the file cannot be imported."""
    return _import("groups", file=file, dry_run=dry_run, errors=errors,
                   show_errors=show_errors, chunk_rows=chunk_rows)


@app.command("close-year")
def close_year(year: Annotated[int, typer.Argument(**YEAR)],
               unit: Annotated[str, typer.Option(help="unit code: a commune, or the province")],
               workers: Annotated[int, typer.Option(
                   min=1, help="processes deciding submissions, then groups, side by side")]
               = 2,
               batch_size: Annotated[int, typer.Option(min=1, hidden=True)] = 1000,
               quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
               by: Annotated[str | None, typer.Option(
                   "--by", metavar="NAME", help="who closes, recorded on the closing and "
                                                "each decision (default: the OS user)")]
               = None):
    """Close a year for a unit's subtree: decide the submissions CLOSE_DECIDES allows
    (default: those reviewed; the rest stay open, listed), then every group. Interrupted, it
    resumes when run again."""
    from services.assessment.closing import main as run_closing
    with _database("assessment"):
        return run_closing(year, unit, by=by, batch_size=batch_size, quiet=quiet,
                           workers=workers)


@rebuild_app.command("reporting")
def rebuild_reporting(dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="compute and print the drift, change nothing")] = False):
    """Recompute reporting's projections from the registry's and assessment's exports (RPC)
    and print the drift it corrected. Run it when the sources are quiet."""
    from services.reporting.rebuild import main as rebuild
    with _database("reporting"):
        return rebuild(["--dry-run"] if dry_run else [])


@report_app.command("export")
def report_export(
        unit: Annotated[str, typer.Option(help="unit code, e.g. the province")],
        year: Annotated[int, typer.Option(**YEAR)],
        out: Annotated[Path, typer.Option(help="the file to write")],
        format: Annotated[Literal["xlsx", "csv"] | None, typer.Option(
            help="default: from --out's suffix, else xlsx")] = None,
        as_of: Annotated[str | None, typer.Option(
            metavar="YYYY-MM-DD", help="the figures as they stood at the end of that day")]
        = None,
        lang: Annotated[Literal["vi", "en"], typer.Option(help="the report's language")] = "vi"):
    """Write the annual report to the national association: a summary sheet, then one sheet
    per indicator with the child units as rows. Reads reporting's database."""
    from services.reporting import export
    fmt = format or ("csv" if out.suffix.lower() == ".csv" else "xlsx")
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)",
                                 param_hint="'--as-of'") from None
    if not out.parent.is_dir():
        raise CliError(f"no such directory: {out.parent}", 2)
    try:
        with _database("reporting"):
            size, sheets = export.export_file(unit, year, out, fmt=fmt, as_of=day, lang=lang,
                                              console=_console(stderr=True))
    except LookupError as exc:
        raise CliError(str(exc.args[0]), 1) from None
    typer.echo(f"wrote {out} ({fmt}, {sheets} sheets, {size:,} bytes)")


# -- dead letters --------------------------------------------------------------------------------
def _queues(service, queue):
    from cdht_tools import deadletters
    return [queue] if queue else deadletters.consumer_queues(service)


@contextmanager
def _broker(config):
    """Names the broker that did not answer ("connection refused" alone does not)."""
    from urllib.parse import urlsplit

    from kombu.exceptions import OperationalError
    try:
        yield
    except (ConnectionError, TimeoutError, OperationalError) as exc:
        parts = urlsplit(config["AMQP_URI"])
        raise CliError(f"cannot reach RabbitMQ at {parts.hostname or '127.0.0.1'}:"
                       f"{parts.port or 5672}: {getattr(exc, 'strerror', None) or exc}") from exc


DeadQueue = Annotated[str | None, typer.Option(
    help="one consumer queue (default: all of the service's)")]
DeadLimit = Annotated[int, typer.Option(min=1, help="at most this many per queue")]


@dead_app.command("list")
def dead_letters_list(
        service: Annotated[Service, typer.Argument()], queue: DeadQueue = None,
        limit: DeadLimit = 1000):
    """Print the service's dead letters, one JSON object a line (they stay where they are)."""
    from cdht.config import load_config
    from cdht_tools import deadletters
    config = load_config(service)
    with _broker(config):
        for name in _queues(service, queue):
            for letter in deadletters.list_dead_letters(config, name, limit=limit):
                typer.echo(json.dumps(letter, ensure_ascii=False, default=str))


@dead_app.command("replay")
def dead_letters_replay(
        service: Annotated[Service, typer.Argument()], queue: DeadQueue = None,
        limit: DeadLimit = 1000):
    """Put the service's dead letters back on their consumer queues, attempts reset."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cdht.config import load_config
    from cdht_tools import deadletters
    config = load_config(service)
    queues = _queues(service, queue)
    replayed = {}
    console = _console(stderr=True)
    with _broker(config), Progress(TextColumn("{task.description}"), BarColumn(),
                                   MofNCompleteColumn(), console=console, transient=True,
                                   disable=not console.is_terminal) as bar:
        task = bar.add_task("replaying", total=len(queues))
        for name in queues:
            bar.update(task, description=f"replaying {name}")
            replayed[name] = deadletters.replay(config, name, limit=limit)
            bar.advance(task)
    for name, result in replayed.items():  # a ReplayResult: the count, and what came back
        typer.echo(f"{name}: {result.describe()}")
    typer.echo(f"{sum(replayed.values())} message(s) replayed from {len(queues)} queue(s)")


# -- tokens, local processes, status ------------------------------------------------------------
@app.command("token")
def token(role: Annotated[str, typer.Option(callback=_role, metavar="ROLE",
                                            help="admin, province_staff, commune_staff, "
                                                 "reviewer, citizen or learning_platform")],
          subject: Annotated[str, typer.Option(help="who: the registry person id of staff and "
                                                    "citizens, a name for an operator, the "
                                                    "platform's id in xapi.yaml for a "
                                                    "learning_platform")],
          unit: Annotated[str | None, typer.Option(
              help="unit code whose subtree the caller works in (required but for admin and "
                   "learning_platform)")]
          = None,
          ttl: Annotated[int | None, typer.Option(
              min=1, help="seconds until it expires (default 3600, at most 43200: 12 h)")]
          = None):
    """Print a bearer token for the HTTP APIs, signed with AUTH_SIGNING_KEY (the environment's,
    or the local dev key bin/up made), and record its minting in the audit
    (AUTH_AUDIT_DIR/tokens.jsonl, default var/audit/)."""
    from cdht import auth
    from cdht_tools import local, tokens
    signing_key = local.signing_key()
    if not signing_key:
        raise CliError("no AUTH_SIGNING_KEY: set it in the environment (the operator's signing "
                       "key, never a service's setting), or start the local system once "
                       "(bin/up makes var/auth-signing-key)", 2)
    typer.echo(tokens.issue(signing_key, subject=subject, role=role, unit_code=unit,
                            ttl_seconds=ttl or auth.DEFAULT_TTL))


@app.command("provision")
def provision():
    """Create or update each service's own database roles (owner, run time) and broker user
    from <SERVICE>_MIGRATION_DATABASE_URL, <SERVICE>_DATABASE_URL and <SERVICE>_AMQP_URI,
    as POSTGRES_ADMIN_URL and RABBITMQ_ADMIN_URL (the management API); run it again after
    changing a password there (docs/operator-guide.md, "Credentials")."""
    from cdht.config import SERVICES, load_config
    from cdht_tools import credentials
    missing = [name for name in ("POSTGRES_ADMIN_URL", "RABBITMQ_ADMIN_URL",
                                 *(f"{s.upper()}_AMQP_URI" for s in SERVICES))
               if not os.environ.get(name)]
    if missing:
        raise CliError(f"set {', '.join(missing)}", 2)
    configs = {s: load_config(s) | {"AMQP_URI": os.environ[f"{s.upper()}_AMQP_URI"]}
               for s in SERVICES}
    if os.environ.get("PORTAL_MIGRATION_DATABASE_URL"):  # the portal: roles, no broker user
        configs[PORTAL] = load_config(PORTAL) | {"AMQP_URI": ""}
    credentials.provision(os.environ["POSTGRES_ADMIN_URL"], os.environ["RABBITMQ_ADMIN_URL"],
                          credentials.keys_from_configs(configs), echo=typer.echo)


@app.command("audit-verify")
def audit_verify():
    """Check the registry's personal data audit from its first row to its last: each row's
    hash over the row before it and its own content (docs/operator-guide.md, "The personal
    data audit"). Prints the rows checked; exit 1 naming the first broken row."""
    from sqlalchemy.orm import Session

    from cdht.config import load_config
    from cdht.db import make_engine
    from services.registry.audit_chain import verify
    from services.registry.store import Store
    engine = make_engine(load_config("registry")["DATABASE_URL"], pool_size=1, max_overflow=0,
                         isolation_level="REPEATABLE READ")  # rows and head: one snapshot
    try:
        with _database("registry"), Session(engine) as session:
            store = Store(session)
            head = store.audit_head()
            checked, broken = verify(store.audit_chain(), head)
    finally:
        engine.dispose()
    typer.echo(f"rows checked: {checked}")
    if broken:
        row, why = broken
        typer.echo(f"first broken row: {row} ({why})")
        return 1
    typer.echo("the chain is whole")
    return 0


@app.command("up")
def up():
    """Start the four services as local processes (databases migrated first); see bin/up."""
    from cdht_tools import local
    return local.up()


@app.command("down")
def down():
    """Stop the local processes that `cdht up` started."""
    from cdht_tools import local
    return local.down()


@app.command("status")
def status(timeout: Annotated[float, typer.Option(help="seconds per request")] = 3.0):
    """Each service's /health and /metrics, as a table; exit 1 if any service is down."""
    from rich.table import Table

    from cdht_tools import demo
    table = Table("service", "url", "health", "metrics")
    rows = demo.status(timeout=timeout)
    for row in rows:
        health = ("[green]ok[/]" if row["healthy"] else f"[red]{row['health']}[/]")
        table.add_row(row["service"], row["url"], health, row["metrics"])
    _console().print(table)
    down_ = [r["service"] for r in rows if not r["healthy"]]
    if down_:
        raise CliError(f"not healthy: {', '.join(down_)}", 1)


# -- running it ---------------------------------------------------------------------------------
def _one_line(exc):
    """(message, exit status) for a failure: what an operator can act on, in one line, with
    no personal data (drivers quote the rows they refused)."""
    import amqp.exceptions
    from kombu.exceptions import OperationalError as BrokerDown
    from sqlalchemy.exc import OperationalError as DatabaseDown

    from cdht.redact import redact
    message, code = f"{type(exc).__name__}: {exc}", 1
    if isinstance(exc, CliError):
        message, code = str(exc), exc.code
    elif isinstance(exc, DatabaseDown):
        message = f"cannot reach the database: {getattr(exc, 'orig', None) or exc}"
    elif isinstance(exc, BrokerDown):
        message = f"cannot reach RabbitMQ: {exc}"
    elif isinstance(exc, amqp.exceptions.NotFound):
        message = f"RabbitMQ: {exc.reply_text or exc}"
    elif isinstance(exc, FileNotFoundError):
        message, code = f"no such file: {exc.filename or exc}", 2
    elif isinstance(exc, PermissionError):
        message, code = f"permission denied: {exc.filename or exc}", 2
    elif type(exc) is ValueError:  # the domain's own refusals say what is wrong
        message = str(exc)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return _redact_but_addresses(" ".join(lines[:2]), redact)[:500], code


def _redact_but_addresses(text, redact):
    """redact() masks long numbers, and so IPv4 addresses ("127.0.0.1"): keep those."""
    import re
    octet = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"  # no leading zeros: "089.085..." is no IP
    addresses = re.findall(rf"(?<![\d.]){octet}(?:\.{octet}){{3}}(?![\d.])", text)
    for i, address in enumerate(addresses):
        text = text.replace(address, f"\x00{i}\x00", 1)
    text = redact(text)
    for i, address in enumerate(addresses):
        text = text.replace(f"\x00{i}\x00", address, 1)
    return text


def main(argv=None):
    """The console script ``cdht`` and ``python -m cdht_tools``: run a command, return its exit
    status (commands return an int, or None for 0)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = app(args=argv, prog_name="cdht", standalone_mode=False)
    except typer.TyperException as exc:  # usage: what click says, with the command's usage
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help
            show = getattr(exc, "show", None)
            show() if show else typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # one clear line and a non-zero status, not a traceback
        if _state["debug"]:
            traceback.print_exc()
        message, code = _one_line(exc)
        typer.echo(f"error: {message}", err=True)
        return code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
