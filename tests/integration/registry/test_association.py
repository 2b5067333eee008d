"""The association's structure over HTTP: commune associations, branches (chi hội) and
learning boards (ban khuyến học); officials (cán bộ hội) and members (hội viên) over time, with
the person's roles following their positions."""
from datetime import date

import pytest

from tests.integration.registry.helpers import counts, outbox, published

TODAY = date.today().isoformat()


def body(tree, kind, unit="AG.LX", parent=None, name=None):
    return tree.post("/association/bodies", {"kind": kind, "unit_code": unit,
                                             "name": name or f"{kind} {unit}",
                                             "parent_id": parent and parent["id"]})


def test_bodies_create_read_change_list_delete(tree):
    commune = body(tree, "commune_association", name="Hội Khuyến học phường Long Xuyên")
    branch = body(tree, "branch", parent=commune, name="Chi hội khóm 1")
    board = body(tree, "learning_board", parent=branch, name="Ban khuyến học trường A")
    other = body(tree, "commune_association", unit="AG.MB")

    assert tree.get(f"/association/bodies/{branch['id']}")["parent_id"] == commune["id"]
    renamed = tree.patch(f"/association/bodies/{board['id']}", {"name": "Ban khuyến học B"})
    assert renamed["name"] == "Ban khuyến học B"
    moved = tree.patch(f"/association/bodies/{board['id']}", {"parent_id": commune["id"]})
    assert moved["parent_id"] == commune["id"]

    def ids(**params):
        return {b["id"] for b in tree.get("/association/bodies", params=params)["items"]}
    assert ids() == {commune["id"], branch["id"], board["id"], other["id"]}
    assert ids(kind="branch") == {branch["id"]}
    assert ids(unit_code="AG.MB") == {other["id"]}
    assert ids(parent_id=commune["id"]) == {branch["id"], board["id"]}

    tree.call("DELETE", f"/association/bodies/{commune['id']}", status=409)  # has children
    tree.delete(f"/association/bodies/{board['id']}")
    tree.get(f"/association/bodies/{board['id']}", status=404)
    assert len(ids()) == 3


def test_bad_bodies_write_nothing(tree, db):
    commune = body(tree, "commune_association")
    other_unit = body(tree, "commune_association", unit="AG.MB")
    cases = [
        ({"kind": "branch", "unit_code": "AG.LX", "name": "x"}, 422, "parent_id"),  # no parent
        ({"kind": "commune_association", "unit_code": "AG.LX", "name": "x",
          "parent_id": commune["id"]}, 422, "parent_id"),
        ({"kind": "branch", "unit_code": "AG.LX", "name": "x",
          "parent_id": other_unit["id"]}, 422, "parent_id"),  # a parent in another commune
        ({"kind": "branch", "unit_code": "AG.LX", "name": "x",
          "parent_id": "00000000-0000-0000-0000-000000000000"}, 422, "parent_id"),
        ({"kind": "club", "unit_code": "AG.LX", "name": "x"}, 400, "kind"),
        ({"kind": "commune_association", "unit_code": "AG.NOPE", "name": "x"}, 422,
         "unit_code"),
    ]
    before = counts(db)
    for payload, status, field in cases:
        response = tree.call("POST", "/association/bodies", payload, status=status)
        assert field in response.json()["errors"], payload
    branch = body(tree, "branch", parent=commune)
    before = counts(db)
    response = tree.call("PATCH", f"/association/bodies/{commune['id']}",
                         {"parent_id": branch["id"]}, status=422)
    assert "parent_id" in response.json()["errors"]
    assert counts(db) == before


def test_officials_and_members_over_time(tree, db, tap, wait_for):
    commune = body(tree, "commune_association")
    branch = body(tree, "branch", parent=commune)
    person = tree.person()

    official = tree.post("/association/members", {"person_id": person["id"],
                                                   "body_id": commune["id"],
                                                   "role": "official",
                                                   "joined_on": "2022-03-01"})
    assert official["current"] is True
    member = tree.post("/association/members", {"person_id": person["id"],
                                                 "body_id": branch["id"], "role": "member"})
    assert tree.get(f"/people/{person['id']}")["roles"] == ["association_member",
                                                            "association_official"]
    updates = outbox(db, "person_updated")
    assert [e["data"]["roles"] for e in updates] == [
        ["association_official"], ["association_member", "association_official"]]
    published(tap, wait_for, "person_updated", 2)

    assert tree.get("/association/members", params={"body_id": commune["id"]})["total"] == 1
    assert tree.get("/association/members", params={"role": "member"})["total"] == 1

    # twice in one body at once: a conflict, nothing written
    before = counts(db)
    tree.call("POST", "/association/members", {"person_id": person["id"],
                                               "body_id": commune["id"], "role": "member"},
              status=409)
    response = tree.call("PATCH", f"/association/members/{official['id']}",
                         {"left_on": "2022-02-28"}, status=422)
    assert response.json()["errors"] == {"left_on": ["must not be before joined_on"]}
    assert counts(db) == before

    ended = tree.patch(f"/association/members/{official['id']}", {"left_on": TODAY})
    assert ended["current"] is False
    assert tree.get(f"/people/{person['id']}")["roles"] == ["association_member"]
    assert tree.get("/association/members", params={"current": "true"})["total"] == 1
    tree.call("PATCH", f"/association/members/{official['id']}", {"left_on": TODAY},
              status=409)

    tree.delete(f"/association/members/{member['id']}")
    tree.get(f"/association/members/{member['id']}", status=404)
    assert tree.get(f"/people/{person['id']}")["roles"] == []


@pytest.mark.parametrize("change, status, field", [
    ({"role": "president"}, 400, "role"),
    ({"person_id": "00000000-0000-0000-0000-000000000000"}, 422, "person_id"),
    ({"body_id": "00000000-0000-0000-0000-000000000000"}, 422, "body_id"),
    ({"joined_on": "2030-01-01"}, 422, "joined_on"),
    ({"joined_on": "2024-01-01", "left_on": "2023-01-01"}, 422, "left_on"),
])
def test_bad_positions_write_nothing(tree, db, change, status, field):
    commune = body(tree, "commune_association")
    person = tree.person()
    before = counts(db)
    response = tree.call("POST", "/association/members",
                         {"person_id": person["id"], "body_id": commune["id"],
                          "role": "member"} | change, status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before
