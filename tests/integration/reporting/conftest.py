"""Reporting in a nameko container on real RabbitMQ and PostgreSQL, fed events as the
registry's and assessment's outbox relays publish them."""
import uuid
from datetime import date

import pytest
from sqlalchemy import text

from cdht.contracts import make_envelope
from services.reporting.service import ReportingService

LX = ["AG", "AG.LX"]
MB = ["AG", "AG.MB"]
PRODUCER = {"person_registered": "registry", "person_updated": "registry",
            "person_moved": "registry", "person_removed": "registry",
            "people_imported": "registry", "membership_changed": "registry",
            "learning_activity_recorded": "registry", "units_merged": "registry",
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


@pytest.fixture
def reporting_config(service_config):
    return service_config("reporting")


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
