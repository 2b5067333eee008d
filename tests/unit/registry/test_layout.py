"""How the registry's code is laid out (docs/architecture.md): one service class in the module
``nameko run`` starts, handlers that hold no SQL (the store does), short modules."""
import ast
import inspect
from pathlib import Path

import services.registry

PACKAGE = Path(services.registry.__file__).resolve().parent
HANDLER_MODULES = ("service.py", "handlers.py", "units.py", "people.py", "groups.py",
                   "memberships.py", "association.py", "activities.py", "group_titles.py",
                   "rpc.py", "exports.py", "structure_events.py", "imports/api.py")


def imported(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_nameko_run_finds_one_service_in_the_module():
    """`nameko run services.registry.service` starts every class of the module that has
    entrypoints: the handler mixins must not be module attributes."""
    from services.registry import service

    def has_entrypoints(cls):
        return any(getattr(getattr(cls, name, None), "nameko_entrypoints", None)
                   for name in dir(cls))
    assert [name for name, value in vars(service).items()
            if inspect.isclass(value) and has_entrypoints(value)] == ["RegistryService"]


def test_the_handlers_hold_no_sql():
    offenders = {name: [m for m in imported(PACKAGE / name) if m.split(".")[0] == "sqlalchemy"]
                 for name in HANDLER_MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}
    assert imported(PACKAGE / "store" / "units.py")  # control: the scan reads real modules


def test_the_rules_are_plain_python():
    for name in ("domain.py", "title_rules.py", "imports/files.py", "imports/people_rows.py",
                 "imports/group_rows.py", "imports/layout.py"):
        assert not [m for m in imported(PACKAGE / name)
                    if m.split(".")[0] in ("sqlalchemy", "nameko", "eventlet")], name


def test_no_module_is_over_600_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if "migrations" not in path.parts
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}


def test_both_kinds_go_through_the_one_import_function(tmp_path, capsys):
    from types import SimpleNamespace

    from services.registry.imports.cli import run_import
    args = SimpleNamespace(file=str(tmp_path / "missing.csv"), dry_run=True, errors=None,
                           show_errors=0, chunk_rows=10)
    assert run_import("people", args) == 2 and run_import("groups", args) == 2
    assert capsys.readouterr().err.count("no such file") == 2
