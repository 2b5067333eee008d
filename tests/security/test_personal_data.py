"""National IDs, phones and emails never reach a log, an event or an error message (docs/architecture.md
§D8): the four services run as real processes (conftest.py), are driven through the paths
that handle personal data (registration, changes, refusals, notifications sent by email),
then their logs, their outboxes and the error bodies are searched for every value."""
import pytest
from sqlalchemy import create_engine, text

from tests.security.conftest import SEEN, person_body


@pytest.fixture(scope="module")
def refusals(secured):
    """Requests refused for their personal data, and the answers they got."""
    admin = secured.admin
    taken = person_body("AG.LX")
    assert admin.call("POST", "registry", "/people", taken).status_code == 201
    person = secured.people["AG.LX"]["id"]
    answers = [
        admin.call("POST", "registry", "/people", taken | {"email": "khac.ten@example.org"}),
        admin.call("POST", "registry", "/people", person_body(
            "AG.LX", email="khong-hop-le 0912000111@@example", phone="09x12000111")),
        admin.call("POST", "registry", "/people", person_body("AG.LX",
                                                              national_id="08918500012")),
        admin.call("PATCH", "registry", f"/people/{person}", {"national_id": taken[
            "national_id"]}),
        admin.call("PATCH", "registry", f"/people/{person}", {"email": "not an email 0988"}),
    ]
    SEEN.append(("08918500012", "khong-hop-le 0912000111@@example", "09x12000111"))
    return answers


def test_error_messages_name_the_field_not_the_value(refusals):
    assert [r.status_code for r in refusals] == [409, 400, 400, 409, 400]
    for response in refusals:
        assert "error" in response.json()
        for values in SEEN:
            for value in values:
                assert value not in response.text, (value, response.text)


def test_logs_hold_no_national_id_phone_or_email(secured, refusals, wait_for):
    for unit in ("AG.LX", "AG.MB", "KG.RG"):  # a mail went to each unit's official
        path = f"/deliveries/{secured.deliveries[unit]['id']}"
        sent = wait_for(lambda: (d := secured.admin.call("GET", "notifications", path).json())
                        ["status"] == "sent" and d, timeout=20, message="the mail sent")
        assert sent["address"].count("***") == 1
    logs = {service: secured.system.log(service) for service in
            ("registry", "assessment", "reporting", "notifications")}
    assert all(len(log) > 200 for log in logs.values())  # they did log
    assert "delivery" in logs["notifications"] or "sent" in logs["notifications"]
    values = [value for seen in SEEN for value in seen]
    assert len(values) > 20
    for service, log in logs.items():
        for value in values:
            assert value not in log, f"{service}'s log holds {value!r}"


def test_events_hold_no_personal_data(secured, migrated_databases):
    values = [value for seen in SEEN for value in seen]
    for service in ("registry", "assessment", "reporting"):
        engine = create_engine(migrated_databases[service])
        try:
            with engine.connect() as conn:
                payloads = conn.scalars(text("SELECT payload::text FROM outbox")).all()
        finally:
            engine.dispose()
        assert payloads or service == "reporting"
        for payload in payloads:
            for value in values:
                assert value not in payload, (service, value)
