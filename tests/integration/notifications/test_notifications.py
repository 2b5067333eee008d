"""The notifications service against real parts: RabbitMQ (events, RPC, retries, dead
letters), PostgreSQL (deliveries, outbox, inbox) and an aiosmtpd SMTP server on a free port.

The registry here is a stand-in nameko service named "registry" with the real ``contact`` RPC
signature (so the lookup goes over RabbitMQ exactly as in production), because it must be
able to answer late on purpose; test_channels.py and test_routing.py run the real registry.
"""
import logging
import uuid

import eventlet
import pytest
from aiosmtpd.controller import Controller
from kombu import Connection, Queue
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher, get_event_exchange
from sqlalchemy import text

from cdht.consumer import retry_delays
from cdht.contracts import make_envelope, parse_envelope
from cdht.outbox import wait_until_published
from cdht_tools.deadletters import consumer_queues
from services.notifications.service import NotificationsService
from tests.integration.notifications.helpers import (
    MailSink, deliveries, finished, service_log,
)
from tests.support import free_port, wait_for

QUEUE = "evt-assessment-recognition_granted--notifications.on_recognition_granted"
BATCH_QUEUE = \
    "evt-assessment-recognitions_granted--notifications.on_recognitions_granted"
EMAIL = "hoa.nguyen@example.org"
MASKED = "h***@example.org"

CONTACTS = {}          # person_id (str) -> what the stand-in registry answers
CONTACT_CALLS = []     # person_ids asked for
SLOW_ONCE = set()      # person_ids whose first lookup hangs for 2 s


class StandInRegistry:
    """The registry's ``contact`` RPC, answering from CONTACTS."""
    name = "registry"

    @rpc
    def contact(self, person_id):
        CONTACT_CALLS.append(person_id)
        if person_id in SLOW_ONCE:
            SLOW_ONCE.discard(person_id)
            eventlet.sleep(2)
        return CONTACTS.get(person_id)


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def smtp_server(smtp_port):
    """``smtp_server(sink)`` starts a real SMTP server on ``smtp_port``; stopped at teardown."""
    controllers = []

    def start(sink=None):
        sink = sink or MailSink()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return sink

    yield start
    for controller in controllers:
        controller.stop()


# fast retries: attempts 0.1-0.2 s, 0.2-0.4 s, 0.4-0.8 s apart, the fourth one is the last
FAST = dict(RETRY_BASE_SECONDS=0.2, RETRY_MAX_SECONDS=1, RETRY_POLL_SECONDS=0.1,
            SEND_MAX_ATTEMPTS=4, SCHEDULE_POLL_SECONDS=3600)


@pytest.fixture
def config(service_config, smtp_port):
    return service_config("notifications", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_port,
                          SMTP_TIMEOUT=5, CONTACT_TIMEOUT=0.5, **FAST)


@pytest.fixture
def registry(container_factory, rabbit_config):
    CONTACTS.clear()
    CONTACT_CALLS.clear()
    SLOW_ONCE.clear()
    container = container_factory(StandInRegistry, rabbit_config)
    container.start()
    return CONTACTS


@pytest.fixture
def notifications(container_factory, config, registry, caplog):
    caplog.set_level(logging.INFO)
    container = container_factory(NotificationsService, config)
    container.start()
    return container


@pytest.fixture
def engine(engines):
    return engines["notifications"]


@pytest.fixture
def send_recognition(rabbit_config):
    """Publishes an assessment event (recognition_granted, or a closing's
    recognitions_granted) as assessment's relay does."""
    dispatch = event_dispatcher(rabbit_config)

    def send(envelope):
        dispatch("assessment", envelope.event_type, envelope.to_message())
        return envelope
    return send


@pytest.fixture
def amqp(config):
    with Connection(config["AMQP_URI"]) as conn:
        yield conn


def depth(amqp, name):
    """Ready messages in a queue (exact, unlike the management API's sampled stats)."""
    with amqp.channel() as channel:
        return channel.queue_declare(queue=name, passive=True).message_count


def recognition(person_id=None, **data):
    return make_envelope("recognition_granted", {
        "recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(),
        "person_id": person_id or uuid.uuid4(), "target_group": "resident", "year": 2025,
        "criteria_version": "324/QĐ-KHVN", "total_score": 87, "digital_skills": "basic",
        "unit_code": "AG-LX-MX", "unit_path": ["AG", "AG-LX-MX"]} | data,
        producer="assessment", correlation_id=str(uuid.uuid4()))


def recognitions(scores):
    """A closing's batch: one registered person per score, each with a name and an address of
    their own; the envelope and ``{person_id: (name, email, score)}``."""
    people, items = {}, []
    for n, score in enumerate(scores):
        name, email = f"Lê Văn {chr(65 + n)}", f"le{n}@example.org"
        person_id = person(email=email, full_name=name)
        people[person_id] = (name, email, score)
        items.append(recognition(person_id, total_score=score).data)
    return make_envelope("recognitions_granted", {
        "closing_id": uuid.uuid4(), "recognitions": items},
        producer="assessment", correlation_id=str(uuid.uuid4())), people


def person(language="vi", email=EMAIL, full_name="Nguyễn Thị Hoa", phone="0912345678"):
    person_id = uuid.uuid4()
    CONTACTS[str(person_id)] = {"person_id": str(person_id), "full_name": full_name,
                                "email": email, "phone": phone, "language": language}
    return person_id


def delivery_done(engine):
    def check():
        rows = deliveries(engine)
        return rows[0] if rows and rows[0]["status"] != "pending" else None
    return check


def outbox(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT event_type, payload, published_at FROM outbox "
                                 "ORDER BY id")).mappings().all()


def inbox(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT event_id, consumer FROM inbox")).all()


def assert_no_contact_data(engine, caplog, *secrets):
    """The address (and phone) is in no table and no log line."""
    with engine.connect() as conn:
        dump = " ".join(str(row) for table in ("deliveries", "outbox", "inbox")
                        for row in conn.execute(text(f"SELECT * FROM {table}")).all())
    logged = service_log(caplog)
    for secret in secrets:
        assert secret not in dump
        assert secret not in logged


# -- the tests ------------------------------------------------------------------------------------
def test_one_vietnamese_email_and_a_notification_sent_event(
        notifications, smtp_server, send_recognition, engine, amqp, config, caplog):
    sink = smtp_server()
    # a subscriber of the service's own events, to see the relay publish notification_sent
    events = Queue("test-notification-events", exchange=get_event_exchange("notifications", config),
                   routing_key="notification_sent", durable=False)
    events(amqp.channel()).declare()
    person_id = person()

    envelope = send_recognition(recognition(person_id))

    wait_for(lambda: sink.envelopes, message="the mail")
    delivery = wait_for(delivery_done(engine), message="the delivery to finish")
    assert len(sink.envelopes) == 1
    assert sink.envelopes[0].rcpt_tos == [EMAIL]
    assert sink.envelopes[0].mail_from == "khuyenhoc@example.org"
    mail = sink.messages()[0]
    assert mail["To"] == EMAIL
    assert mail["Subject"] == "Chúc mừng Nguyễn Thị Hoa đạt danh hiệu Công dân học tập năm 2025"
    assert mail["Message-ID"] == f"<{delivery['id']}@example.org>"
    body = mail.get_body(("plain",)).get_content()
    assert "Kính gửi Ông/Bà Nguyễn Thị Hoa" in body
    assert "năm 2025" in body and "87/100" in body and "Hội Khuyến học" in body
    assert "Nguyễn Thị Hoa" in mail.get_body(("html",)).get_content()

    assert delivery["status"] == "sent" and delivery["attempts"] == 1
    assert (delivery["source_event_id"], delivery["person_id"]) == (envelope.event_id, person_id)
    assert (delivery["channel"], delivery["template"], delivery["language"]) == \
        ("email", "recognition_granted", "vi")
    assert delivery["sent_at"] is not None and delivery["last_error"] is None

    [row] = outbox(engine)
    assert row["event_type"] == "notification_sent"
    sent = parse_envelope(row["payload"])
    assert sent.producer == "notifications"
    assert sent.correlation_id == envelope.correlation_id
    assert sent.data == {"notification_id": delivery["id"], "source_event_id": envelope.event_id,
                         "person_id": person_id, "channel": "email",
                         "template": "recognition_granted", "language": "vi"}
    assert inbox(engine) == [(envelope.event_id, "notifications.on_recognition_granted")]

    # the relay publishes it to notifications.events
    assert wait_until_published(engine, timeout=10)
    message = wait_for(lambda: events(amqp.channel()).get(no_ack=True), message="the event")
    assert parse_envelope(message.payload).event_id == sent.event_id

    assert_no_contact_data(engine, caplog, EMAIL, "0912345678")
    assert MASKED in service_log(caplog)


def test_english_when_the_person_asked_for_it(
        notifications, smtp_server, send_recognition, engine):
    sink = smtp_server()
    send_recognition(recognition(person(language="en", full_name="Trần Văn Bình")))
    delivery = wait_for(delivery_done(engine), message="the delivery")
    assert delivery["language"] == "en"
    assert sink.messages()[0]["Subject"] == \
        "Congratulations, Trần Văn Bình: Learning Citizen of 2025"


def test_the_same_envelope_twice_sends_one_mail(
        notifications, smtp_server, send_recognition, engine, amqp):
    sink = smtp_server()
    envelope = recognition(person())
    send_recognition(envelope)
    send_recognition(envelope)  # e.g. the producer's relay published it again after a crash

    wait_for(delivery_done(engine), message="the delivery")
    # both messages are handled (the second one possibly after a retry): nothing left queued
    eventlet.sleep(1.0)
    wait_for(lambda: depth(amqp, QUEUE) == 0 and all(
        depth(amqp, f"{QUEUE}.retry.{ms}") == 0 for ms in (100, 200, 400)),
        message="the queues to drain")
    assert len(sink.envelopes) == 1
    assert len(deliveries(engine)) == 1
    assert [r["event_type"] for r in outbox(engine)] == ["notification_sent"]
    assert depth(amqp, f"{QUEUE}.dead-letter") == 0

    send_recognition(envelope)  # and once more, long after
    eventlet.sleep(0.5)
    wait_for(lambda: depth(amqp, QUEUE) == 0, message="the queue to drain")
    assert len(sink.envelopes) == 1
    assert len(outbox(engine)) == 1


def test_a_closings_batch_is_one_vietnamese_mail_per_person_with_their_own_facts(
        notifications, smtp_server, send_recognition, engine, amqp):
    """recognitions_granted (closing a year) is told as one recognition_granted per person:
    its template, that person's recognition, under the batch's event id and inbox row."""
    sink = smtp_server()
    envelope, people = recognitions([81, 92, 100])

    send_recognition(envelope)

    rows = wait_for(finished(engine, count=3), message="the three deliveries")
    assert len(deliveries(engine)) == 3
    for row in rows:
        name, email, score = people[row["person_id"]]
        assert (row["status"], row["attempts"], row["source_event_id"], row["channel"],
                row["template"], row["rule"], row["language"]) == (
            "sent", 1, envelope.event_id, "email", "recognition_granted",
            "recognition_granted", "vi")
        assert row["correlation_id"] == envelope.correlation_id
        [mail] = sink.to(email)
        assert mail["Subject"] == f"Chúc mừng {name} đạt danh hiệu Công dân học tập năm 2025"
        assert mail["Message-ID"] == f"<{row['id']}@example.org>"
        body = mail.get_body(("plain",)).get_content()
        assert f"Kính gửi Ông/Bà {name}" in body and f"{score}/100" in body
    assert len(sink.envelopes) == 3
    assert sorted(e.rcpt_tos[0] for e in sink.envelopes) == sorted(
        email for _, email, _ in people.values())

    sent = [parse_envelope(r["payload"]).data for r in outbox(engine)]
    assert sorted(d["person_id"] for d in sent) == sorted(people)
    assert {(d["source_event_id"], d["template"]) for d in sent} == {
        (envelope.event_id, "recognition_granted")}
    assert inbox(engine) == [(envelope.event_id, "notifications.on_recognitions_granted")]
    assert BATCH_QUEUE in consumer_queues("notifications")
    assert depth(amqp, BATCH_QUEUE) == 0 and depth(amqp, f"{BATCH_QUEUE}.dead-letter") == 0


def test_the_same_batch_twice_sends_each_mail_once(
        notifications, smtp_server, send_recognition, engine, amqp):
    sink = smtp_server()
    envelope, people = recognitions([81, 92, 100])
    send_recognition(envelope)
    send_recognition(envelope)  # the producer's relay published it again after a crash

    wait_for(finished(engine, count=3), message="the three deliveries")
    eventlet.sleep(1.0)
    wait_for(lambda: depth(amqp, BATCH_QUEUE) == 0 and all(
        depth(amqp, f"{BATCH_QUEUE}.retry.{ms}") == 0 for ms in (100, 200, 400)),
        message="the queues to drain")
    assert sorted(len(sink.to(email)) for _, email, _ in people.values()) == [1, 1, 1]
    assert len(sink.envelopes) == 3 and len(deliveries(engine)) == 3
    assert [r["event_type"] for r in outbox(engine)] == ["notification_sent"] * 3
    assert inbox(engine) == [(envelope.event_id, "notifications.on_recognitions_granted")]
    assert depth(amqp, f"{BATCH_QUEUE}.dead-letter") == 0


def test_a_permanent_smtp_refusal_fails_the_delivery_once(
        notifications, smtp_server, send_recognition, engine, amqp, caplog):
    sink = smtp_server(MailSink(refuse="550 5.1.1 <{address}>: Recipient address rejected"))
    person_id = person()
    envelope = send_recognition(recognition(person_id))

    delivery = wait_for(delivery_done(engine), message="the delivery")
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert delivery["last_error"] == \
        f"recipient refused: 550 5.1.1 <{MASKED}>: Recipient address rejected"
    assert delivery["sent_at"] is None

    [row] = outbox(engine)
    assert row["event_type"] == "notification_failed"
    assert row["payload"]["producer"] == "notifications"
    assert row["payload"]["correlation_id"] == envelope.correlation_id
    failed = parse_envelope(row["payload"]).data
    assert failed == {"notification_id": delivery["id"], "source_event_id": envelope.event_id,
                      "person_id": person_id, "channel": "email",
                      "template": "recognition_granted", "language": "vi",
                      "reason": delivery["last_error"], "attempts": 1}

    # no retry storm: longer than all retry delays together, still one attempt, nothing queued
    eventlet.sleep(sum(retry_delays({"RETRY_DELAYS_MS": [100, 200, 400]})) / 1000 + 0.5)
    assert sink.rcpt_attempts == 1
    assert sink.envelopes == []
    assert deliveries(engine)[0]["attempts"] == 1
    assert depth(amqp, QUEUE) == 0 and depth(amqp, f"{QUEUE}.dead-letter") == 0
    assert_no_contact_data(engine, caplog, EMAIL)


@pytest.mark.parametrize("known, reason", [
    (True, "no email address on record"),
    (False, "no contact: person unknown to the registry or deleted"),
])
def test_no_email_address_fails_without_a_mail(
        notifications, smtp_server, send_recognition, engine, amqp, known, reason):
    sink = smtp_server()
    person_id = person(email=None) if known else uuid.uuid4()
    envelope = send_recognition(recognition(person_id))

    delivery = wait_for(delivery_done(engine), message="the delivery")
    assert (delivery["status"], delivery["last_error"], delivery["attempts"]) == \
        ("failed", reason, 0)
    [row] = outbox(engine)
    assert row["event_type"] == "notification_failed"
    data = parse_envelope(row["payload"]).data
    assert (data["reason"], data["attempts"], data["person_id"], data["source_event_id"]) == \
        (reason, 0, person_id, envelope.event_id)
    assert CONTACT_CALLS == [str(person_id)]
    eventlet.sleep(0.3)
    assert sink.rcpt_attempts == 0 and sink.envelopes == []
    assert depth(amqp, f"{QUEUE}.dead-letter") == 0


def test_smtp_down_at_first_then_up_sends_once_after_a_retry(
        notifications, smtp_server, send_recognition, engine, amqp, caplog):
    person_id = person()
    send_recognition(recognition(person_id))

    # the first attempt finds no server: recorded, message sent to the retry queue
    first = wait_for(lambda: [r for r in deliveries(engine) if r["attempts"] >= 1],
                     message="the first attempt")[0]
    assert first["status"] == "pending"
    assert first["last_error"].startswith("ConnectionRefusedError")
    sink = smtp_server()

    delivery = wait_for(delivery_done(engine), message="the delivery")
    assert delivery["status"] == "sent"
    assert delivery["attempts"] >= 2
    assert delivery["last_error"] is None
    eventlet.sleep(0.5)
    assert len(sink.envelopes) == 1
    assert [r["event_type"] for r in outbox(engine)] == ["notification_sent"]
    assert depth(amqp, f"{QUEUE}.dead-letter") == 0
    assert "attempt 1 failed" in caplog.text


def test_a_registry_that_does_not_answer_in_time_is_asked_again_later(
        notifications, smtp_server, send_recognition, engine, amqp, caplog):
    sink = smtp_server()
    person_id = person()
    SLOW_ONCE.add(str(person_id))
    send_recognition(recognition(person_id))

    delivery = wait_for(delivery_done(engine), message="the delivery")
    assert (delivery["status"], delivery["attempts"]) == ("sent", 1)  # no SMTP attempt lost
    assert CONTACT_CALLS == [str(person_id)] * 2
    assert "registry.contact did not answer within 0.5s" in service_log(caplog)
    eventlet.sleep(2)  # the late answer to the first call arrives and is ignored
    assert len(sink.envelopes) == 1
    assert depth(amqp, f"{QUEUE}.dead-letter") == 0


def test_retries_exhausted_fail_the_delivery_and_an_operator_retry_sends_it(
        notifications, smtp_server, send_recognition, engine, amqp, config, web_session):
    person_id = person()
    envelope = send_recognition(recognition(person_id))

    # 4 attempts (SEND_MAX_ATTEMPTS) with backoff, then failed for good and announced; the
    # event itself was handled (acked) at once: nothing retried or dead-lettered in RabbitMQ
    delivery = wait_for(delivery_done(engine), message="the delivery to give up")
    assert (delivery["status"], delivery["attempts"]) == ("failed", 4)
    assert delivery["last_error"].startswith("gave up after 4 attempts: ConnectionRefusedError")
    [row] = outbox(engine)
    assert row["event_type"] == "notification_failed"
    failed = parse_envelope(row["payload"]).data
    assert (failed["attempts"], failed["source_event_id"]) == (4, envelope.event_id)
    assert failed["reason"] == delivery["last_error"]
    assert QUEUE in consumer_queues("notifications")
    assert depth(amqp, QUEUE) == 0 and depth(amqp, f"{QUEUE}.dead-letter") == 0
    eventlet.sleep(1.0)  # no further attempt once failed
    assert deliveries(engine)[0]["attempts"] == 4

    # the operator fixes the relay and retries the delivery: the mail goes out once
    sink = smtp_server()
    http = web_session(config)
    response = http.post(f"/deliveries/{delivery['id']}/retry")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["attempts"]) == ("sent", 5)
    assert len(sink.envelopes) == 1
    assert [r["event_type"] for r in outbox(engine)] == ["notification_failed",
                                                         "notification_sent"]
    again = http.post(f"/deliveries/{delivery['id']}/retry")
    assert again.status_code == 409
    assert http.post(f"/deliveries/{uuid.uuid4()}/retry").status_code == 404


def test_delivery_log_over_http(
        notifications, smtp_server, send_recognition, engine, config, web_session):
    smtp_server()
    session = web_session(config)
    first, second = person(), person(email=None)
    send_recognition(recognition(first))
    send_recognition(recognition(second))
    wait_for(lambda: len([r for r in deliveries(engine) if r["status"] != "pending"]) == 2,
             message="both deliveries")

    assert session.get("/health").json() == {"status": "ok", "database": "ok", "broker": "ok"}

    body = session.get("/deliveries").json()
    assert (body["total"], body["limit"], body["offset"]) == (2, 50, 0)
    assert len(body["items"]) == 2
    assert EMAIL not in str(body) and "0912345678" not in str(body)

    sent = session.get("/deliveries", params={"person_id": str(first)}).json()
    assert [(i["person_id"], i["status"]) for i in sent["items"]] == [(str(first), "sent")]
    assert set(sent["items"][0]) == {"id", "source_event_id", "person_id", "channel", "template",
                                     "language", "status", "attempts", "last_error",
                                     "created_at", "sent_at", "rule", "category", "address",
                                     "next_attempt_at"}
    assert (sent["items"][0]["address"], sent["items"][0]["rule"],
            sent["items"][0]["category"]) == (MASKED, "recognition_granted", "congratulations")
    one = session.get(f"/deliveries/{sent['items'][0]['id']}").json()
    assert one == sent["items"][0]
    assert session.get(f"/deliveries/{uuid.uuid4()}").status_code == 404
    failed = session.get("/deliveries", params={"status": "failed"}).json()
    assert [i["person_id"] for i in failed["items"]] == [str(second)]
    page = session.get("/deliveries", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], len(page["items"])) == (2, 1)

    assert session.get("/deliveries", params={"channel": "sms"}).json()["total"] == 0
    assert session.get("/deliveries", params={"since": "2000-01-01T00:00:00+00:00",
                                               "until": "2999-01-01T00:00:00+07:00"}
                       ).json()["total"] == 2
    assert session.get("/deliveries", params={"since": "2999-01-01T00:00:00+00:00"}
                       ).json()["total"] == 0
    for params in ({"status": "lost"}, {"person_id": "nope"}, {"limit": 0}, {"limit": 501},
                   {"offset": -1}, {"since": "yesterday"}, {"since": "2025-01-01T00:00:00"}):
        response = session.get("/deliveries", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid query"
