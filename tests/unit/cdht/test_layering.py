"""The packages' layering (docs/architecture.md): ``cdht`` is the shared plumbing and imports
neither the services nor the tooling; the services never import the tooling (``cdht_tools``),
which may import both."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def imported(source, filename="<source>"):
    """Every module ``source`` imports: import statements at any depth (inside functions too),
    and importlib.import_module / __import__ of a literal or f-string name."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Call) and node.args and (
                getattr(node.func, "attr", None) == "import_module"
                or getattr(node.func, "id", None) in ("import_module", "__import__")):
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.append(name.value)
            elif isinstance(name, ast.JoinedStr) and name.values and isinstance(
                    name.values[0], ast.Constant):
                found.append(name.values[0].value)  # the literal start of f"services.{x}"
    return found


def offenders(package, forbidden):
    """``path: module`` of every import under ``package`` of a module in ``forbidden``."""
    bad, paths = [], sorted((ROOT / package).rglob("*.py"))
    assert len(paths) > 5, f"{package}: the scan found no code to walk"
    for path in paths:
        for module in imported(path.read_text(encoding="utf-8"), str(path)):
            if module.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(ROOT)}: {module}")
    return bad


@pytest.mark.parametrize("source, module", [
    ("from services.registry import domain", "services.registry"),
    ("def f():\n    import services.reporting.export", "services.reporting.export"),
    ("import importlib\nimportlib.import_module(f'services.{name}.service')", "services."),
    ("__import__('cdht_tools.cli')", "cdht_tools.cli"),
])
def test_the_scan_sees_every_kind_of_import(source, module):
    """Control: a scan that saw nothing would let every layering test pass."""
    assert module in imported(source)


def test_cdht_imports_no_service_and_no_tooling():
    assert offenders("cdht", {"services", "cdht_tools"}) == []


def test_the_services_import_no_tooling():
    assert offenders("services", {"cdht_tools"}) == []
