"""The fakes every notifications handler test starts from (tests/unit/notifications/fakes.py)."""
import pytest

from tests.unit.notifications.fakes import FakeDeliveryStore, FakeRegistry


@pytest.fixture
def store():
    return FakeDeliveryStore()


@pytest.fixture
def registry():
    return FakeRegistry()
