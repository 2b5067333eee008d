"""The guides stay complete and their links and pictures stay good: the operator guide names
every environment variable the services' configs, the tools and the compose files read; every
relative link and image in the docs resolves; the staff guide's screenshots exist and are
small enough to commit."""
import json
import re

import pytest

from cdht.config import PROCESSES, ROOT

GUIDE = ROOT / "docs" / "operator-guide.md"
DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIG_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")
ENV_READ = re.compile(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z_][A-Z0-9_]*)[\"']")
SHELL_VAR = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)")
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
# read by the test suite or the fault suite only, not by anything an operator runs
NOT_FOR_OPERATORS = {"EVENTLET_TESTS", "PYTHONPATH", "SERVICES", "PY"}


def uncommented(path):
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))


def variables_read():
    found = {}
    for service in PROCESSES:
        for name in CONFIG_VAR.findall(uncommented(ROOT / "services" / service /
                                                   "config.yaml")):
            found.setdefault(name, f"services/{service}/config.yaml")
    for path in [*ROOT.glob("cdht/**/*.py"), *ROOT.glob("cdht_tools/**/*.py"),
                 *ROOT.glob("services/**/*.py"), *ROOT.glob("deploy/*.py")]:
        for name in ENV_READ.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    for path in [ROOT / "bin" / "up", ROOT / "bin" / "down", ROOT / "bin" / "setup",
                 *ROOT.glob("deploy/*.sh")]:
        for name in SHELL_VAR.findall(uncommented(path)):
            found.setdefault(name, str(path.relative_to(ROOT)))
    for path in [ROOT / "docker-compose.yml", ROOT / "docker-compose.dev.yml",
                 *ROOT.glob("deploy/*/docker-compose*.yml")]:
        for name in COMPOSE_VAR.findall(uncommented(path)):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return {k: v for k, v in found.items() if k not in NOT_FOR_OPERATORS}


def test_the_scan_finds_what_the_configs_read():
    """Control: the scan sees variables of every kind of source."""
    found = variables_read()
    for name, source in (("AMQP_URI", "services/registry/config.yaml"),
                         ("SMS_GATEWAY_URL", "services/notifications/config.yaml"),
                         ("CDHT_VAR_DIR", "cdht_tools/local.py"), ("CDHT_LOCAL", "bin/up"),
                         ("POSTGRES_PASSWORD", "docker-compose.yml")):
        assert found.get(name) == source, (name, found.get(name))


def test_operator_guide_names_every_environment_variable():
    guide = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z_][A-Z0-9_]*)`", guide))
    missing = {name: source for name, source in variables_read().items() if name not in named}
    assert not missing, f"docs/operator-guide.md does not name (read in): {missing}"


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve()
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md":
            headings = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                        for h in re.findall(r"^#+ (.*)$", resolved.read_text(encoding="utf-8"),
                                            re.M)}
            if anchor not in headings:
                broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: broken links {broken}"


def test_staff_guide_has_its_screenshots_in_commit_size():
    guide = (ROOT / "docs" / "huong-dan-can-bo.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]+\]\((img/[^)]+\.png)\)", guide)
    assert len(images) >= 4
    for image in images:
        path = ROOT / "docs" / image
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", image
        assert 10_000 < len(data) < 300_000, (image, len(data))
    # every picture docs/screenshots.py takes of the dashboard is used by the guide, and the
    # portal's are those its browser test takes (at a phone's and a desktop's size)
    taken = set(re.findall(r'shot\("([a-z-]+)"', (ROOT / "docs" / "screenshots.py").read_text()))
    assert {f"img/{name}.png" for name in taken} == {i for i in images if "/" not in i[4:]}
    browser_tests = "".join((ROOT / "tests" / "e2e" / "portal" / name).read_text()
                            for name in ("test_browser.py", "test_verify_page.py"))
    portal = {f"img/portal/{name}-{size}.png" for name in re.findall(r'checked\("([a-z-]+)"',
                                                                     browser_tests)
              for size in ("phone", "desktop")}
    assert {i for i in images if i.startswith("img/portal/")} <= portal
    assert len([i for i in images if i.startswith("img/portal/")]) >= 4


def test_staff_guide_is_in_vietnamese():
    text = (ROOT / "docs" / "huong-dan-can-bo.md").read_text(encoding="utf-8")
    for phrase in ("Đăng nhập", "mã truy cập", "Xét duyệt", "bảng điều khiển", "báo cáo"):
        assert phrase.lower() in text.lower(), phrase


def test_staff_guide_review_and_decision_bodies_are_what_the_api_accepts():
    """The review and decision calls are illustrative (they need a real assessment id), so
    their bodies are checked against the schemas assessment loads them with."""
    from services.assessment.schemas import DecisionRequestSchema, ReviewSchema
    text = (ROOT / "docs" / "huong-dan-can-bo.md").read_text(encoding="utf-8")
    calls = re.findall(r"/assessments/<[^>]+>/(review|decision)\s*\\?\s*-d '([^']+)'", text)
    assert sorted({kind for kind, _ in calls}) == ["decision", "review"], calls
    for kind, body in calls:
        schema = ReviewSchema() if kind == "review" else DecisionRequestSchema()
        assert schema.validate(json.loads(body)) == {}, (kind, body)
    inline = re.findall(r"`(\{\"decision\": [^`]+\})`", text)
    assert inline and all(DecisionRequestSchema().validate(json.loads(b)) == {} for b in inline)
