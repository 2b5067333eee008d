"""A scratch PostgreSQL server set up as the compose stack sets up its own, for benchmarks that
measure what operators will run beside what the machine's server (installed defaults) gives.

The settings are read from docker-compose.yml's ``postgres`` command (``-c name=value``,
``${VAR:-default}`` resolved from the environment as compose does), so they are declared in
one place. The server is the fault suite's private cluster (this machine's PostgreSQL binaries
on a fresh data directory, a port of its own), removed when the run ends.
"""
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from fault.servers import PrivatePostgres

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression")


def compose_settings(compose_file=ROOT / "docker-compose.yml", environ=os.environ):
    """``{name: value}`` of the ``-c name=value`` arguments of the compose stack's postgres
    command, each ``${VAR:-default}`` resolved from ``environ``."""
    command = yaml.safe_load(Path(compose_file).read_text())["services"]["postgres"]["command"]
    settings = {}
    for flag, argument in zip(command, command[1:]):
        if flag == "-c":
            name, value = _resolved(argument, environ).split("=", 1)
            settings[name] = value
    return settings


def _resolved(text, environ):
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environ.get(m[1]) or m[2], text)


def server_settings(connection):
    """The settings a benchmark prints beside its figures, as the server reports them."""
    return {name: connection.exec_driver_sql(f"SHOW {name}").scalar() for name in SHOWN}


@contextlib.contextmanager
def scratch_server(settings):
    """A PostgreSQL server with ``settings`` (fault.servers.PrivatePostgres: this machine's
    binaries, trust logins on 127.0.0.1, a free port): yields its SQLAlchemy URL (no
    database), stops and removes it afterwards."""
    home = Path(tempfile.mkdtemp(prefix="cdht-bench-pg-"))
    os.chmod(home, 0o755)  # the postgres user must reach its directory inside
    server = PrivatePostgres(home, settings)
    try:
        server.init()
        server.start()
        yield server.url("").rstrip("/")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
