"""Scope follows the person, with the real registry: after it moves a person (PATCH /people) or
merges units, the deliveries concerned are placed where they are now (moves.py). A citizen's
own deliveries follow them; a copy told to the old unit's officials stays that unit's; a
merger gives the new unit every delivery of the old ones. The message itself is unchanged."""
import uuid

from sqlalchemy import text

from tests.integration.notifications.helpers import citizen, event, finished, official
from tests.support import wait_for


def scope_of(engine, delivery_id):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT context->'scope_path' FROM deliveries WHERE id = :i"),
                           {"i": delivery_id})


def status_for(web_session, config, unit, path):
    staff = web_session(config, role="commune_staff", unit_code=unit, subject=uuid.uuid4())
    return staff.get(path).status_code


def listed(web_session, config, unit):
    staff = web_session(config, role="commune_staff", unit_code=unit, subject=uuid.uuid4())
    return {d["id"] for d in staff.get("/deliveries", params={"limit": 500}).json()["items"]}


def test_deliveries_follow_a_moved_person_and_a_merger(registry, notifications, publish,
                                                       engine, web_session):
    _, config = notifications()
    official(registry, "AG.LX")
    person_id, _ = citizen(registry)
    publish("assessment", event(
        "recognition_granted", "assessment", recognition_id=uuid.uuid4(),
        assessment_id=uuid.uuid4(), person_id=person_id, target_group="resident", year=2025,
        criteria_version="324/QĐ-KHVN", total_score=88, digital_skills="basic",
        unit_code="AG.LX", unit_path=["AG", "AG.LX"]).to_message())
    publish("assessment", event(
        "assessment_submitted", "assessment", assessment_id=uuid.uuid4(), person_id=person_id,
        year=2026, criteria_version="324/QĐ-KHVN", total_score=86, passed=True,
        unit_code="AG.LX", unit_path=["AG", "AG.LX"]).to_message())
    rows = wait_for(finished(engine, count=2), message="the two deliveries")
    own = next(str(r["id"]) for r in rows if str(r["person_id"]) == person_id)
    copy = next(str(r["id"]) for r in rows if str(r["person_id"]) != person_id)

    registry.patch(f"/people/{person_id}", {"unit_code": "AG.MB"})
    wait_for(lambda: scope_of(engine, own) == ["AG", "AG.MB"], message="the move")
    assert scope_of(engine, copy) is None  # the official's copy stays the ward's
    assert status_for(web_session, config, "AG.LX", f"/deliveries/{own}") == 403
    assert status_for(web_session, config, "AG.MB", f"/deliveries/{own}") == 200
    assert status_for(web_session, config, "AG.LX", f"/deliveries/{copy}") == 200
    assert own in listed(web_session, config, "AG.MB")
    assert own not in listed(web_session, config, "AG.LX")
    with engine.connect() as conn:  # what the message says and who signs it are kept
        assert conn.scalar(text("SELECT context->'unit_path' FROM deliveries WHERE id = :i"),
                           {"i": own}) == ["AG", "AG.LX"]

    registry.post("/units/merge", {
        "from_codes": ["AG.LX", "AG.MB"], "effective_on": "2025-07-01",
        "into": {"code": "AG.LM", "name": "Phường Long Mỹ", "kind": "ward",
                 "parent_code": "AG"}})
    wait_for(lambda: scope_of(engine, copy) == ["AG", "AG.LM"], message="the merger")
    assert scope_of(engine, own) == ["AG", "AG.LM"]
    assert listed(web_session, config, "AG.LM") >= {own, copy}
    assert not listed(web_session, config, "AG.MB") & {own, copy}
