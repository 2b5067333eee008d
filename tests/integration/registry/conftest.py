"""The registry running in a nameko container against real PostgreSQL and RabbitMQ (a fresh
vhost and emptied database per test), driven over HTTP; events checked in the outbox table
and on the wire, through a queue bound to ``registry.events``."""
import pytest

from services.registry.service import RegistryService
from tests.integration.registry.helpers import EventTap, Registry


@pytest.fixture
def registry_config(service_config):
    return service_config("registry")


@pytest.fixture
def tap(rabbit_config):
    """Every event the registry publishes, as received from RabbitMQ (bound before the
    service starts, so nothing is missed)."""
    tap = EventTap(rabbit_config["AMQP_URI"])
    yield tap
    tap.close()


@pytest.fixture
def registry(container_factory, registry_config, web_session, tap):
    container = container_factory(RegistryService, registry_config)
    container.start()
    return Registry(web_session(registry_config), registry_config, container)


@pytest.fixture
def db(engines):
    return engines["registry"]


@pytest.fixture
def tree(registry):
    """A province with a ward and a commune: AG, AG.LX, AG.MB."""
    registry.post("/units", {"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    registry.unit("AG.LX", kind="ward")
    registry.unit("AG.MB")
    return registry
