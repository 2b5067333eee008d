"""bin/up without Docker (python -m cdht_tools up): a missing server is named, nothing starts."""
import os
import subprocess
import sys

from cdht.config import ROOT
from cdht_tools import local
from tests.support import free_port


def test_missing_servers_are_named():
    closed = free_port()  # nothing listens there
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:{closed}/",
           "REGISTRY_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/x"}
    missing = local.missing_servers(env)
    assert any(m.startswith(f"RabbitMQ at 127.0.0.1:{closed}") for m in missing)
    assert any(m.startswith(f"PostgreSQL at 127.0.0.1:{closed}") for m in missing)
    assert local.missing_servers({}) == []  # this machine's servers answer


def test_up_refuses_clearly_when_the_broker_is_missing(tmp_path):
    closed = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "cdht_tools", "up"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), "EVENTLET_TESTS": "1",
                         "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{closed}/"})
    assert result.returncode == 2
    assert f"RabbitMQ at 127.0.0.1:{closed}" in result.stderr
    assert "rabbitmq-server -detached" in result.stderr
    assert "Traceback" not in result.stderr
