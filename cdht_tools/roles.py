"""The role table: who may call each HTTP route of the four services, read off the routes'
``@api`` declarations (docs/architecture.md §D11), as docs/roles.md prints it.

    python -m cdht_tools.roles > docs/roles.md          # regenerate
    python -m cdht_tools.roles --check docs/roles.md    # exit 1 if out of date
"""
import argparse
import importlib
import re
import sys
from pathlib import Path

from cdht.auth import ROLES
from cdht.config import SERVICES
from cdht.openapi import routes_of

REGENERATE = "python -m cdht_tools.roles > docs/roles.md"
LETTERS = {"admin": "A", "province_staff": "P", "commune_staff": "C", "reviewer": "R",
           "citizen": "Z", "learning_platform": "L"}
HEADER = f"""# Who may call what

Read off the routes' `@api` declarations by `{REGENERATE}`
(a test fails while this file differs).

A = admin, P = province staff, C = commune staff, R = reviewer, Z = citizen, L = learning
platform (a machine client posting xAPI statements); an admin may call every route. The role
only opens the door: inside a route a caller reaches what lies in its unit's subtree, and a
citizen only their own records (README, "Security").

Routes without a token: {{public}}.
"""


def service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    return next(value for value in vars(module).values()
                if isinstance(value, type) and getattr(value, "name", None) == name
                and value.__module__ == module.__name__)


def shown(path):
    """A route's path as people read it: ``<int:year>``, not its converter's arguments."""
    return re.sub(r"<(\w+)\([^)]*\):", r"<\1:", path)


def markdown():
    public, lines = set(), []
    for name in SERVICES:
        lines += [f"\n## {name}\n", "| route | " + " | ".join(LETTERS[r] for r in ROLES) + " |",
                  "|---|" + "---|" * len(ROLES)]
        for route in routes_of(service_class(name)):
            if route.public:
                public.add(f"`{route.method} {shown(route.path)}`")
                continue
            marks = " | ".join("✓" if route.allows(role) else "" for role in ROLES)
            lines.append(f"| `{route.method} {shown(route.path)}` | {marks} |")
    return (HEADER.format(public=", ".join(sorted(public))) + "\n".join(lines) + "\n"
            + person_view())


def person_view():
    """What each role sees of a person, read off services.registry.disclosure."""
    from services.registry.disclosure import PERSON_VIEW, PERSONAL_FIELDS
    lines = ["\n## What each role sees of a person (registry)\n",
             "Every person response (`GET /people`, `GET /people/<id>`, the answers of POST,",
             "PATCH and DELETE) shows the caller, inside their scope, these fields as",
             "`services/registry/disclosure.py` declares them; the national ID only as",
             "`national_id_masked`, a birth year as `birth_year`. Inside `PATCH /units/<code>`",
             "and `POST /units`, a unit's kind and parent (and a new province) are an admin's",
             "to set (403 `unit_structure_admin_only`).\n",
             "| field | " + " | ".join(LETTERS[r] for r in ROLES) + " |",
             "|---|" + "---|" * len(ROLES)]
    for field in PERSONAL_FIELDS:
        lines.append(f"| `{field}` | " + " | ".join(PERSON_VIEW[r][field] for r in ROLES)
                     + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cdht_tools.roles", description=__doc__)
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="exit 1 if FILE differs from the generated table")
    args = parser.parse_args(argv)
    text = markdown()
    if args.check is None:
        sys.stdout.write(text)
        return 0
    if args.check.read_text(encoding="utf-8") != text:
        print(f"{args.check} is out of date: run {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
