"""A service without a usable signing key refuses to start (and says why)."""
import pytest

from services.notifications.service import NotificationsService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService


@pytest.mark.parametrize("secret", ["", "too-short"])
@pytest.mark.parametrize("service_cls", [RegistryService, ReportingService,
                                         NotificationsService])
def test_no_start_without_a_signing_key(container_factory, service_config, service_cls,
                                        secret):
    config = service_config(service_cls.name, AUTH_SECRET=secret)
    container = container_factory(service_cls, config)
    with pytest.raises(ValueError, match="AUTH_SECRET"):
        container.start()


def test_a_service_with_a_key_starts(container_factory, service_config, web_session):
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    assert web_session(config, auth=False).get("/health").status_code == 200
