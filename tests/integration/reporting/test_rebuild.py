"""Rebuild against the real registry (its HTTP API, events and export RPCs) and an
assessment stand-in: a small real nameko service answering export_recognitions and
export_group_recognitions from a list, while the same titles reach reporting as
recognition_granted events (assessment's review workflow is driven in tests/e2e).

After the events, a rebuild finds no drift; after reporting's tables are emptied, it
restores exactly the same figures and prints what it corrected."""
import uuid
from datetime import date

import pytest
from nameko.rpc import rpc
from sqlalchemy import text

from cdht.outbox import wait_until_published
from services.registry.service import RegistryService
from services.reporting import rebuild
from tests.integration.registry.helpers import Registry

TITLES, GROUP_TITLES = [], []


class AssessmentExports:
    """Stand-in for assessment's export RPCs (same names, paging and item fields)."""
    name = "assessment"

    @staticmethod
    def _page(items, key, after_id, limit):
        rows = sorted(items, key=lambda i: i[key])
        if after_id is not None:
            rows = [r for r in rows if r[key] > str(after_id)]
        rows = rows[:int(limit)]
        return {"items": rows,
                "next_after": rows[-1][key] if len(rows) == int(limit) else None}

    @rpc
    def export_recognitions(self, after_id=None, limit=5000):
        return self._page(TITLES, "recognition_id", after_id, limit)

    @rpc
    def export_group_recognitions(self, after_id=None, limit=5000):
        return self._page(GROUP_TITLES, "group_recognition_id", after_id, limit)


@pytest.fixture
def system(container_factory, service_config, web_session, reporting, engines):
    TITLES.clear()
    GROUP_TITLES.clear()
    config = service_config("registry")
    container_factory(RegistryService, config).start()
    container_factory(AssessmentExports, service_config("reporting")).start()
    registry = Registry(web_session(config), config)
    registry.post("/units", {"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    registry.unit("AG.LX", kind="ward")
    registry.unit("AG.MB")
    return registry


def figures(api, units=("AG", "AG.LX", "AG.MB"), years=(2025, 2026)):
    found = {}
    for unit in units:
        for year in years:
            body = api.get(f"/units/{unit}/progress", params={"year": year}).json()
            found[(unit, year)] = {k: v for k, v in body.items() if k != "indicators"} | {
                i["indicator"]: (i["numerator"], i["denominator"], i["gap"])
                for i in body["indicators"]}
    return found


def test_rebuild_finds_no_drift_then_restores_emptied_tables(system, feed, api, engines,
                                                             reporting_config, capsys,
                                                             monkeypatch):
    registry = system
    people = [registry.person(unit="AG.LX" if i % 3 else "AG.MB",
                              born=date(1970 + i * 3, 5, 1)) for i in range(12)]
    family = registry.group("family", unit="AG.LX")
    school = registry.group("learning_unit", unit="AG.MB", level="commune")
    for p in people[:4]:
        registry.join(p, family, joined_on="2024-01-01")
    for p in people[4:7]:
        registry.join(p, school, joined_on="2024-01-01")
    body = registry.post("/association/bodies", {"kind": "commune_association",
                                                 "name": "Hội Khuyến học", "unit_code": "AG.LX"})
    for p in people[7:10]:
        registry.post("/association/members", {"person_id": p["id"], "body_id": body["id"],
                                               "role": "member", "joined_on": "2024-01-01"})
    registry.post("/learning-activities", {"person_id": people[7]["id"], "kind": "briefing",
                                           "title": "Quán triệt mô hình",
                                           "started_on": "2025-02-01"})
    for p in people[1:3]:  # trained: their titles count as digitally skilled
        registry.post("/learning-activities", {"person_id": p["id"],
                                               "kind": "digital_skills_basic",
                                               "title": "Kỹ năng số cơ bản",
                                               "started_on": "2025-02-01",
                                               "ended_on": "2025-03-01"})
    clan = registry.group("clan", unit="AG.MB")
    registry.join(people[9], clan, joined_on="2024-01-01")
    registry.post(f"/groups/{clan['id']}/titles", {
        "year": 2025, "decision_number": "15/QĐ-UBND", "decision_date": "2025-12-01",
        "issued_by": "UBND xã Mỹ Hòa Hưng"})
    assert wait_until_published(engines["registry"], timeout=15)

    # the titles: what assessment holds (stand-in's list) and what it announced (events)
    for i, p in enumerate(people[:8]):
        facts = {"person_id": p["id"], "unit_code": p["unit_code"],
                 "unit_path": ["AG", p["unit_code"]]}
        grant = {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
                 "target_group": "resident", "year": 2025 if i % 2 else 2026,
                 "criteria_version": "324/QĐ-KHVN", "total_score": 85,
                 "digital_skills": ("none", "basic", "proficient")[i % 3], **facts}
        TITLES.append(grant)
        feed.send("recognition_granted", grant, wait=False)
    group_title = {"group_recognition_id": str(uuid.uuid4()), "group_id": family["id"],
                   "group_kind": "family", "year": 2025, "criteria_version": "448/QĐ-KHVN",
                   "level": None, "members": 4, "members_titled": 4, "unit_code": "AG.LX",
                   "unit_path": ["AG", "AG.LX"]}
    GROUP_TITLES.append(group_title)
    feed.send("group_recognition_granted", group_title, wait=False)

    def settled():
        with engines["reporting"].connect() as conn:
            titled = conn.scalar(text("SELECT n FROM tallies WHERE unit_code = 'AG' "
                                      "AND metric = 'titled' AND key = 2025"))
            staff = conn.scalar(text("SELECT n FROM tallies WHERE unit_code = 'AG' "
                                     "AND metric = 'staff'"))
            members = conn.scalar(text("SELECT n FROM tallies WHERE unit_code = 'AG' "
                                       "AND metric = 'members_briefed'"))
            families = conn.scalar(text("SELECT n FROM tallies WHERE unit_code = 'AG' "
                                        "AND metric = 'recognised:family' AND key = 2025"))
            clans = conn.scalar(text("SELECT n FROM tallies WHERE unit_code = 'AG' "
                                     "AND metric = 'recognised:clan' AND key = 2025"))
        lag = api.get("/lag").json()
        return (titled == 4 and staff == 3 and members == 1 and families == 1
                and clans == 1 and lag["waiting"] == 0)
    feed.wait_for(settled, timeout=20, message="every event applied")
    before = figures(api)
    ag = before[("AG", 2025)]
    assert ag["people"] == 12 and ag["titled"] == 4
    assert ag["unit_staff_titled"][1] == 3 and ag["briefed_members"] == (1, 3, 2)
    assert ag["families_recognised"] == (1, 1, 0)
    assert ag["clans_recognised"] == (1, 1, 0)          # recorded from its decision
    assert ag["learning_units_recognised"] == (0, 1, 1)
    assert ag["unit_name"] == "Tỉnh An Giang"
    assert ag["association"]["commune_association"] == 1
    assert ag["adults_in_recognised_groups"] == 4 + 1   # the family's and the clan's
    assert ag["titled_with_digital_skills"][0] == 1     # people[1]: trained, basic, 2025

    snapshot = rebuild.fetch(reporting_config)
    assert len(snapshot.people) == 12 and len(snapshot.recognitions) == 8
    assert len(snapshot.units) == 3 and len(snapshot.bodies) == 1
    assert len(snapshot.group_titles) == 1
    assert rebuild.apply(engines["reporting"], snapshot, reporting_config) == {}
    assert figures(api) == before

    with engines["reporting"].begin() as conn:  # a lost event, say
        conn.execute(text("UPDATE tallies SET n = n + 5 WHERE unit_code = 'AG.LX' "
                          "AND metric = 'titled' AND key = 2025"))
    drift = rebuild.apply(engines["reporting"], snapshot, reporting_config)
    assert set(drift) == {("AG.LX", "titled", 2025)}
    was, now = drift[("AG.LX", "titled", 2025)]
    assert was - now == 5
    assert figures(api) == before

    with engines["reporting"].begin() as conn:
        conn.execute(text("TRUNCATE people, memberships, briefings, trainings, groups, "
                          "recognition_facts, group_titles, tallies, tally_days, unit_paths, "
                          "target_status, unit_names, association_bodies"))
    assert api.get("/units/AG/progress", params={"year": 2025}).status_code == 404
    # the command, as an operator runs it: its config from the environment
    monkeypatch.setenv("AMQP_URI", reporting_config["AMQP_URI"])
    monkeypatch.setenv("REPORTING_DATABASE_URL", reporting_config["DATABASE_URL"])
    assert rebuild.main([]) == 0
    out = capsys.readouterr().out
    assert ("Fetched 12 people, 8 memberships, 3 activities, 8 titles, 1 group titles "
            "computed and 1 recorded, 3 units, 1 association bodies") in out
    assert "Corrected" in out and "net change per metric:" in out and "titled +" in out
    assert figures(api) == before
    series = api.get("/units/AG/series", params={"year": 2025}).json()
    assert series["indicators"]["adults_titled"][-1]["numerator"] == \
        before[("AG", 2025)]["adults_titled"][0]
    assert rebuild.apply(engines["reporting"], snapshot, reporting_config) == {}
