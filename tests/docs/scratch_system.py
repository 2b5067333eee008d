"""A whole CDHT system started exactly as the README says (``bin/up``, local mode), but on
scratch resources so that it can run beside a developer's own system on this machine:
its own databases (``cdht_scratch_<pid>_<service>``), its own RabbitMQ vhost, free HTTP ports,
a free port for the mail catcher, and its own run directory (``CDHT_VAR_DIR``: pid files, logs,
the dev signing key). ``bin/down`` stops it.

Shared by tests/e2e/test_whole_system.py and the docs tests (tests/docs/), which run the
guides' commands against it.
"""
import os
import subprocess
import uuid
from pathlib import Path

from cdht import db
from cdht.config import PROCESSES, ROOT
from tests.support import free_port

PG = os.environ.get("CDHT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
# Variables of the developer's shell that would point the scratch system elsewhere.
INHERITED_CONFIG = ("AUTH_SIGNING_KEY", "AUTH_PUBLIC_KEYS", "AUTH_AUDIT_DIR", "AMQP_URI",
                    "SMTP_HOST", "SMTP_PORT", "CDHT_VAR_DIR", "QUEUE_TYPE", "OIDC_ISSUER",
                    "CDHT_IDP_PORT", "PORTAL_PUBLIC_URL",
                    *(f"{s.upper()}_{k}" for s in PROCESSES
                      for k in ("DATABASE_URL", "HTTP_ADDRESS")))


class ScratchSystem:
    def __init__(self, run_dir, rabbit_manager, amqp_base):
        self.run_dir = Path(run_dir)
        self.var_dir = self.run_dir / "var"
        self.log_dir = self.var_dir / "log"
        self.rabbit_manager = rabbit_manager
        tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.vhost = f"cdht-scratch-{tag}"
        self.databases = {s: f"cdht_scratch_{tag}_{s}" for s in PROCESSES}
        self.ports = {s: free_port() for s in PROCESSES}
        self.idp_port = free_port()
        self.smtp_port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in INHERITED_CONFIG}
        env.update({
            "CDHT_LOCAL": "1", "CDHT_VAR_DIR": str(self.var_dir),
            "AMQP_URI": amqp_base.rstrip("/") + "/" + self.vhost,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port),
            "RETRY_DELAYS_MS": "200,400,800", "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT), "EVENTLET_TESTS": "1",
            "CDHT_IDP_PORT": str(self.idp_port),
            "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{self.ports['portal']}",
        })
        for service in PROCESSES:
            env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
            env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{self.ports[service]}"
        self.env = env

    def database_url(self, service):
        return f"{PG}/{self.databases[service]}"

    def base_url(self, service):
        return f"http://127.0.0.1:{self.ports[service]}"

    # -- lifecycle ---------------------------------------------------------------------------
    def up(self, timeout=300):
        """``bin/up``, as the README says; returns the finished process."""
        self.rabbit_manager.create_vhost(self.vhost)
        self.rabbit_manager.set_vhost_permissions(self.vhost, "guest", ".*", ".*", ".*")
        return self.run(["bin/up"], timeout=timeout)

    def down(self):
        """``bin/down``, then the scratch databases and vhost go."""
        try:
            return self.run(["bin/down"], timeout=120)
        finally:
            for service in PROCESSES:
                db.drop_database(self.database_url(service))
            try:
                self.rabbit_manager.delete_vhost(self.vhost)
            except Exception:  # noqa: BLE001 (already gone: nothing to clean)
                pass

    # -- commands ----------------------------------------------------------------------------
    def run(self, argv, timeout=120, env=None, cwd=ROOT):
        return subprocess.run(argv, cwd=cwd, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    def cli(self, *args, timeout=300):
        """``.venv/bin/python -m cdht_tools ARGS`` against this system."""
        return self.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "cdht_tools", *args],
                        timeout=timeout)

    def token(self, role="admin", subject="whole-system-test", unit=None):
        args = ["token", "--role", role, "--subject", subject]
        if unit:
            args += ["--unit", unit]
        result = self.cli(*args, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def log(self, service):
        return (self.log_dir / f"{service}.log").read_text(errors="replace")
