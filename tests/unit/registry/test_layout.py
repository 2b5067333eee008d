"""The registry's own layout: one import function for both kinds of bulk import. What every
service shares (one service class in the module ``nameko run`` starts, handlers that hold no
SQL, rules in plain Python, short modules) is checked in tests/unit/test_services_layout.py."""
from types import SimpleNamespace

from services.registry.imports.cli import run_import


def test_both_kinds_go_through_the_one_import_function(tmp_path, capsys):
    args = SimpleNamespace(file=str(tmp_path / "missing.csv"), dry_run=True, errors=None,
                           show_errors=0, chunk_rows=10)
    assert run_import("people", args) == 2 and run_import("groups", args) == 2
    assert capsys.readouterr().err.count("no such file") == 2
