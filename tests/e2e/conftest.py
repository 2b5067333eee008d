"""The four services as real ``nameko run`` processes (started by cdht_tools.local, as bin/up does),
on their own vhost and the test databases, with a real SMTP server (aiosmtpd) for mail."""
import uuid
from email import message_from_bytes, policy

import pytest
import requests
from aiosmtpd.controller import Controller

from cdht_tools import local
from tests.support import (
    TEST_CREDENTIAL_KEY_SECRET, TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, bearer, empty_databases,
    free_port, wait_for,
)


class Inbox:
    """aiosmtpd handler keeping every mail it accepts."""

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                policy=policy.default)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def system(migrated_databases, rabbit_manager, request, smtp, tmp_path_factory):
    """Start the four services once for the module; yields a helper to drive them."""
    empty_databases(migrated_databases)
    vhost = f"cdht-e2e-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    amqp = request.config.getoption("RABBIT_AMQP_URI").rstrip("/") + "/" + vhost
    controller, _ = smtp
    env = {"AMQP_URI": amqp, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port),
           "RETRY_DELAYS_MS": "200,400,800", "LOG_LEVEL": "INFO",
           "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS,
           "CREDENTIAL_KEY_SECRET": TEST_CREDENTIAL_KEY_SECRET}
    for service, url in migrated_databases.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    # credentials name the issuers' keys and status lists where this assessment answers
    env["ASSESSMENT_PUBLIC_URL"] = f"http://{env['ASSESSMENT_HTTP_ADDRESS']}"
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    running = System(env, log_dir)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        rabbit_manager.delete_vhost(vhost)


class System:
    """Drives the running services over HTTP, as an admin unless told ``headers=``."""

    def __init__(self, env, log_dir):
        self.env, self.log_dir = env, log_dir
        self.processes = {}

    def auth(self, **caller):
        """The Authorization header of a caller (admin by default) for this system."""
        return bearer(TEST_SIGNING_KEY, **caller)

    def _headers(self, kwargs):
        kwargs["headers"] = self.auth() | (kwargs.get("headers") or {})
        return kwargs

    def start(self, *services):
        started = local.start_services(self.env, self.log_dir, services or local.SERVICES)
        try:
            local.wait_healthy(started, timeout=60)
        except local.NotReady as exc:
            local.stop_processes(started)
            pytest.fail(str(exc))
        self.processes.update({p.name: p for p in started})

    def kill(self, service):
        """SIGKILL: no clean shutdown, no chance to ack or flush anything."""
        proc = self.processes.pop(service)
        proc.process.kill()
        proc.process.wait()

    def stop(self):
        local.stop_processes(list(self.processes.values()))

    def url(self, service, path):
        return self.processes[service].base_url + path

    def post(self, service, path, body, **kwargs):
        return requests.post(self.url(service, path), json=body, timeout=10,
                             **self._headers(kwargs))

    def get(self, service, path, **kwargs):
        return requests.get(self.url(service, path), timeout=10, **self._headers(kwargs))

    def log(self, service):
        return (self.log_dir / f"{service}.log").read_text(errors="replace")


@pytest.fixture
def until():
    return wait_for
