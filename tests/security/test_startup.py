"""A service without a usable public key, or with a signing key in its settings, refuses to
start (and says why)."""
import pytest

from cdht import auth
from services.notifications.service import NotificationsService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from tests.support import TEST_PUBLIC_KEYS, TEST_SIGNING_KEY

SERVICE_CLASSES = [RegistryService, ReportingService, NotificationsService]


@pytest.mark.parametrize("keys, message", [
    ("", "AUTH_PUBLIC_KEYS is empty"),
    ("cdht-tests", "AUTH_PUBLIC_KEYS: expected <kid>:<base64 DER key>"),
    (TEST_SIGNING_KEY, "AUTH_PUBLIC_KEYS holds a private key"),
])
@pytest.mark.parametrize("service_cls", SERVICE_CLASSES)
def test_no_start_without_a_public_key(container_factory, service_config, service_cls, keys,
                                       message):
    config = service_config(service_cls.name, AUTH_PUBLIC_KEYS=keys)
    container = container_factory(service_cls, config)
    with pytest.raises(ValueError, match=message):
        container.start()


@pytest.mark.parametrize("setting, value", [
    ("AUTH_SIGNING_KEY", TEST_SIGNING_KEY),
    ("AUTH_SECRET", "the-old-shared-hs256-secret-0123456789abcdef"),
])
@pytest.mark.parametrize("service_cls", SERVICE_CLASSES)
def test_no_start_with_a_signing_key(container_factory, service_config, service_cls, setting,
                                     value):
    config = service_config(service_cls.name, **{setting: value})
    assert config["AUTH_PUBLIC_KEYS"] == TEST_PUBLIC_KEYS
    container = container_factory(service_cls, config)
    with pytest.raises(ValueError, match=f"{setting} is set in the service's configuration"):
        container.start()


def test_no_start_with_the_signing_key_in_the_environment(container_factory, service_config,
                                                          monkeypatch):
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    container = container_factory(ReportingService, service_config("reporting"))
    with pytest.raises(ValueError, match="AUTH_SIGNING_KEY is set in the service's environment"):
        container.start()
    assert auth.SIGNING_SETTINGS == ("AUTH_SIGNING_KEY", "AUTH_SECRET")


def test_a_service_with_a_key_starts(container_factory, service_config, web_session):
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    assert web_session(config, auth=False).get("/health").status_code == 200
