"""A scratch PostgreSQL server set up as the compose stack sets up its own, for benchmarks that
measure what operators will run beside what the machine's server (installed defaults) gives.

The settings are read from docker-compose.yml's ``postgres`` command (``-c name=value``,
``${VAR:-default}`` resolved from the environment as compose does), so they are declared in
one place. The server is this machine's PostgreSQL binaries on a fresh data directory, on a
port of its own, removed when the run ends.
"""
import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import yaml

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
    """A PostgreSQL server with ``settings``, trust logins on 127.0.0.1: yields its
    SQLAlchemy URL (no database), stops and removes it afterwards."""
    bindir = _bindir()
    home = Path(tempfile.mkdtemp(prefix="cdht-bench-pg-"))
    data, port = home / "data", _free_port()
    owner = _run_as()
    if owner:
        shutil.chown(home, owner)
    _run([f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
          "--locale=C.UTF-8"], owner)
    options = " ".join(f"-c {name}={value}" for name, value in
                       {**settings, "port": port, "listen_addresses": "127.0.0.1",
                        "unix_socket_directories": str(home)}.items())
    _run([f"{bindir}/pg_ctl", "-D", str(data), "-l", str(home / "log"), "-w", "-o", options,
          "start"], owner)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        _run([f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], owner)
        shutil.rmtree(home, ignore_errors=True)


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or \
        [shutil.which("initdb") or ""]
    if not found[-1]:
        raise SystemExit("no PostgreSQL server binaries (initdb) on this machine")
    return str(Path(found[-1]).parent)


def _run_as():
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user."""
    return "postgres" if os.geteuid() == 0 else None


def _run(command, owner):
    if owner:
        command = ["runuser", "-u", owner, "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
