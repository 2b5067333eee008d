"""Learning activities over HTTP: recorded, changed, listed, deleted; each recording
announced as learning_activity_recorded (the evidence for indicators and targets)."""
from datetime import date, timedelta

import pytest

from tests.integration.registry.helpers import counts, outbox, published


def activity(person, **extra):
    return {"person_id": person["id"], "kind": "digital_skills_basic",
            "title": "Kỹ năng số cơ bản", "provider": "Trung tâm GDTX", "started_on":
            "2025-03-01", "ended_on": "2025-03-15", "hours": 24,
            "evidence_url": "https://example.org/certificate/1"} | extra


def test_record_change_list_delete(tree, db, tap, wait_for):
    an = tree.person(unit="AG.LX")
    hoa = tree.person(unit="AG.MB", gender="female")
    recorded = tree.post("/learning-activities", activity(an),
                         headers={"X-Correlation-ID": "act-1"})
    assert recorded["hours"] == 24.0 and recorded["kind"] == "digital_skills_basic"
    [event] = outbox(db, "learning_activity_recorded")
    assert event["correlation_id"] == "act-1"
    assert event["data"] == {"activity_id": recorded["id"], "person_id": an["id"],
                             "kind": "digital_skills_basic", "started_on": "2025-03-01",
                             "ended_on": "2025-03-15", "hours": 24.0, "unit_code": "AG.LX",
                             "unit_path": ["AG", "AG.LX"]}
    published(tap, wait_for, "learning_activity_recorded")

    briefing = tree.post("/learning-activities", activity(
        hoa, kind="briefing", title="Quán triệt mô hình Công dân học tập", ended_on=None,
        hours=None, evidence_url=None, started_on="2025-04-10"))
    assert briefing["ended_on"] is None

    tree.patch(f"/learning-activities/{recorded['id']}", {"title": "Kỹ năng số"})
    assert len(outbox(db, "learning_activity_recorded")) == 2  # a title counts for nothing
    changed = tree.patch(f"/learning-activities/{recorded['id']}", {"hours": 30.5})
    assert changed["hours"] == 30.5
    events = outbox(db, "learning_activity_recorded")
    assert len(events) == 3 and events[-1]["data"]["hours"] == 30.5
    assert events[-1]["data"]["activity_id"] == recorded["id"]  # the same activity again

    def ids(**params):
        return {a["id"] for a in tree.get("/learning-activities", params=params)["items"]}
    assert ids() == {recorded["id"], briefing["id"]}
    assert ids(person_id=an["id"]) == {recorded["id"]}
    assert ids(kind="briefing") == {briefing["id"]}
    assert ids(unit_code="AG.MB") == {briefing["id"]}
    assert ids(unit_code="AG") == ids()
    assert ids(started_from="2025-04-01") == {briefing["id"]}
    assert ids(started_to="2025-03-31") == {recorded["id"]}

    tree.delete(f"/learning-activities/{briefing['id']}")
    tree.get(f"/learning-activities/{briefing['id']}", status=404)
    assert ids() == {recorded["id"]}


FUTURE = (date.today() + timedelta(days=30)).isoformat()  # still ahead if a run crosses midnight


@pytest.mark.parametrize("change, status, field", [
    ({"ended_on": "2025-02-28"}, 422, "ended_on"),
    ({"started_on": FUTURE, "ended_on": None}, 422, "started_on"),
    ({"kind": "webinar"}, 400, "kind"),
    ({"hours": -1}, 400, "hours"),
    ({"hours": 10001}, 400, "hours"),
    ({"evidence_url": "ftp://example.org/x"}, 400, "evidence_url"),
    ({"evidence_url": "https://example.org/a b"}, 400, "evidence_url"),
    ({"title": ""}, 400, "title"),
    ({"person_id": "00000000-0000-0000-0000-000000000000"}, 422, "person_id"),
])
def test_bad_activities_write_nothing(tree, db, change, status, field):
    """400: against the OpenAPI document; 422: well-formed, against a rule it cannot state."""
    person = tree.person()
    before = counts(db)
    response = tree.call("POST", "/learning-activities", activity(person) | change,
                         status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before


def test_a_bad_change_writes_nothing(tree, db):
    recorded = tree.post("/learning-activities", activity(tree.person()))
    before = counts(db)
    response = tree.call("PATCH", f"/learning-activities/{recorded['id']}",
                         {"started_on": "2025-03-20"}, status=422)  # after ended_on
    assert "ended_on" in response.json()["errors"]
    assert counts(db) == before
    assert tree.get(f"/learning-activities/{recorded['id']}") == recorded
