"""Wait until the TCP ports behind some connection URLs accept connections.

Usage: python deploy/wait_for.py [--timeout SECONDS] ENV_VAR [ENV_VAR ...]

Each ENV_VAR names an environment variable holding a URL, for example AMQP_URI
(amqp://user:pass@rabbitmq:5672/) or REGISTRY_DATABASE_URL
(postgresql+psycopg2://user:pass@postgres:5432/cdht_registry). Variables are
passed by name, not value, so that passwords never show up in a process list or
in a message: only host and port are ever printed.

The timeout (default: $WAIT_TIMEOUT, else 60 s) covers all targets together.
Exit codes: 0 all reachable, 1 timed out, 2 usage or configuration error.
Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 60.0

# scheme (before any "+driver") -> (what it is, default port)
KNOWN_SCHEMES = {
    "postgresql": ("PostgreSQL", 5432),
    "postgres": ("PostgreSQL", 5432),
    "amqp": ("RabbitMQ", 5672),
    "amqps": ("RabbitMQ", 5671),
    "pyamqp": ("RabbitMQ", 5672),
}


class Target(NamedTuple):
    label: str  # e.g. "PostgreSQL (REGISTRY_DATABASE_URL)"
    host: str
    port: int


class ConfigError(Exception):
    pass


def parse_target(var: str, url: str) -> Target:
    """Turn the URL held by `var` into a Target; never echoes the URL itself."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # bad port number, bad IPv6 literal
        raise ConfigError(f"{var} is not a valid URL ({exc})") from None
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in KNOWN_SCHEMES:
        raise ConfigError(
            f"{var} has scheme {parts.scheme!r}; expected one of "
            + ", ".join(sorted(KNOWN_SCHEMES))
        )
    if not host:
        raise ConfigError(f"{var} has no host")
    kind, default_port = KNOWN_SCHEMES[scheme]
    return Target(f"{kind} ({var})", host, port or default_port)


def targets_from_env(names: list[str], environ=os.environ) -> list[Target]:
    targets: list[Target] = []
    seen: set[tuple[str, int]] = set()
    for name in names:
        url = environ.get(name, "")
        if not url:
            raise ConfigError(f"environment variable {name} is not set")
        target = parse_target(name, url)
        if (target.host, target.port) not in seen:
            seen.add((target.host, target.port))
            targets.append(target)
    return targets


def reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=max(timeout, 0.1)):
            return True
    except OSError:  # refused, unreachable, name not (yet) resolvable, timeout
        return False


def wait_for(targets: list[Target], timeout: float, interval: float = 1.0,
             out=sys.stdout, err=sys.stderr) -> bool:
    deadline = time.monotonic() + timeout
    for target in targets:
        where = f"{target.host}:{target.port}"
        print(f"wait_for: waiting for {target.label} at {where}", file=out, flush=True)
        while True:
            remaining = deadline - time.monotonic()
            if reachable(target.host, target.port, min(interval, remaining)):
                print(f"wait_for: {target.label} at {where} is up", file=out, flush=True)
                break
            if time.monotonic() + interval > deadline:
                print(
                    f"wait_for: ERROR: gave up after {timeout:g}s: {target.label} at "
                    f"{where} does not accept connections. Is it running, and is the "
                    "host name right?",
                    file=err, flush=True,
                )
                return False
            time.sleep(interval)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wait_for.py",
        description="Wait for the TCP ports of the URLs held in the named environment variables.",
    )
    parser.add_argument("variables", nargs="+", metavar="ENV_VAR")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds for all targets together (default: $WAIT_TIMEOUT or 60)")
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    timeout = args.timeout
    if timeout is None:
        raw = os.environ.get("WAIT_TIMEOUT", "") or str(DEFAULT_TIMEOUT)
        try:
            timeout = float(raw)
        except ValueError:
            print(f"wait_for: ERROR: WAIT_TIMEOUT={raw!r} is not a number", file=sys.stderr)
            return 2
    try:
        targets = targets_from_env(args.variables)
    except ConfigError as exc:
        print(f"wait_for: ERROR: {exc}", file=sys.stderr)
        return 2
    return 0 if wait_for(targets, timeout, args.interval) else 1


if __name__ == "__main__":
    sys.exit(main())
