"""An event's rule to its message, through the notifications handlers on fakes of their own
interfaces (nameko's worker_factory; tests/unit/notifications/fakes.py): no PostgreSQL,
RabbitMQ, SMTP or SMS gateway. The same path on real parts: tests/integration/notifications."""
import inspect
import smtplib
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cdht import observability
from cdht.auth import Caller
from cdht.contracts import make_envelope
from cdht.web import ApiError, Forbidden
from services.notifications.service import NotificationsService
from services.notifications.store import DeliveryStore
from tests.support import recognition_granted
from tests.unit.notifications.fakes import (
    FakeDb, FakeDeliveryStore, FakeMailer, FakeSms, FakeUnits, NoLimits,
)

PATH = ("AG", "AG.LX")
UNITS = {"AG": {"unit_name": "Tỉnh An Giang", "kind": "province"},
         "AG.LX": {"unit_name": "Phường Long Xuyên", "kind": "ward"}}
BODIES = {"AG.LX": "Hội Khuyến học phường Long Xuyên"}


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


def granted_in_bulk(scores, correlation_id="corr-closing"):
    """A closing's recognitions_granted: one recognition_granted's data per score."""
    return make_envelope("recognitions_granted", {
        "closing_id": uuid.uuid4(),
        "recognitions": [recognition_granted(PATH).data | {"total_score": score}
                         for score in scores]},
        producer="assessment", correlation_id=correlation_id)


def register_bulk(registry, event):
    """Each person of the batch their own name and address: ``{person_id: (name, email)}``."""
    people = {}
    for n, item in enumerate(event.data["recognitions"]):
        name, email = f"Nguyễn Văn {chr(65 + n)}", f"p{n}@example.org"
        contact(registry, item["person_id"], full_name=name, email=email)
        people[str(item["person_id"])] = (name, email)
    return people


def test_a_closings_batch_is_one_congratulation_per_person_each_with_their_own_facts(
        store, registry):
    """A recognitions_granted is told as many recognition_granted: same rule and template,
    each person's own recognition, all under the batch's event id."""
    service = start(store, registry)
    event = granted_in_bulk([81, 92, 100])
    people = register_bulk(registry, event)

    service.on_recognitions_granted(event)

    assert len(service.mailer.sent) == 3 and len(store.deliveries) == 3
    assert store.inbox == {event.event_id}
    for item in event.data["recognitions"]:
        person = str(item["person_id"])
        name, email = people[person]
        [delivery] = store.rows(person_id=person)
        assert (delivery.status, delivery.template, delivery.rule, delivery.source_event_id,
                delivery.correlation_id) == ("sent", "recognition_granted",
                                             "recognition_granted", event.event_id,
                                             "corr-closing")
        assert (delivery.context["recognition_id"], delivery.context["total_score"]) == (
            str(item["recognition_id"]), item["total_score"])
        [message] = [m for m, delivery_id in service.mailer.sent if delivery_id == delivery.id]
        assert message.to == email
        assert message.subject == f"Chúc mừng {name} đạt danh hiệu Công dân học tập năm 2025"
        assert f"{item['total_score']}/100" in message.text
    assert sorted(data["person_id"] for kind, data, _ in store.events
                  if kind == "notification_sent") == sorted(people)


def test_a_closings_refusals_are_each_told_as_a_refusal_with_their_own_reasons(
        store, registry):
    """A recognitions_refused is told as many recognition_refused (version 2): mandatory (an
    opt-out of congratulations does not hold), each person's reasons in their language."""
    service = start(store, registry)
    event = make_envelope("recognitions_refused", {
        "closing_id": uuid.uuid4(), "refusals": [{
            "assessment_id": uuid.uuid4(), "person_id": uuid.uuid4(), "year": 2025,
            "criteria_version": "324/QĐ-KHVN", "total_score": total, "unit_code": "AG.LX",
            "unit_path": list(PATH), "reasons": [
                {"kind": "total_below", "indicator": None, "score": None, "maximum": None,
                 "minimum": 80, "total": total, "note": None}]} for total in (64, 71)]},
        producer="assessment")
    people = {}
    for n, item in enumerate(event.data["refusals"]):
        contact(registry, item["person_id"], email=f"r{n}@example.org")
        people[f"r{n}@example.org"] = item["total_score"]
        store.opt_outs.add((str(item["person_id"]), "congratulations"))

    service.on_recognitions_refused(event)

    assert store.inbox == {event.event_id}
    assert {d.rule for d in store.deliveries.values()} == {"recognition_refused"}
    assert sorted(m.to for m, _ in service.mailer.sent) == sorted(people)
    for message, _ in service.mailer.sent:
        assert f"{people[message.to]}" in message.text and "80" in message.text


def test_a_batch_the_rate_limit_holds_back_is_left_to_the_retry_timer(store, registry):
    """Once the limit holds one back, the rest of the batch is not attempted in the event's
    worker (each would only be postponed): they stay pending for the retry timer."""
    class Full(NoLimits):
        allowed = [False] * 100 + [True] * 2  # two may go now, then none
        def ready_in(self, channel):
            return 0.0 if self.allowed.pop() else 2.0
    service = start(store, registry)
    service.limits = Full()
    event = granted_in_bulk([81, 82, 83, 84, 85])
    register_bulk(registry, event)

    service.on_recognitions_granted(event)

    assert len(service.mailer.sent) == 2 and len(store.deliveries) == 5
    pending = store.rows(status="pending")
    assert len(pending) == 3 and {d.attempts for d in pending} == {0}
    assert len(Full.allowed) == 100 - 1  # asked three times: two sent, one held back
    held_back = max(pending, key=lambda d: d.next_attempt_at)
    assert held_back.next_attempt_at > datetime.now(timezone.utc)  # postponed 2 s
    # the two not begun are the retry timer's at once, not when the lease ends
    assert all(d.next_attempt_at <= datetime.now(timezone.utc)
               for d in pending if d is not held_back)


def test_a_batch_not_begun_within_half_its_lease_is_left_to_the_retry_timer(store, registry):
    """A slow relay cannot keep the event's worker for hours: what is not begun in time stays
    pending, given back to the retry timer at once rather than when its lease ends."""
    service = start(store, registry)
    service._attempt_window = lambda: 0  # the time to begin them is already over
    event = granted_in_bulk([81, 92, 100])
    register_bulk(registry, event)

    service.on_recognitions_granted(event)
    assert service.mailer.sent == [] and len(store.rows(status="pending")) == 3
    assert all(d.next_attempt_at <= datetime.now(timezone.utc) for d in store.deliveries.values())

    service.retry_due()
    assert len(service.mailer.sent) == 3 and len(store.rows(status="sent")) == 3


def test_a_person_named_twice_in_a_batch_is_told_once(store, registry):
    service = start(store, registry)
    once = granted_in_bulk([81, 92])
    people = register_bulk(registry, once)
    items = once.data["recognitions"]
    event = make_envelope("recognitions_granted", {
        "closing_id": once.data["closing_id"],
        "recognitions": items + [items[0] | {"total_score": 99}]}, producer="assessment")

    service.on_recognitions_granted(event)

    assert sorted(m.to for m, _ in service.mailer.sent) == sorted(e for _, e in people.values())
    first = str(event.data["recognitions"][0]["person_id"])
    [delivery] = store.rows(person_id=first)
    assert delivery.context["total_score"] == 81


def test_a_person_of_a_batch_who_opted_out_is_skipped_and_the_others_are_told(
        store, registry):
    service = start(store, registry)
    event = granted_in_bulk([81, 92, 100])
    people = register_bulk(registry, event)
    out = str(event.data["recognitions"][1]["person_id"])
    store.opt_outs.add((out, "congratulations"))

    service.on_recognitions_granted(event)

    [skipped] = store.rows(person_id=out)
    assert (skipped.status, skipped.last_error) == ("skipped", "opted out of congratulations")
    assert sorted(m.to for m, _ in service.mailer.sent) == sorted(
        email for person, (_, email) in people.items() if person != out)
    assert len(store.rows(status="sent")) == 2


def test_the_same_batch_again_sends_nothing(store, registry):
    service = start(store, registry)
    event = granted_in_bulk([81, 92, 100])
    register_bulk(registry, event)
    service.on_recognitions_granted(event)
    service.on_recognitions_granted(event)
    assert len(service.mailer.sent) == 3 and len(store.deliveries) == 3
    assert len(store.events) == 3


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


def test_a_delivery_just_opened_is_attempted_without_reading_it_back(store, registry,
                                                                     monkeypatch):
    """The event's handler knows what it opened: the first attempt reads the row once, locked,
    to send; a retry, which knows only the id, reads it before asking for the contact."""
    reads = []
    monkeypatch.setattr(store, "delivery", lambda *args, **kw: reads.append(args))
    service = start(store, registry, mailer=FakeMailer(refuse=ConnectionRefusedError()))
    event = granted()
    contact(registry, event.data["person_id"])

    service.on_recognition_granted(event)
    [delivery] = store.deliveries.values()
    assert (delivery.status, delivery.attempts, reads) == ("pending", 1, [])

    monkeypatch.undo()
    service.mailer.refuse = None
    delivery.next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    service.retry_due()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_message_the_rate_limit_holds_back_is_postponed_before_its_contact_is_asked(
        store, registry, monkeypatch):
    class Full(NoLimits):
        def ready_in(self, channel):
            return 2.0
    asked = []
    monkeypatch.setattr(registry, "contact", lambda person_id: asked.append(person_id))
    service = start(store, registry)
    service.limits = Full()

    service.on_recognition_granted(granted())
    [delivery] = store.deliveries.values()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 0, None)
    assert delivery.next_attempt_at > datetime.now(timezone.utc) + timedelta(seconds=1)
    assert asked == [] and service.mailer.sent == []


def test_a_failure_for_now_is_sent_by_the_retry_timer_when_due(store, registry):
    service = start(store, registry, mailer=FakeMailer(refuse=ConnectionRefusedError()))
    event = granted()
    contact(registry, event.data["person_id"])

    service.on_recognition_granted(event)
    [delivery] = store.deliveries.values()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > datetime.now(timezone.utc)  # backoff: not due yet

    service.mailer.refuse = None
    service.retry_due()
    assert service.mailer.sent == []

    delivery.next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    service.retry_due()
    [(_, delivery_id)] = service.mailer.sent
    assert delivery_id == delivery.id and (delivery.status, delivery.attempts) == ("sent", 2)
    assert [kind for kind, _, _ in store.events] == ["notification_sent"]


def test_a_backlog_left_by_an_outage_drains_in_one_tick_of_the_retry_timer(store, registry):
    """More than one batch (RETRY_BATCH) is due: the timer claims the next batch at once."""
    service = start(store, registry, mailer=FakeMailer(refuse=ConnectionRefusedError()))
    for _ in range(120):
        event = granted()
        contact(registry, event.data["person_id"])
        service.on_recognition_granted(event)
    assert len(store.rows(status="pending")) == 120 and service.mailer.sent == []

    service.mailer.refuse = None
    for delivery in store.deliveries.values():
        delivery.next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    service.retry_due()

    assert len(service.mailer.sent) == 120 and not store.rows(status="pending")
    assert {d.attempts for d in store.deliveries.values()} == {2}


class Bucket(NoLimits):
    """Email: ``size`` sends now, and ``refills`` times ``size`` more after a short wait;
    no limit on SMS."""

    def __init__(self, size, refills):
        self.size, self.tokens, self.refills, self.refilling = size, size, refills, False

    def room(self, channel):
        if channel != "email":
            return None
        if self.refilling:
            self.tokens, self.refills, self.refilling = self.size, self.refills - 1, False
        return self.tokens

    def ready_in(self, channel):
        if channel != "email" or self.tokens:
            return 0.0
        self.refilling = self.refills > 0
        return 0.01 if self.refilling else 3600.0

    def wait(self, channel):
        if channel != "email" or not self.tokens:
            return 0.0 if channel != "email" else 1.0
        self.tokens -= 1
        return 0.0


def backlog_of(service, store, registry, count):
    """``count`` congratulations whose first attempt failed, all due now; the claims made."""
    service.mailer.refuse = ConnectionRefusedError()
    for _ in range(count):
        event = granted()
        contact(registry, event.data["person_id"])
        service.on_recognition_granted(event)
    service.mailer.refuse = None
    for delivery in store.deliveries.values():
        delivery.next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    claims = []
    claim_due = store.claim_due
    store.claim_due = lambda *args: claims.append(claim_due(*args)) or claims[-1]
    return claims


def test_under_the_rate_limit_the_timer_claims_only_what_may_go_now(store, registry):
    """Nothing is claimed only to be postponed: ten may go, ten are claimed, the rest stay
    due for the next tick."""
    service = start(store, registry, mailer=FakeMailer())
    claims = backlog_of(service, store, registry, 120)
    service.limits = Bucket(10, refills=0)

    service.retry_due()

    assert len(service.mailer.sent) == 10 and [len(c) for c in claims if c] == [10]
    due = [d for d in store.rows(status="pending")
           if d.next_attempt_at <= datetime.now(timezone.utc)]
    assert len(due) == 110


def test_the_timer_waits_for_the_bucket_to_refill_within_its_tick(store, registry):
    """A backlog drains at the rate limit, not at one bucket a tick."""
    service = start(store, registry, mailer=FakeMailer())
    claims = backlog_of(service, store, registry, 30)
    service.limits = Bucket(5, refills=2)

    service.retry_due()

    assert len(service.mailer.sent) == 15 and [len(c) for c in claims if c] == [5, 5, 5]
    assert len(store.rows(status="pending")) == 15


def test_under_the_rate_limit_a_tick_ends_when_its_time_is_up(store, registry):
    """A bucket that refills as fast as mails go never runs dry: the tick still ends, so
    the other channel gets its turn and the service can stop."""
    class Trickle(NoLimits):
        def room(self, channel):
            time.sleep(0.01)  # one send's worth comes back while one is sent
            return 1 if channel == "email" else None
    service = start(store, registry, mailer=FakeMailer())
    backlog_of(service, store, registry, 120)
    service.config["RETRY_POLL_SECONDS"] = 0.2
    service.limits = Trickle()

    service.retry_due()

    assert 0 < len(service.mailer.sent) < 120


# -- the HTTP API and the digests ----------------------------------------------------------------
STAFF_ID = uuid.uuid4()


def request(body=None, *, who=STAFF_ID, role="commune_staff", unit="AG.LX", query=None):
    """A request as the @api entrypoint hands it over: token checked, caller set."""
    built = Request(EnvironBuilder(method="POST" if body is not None else "GET", json=body,
                                   query_string=query).get_environ())
    built.caller = Caller(str(who), role, unit)
    return built


def test_the_delivery_log_shows_each_caller_their_scope(store, registry):
    service = start(store, registry)
    here, elsewhere = granted(), recognition_granted(("AG", "AG.MB"))
    for event in (here, elsewhere):
        contact(registry, event.data["person_id"])
        service.on_recognition_granted(event)
    citizen = here.data["person_id"]

    def listed(**caller):
        page = service.deliveries(request(**caller))
        return page["total"], {item["person_id"] for item in page["items"]}

    assert listed(role="admin", unit=None)[0] == 2
    assert listed() == (1, {str(citizen)})                            # staff of AG.LX
    assert listed(who=citizen, role="citizen") == (1, {str(citizen)})
    assert listed(who=uuid.uuid4(), role="citizen") == (0, set())
    assert service.deliveries(request(role="admin", unit=None, query={
        "person_id": str(citizen), "limit": 1}))["total"] == 1

    [theirs] = store.rows(person_id=str(elsewhere.data["person_id"]))
    with pytest.raises(Forbidden):
        service.delivery(request(), theirs.id)
    with pytest.raises(ApiError) as raised:
        service.retry_delivery(request(role="admin", unit=None), theirs.id)
    assert raised.value.status == 409  # sent: only a failed delivery is sent again


def test_a_person_opts_out_and_back_in_except_of_a_mandatory_category(store, registry):
    service = start(store, registry)
    citizen = uuid.uuid4()
    mine = {"who": citizen, "role": "citizen"}

    def opted_out():
        return {c["name"] for c in service.preferences(request(**mine), citizen)["categories"]
                if c["opted_out"]}

    assert service.opt_out(request(**mine), citizen, "congratulations")["opted_out"] is True
    assert opted_out() == {"congratulations"}
    with pytest.raises(ApiError) as raised:
        service.opt_out(request(**mine), citizen, "recognition_decisions")
    assert raised.value.status == 409
    with pytest.raises(Forbidden):
        service.opt_out(request(who=uuid.uuid4(), role="citizen"), citizen, "congratulations")
    service.opt_in(request(**mine), citizen, "congratulations")
    assert opted_out() == set()


def test_target_changes_wait_for_one_daily_digest(store, registry):
    service = start(store, registry)
    registry.officials["AG.LX"] = [str(STAFF_ID)]
    contact(registry, STAFF_ID)
    for indicator in ("adults_titled", "briefed_members"):
        service.on_target_reached(make_envelope("target_reached", {
            "year": 2025, "indicator": indicator, "target_year": 2025, "numerator": 50,
            "denominator": 100, "share": 0.5, "target": 0.4, "cause_event_id": uuid.uuid4(),
            "unit_code": "AG.LX", "unit_path": list(PATH)}, producer="reporting"))
    assert service.mailer.sent == [] and len(store.digest) == 2

    def flush(at):
        return service.flush_digests(request({"now": at}, role="admin", unit=None))

    assert flush("2025-07-01T06:30:00+07:00") == {"day": None, "digests": 0, "items": 0}
    assert flush("2025-07-01T08:00:00+07:00") == {"day": "2025-07-01", "digests": 1,
                                                  "items": 2}
    [(message, delivery_id)] = service.mailer.sent
    assert "Phường Long Xuyên" in message.text
    assert {item.delivery_id for item in store.digest} == {delivery_id}
    assert flush("2025-07-01T09:00:00+07:00")["digests"] == 0  # at most one a day


def test_the_document_says_which_bodies_may_be_left_out():
    """The triggers run with an empty body (their fields have defaults): the document says
    so (cdht.openapi: a body is required unless the route says otherwise)."""
    paths = NotificationsService.openapi_document()["paths"]
    for path in ("/digests/flush", "/summaries/weekly"):
        assert paths[path]["post"]["requestBody"]["required"] is False
