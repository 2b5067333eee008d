"""The four services as real ``nameko run`` processes (cdht_tools.local, as ``bin/up`` and the e2e
tests start them) against the suite's private servers, and an HTTP client that retries.

The client retries on connection errors and 5xx because the suite kills the very processes
it talks to; the callers make their requests idempotent (a repeated submission is a 409).
"""
import os
import signal
import subprocess
import sys
import threading
import time

import requests

from cdht.config import ROOT, SERVICES
from cdht_tools import local

# Notifications gives up on an event after this schedule (then dead-letters it); the suite's
# poison step keeps the registry away for longer than its sum. The others keep the default
# schedule (1 s ... 10 min), which rides out every fault of the suite.
NOTIFICATIONS_RETRY_DELAYS_MS = "1000,2000,4000,8000"


def auth_headers(signing_key):
    """``Authorization: Bearer`` for an admin of the province, when cdht.auth exists."""
    try:
        from cdht.auth import mint_token
    except ImportError:  # tokens not there yet: the services accept anonymous calls
        return {}
    token = mint_token(signing_key, subject="fault-suite", role="admin", unit_code="AG",
                       ttl_seconds=12 * 3600)
    return {"Authorization": f"Bearer {token}"}


class System:
    def __init__(self, pg, rabbit, smtp_port, log_dir):
        self.pg, self.rabbit = pg, rabbit
        self.log_dir = log_dir
        from cdht.auth import generate_signing_key, public_key_of
        self.signing_key = generate_signing_key()  # the services get its public key only
        self.env = {"AMQP_URI": rabbit.amqp_uri, "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(smtp_port), "LOG_LEVEL": "INFO",
                    "AUTH_PUBLIC_KEYS": public_key_of(self.signing_key), "PROVINCE_CODE": "AG",
                    "RATE_LIMIT_EMAIL_PER_MINUTE": "0",
                    # a dead worker's lease and a failed attempt come back within seconds
                    "CONTACT_TIMEOUT": "2", "SMTP_TIMEOUT": "5", "RETRY_BASE_SECONDS": "1",
                    "RETRY_MAX_SECONDS": "5", "RETRY_POLL_SECONDS": "1",
                    "REGISTRY_TIMEOUT": "5", "REPORTING_TIMEOUT": "5",
                    # the stream's submissions are not reviewed: close-year decides them all
                    "CLOSE_DECIDES": "submitted"}
        for service in SERVICES:
            self.env[f"{service.upper()}_DATABASE_URL"] = pg.url(f"cdht_{service}")
            self.env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{local_free_port()}"
        self.processes = {}
        self.lock = threading.RLock()
        self.unplanned_exits = []  # (service, return code, seconds into the run)
        self.supervising = threading.Event()
        self.session = requests.Session()
        self.session.headers.update(auth_headers(self.signing_key))

    def env_of(self, service):
        env = dict(self.env)
        if service == "notifications":
            env["RETRY_DELAYS_MS"] = NOTIFICATIONS_RETRY_DELAYS_MS
        return env

    # -- processes -----------------------------------------------------------------------------
    def migrate(self):
        from cdht import db
        for service in SERVICES:
            db.upgrade(service, url=self.env[f"{service.upper()}_DATABASE_URL"])

    def start(self, *services, timeout=90):
        started = []
        with self.lock:
            for service in services or SERVICES:
                started += local.start_services(self.env_of(service), self.log_dir, (service,))
            self.processes.update({p.name: p for p in started})
        local.wait_healthy(started, timeout=timeout)

    def kill(self, service):
        """SIGKILL the whole process group: no clean shutdown, no ack, no flush."""
        with self.lock:
            proc = self.processes.pop(service)
            try:
                os.killpg(proc.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.process.wait()

    def pids(self):
        """{service: pid} of the processes running now (a restarted one has a new pid)."""
        with self.lock:
            return {name: proc.process.pid for name, proc in self.processes.items()
                    if proc.process.poll() is None}

    def stop(self, *services):
        with self.lock:
            names = services or list(self.processes)
            procs = [self.processes.pop(n) for n in names if n in self.processes]
        local.stop_processes(procs)

    # -- the restart policy of the deployment ------------------------------------------------
    def supervise(self, started_at):
        """Do what compose's ``restart: unless-stopped`` does: a service process that exits
        on its own is started again. Each such exit is recorded: it is a finding."""
        self.supervising.set()

        def loop():
            while self.supervising.is_set():
                with self.lock:
                    for name, proc in list(self.processes.items()):
                        if proc.process.poll() is not None:
                            self.unplanned_exits.append(
                                (name, proc.process.returncode,
                                 round(time.monotonic() - started_at, 1)))
                            self.processes.update({p.name: p for p in local.start_services(
                                self.env_of(name), self.log_dir, (name,))})
                time.sleep(1.0)
        threading.Thread(target=loop, name="supervisor", daemon=True).start()

    def healthy(self):
        """Every service answers /health with ok (database and broker reachable)."""
        for service in SERVICES:
            try:
                r = requests.get(self.base(service) + "/health", timeout=5)
                if r.status_code != 200:
                    return False
            except requests.RequestException:
                return False
        return True

    def base(self, service):
        return local.http_base(service, self.env)

    def log(self, service):
        return (self.log_dir / f"{service}.log").read_text(errors="replace")

    # -- HTTP ----------------------------------------------------------------------------------
    def call(self, method, service, path, *, ok=(200, 201), retry_for=300.0, **kwargs):
        """The response once its status is in ``ok`` or a 4xx; retried on connection errors,
        timeouts and 5xx (a service or server the suite took down) for ``retry_for`` s."""
        deadline = time.monotonic() + retry_for
        delay = 0.1
        while True:
            try:
                response = self.session.request(method, self.base(service) + path,
                                                timeout=15, **kwargs)
                if response.status_code in ok or 400 <= response.status_code < 500:
                    return response
                why = f"{response.status_code} {response.text[:200]}"
            except requests.RequestException as exc:
                why = f"{type(exc).__name__}"
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {service}{path}: still failing: {why}")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def get(self, service, path, **kwargs):
        return self.call("GET", service, path, **kwargs)

    def post(self, service, path, body, **kwargs):
        return self.call("POST", service, path, json=body, **kwargs)

    # -- the operator's command line, against the suite's servers ------------------------------
    def cli(self, *args, timeout=600, service_env=None):
        env = {**os.environ, "EVENTLET_TESTS": "1", "PYTHONPATH": str(ROOT),
               **self.env_of(service_env or "registry")}
        return subprocess.run([sys.executable, "-m", "cdht_tools", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)


def local_free_port():
    from fault.servers import free_port
    return free_port()
