"""tests/docs/fake_docker.py stands in for `docker` when the docs tests run the guides'
compose commands: it must refuse what the real thing would refuse, or those tests prove
nothing."""
import subprocess
import sys

import pytest

from cdht.config import ROOT

FAKE = ROOT / "tests" / "docs" / "fake_docker.py"


def docker(*args):
    return subprocess.run([sys.executable, str(FAKE), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("compose", "up", "-d", "--build", "--wait"),
    ("compose", "-f", "docker-compose.yml", "-f", "docker-compose.dev.yml", "ps"),
    ("compose", "exec", "-T", "postgres", "pg_dump", "-U", "cdht", "-Fc", "cdht_registry"),
    ("compose", "run", "--rm", "migrate", "deploy/migrate.sh", "upgrade", "registry"),
    ("compose", "exec", "reporting", "python", "-m", "cdht_tools", "dead-letters", "list",
     "reporting"),
    ("compose", "up", "-d", "--scale", "reporting=3"),
    ("compose", "cp", "rabbitmq:/tmp/defs.json", "backup/"),
    ("build", "-f", "deploy/Dockerfile", "-t", "cdht:latest", "."),
])
def test_accepts_what_compose_would_run(args):
    result = docker(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("checked (no Docker engine here)")


@pytest.mark.parametrize("args, why", [
    (("compose", "exec", "postgress", "psql"), "no such service"),
    (("compose", "run", "--rm", "migrate", "deploy/migrat.sh"), "not an executable script"),
    (("compose", "exec", "reporting", "python", "-m", "cdht_tools", "dead-letter"), "no command"),
    (("compose", "exec", "registry", "python", "-m", "cdht", "token"), "no such module"),
    (("compose", "-f", "docker-compose.prod.yml", "up"), "no such compose file"),
    (("compose", "up", "-d", "--scale", "report=3"), "--scale names no service"),
    (("compose", "upp"), "unknown compose subcommand"),
    (("run", "postgres"), "not checked"),
    (("build", "-f", "deploy/Dockerfile.nope", "."), "no such Dockerfile"),
])
def test_refuses_what_compose_would_refuse(args, why):
    result = docker(*args)
    assert result.returncode == 1
    assert why in result.stderr, result.stderr


def test_refuses_an_invalid_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace(
        "  init: true\n", "  inti: true\n", 1))
    result = docker("compose", "-f", str(broken), "ps")
    assert result.returncode == 1 and "compose config failed" in result.stderr
