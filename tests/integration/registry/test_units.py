"""The unit tree over HTTP: units with validity dates, "as of" lists, merges that move people
and groups in one transaction and leave a history; bad input rejected with nothing written."""
import pytest
from sqlalchemy import text

from tests.integration.registry.helpers import counts, outbox, published


def test_create_read_change_list_and_delete(tree):
    unit = tree.get("/units/AG.LX")
    assert unit["path"] == ["AG", "AG.LX"] and unit["kind"] == "ward"
    assert unit["merged_from"] == [] and unit["merged_into"] == []

    changed = tree.patch("/units/AG.LX", {"name": "Phường Long Xuyên"})
    assert changed["name"] == "Phường Long Xuyên"

    page = tree.get("/units")
    assert [u["code"] for u in page["items"]] == ["AG", "AG.LX", "AG.MB"]
    assert tree.get("/units", params={"kind": "ward"})["total"] == 1
    assert tree.get("/units", params={"parent_code": "AG"})["total"] == 2
    assert [u["code"] for u in tree.get("/units", params={"q": "long xuy"})["items"]] == [
        "AG.LX"]
    two = tree.get("/units", params={"limit": 2, "offset": 1})
    assert two["total"] == 3 and [u["code"] for u in two["items"]] == ["AG.LX", "AG.MB"]

    tree.delete("/units/AG.MB")
    tree.get("/units/AG.MB", status=404)
    assert tree.get("/units")["total"] == 2


def test_a_unit_in_use_cannot_be_deleted_or_moved(tree, db):
    tree.person(unit="AG.LX")
    response = tree.call("DELETE", "/units/AG.LX", status=409)
    assert "people" in response.json()["errors"]["code"][0]
    assert "units" in tree.call("DELETE", "/units/AG", status=409).json()["errors"]["code"][0]
    tree.post("/units", {"code": "AG.CD", "name": "Huyện Châu Đốc", "kind": "district",
                         "parent_code": "AG"})
    before = counts(db)
    tree.call("PATCH", "/units/AG.LX", {"parent_code": "AG.CD"}, status=409)
    assert tree.get("/units/AG.LX")["parent_code"] == "AG"
    response = tree.call("PATCH", "/units/AG.LX", {"valid_to": "2025-06-30"}, status=409)
    assert "merge" in response.json()["errors"]["valid_to"][0]
    assert counts(db) == before
    tree.unit("AG.CD.X", parent="AG.CD")
    before = counts(db)
    response = tree.call("PATCH", "/units/AG.CD", {"kind": "commune"}, status=422)
    assert response.json()["errors"] == {"kind": ["a commune cannot be under a commune"]}
    assert counts(db) == before
    assert tree.get("/units/AG.MB")["valid_to"] is None
    tree.patch("/units/AG.MB", {"valid_to": "2025-06-30"})  # nobody there: may close


@pytest.mark.parametrize("body, status, field", [
    ({"code": "AG", "name": "again", "kind": "province"}, 409, "code"),
    ({"code": "AG.X", "name": "x", "kind": "commune", "parent_code": "NOPE"}, 422,
     "parent_code"),
    ({"code": "AG.X", "name": "x", "kind": "commune", "parent_code": "AG.LX"}, 422,
     "parent_code"),  # a commune under a ward
    ({"code": "AG.X", "name": "x", "kind": "province", "parent_code": "AG"}, 422,
     "parent_code"),
    ({"code": "AG.X", "name": "x", "kind": "commune", "parent_code": "AG",
      "valid_from": "2025-07-01", "valid_to": "2025-06-30"}, 422, "valid_to"),
    ({"code": "has space", "name": "x", "kind": "commune", "parent_code": "AG"}, 400, "code"),
    ({"code": "AG.X", "name": "x", "kind": "hamlet", "parent_code": "AG"}, 400, "kind"),
])
def test_bad_units_write_nothing(tree, db, body, status, field):
    before = counts(db)
    response = tree.call("POST", "/units", body, status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before


def test_reparenting_may_not_make_a_cycle(tree, db):
    tree.post("/units", {"code": "AG.D1", "name": "Huyện 1", "kind": "district",
                         "parent_code": "AG"})
    before = counts(db)
    response = tree.call("PATCH", "/units/AG", {"parent_code": "AG.D1"}, status=422)
    assert "parent_code" in response.json()["errors"]
    assert counts(db) == before


def merge_fixture(tree):
    """Two old communes under a district (before 1 July 2025), with people, a family and a
    commune association: the 2025 reorganisation merges them into a new commune."""
    tree.post("/units", {"code": "AG.CT", "name": "Huyện Chợ Mới", "kind": "district",
                         "parent_code": "AG", "valid_to": "2025-06-30"})
    tree.unit("AG.CT.A", parent="AG.CT", valid_from="2010-01-01")
    tree.unit("AG.CT.B", parent="AG.CT")
    people = [tree.person(unit="AG.CT.A"), tree.person(unit="AG.CT.A"),
              tree.person(unit="AG.CT.B")]
    family = tree.group("family", unit="AG.CT.B")
    tree.join(people[2], family)
    body = tree.post("/association/bodies", {"kind": "commune_association",
                                             "name": "Hội Khuyến học xã A",
                                             "unit_code": "AG.CT.A"})
    return people, family, body


def test_merge_moves_people_and_groups_and_keeps_the_history(tree, db, tap, wait_for):
    people, family, body = merge_fixture(tree)
    result = tree.post("/units/merge", {
        "from_codes": ["AG.CT.A", "AG.CT.B"],
        "into": {"code": "AG.CM", "name": "Xã Chợ Mới", "kind": "commune", "parent_code": "AG"},
        "effective_on": "2025-07-01", "note": "Nghị quyết 1654/NQ-UBTVQH15"},
        headers={"X-Correlation-ID": "merge-1"})
    assert (result["people_moved"], result["groups_moved"], result["bodies_moved"]) == (3, 1, 1)
    assert result["unit"] == {"code": "AG.CM", "name": "Xã Chợ Mới", "kind": "commune",
                              "parent_code": "AG", "valid_from": "2025-07-01",
                              "valid_to": None}

    for person in people:
        assert tree.get(f"/people/{person['id']}")["unit_code"] == "AG.CM"
    assert tree.get(f"/groups/{family['id']}")["unit_code"] == "AG.CM"
    assert tree.get(f"/association/bodies/{body['id']}")["unit_code"] == "AG.CM"
    assert tree.get("/people", params={"unit_code": "AG.CM"})["total"] == 3

    old = tree.get("/units/AG.CT.A")
    assert old["valid_to"] == "2025-06-30"
    assert [c["to_codes"] for c in old["merged_into"]] == [["AG.CM"]]
    new = tree.get("/units/AG.CM")
    [change] = new["merged_from"]
    assert change["from_codes"] == ["AG.CT.A", "AG.CT.B"] and change["people_moved"] == 3
    assert change["note"] == "Nghị quyết 1654/NQ-UBTVQH15"
    assert change["effective_on"] == "2025-07-01"

    def valid(day):
        return {u["code"] for u in tree.get("/units", params={"as_of": day,
                                                              "limit": 500})["items"]}
    assert {"AG.CT", "AG.CT.A", "AG.CT.B"} <= valid("2025-06-30")
    assert "AG.CM" not in valid("2025-06-30")
    assert "AG.CM" in valid("2025-07-01")
    assert not {"AG.CT", "AG.CT.A", "AG.CT.B"} & valid("2025-07-01")
    assert "AG.CT.A" not in valid("2009-12-31")  # before it existed

    [event] = outbox(db, "units_merged")
    assert event["event_id"] == change["id"]
    assert event["correlation_id"] == "merge-1"
    assert event["data"] == {"unit_code": "AG.CM", "unit_path": ["AG", "AG.CM"],
                             "from_unit_paths": [["AG", "AG.CT", "AG.CT.A"],
                                                 ["AG", "AG.CT", "AG.CT.B"]],
                             "effective_on": "2025-07-01", "people_moved": 3}
    assert not outbox(db, "person_moved")  # one batch event, not one per person
    [wire] = published(tap, wait_for, "units_merged")
    assert wire["data"]["people_moved"] == 3


def test_merge_into_an_existing_unit(tree, db):
    tree.unit("AG.OLD")
    mover = tree.person(unit="AG.OLD")
    stayer = tree.person(unit="AG.MB")
    result = tree.post("/units/merge", {"from_codes": ["AG.OLD"], "into": "AG.MB",
                                        "effective_on": "2025-07-01"})
    assert result["people_moved"] == 1 and result["unit"]["code"] == "AG.MB"
    assert tree.get(f"/people/{mover['id']}")["unit_code"] == "AG.MB"
    assert tree.get(f"/people/{stayer['id']}")["unit_code"] == "AG.MB"
    assert tree.get("/units/AG.OLD")["valid_to"] == "2025-06-30"
    with db.connect() as conn:  # one bulk UPDATE per table, not a loop: one history row
        assert conn.scalar(text("SELECT count(*) FROM unit_changes")) == 1


NEW = {"code": "AG.NEW", "name": "Xã Mới", "kind": "commune", "parent_code": "AG"}


@pytest.mark.parametrize("body, status, field", [
    ({"from_codes": ["AG.LX"], "into": "AG.LX", "effective_on": "2025-07-01"}, 422, "into"),
    ({"from_codes": ["AG.LX"], "into": NEW | {"code": "AG.LX"},
      "effective_on": "2025-07-01"}, 422, "into"),
    ({"from_codes": ["AG.LX", "AG.NOPE"], "into": NEW, "effective_on": "2025-07-01"}, 422,
     "from_codes"),
    ({"from_codes": ["AG.LX"], "into": "AG.NOPE", "effective_on": "2025-07-01"}, 422, "into"),
    ({"from_codes": ["AG.LX"], "into": NEW | {"code": "AG.MB"},
      "effective_on": "2025-07-01"}, 409, "into"),
    ({"from_codes": ["AG.LX"], "into": NEW | {"parent_code": "AG.NOPE"},
      "effective_on": "2025-07-01"}, 422, "into"),
    ({"from_codes": ["AG"], "into": NEW, "effective_on": "2025-07-01"}, 422,
     "from_codes"),  # still has units under it
    ({"from_codes": ["AG.LX", "AG.LX"], "into": NEW, "effective_on": "2025-07-01"}, 400,
     "from_codes"),
    ({"from_codes": [], "into": NEW, "effective_on": "2025-07-01"}, 400, "from_codes"),
    ({"from_codes": ["AG.LX"], "into": NEW}, 400, "effective_on"),
    ({"from_codes": ["AG.LX"], "into": 42, "effective_on": "2025-07-01"}, 400, "into"),
    ({"from_codes": ["AG.LX"], "into": {"code": "AG.NEW"}, "effective_on": "2025-07-01"},
     400, "into"),
])
def test_bad_merges_write_nothing(tree, db, body, status, field):
    tree.person(unit="AG.LX")
    before = counts(db)
    response = tree.call("POST", "/units/merge", body, status=status)
    assert field in response.json()["errors"], response.text
    assert counts(db) == before
    assert tree.get("/units/AG.LX")["valid_to"] is None


def test_a_closed_unit_cannot_be_merged_again(tree, db):
    tree.unit("AG.OLD")
    tree.post("/units/merge", {"from_codes": ["AG.OLD"], "into": "AG.MB",
                               "effective_on": "2025-07-01"})
    before = counts(db)
    response = tree.call("POST", "/units/merge", {"from_codes": ["AG.OLD"], "into": "AG.LX",
                                                  "effective_on": "2025-08-01"}, status=422)
    assert "already closed" in response.json()["errors"]["from_codes"][0]
    assert counts(db) == before


def test_a_registration_waits_for_a_merge_in_flight(tree, db):
    """A merge holds its units FOR UPDATE; a registration into one of them waits, then sees
    the unit closed, instead of slipping a person into it behind the bulk move."""
    import eventlet
    from tests.integration.registry.helpers import person_body
    with db.connect() as conn:
        merge = conn.begin()
        conn.execute(text("SELECT code FROM units WHERE code = 'AG.MB' FOR UPDATE"))
        pending = eventlet.spawn(tree.call, "POST", "/people", person_body(unit="AG.MB"))
        eventlet.sleep(0.5)
        assert not pending.dead  # blocked on the merge's lock
        conn.execute(text("UPDATE units SET valid_to = '2025-06-30' WHERE code = 'AG.MB'"))
        merge.commit()
    response = pending.wait()
    assert response.status_code == 422, response.text
    assert "not valid" in response.json()["errors"]["unit_code"][0]
    assert tree.get("/people")["total"] == 0
