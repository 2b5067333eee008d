"""How every service's code is laid out (docs/architecture.md §D1: four services and the
portal, each its own package): one service class in the module ``nameko run`` starts, short modules, handlers
that hold no SQL where the service has a store, rules in plain Python."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
SERVICE_CLASSES = {"registry": "RegistryService", "assessment": "AssessmentService",
                   "reporting": "ReportingService", "notifications": "NotificationsService",
                   "portal": "PortalService"}
# modules the handlers share that define no entrypoint themselves (those that do are found
# from the service class)
HANDLER_HELPERS = {"registry": ("handlers.py", "structure_events.py"),
                   "assessment": ("api_support.py",),
                   "notifications": ("extensions.py",),
                   "portal": ("pages.py", "extensions.py", "backend.py")}
# the rules: no database, no nameko, no eventlet
RULE_MODULES = {
    "registry": ("domain.py", "title_rules.py", "imports/files.py", "imports/people_rows.py",
                 "imports/group_rows.py", "imports/layout.py"),
    "assessment": ("domain.py", "criteria.py", "reasons.py", "approval.py"),
    "reporting": ("domain.py", "milestones.py", "rules.py", "words.py"),
    "notifications": ("domain.py", "rules.py", "timing.py", "wording.py", "sms.py"),
    "portal": ("signin.py", "words.py", "menu.py"),
}
MAX_LINES = 600


def imported(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def sql_imports(path):
    return [m for m in imported(path) if m.split(".")[0] == "sqlalchemy"]


def has_entrypoints(cls):
    return any(getattr(getattr(cls, name, None), "nameko_entrypoints", None)
               for name in dir(cls))


def service_module(service):
    return importlib.import_module(f"services.{service}.service")


def store_of(service):
    """The service's store: store.py, or a store/ package (None: it has none)."""
    package = SERVICES_DIR / service
    if (package / "store.py").exists():
        return package / "store.py"
    if (package / "store" / "__init__.py").exists():
        return package / "store"
    return None


def handler_modules(service):
    """The files of the service module, of every class of the service that declares an
    entrypoint (its mixins), and of the helpers they share."""
    cls = getattr(service_module(service), SERVICE_CLASSES[service])
    package = SERVICES_DIR / service
    found = {Path(inspect.getfile(service_module(service)))}
    for base in cls.__mro__:
        if base.__module__.startswith(f"services.{service}.") and any(
                getattr(value, "nameko_entrypoints", None) for value in vars(base).values()):
            found.add(Path(inspect.getfile(base)))
    found |= {package / name for name in HANDLER_HELPERS.get(service, ())}
    return {str(path.relative_to(package)): path for path in found}


@pytest.mark.parametrize("service", SERVICE_CLASSES)
def test_nameko_run_finds_one_service_in_the_module(service):
    """`nameko run services.<name>.service` starts every class of the module that has
    entrypoints: the handler mixins must not be module attributes."""
    module = service_module(service)
    assert [name for name, value in vars(module).items()
            if inspect.isclass(value) and has_entrypoints(value)] == [SERVICE_CLASSES[service]]


@pytest.mark.parametrize("service", SERVICE_CLASSES)
def test_no_module_is_over_600_lines(service):
    package = SERVICES_DIR / service
    modules = [path for path in package.rglob("*.py") if "migrations" not in path.parts]
    long = {str(path.relative_to(package)): n for path in modules
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert modules and long == {}


@pytest.mark.parametrize("service", [s for s in SERVICE_CLASSES if store_of(s)])
def test_the_handlers_hold_no_sql_where_a_store_exists(service):
    modules = handler_modules(service)
    assert {name: sql_imports(path) for name, path in modules.items()
            if sql_imports(path)} == {}
    # controls: the mixins were found, and the scan sees the SQL where it is
    assert len(modules) > 2
    store = store_of(service)
    assert any(sql_imports(path) for path in ([store] if store.is_file()
                                              else store.glob("*.py")))


def test_the_handler_modules_found_are_those_of_the_mixins():
    assert set(handler_modules("notifications")) == {
        "service.py", "events.py", "sending.py", "schedules.py", "deliveries_api.py",
        "extensions.py"}
    assert {"units.py", "people.py", "rpc.py", "imports/api.py", "handlers.py"} <= set(
        handler_modules("registry"))


@pytest.mark.parametrize("service", RULE_MODULES)
def test_the_rules_are_plain_python(service):
    for name in RULE_MODULES[service]:
        assert not [m for m in imported(SERVICES_DIR / service / name)
                    if m.split(".")[0] in ("sqlalchemy", "nameko", "eventlet")], name
