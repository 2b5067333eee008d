"""An event's rule to its message, through the notifications handlers on fakes of their own
interfaces (nameko's worker_factory; tests/unit/notifications/fakes.py): no PostgreSQL,
RabbitMQ, SMTP or SMS gateway. The same path on real parts: tests/integration/notifications."""
import inspect
import smtplib
import uuid

import pytest
from nameko.testing.services import worker_factory

from cdht import observability
from cdht.contracts import make_envelope
from services.notifications.service import NotificationsService
from services.notifications.store import DeliveryStore
from tests.support import recognition_granted
from tests.unit.notifications.fakes import (
    FakeDb, FakeDeliveryStore, FakeMailer, FakeRegistry, FakeSms, FakeUnits, NoLimits,
)

PATH = ("AG", "AG.LX")
UNITS = {"AG": {"unit_name": "Tỉnh An Giang", "kind": "province"},
         "AG.LX": {"unit_name": "Phường Long Xuyên", "kind": "ward"}}
BODIES = {"AG.LX": "Hội Khuyến học phường Long Xuyên"}


@pytest.fixture
def store():
    return FakeDeliveryStore()


@pytest.fixture
def registry():
    return FakeRegistry()


def start(store, registry, mailer=None, sms=None):
    return worker_factory(
        NotificationsService, db=FakeDb(store), registry=registry, mailer=mailer or FakeMailer(),
        sms=sms, limits=NoLimits(), units=FakeUnits(UNITS, BODIES),
        telemetry=observability.metrics("notifications"),
        config={"PROVINCE_CODE": "AG", "SEND_MAX_ATTEMPTS": 3})


def contact(registry, person_id, **fields):
    registry.contacts[str(person_id)] = {
        "person_id": str(person_id), "full_name": "Nguyễn Thị Hoa",
        "email": "hoa@example.org", "phone": "0912345678", "language": "vi"} | fields


def granted(correlation_id="corr-granted"):
    event = recognition_granted(PATH)
    return make_envelope("recognition_granted", event.data, producer="assessment",
                         correlation_id=correlation_id)


def test_the_fake_store_has_every_method_of_the_store():
    real = {name: inspect.signature(f) for name, f in vars(DeliveryStore).items()
            if callable(f) and not name.startswith("_")}
    assert {name: inspect.signature(getattr(FakeDeliveryStore, name)) for name in real
            if hasattr(FakeDeliveryStore, name)} == real


def test_a_title_granted_is_one_vietnamese_mail_to_the_person(store, registry):
    service = start(store, registry)
    event = granted()
    contact(registry, event.data["person_id"])

    service.on_recognition_granted(event)

    [(message, delivery_id)] = service.mailer.sent
    assert message.to == "hoa@example.org"
    assert message.subject == \
        "Chúc mừng Nguyễn Thị Hoa đạt danh hiệu Công dân học tập năm 2025"
    assert "Trân trọng,\nHội Khuyến học phường Long Xuyên" in message.text  # BODIES signs
    delivery = store.deliveries[delivery_id]
    assert (delivery.status, delivery.attempts, delivery.address_masked) == (
        "sent", 1, "h***@example.org")
    [(kind, data, corr)] = store.events
    assert (kind, data["notification_id"], data["language"]) == (
        "notification_sent", delivery_id, "vi")
    assert corr == "corr-granted"  # the cause's id, kept on the delivery for its retries


def test_the_same_event_again_sends_nothing(store, registry):
    service = start(store, registry)
    event = granted()
    contact(registry, event.data["person_id"])
    service.on_recognition_granted(event)
    service.on_recognition_granted(event)
    assert len(service.mailer.sent) == 1 and len(store.deliveries) == 1


def test_an_opted_out_person_is_skipped_unless_the_category_is_mandatory(store, registry):
    service = start(store, registry)
    event = granted()
    person = event.data["person_id"]
    contact(registry, person)
    store.opt_outs.add((str(person), "congratulations"))

    service.on_recognition_granted(event)

    assert service.mailer.sent == [] and store.events == []
    [skipped] = store.deliveries.values()
    assert (skipped.status, skipped.last_error) == ("skipped", "opted out of congratulations")

    store.opt_outs.add((str(person), "recognition_decisions"))  # mandatory: no opting out
    refused = make_envelope("recognition_refused", {
        "assessment_id": uuid.uuid4(), "person_id": person, "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 72, "unit_code": "AG.LX",
        "unit_path": list(PATH), "reasons": [
            {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
             "minimum": 80, "total": 72, "note": None}]},
        producer="assessment", schema_version=2)
    service.on_recognition_refused(refused)
    [(message, _)] = service.mailer.sent
    assert "72" in message.text and "80" in message.text


def test_a_refused_address_falls_back_to_sms(store, registry):
    refusal = smtplib.SMTPRecipientsRefused({"hoa@example.org": (550, b"5.1.1 no such user")})
    service = start(store, registry, mailer=FakeMailer(refuse=refusal), sms=FakeSms())
    event = granted()
    contact(registry, event.data["person_id"])

    service.on_recognition_granted(event)

    email, = store.rows(channel="email")
    text_message, = store.rows(channel="sms")
    assert (email.status, text_message.status) == ("failed", "sent")
    assert [kind for kind, _, _ in store.events] == ["notification_failed", "notification_sent"]
    [(sms, delivery_id)] = service.sms.sent
    assert delivery_id == text_message.id and "2025" in sms.text
