"""Helpers of the registry's integration tests (fixtures are in conftest.py)."""
import itertools
import time
from datetime import date

import eventlet
from sqlalchemy import text

from services.registry.domain import national_id_for
from tests.support import EventTap  # noqa: F401  (the registry's tests import it from here)

TABLES = ("units", "unit_changes", "people", "groups", "memberships", "association_bodies",
          "association_members", "learning_activities", "outbox")

_serial = itertools.count(1)


class Registry:
    """HTTP helpers: each create asserts its status, so a test reads as the story it tells."""

    def __init__(self, http, config, container=None):
        self.http = http
        self.config = config
        self.container = container

    def call(self, method, path, body=None, status=None, **kwargs):
        response = self.http.request(method, path, json=body, **kwargs)
        if status is not None:
            assert response.status_code == status, (method, path, response.text)
        return response

    def post(self, path, body, status=201, **kwargs):
        return self.call("POST", path, body, status, **kwargs).json()

    def get(self, path, status=200, **kwargs):
        return self.call("GET", path, None, status, **kwargs).json()

    def patch(self, path, body, status=200, **kwargs):
        return self.call("PATCH", path, body, status, **kwargs).json()

    def delete(self, path, status=200, **kwargs):
        return self.call("DELETE", path, None, status, **kwargs).json()

    def unit(self, code, kind="commune", parent="AG", **extra):
        return self.post("/units", {"code": code, "name": f"Xã {code}", "kind": kind,
                                    "parent_code": parent, **extra})

    def person(self, unit="AG.LX", born=date(1985, 4, 2), gender="male", **extra):
        return self.post("/people", person_body(unit, born, gender, **extra))

    def group(self, kind="family", unit="AG.LX", name=None, **extra):
        return self.post("/groups", {"kind": kind, "unit_code": unit,
                                     "name": name or f"{kind} {next(_serial)}", **extra})

    def join(self, person, group, **extra):
        return self.post("/memberships", {"person_id": person["id"], "group_id": group["id"],
                                          **extra})


def person_body(unit="AG.LX", born=date(1985, 4, 2), gender="male", **extra):
    return {"national_id": national_id_for(89, born, gender, next(_serial)),
            "full_name": "Nguyễn Văn An", "gender": gender, "birth_date": born.isoformat(),
            "unit_code": unit, "target_group": "resident", **extra}


def outbox(db, event_type=None):
    """Event envelopes staged by the registry, oldest first."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT event_type, payload FROM outbox ORDER BY id")).all()
    return [r.payload for r in rows if event_type in (None, r.event_type)]


def counts(db):
    """Rows per table: equal before and after a rejected request means nothing was written."""
    with db.connect() as conn:
        return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def published(tap, wait_for, event_type, count=1):
    return wait_for(lambda: len(found := tap.of_type(event_type)) >= count and found,
                    message=f"{count} {event_type} event(s) on registry.events")


# -- bulk imports ---------------------------------------------------------------------------
SMALL_TREE = (("AG", "Tỉnh An Giang", "province", None),
              ("AG.001", "Phường Long Xuyên", "ward", "AG"),
              ("AG.002", "Xã Mỹ Hòa Hưng", "commune", "AG"))


def insert_units(engine, units=SMALL_TREE):
    """Units written straight into the registry's table, parents first: (code, name, kind,
    parent code) and, for a closed unit, the last day it was valid."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO units (code, name, kind, parent_code, valid_to) "
                          "VALUES (:code, :name, :kind, :parent, :valid_to)"),
                     [{"code": code, "name": name, "kind": kind, "parent": parent,
                       "valid_to": valid_to[0] if valid_to else None}
                      for code, name, kind, parent, *valid_to in units])
    return engine


def nid(serial, born=date(1985, 4, 2), gender="male"):
    """A well-formed national ID (province 89) for a person born ``born``."""
    return national_id_for(89, born, gender, serial)


def wait_done(http, import_id, timeout=60, pause=0.05):
    """The import's status once it is done or failed (GET /imports/<id>, polled)."""
    deadline = time.monotonic() + timeout
    while True:
        status = http.get(f"/imports/{import_id}").json()
        if status["status"] in ("done", "failed"):
            return status
        assert time.monotonic() < deadline, status
        eventlet.sleep(pause)
