"""The inbox names a handler ``<service>.<method>`` (cdht.inbox); notifications named its
rows ``notifications.<event_type>`` before. Migration 0004 renames them: an event applied
before the upgrade and delivered again after it is still a duplicate (PostgreSQL, RabbitMQ)."""
import uuid

import pytest
from sqlalchemy import text

from cdht import db, observability
from cdht.contracts import make_envelope
from services.notifications.service import NotificationsService
from tests.support import migrated_back


def unit_changed(code, name):
    return make_envelope("unit_changed", {
        "unit_code": code, "unit_path": ["AG", code], "unit_name": name, "kind": "commune",
        "change": "created", "valid_from": None, "valid_to": None}, producer="registry")


def handled():
    """Events the notifications handler of unit_changed acked in this process, so far."""
    return observability.metrics("notifications").registry.get_sample_value(
        "cdht_events_handled_total",
        {"handler": "on_unit_changed", "event_type": "unit_changed"}) or 0


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


@pytest.fixture
def before_upgrade(databases, engines):
    """The notifications database at 0003 (before the renaming), put back at head after."""
    url = databases["notifications"]
    with migrated_back("notifications", "0003", url):
        yield url, engines["notifications"]


def add_inbox_row(engine, event_id, consumer, event_type):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO inbox (event_id, consumer, event_type) "
                          "VALUES (:e, :c, :t)"), {"e": event_id, "c": consumer, "t": event_type})


def test_the_old_names_are_renamed_and_back(before_upgrade):
    url, engine = before_upgrade
    granted, refused, twice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    add_inbox_row(engine, granted, "notifications.recognition_granted", "recognition_granted")
    add_inbox_row(engine, refused, "notifications.recognition_refused", "recognition_refused")
    # the same event under both names (recorded by an instance already upgraded): one stays
    add_inbox_row(engine, twice, "notifications.unit_changed", "unit_changed")
    add_inbox_row(engine, twice, "notifications.on_unit_changed", "unit_changed")

    db.upgrade("notifications", url=url)
    assert sorted(rows(engine, "SELECT event_id, consumer FROM inbox")) == sorted([
        (granted, "notifications.on_recognition_granted"),
        (refused, "notifications.on_recognition_refused"),
        (twice, "notifications.on_unit_changed")])

    db.downgrade("notifications", "0003", url=url)
    assert sorted(rows(engine, "SELECT event_id, consumer FROM inbox")) == sorted([
        (granted, "notifications.recognition_granted"),
        (refused, "notifications.recognition_refused"),
        (twice, "notifications.unit_changed")])


def test_an_event_applied_before_the_upgrade_is_not_applied_again(
        before_upgrade, container_factory, service_config, publish, wait_for):
    url, engine = before_upgrade
    applied = unit_changed("AG.CU", "Xã Cũ")  # applied by the old release: its row is there
    add_inbox_row(engine, applied.event_id, "notifications.unit_changed", "unit_changed")
    db.upgrade("notifications", url=url)

    container_factory(NotificationsService, service_config("notifications")).start()
    acked = handled()
    publish("registry", applied.to_message())  # delivered again after the upgrade
    publish("registry", unit_changed("AG.MOI", "Xã Mới").to_message())

    wait_for(lambda: handled() == acked + 2, message="both events handled")
    assert rows(engine, "SELECT unit_code FROM units") == [("AG.MOI",)]
    assert sorted(rows(engine, "SELECT consumer FROM inbox")) == [
        ("notifications.on_unit_changed",), ("notifications.on_unit_changed",)]
