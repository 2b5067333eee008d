"""``python -m cdht``: operator commands (databases, dead letters).

    python -m cdht db upgrade all|<service> [revision]
    python -m cdht db downgrade <service> <revision>
    python -m cdht db revision <service> -m "message"     (autogenerate, for developers)
    python -m cdht dead-letters list <service>
    python -m cdht dead-letters replay <service> [--queue Q] [--limit N]
    python -m cdht up | down        (the four services as local processes; see bin/up)
    python -m cdht import people FILE [--dry-run] [--errors REPORT.csv|.xlsx]
    python -m cdht close-year YEAR --unit CODE   (decide every open submission and group)
    python -m cdht rebuild reporting [--dry-run]  (recompute the projections, print drift)
    python -m cdht token --role R --unit CODE --subject ID [--ttl SECONDS]   (a bearer token)
"""
import argparse
import json
import logging
import sys

from cdht.config import SERVICES


def _services(name):
    return SERVICES if name == "all" else (name,)


def cmd_db(args):
    from cdht import db
    if args.action == "upgrade":
        for service in _services(args.service):
            db.upgrade(service, args.revision or "head")
            print(f"{service}: migrated to {args.revision or 'head'}")
    elif args.action == "downgrade":
        db.downgrade(args.service, args.revision)
        print(f"{args.service}: downgraded to {args.revision}")
    elif args.action == "revision":
        from alembic import command
        cfg = db.alembic_config(args.service)
        db.create_database(cfg.attributes["database_url"])
        command.upgrade(cfg, "head")
        from alembic.script import ScriptDirectory
        count = len(list(ScriptDirectory.from_config(cfg).walk_revisions()))
        command.revision(cfg, message=args.message, autogenerate=True, rev_id=f"{count + 1:04d}")


def cmd_dead_letters(args):
    from cdht import deadletters
    from cdht.config import load_config
    config = load_config(args.service)
    queues = [args.queue] if args.queue else deadletters.consumer_queues(args.service)
    for queue in queues:
        if args.action == "list":
            for letter in deadletters.list_dead_letters(config, queue, limit=args.limit):
                print(json.dumps(letter, ensure_ascii=False, default=str))
        else:
            count = deadletters.replay(config, queue, limit=args.limit)
            print(f"{queue}: replayed {count} message(s)")


def cmd_up(args):
    from cdht import local
    return local.up()


def cmd_down(args):
    from cdht import local
    return local.down()


def cmd_import(args):
    from services.registry.imports import cli_import_people
    return cli_import_people(args)


def cmd_close_year(args):
    from services.assessment.closing import main as close_year
    return close_year(args.year, args.unit, batch_size=args.batch_size, quiet=args.quiet,
                      workers=args.workers)


def cmd_rebuild(args):
    from services.reporting.rebuild import main as rebuild
    return rebuild(["--dry-run"] if args.dry_run else [])


def cmd_token(args):
    from cdht import auth, local
    secret = local.auth_secret()
    if not secret:
        print("error: no AUTH_SECRET: set it in the environment (the services' value), or "
              "start the local system once (bin/up makes var/auth-secret)", file=sys.stderr)
        return 2
    print(auth.mint_token(secret, subject=args.subject, role=args.role, unit_code=args.unit,
                          ttl_seconds=args.ttl))
    return 0


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m cdht", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p_db = sub.add_parser("db", help="create and migrate the services' databases")
    p_db.add_argument("action", choices=("upgrade", "downgrade", "revision"))
    p_db.add_argument("service", choices=(*SERVICES, "all"))
    p_db.add_argument("revision", nargs="?")
    p_db.add_argument("-m", "--message", default="change")
    p_db.set_defaults(func=cmd_db)

    p_dl = sub.add_parser("dead-letters", help="list or replay a service's dead letters")
    p_dl.add_argument("action", choices=("list", "replay"))
    p_dl.add_argument("service", choices=SERVICES)
    p_dl.add_argument("--queue", help="one consumer queue (default: all of the service's)")
    p_dl.add_argument("--limit", type=int, default=1000)
    p_dl.set_defaults(func=cmd_dead_letters)

    sub.add_parser("up", help="start the four services as local processes").set_defaults(
        func=cmd_up)
    sub.add_parser("down", help="stop the local processes").set_defaults(func=cmd_down)

    p_imp = sub.add_parser("import", help="bulk-import a commune's spreadsheet (CSV or XLSX) "
                                          "into the registry")
    p_imp.add_argument("what", choices=("people",))
    p_imp.add_argument("file", help="a .csv (UTF-8, comma or semicolon) or .xlsx file")
    p_imp.add_argument("--dry-run", action="store_true",
                       help="check every row and count what would change; write nothing")
    p_imp.add_argument("--errors", metavar="REPORT",
                       help="also write the error report to REPORT (.csv or .xlsx)")
    p_imp.add_argument("--chunk-rows", type=int, default=5000, help=argparse.SUPPRESS)
    p_imp.add_argument("--show-errors", type=int, default=20,
                       help="how many errors to print (default 20)")
    p_imp.set_defaults(func=cmd_import)

    p_close = sub.add_parser("close-year", help="close a year for a unit's subtree: decide "
                                                "every open submission, then every group")
    p_close.add_argument("year", type=int)
    p_close.add_argument("--unit", required=True, help="unit code: a commune, or the province")
    p_close.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    p_close.add_argument("--quiet", action="store_true", help="no progress bar")
    p_close.add_argument("--workers", type=int, default=2,
                         help="processes deciding submissions side by side (default 2)")
    p_close.set_defaults(func=cmd_close_year)

    p_rebuild = sub.add_parser("rebuild", help="recompute reporting's projections from the "
                                               "source services and print the drift")
    p_rebuild.add_argument("what", choices=("reporting",))
    p_rebuild.add_argument("--dry-run", action="store_true",
                           help="compute and print the drift, change nothing")
    p_rebuild.set_defaults(func=cmd_rebuild)

    from cdht.auth import DEFAULT_TTL, ROLES
    p_token = sub.add_parser("token", help="mint a bearer token for the HTTP APIs (signed "
                                           "with AUTH_SECRET)")
    p_token.add_argument("--role", required=True, choices=ROLES)
    p_token.add_argument("--unit", help="unit code whose subtree the caller works in "
                                        "(required but for admin)")
    p_token.add_argument("--subject", required=True,
                         help="who: the registry person id of staff and citizens, a name "
                              "for an operator")
    p_token.add_argument("--ttl", type=int, default=DEFAULT_TTL,
                         help=f"seconds until it expires (default {DEFAULT_TTL})")
    p_token.set_defaults(func=cmd_token)

    args = parser.parse_args(argv)
    if args.command == "db" and args.action == "downgrade" and not args.revision:
        parser.error("db downgrade needs a revision")
    try:
        return args.func(args) or 0
    except Exception as exc:  # a clear message and a non-zero exit, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
