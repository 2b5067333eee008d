"""A CDHT compose stack for the compose-backed tests: a fresh copy of the repository (the files
a clone has), a generated .env, brought up with the README's ``bin/up`` and taken down with
``docker compose down -v``.

Everything stays on this machine: the containers talk on the project's own bridge network,
and the ports the tests use are published on 127.0.0.1 only, on free ports the engine picks
(``127.0.0.1:`` in .env), so the host's servers on 5432, 5672, 8001-8005, 8080 and 15672 are
never in the way. The portal and the idp profile's provider get free ports chosen here (their
addresses are in .env: PORTAL_PUBLIC_URL, and the issuer http://idp.localhost:<IDP_PORT>).
The images are the ones deploy/images/build.sh builds from Debian packages.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("registry", "assessment", "reporting", "notifications")
HTTP_PORTS = {"registry": 8001, "assessment": 8002, "reporting": 8003, "notifications": 8004,
              "portal": 8005}
# What deploy/images/build.sh --env prints: every image from Debian packages.
PACKAGE_IMAGES = {"BASE_IMAGE": "cdht-base:bookworm", "POSTGRES_IMAGE": "cdht-postgres:15",
                  "RABBITMQ_IMAGE": "cdht-rabbitmq:3.10"}
# Every published port on a free loopback port.
FREE_PORTS = {name: "127.0.0.1:" for name in (
    "REGISTRY_HOST_PORT", "ASSESSMENT_HOST_PORT", "REPORTING_HOST_PORT",
    "NOTIFICATIONS_HOST_PORT", "RABBITMQ_MANAGEMENT_HOST_PORT", "MAILCATCHER_HTTP_HOST_PORT",
    "MAILCATCHER_SMTP_HOST_PORT", "RABBITMQ_AMQP_HOST_PORT", "POSTGRES_HOST_PORT")}
# The idp profile's provider (deploy/images/build.sh idp); bin/up makes it too.
IDP_IMAGE = "cdht-idp:latest"
CLUSTER_FILE = "deploy/rabbitmq-cluster/docker-compose.rabbitmq-cluster.yml"


def say(*parts):
    """A figure or a step for CI's log (the tests run with -s)."""
    print("stack:", *parts, flush=True)


def fresh_copy(dest, source=ROOT):
    """The files a clone of ``source`` has (tracked, and new ones not ignored): no .env, .venv,
    var/ or built wheels come along."""
    dest.mkdir(parents=True)
    if (source / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                                cwd=source, capture_output=True, check=True).stdout
        names = [n for n in listed.decode().split("\0") if n]
    else:  # an exported tree (git archive): all of it
        names = [str(p.relative_to(source)) for p in source.rglob("*")
                 if p.is_file() and ".venv" not in p.parts]
    for name in names:
        src = source / name
        if src.is_file():  # deleted but still listed files are left out
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


class Stack:
    """One compose project in its own copy of the tree."""

    def __init__(self, tree, project, files=("docker-compose.yml", "docker-compose.dev.yml"),
                 env_overrides=None):
        self.tree = Path(tree)
        self.project = project
        self.files = list(files)
        self.env_overrides = {**PACKAGE_IMAGES, **FREE_PORTS, **sign_in_ports(),
                              **(env_overrides or {})}

    # -- running things ---------------------------------------------------------------------
    @property
    def environ(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COMPOSE_", "CDHT_", "DOCKER_HOST"))}
        # bin/up must take the compose path here, whatever the caller's shell says
        return env | {"COMPOSE_PROJECT_NAME": self.project,
                      "COMPOSE_FILE": ":".join(self.files),
                      # deploy/images/build.sh wheels: this venv's pip (and its cache)
                      "PYTHON": sys.executable}

    def run(self, args, timeout=300, check=True, **kwargs):
        result = subprocess.run(args, cwd=self.tree, env=self.environ, capture_output=True,
                                text=True, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def compose(self, *args, timeout=300, check=True, **kwargs):
        return self.run(["docker", "compose", *args], timeout=timeout, check=check, **kwargs)

    def write_env(self, **more):
        """.env as bin/up would write it (deploy/make_env.py), with the images from packages
        and free loopback ports."""
        pairs = [f"{k}={v}" for k, v in {**self.env_overrides, **more}.items()]
        made = self.run(["python3", "deploy/make_env.py", ".env.example", *pairs]).stdout
        (self.tree / ".env").write_text(made, encoding="utf-8")
        return self.env()

    def env(self):
        values = {}
        for line in (self.tree / ".env").read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                values[key] = value
        return values

    def up(self, timeout=900):
        """The README's start command, in the copy: ``bin/up`` (compose up -d --build --wait)."""
        started = time.monotonic()
        result = self.run(["bin/up"], timeout=timeout, check=False)
        took = time.monotonic() - started
        if result.returncode != 0:
            raise AssertionError(f"bin/up failed ({result.returncode}) after {took:.0f} s:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
                                 f"{self.logs(tail=60)}")
        return took

    def down(self, volumes=True):
        args = ["down", "--timeout", "20"] + (["-v"] if volumes else [])
        return self.compose(*args, timeout=300, check=False)

    def logs(self, *services, tail=200):
        result = self.compose("logs", "--no-color", "--tail", str(tail), *services, check=False,
                              timeout=120)
        return result.stdout + result.stderr

    # -- where things are -------------------------------------------------------------------
    def port(self, service, container_port, index=1):
        out = self.compose("port", "--index", str(index), service, str(container_port),
                           timeout=60).stdout.strip()
        host, _, port = out.rpartition(":")
        assert host in ("127.0.0.1", "0.0.0.0") and port.isdigit(), out
        return int(port)

    def url(self, service):
        return f"http://127.0.0.1:{self.port(service, HTTP_PORTS[service])}"

    def urls(self):
        return {service: self.url(service) for service in APP_SERVICES}

    def portal_url(self):
        """Where a browser reaches the portal: PORTAL_PUBLIC_URL."""
        return self.env()["PORTAL_PUBLIC_URL"]

    def mail_url(self):
        return f"http://127.0.0.1:{self.port('mailcatcher', 8025)}"

    def mails(self, to=None):
        params = {"to": to} if to else None
        response = requests.get(self.mail_url() + "/messages", params=params, timeout=10)
        response.raise_for_status()
        return response.json()["messages"]

    def containers(self):
        """[{Service, Name, State, Health, ExitCode, ...}] of every container, stopped too."""
        out = self.compose("ps", "-a", "--format", "json", timeout=60).stdout
        rows = []
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("["):
                rows.extend(json.loads(line))
            elif line:
                rows.append(json.loads(line))
        return rows

    def container_id(self, service, index=1):
        out = self.compose("ps", "-q", "--all", service, timeout=60).stdout.split()
        assert out, f"no container of {service}"
        return sorted(out)[index - 1] if len(out) > 1 else out[0]

    def exec(self, service, *command, env=None, timeout=300, check=True, stdin=None):
        args = ["exec", "-T"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return self.compose(*args, service, *command, timeout=timeout, check=check,
                            input=stdin)

    def has_tokens_container(self):
        """Whether this tree's compose file has the ``tokens`` container (the one holding the
        signing key); a release from before it minted tokens in any service container."""
        return "\n  tokens:\n" in (self.tree / "docker-compose.yml").read_text()

    def cli(self, *args, timeout=600, check=True):
        """``python -m cdht_tools ...`` with every service's URL, in the ``tokens`` container
        (it holds the signing key that `seed demo` and `token` need); in an older release,
        inside the registry container (``python -m cdht ...`` before the tooling package)."""
        urls = {f"{s.upper()}_URL": f"http://{s}:{HTTP_PORTS[s]}" for s in APP_SERVICES}
        if self.has_tokens_container():
            flags = [arg for key, value in urls.items() for arg in ("-e", f"{key}={value}")]
            return self.compose("run", "--rm", "-T", "--entrypoint", "python", *flags,
                                "tokens", "-m", "cdht_tools", *args, timeout=timeout,
                                check=check)
        found = self.exec("registry", "python", "-c", "import cdht_tools", check=False)
        package = "cdht_tools" if found.returncode == 0 else "cdht"
        return self.exec("registry", "python", "-m", package, *args, env=urls,
                         timeout=timeout, check=check)

    def token(self, role="admin", subject="stack-test"):
        return self.cli("token", "--role", role, "--subject", subject).stdout.strip()

    def check_out(self, source):
        """The files of another release's tree over this one (what `git checkout <release>`
        does to an operator's checkout); .env, backups and volumes stay."""
        for path in source.rglob("*"):
            if path.is_file() and ".venv" not in path.parts:
                target = self.tree / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)

    def wait_healthy(self, services, timeout=180):
        """Until every named service's container is running and healthy (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            states = {c["Service"]: (c["State"], c.get("Health", "")) for c in self.containers()}
            bad = {s: states.get(s) for s in services if states.get(s) != ("running", "healthy")}
            if not bad:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {timeout} s: {bad}\n"
                                     f"{self.logs(*bad, tail=80)}")
            time.sleep(1)

    # -- resources ----------------------------------------------------------------------------
    def stats(self):
        """{service: (cpu %, memory used MiB, memory limit MiB, cpus limit)} from docker stats
        and the limits compose set on each running container."""
        ids = self.compose("ps", "-q", timeout=60).stdout.split()
        if not ids:
            return {}
        out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}", *ids],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        inspected = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True,
                                              text=True, timeout=60, check=True).stdout)
        limits = {}
        for item in inspected:
            service = item["Config"]["Labels"].get("com.docker.compose.service", item["Name"])
            number = item["Config"]["Labels"].get("com.docker.compose.container-number", "1")
            host = item["HostConfig"]
            limits[item["Id"][:12]] = (f"{service}" + (f"#{number}" if number != "1" else ""),
                                       host.get("Memory") or 0, (host.get("NanoCpus") or 0) / 1e9)
        figures = {}
        for line in out.splitlines():
            row = json.loads(line)
            name, memory_limit, cpus = limits.get(row["ID"][:12], (row["Name"], 0, 0))
            figures[name] = (float(row["CPUPerc"].rstrip("%") or 0),
                             _mib(row["MemUsage"].split("/")[0]), memory_limit / 2**20, cpus)
        return figures

    def print_stats(self, when):
        say(f"docker stats {when} (service: CPU %, memory used / compose limit)")
        for name, (cpu, used, limit, cpus) in sorted(self.stats().items()):
            cpu_limit = f", cpus {cpus:g}" if cpus else ""
            limit_text = f"{limit:.0f} MiB" if limit else "no limit"
            say(f"  {name:<16} CPU {cpu:6.1f} %   memory {used:7.1f} MiB / {limit_text}"
                f"{cpu_limit}")


def _mib(text):
    text = text.strip()
    for unit, factor in (("GiB", 1024), ("MiB", 1), ("KiB", 1 / 1024), ("GB", 1000 / 1.048576),
                         ("MB", 1 / 1.048576), ("kB", 1 / 1048.576), ("B", 1 / 2**20)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text or 0)


def free_port():
    """A free loopback port below the ephemeral range. The engine hands out the ports of
    "127.0.0.1:" bindings from that range, one after another, so a port the kernel chose
    there could be given to another container of the same stack before its own starts
    ("port is already allocated")."""
    import random
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(500):
        port = random.randint(min(20000, low - 1000), low - 1)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port below {low}")


def fixed_ports():
    """Fixed loopback ports for the services' APIs and the mail catcher's page (to pass to
    ``Stack.write_env``): a restarted container keeps them."""
    return {**{f"{s.upper()}_HOST_PORT": f"127.0.0.1:{free_port()}" for s in APP_SERVICES},
            "MAILCATCHER_HTTP_HOST_PORT": f"127.0.0.1:{free_port()}"}


def sign_in_ports():
    """Free loopback ports for the portal and the idp profile's provider. They are part of
    addresses (the portal's redirect URI, the issuer), so they are chosen here, not by the
    engine; make_env.py makes OIDC_ISSUER from IDP_PORT."""
    portal = free_port()
    return {"PORTAL_HOST_PORT": f"127.0.0.1:{portal}",
            "PORTAL_PUBLIC_URL": f"http://localhost:{portal}", "IDP_PORT": str(free_port())}


@contextmanager
def localhost_names():
    """*.localhost resolved to the loopback, as browsers and curl do (RFC 6761, 6.3), where
    this machine's resolver does not: the idp profile's issuer is http://idp.localhost:PORT."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def require_engine_and_images():
    """A failure, not a skip, when CDHT_TEST_DOCKER=1 asked for a stack this machine cannot
    run: no Docker engine with the compose plugin, or the images from packages not built."""
    if not engine_answers():
        pytest.fail("CDHT_TEST_DOCKER=1 but no Docker engine with the compose plugin answers")
    missing = images_missing()
    if missing:
        pytest.fail(f"images {missing} are missing: run deploy/images/build.sh first")


@contextmanager
def taken_down(stack, request, tail):
    """Around the tests of a module that use ``stack``: afterwards its last ``tail`` log lines
    are printed if one of them failed, and it is taken down (``down -v``)."""
    failed_before = request.session.testsfailed
    try:
        yield stack
    finally:
        if request.session.testsfailed > failed_before:
            print(stack.logs(tail=tail), flush=True)
        say(f"compose down -v: exit {stack.down().returncode}")


def engine_answers():
    if not shutil.which("docker"):
        return False
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    return info.returncode == 0 and plugin.returncode == 0


def images_missing():
    return [image for image in (*PACKAGE_IMAGES.values(), IDP_IMAGE)
            if subprocess.run(["docker", "image", "inspect", image],
                              capture_output=True).returncode != 0]
