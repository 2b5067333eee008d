"""Real parts for the notifications tests: the registry service itself (people, association
bodies and officials created over its HTTP API), an aiosmtpd SMTP server, and an SMS gateway
that is a real HTTP server on a free port, which can be told to fail N times or always.

(test_notifications.py keeps its own stand-in registry and fixtures: it needs a registry
that answers late on purpose.)
"""
import logging

import pytest
from aiosmtpd.controller import Controller

from services.notifications.service import NotificationsService
from services.registry.service import RegistryService
from tests.integration.notifications.helpers import (
    SMS_PASSWORD, SMS_USER, MailSink, SmsGateway,
)
from tests.integration.registry.helpers import Registry
from tests.support import free_port


@pytest.fixture
def mail():
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def gateway():
    server = SmsGateway()
    yield server
    server.stop()


@pytest.fixture
def registry(container_factory, service_config, web_session):
    """The real registry, with a province AG, a ward AG.LX (Phường Long Xuyên) and a commune
    AG.MB (Xã Mỹ Hòa Hưng); notifications learns their names from its export_units."""
    config = service_config("registry")
    container = container_factory(RegistryService, config)
    container.start()
    registry = Registry(web_session(config), config, container)
    registry.post("/units", {"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    registry.unit("AG.LX", kind="ward", name="Phường Long Xuyên")
    registry.unit("AG.MB", name="Xã Mỹ Hòa Hưng")
    return registry


@pytest.fixture
def notifications(container_factory, service_config, web_session, mail, gateway, caplog):
    """``notifications(**config)`` starts the real service on this test's vhost and database,
    pointed at the SMTP server and the SMS gateway, with fast retries."""
    caplog.set_level(logging.INFO)

    def start(**overrides):
        settings = dict(
            SMTP_HOST="127.0.0.1", SMTP_PORT=mail.port, SMTP_TIMEOUT=5, CONTACT_TIMEOUT=5,
            SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_USER=SMS_USER,
            SMS_GATEWAY_PASSWORD=SMS_PASSWORD, SMS_SENDER="KHUYENHOC", SMS_MAX_PARTS=2,
            RETRY_BASE_SECONDS=0.2, RETRY_MAX_SECONDS=1, RETRY_POLL_SECONDS=0.1,
            SEND_MAX_ATTEMPTS=4, SCHEDULE_POLL_SECONDS=3600)
        config = service_config("notifications", **(settings | overrides))
        container = container_factory(NotificationsService, config)
        container.start()
        return web_session(config), config
    return start


@pytest.fixture
def engine(engines):
    return engines["notifications"]
