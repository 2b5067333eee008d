"""Reporting in a nameko container on real RabbitMQ and PostgreSQL, fed events as the
registry's and assessment's outbox relays publish them."""
import copy
import uuid
from datetime import date

import pytest
import yaml
from sqlalchemy import text

from cdht.contracts import make_envelope
from services.reporting import domain
from services.reporting.service import ReportingService

LX = ["AG", "AG.LX"]
MB = ["AG", "AG.MB"]
PRODUCER = {"person_registered": "registry", "person_updated": "registry",
            "person_moved": "registry", "person_removed": "registry",
            "people_imported": "registry", "membership_changed": "registry",
            "learning_activity_recorded": "registry", "learning_activity_withdrawn": "registry",
            "units_merged": "registry",
            "unit_changed": "registry", "association_body_changed": "registry",
            "groups_imported": "registry", "group_titles_recorded": "registry",
            "recognition_granted": "assessment", "recognition_revoked": "assessment",
            "group_recognition_granted": "assessment", "group_recognition_revoked": "assessment"}


class Feed:
    """Publishes source events to reporting and waits until reporting applied them."""

    def __init__(self, publish, engine, wait_for):
        self.publish, self.engine, self.wait_for = publish, engine, wait_for
        self.sent = 0

    def applied(self):
        with self.engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM inbox"))

    def send(self, event_type, data, wait=True, occurred_at=None):
        envelope = make_envelope(event_type, data, producer=PRODUCER[event_type])
        message = envelope.to_message()
        if occurred_at:
            message["occurred_at"] = occurred_at
        self.publish(PRODUCER[event_type], message)
        self.sent += 1
        if wait:
            self.wait_for(lambda: self.applied() >= self.sent, timeout=15,
                          message=f"{event_type} applied")
        return envelope

    # -- the stories' building blocks ------------------------------------------------------
    def person(self, path=LX, born=1985, roles=(), **extra):
        facts = {"person_id": str(uuid.uuid4()), "unit_code": path[-1], "unit_path": path,
                 "target_group": "resident", "roles": list(roles), "birth_year": born}
        self.send("person_registered", facts, **extra)
        return facts

    def grant(self, person, year=2025, skills="basic", **extra):
        data = {"recognition_id": str(uuid.uuid4()), "assessment_id": str(uuid.uuid4()),
                "person_id": person["person_id"], "unit_code": person["unit_code"],
                "unit_path": person["unit_path"], "target_group": "resident", "year": year,
                "criteria_version": "324/QĐ-KHVN", "total_score": 85, "digital_skills": skills}
        self.send("recognition_granted", data, **extra)
        return data

    def revoke(self, grant, **extra):
        self.send("recognition_revoked", {
            "recognition_id": grant["recognition_id"], "person_id": grant["person_id"],
            "unit_code": grant["unit_code"], "unit_path": grant["unit_path"],
            "year": grant["year"], "reason": "gian lận"}, **extra)

    def join(self, person, group_id, kind="family", path=None, change="joined",
             membership_id=None, on="2025-01-15"):
        path = path or person["unit_path"]
        data = {"membership_id": membership_id or str(uuid.uuid4()),
                "person_id": person["person_id"], "group_id": group_id, "group_kind": kind,
                "change": change, "effective_on": on, "unit_code": path[-1], "unit_path": path}
        self.send("membership_changed", data)
        return data

    def group_title(self, group_id, kind="family", path=LX, year=2025, members=3, titled=3):
        data = {"group_recognition_id": str(uuid.uuid4()), "group_id": group_id,
                "group_kind": kind, "year": year, "criteria_version": "448/QĐ-KHVN",
                "level": 1 if kind == "learning_unit" else None, "members": members,
                "members_titled": titled, "unit_code": path[-1], "unit_path": path}
        self.send("group_recognition_granted", data)
        return data

    def unit(self, path, name, kind="commune", change="created", valid_to=None):
        data = {"unit_code": path[-1], "unit_path": path, "unit_name": name, "kind": kind,
                "change": change, "valid_from": "2025-07-01", "valid_to": valid_to}
        self.send("unit_changed", data)
        return data

    def body(self, path, kind="branch", name="Chi hội khuyến học ấp 1", change="created",
             body_id=None):
        data = {"body_id": body_id or str(uuid.uuid4()), "kind": kind, "body_name": name,
                "parent_id": None, "change": change, "unit_code": path[-1],
                "unit_path": path}
        self.send("association_body_changed", data)
        return data

    def training(self, person, kind="digital_skills_basic", ended_on="2025-05-30"):
        data = {"activity_id": str(uuid.uuid4()), "person_id": person["person_id"],
                "kind": kind, "started_on": "2025-05-01", "ended_on": ended_on,
                "hours": 20.0, "unit_code": person["unit_code"],
                "unit_path": person["unit_path"]}
        self.send("learning_activity_recorded", data)
        return data

    def record_titles(self, titles, **extra):
        """``titles``: [(group_id, kind, path, year, change)] in one group_titles_recorded."""
        items = [{"title_id": title_id or str(uuid.uuid4()), "group_id": group_id,
                  "group_kind": kind, "year": year, "decision_number": "15/QĐ-UBND",
                  "decision_date": f"{year}-12-20", "issued_by": "UBND xã Mỹ Hòa Hưng",
                  "change": change, "unit_code": path[-1], "unit_path": path}
                 for group_id, kind, path, year, change, title_id in
                 [(*t, None) if len(t) == 5 else t for t in titles]]
        self.send("group_titles_recorded", {"import_id": str(uuid.uuid4()), "batch": 1,
                                            "titles": items}, **extra)
        return items

    def import_groups(self, groups, batch=1, **extra):
        """``groups``: [(group_id, kind, path, [(person, change[, membership_id])])]."""
        items = [{"group_id": gid, "group_kind": kind, "change": "registered",
                  "unit_code": path[-1], "unit_path": path, "memberships": [
                      {"membership_id": m[2] if len(m) > 2 else str(uuid.uuid4()),
                       "person_id": m[0]["person_id"], "change": m[1],
                       "effective_on": "2025-02-01"} for m in members]}
                 for gid, kind, path, members in groups]
        self.send("groups_imported", {"import_id": str(uuid.uuid4()), "batch": batch,
                                      "groups": items}, **extra)
        return items


def every_adult_rules(targets):
    """The adults' indicator over every registered adult, digital skills by the title's
    level alone: for the tests of counting mechanics (roll-up, revocations, merges, as of)
    that probe with those two figures."""
    targets["indicators"]["adults_titled"]["population"] = "all_adults"
    for indicator in ("titled_with_digital_skills", "titled_digitally_proficient"):
        targets["indicators"][indicator]["digital"]["activities"] = []
    return targets


@pytest.fixture
def targets_change():
    """A module may override this: a function changing the shipped targets (None: as
    shipped)."""
    return None


@pytest.fixture
def reporting_config(service_config, targets_change, tmp_path):
    if targets_change is None:
        return service_config("reporting")
    targets = targets_change(copy.deepcopy(domain.load_targets()))
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    return service_config("reporting", TARGETS_FILE=str(path))


@pytest.fixture
def reporting(container_factory, reporting_config):
    container = container_factory(ReportingService, reporting_config)
    container.start()
    return container


@pytest.fixture
def api(reporting, reporting_config, web_session):
    return web_session(reporting_config)


@pytest.fixture
def feed(reporting, publish, engines, wait_for):
    return Feed(publish, engines["reporting"], wait_for)


def outbox(engine, event_type=None):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT payload FROM outbox ORDER BY id")).scalars().all()
    return [r for r in rows if event_type is None or r["event_type"] == event_type]


def indicator(progress, name):
    return next(i for i in progress["indicators"] if i["indicator"] == name)


def this_year():
    return date.today().year


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.scalar(text(sql), params)


def tally(engine, metric, unit="AG"):
    """A counter of ``unit``, summed over its keys."""
    return scalar(engine, "SELECT coalesce(sum(n), 0) FROM tallies WHERE unit_code = :u "
                          "AND metric = :m", u=unit, m=metric)
