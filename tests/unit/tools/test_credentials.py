"""Each service's broker permissions and RPC calls (cdht_tools.credentials), derived from
the code and checked against it."""
import re

import pytest

from cdht.config import ROOT, SERVICES
from cdht_tools.credentials import RPC_CALLS, broker_permissions, event_sources

CALL = re.compile(r"(?:self|cluster)\.(registry|reporting|assessment|notifications)\.(\w+)\(")
ASKED = re.compile(r"_ask_registry\(\"(\w+)\"")
EXPORTED = re.compile(r"\(\"(registry)\", \"(export_\w+)\",")


def calls_in_code(service):
    found = set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        source = path.read_text()
        found |= {f"{s}.{m}" for s, m in CALL.findall(source) + EXPORTED.findall(source)}
        found |= {f"registry.{m}" for m in ASKED.findall(source)}
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_rpc_table_is_what_the_code_calls(service):
    assert set(RPC_CALLS[service]) == calls_in_code(service)


def test_event_sources_come_from_the_handlers():
    assert event_sources("registry") == []
    assert event_sources("notifications") == ["assessment", "registry", "reporting"]


def full(pattern, name):
    return re.fullmatch(pattern, name) is not None


def test_a_user_configures_writes_and_reads_only_its_own():
    perms, topic = broker_permissions("notifications", ["assessment"], RPC_CALLS["notifications"])
    own = "evt-assessment-recognition_granted--notifications.on_recognition_granted"
    for name in (own, own + ".retry.1000", own + ".dead-letter", "rpc-notifications"):
        assert full(perms["configure"], name) and full(perms["read"], name), name
    assert full(perms["write"], "notifications.events")
    for name in ("evt-assessment-recognition_granted--reporting.on_granted", "rpc-registry",
                 "registry.events", "stolen"):
        assert not full(perms["configure"], name) and not full(perms["read"], name), name
    assert full(perms["read"], "assessment.events")  # binds to what it consumes
    assert not full(perms["write"], "assessment.events")
    assert full(topic["write"], "registry.contact")
    assert not full(topic["write"], "registry.export_people")
    assert full(topic["read"], "notifications.*") and not full(topic["read"], "registry.*")
