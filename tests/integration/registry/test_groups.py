"""Families, clans, communities and learning units over HTTP, with memberships over time: at
most one family at a time (domain and database), events for joining and leaving, and the
unit_staff role following learning-unit membership."""
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.integration.registry.helpers import counts, outbox, published

TODAY = date.today()
FUTURE = (TODAY + timedelta(days=1)).isoformat()


def test_groups_create_read_change_list_delete(tree, db):
    family = tree.group("family", name="Gia đình ông Nguyễn Văn An", code="GD-001")
    assert family["members"] == 0 and family["level"] is None
    school = tree.group("learning_unit", unit="AG.MB", name="Trường THCS Mỹ Hòa Hưng",
                        level="commune")
    tree.group("community", name="Ấp Bình Thới")
    tree.group("clan", unit="AG.MB", name="Dòng họ Trần")

    assert tree.get(f"/groups/{school['id']}")["level"] == "commune"
    renamed = tree.patch(f"/groups/{family['id']}", {"name": "Gia đình bà Lê Thị Hoa"})
    assert renamed["name"] == "Gia đình bà Lê Thị Hoa" and renamed["updated_at"]

    def names(**params):
        return sorted(g["name"] for g in tree.get("/groups", params=params)["items"])
    assert len(names()) == 4
    assert names(kind="learning_unit") == ["Trường THCS Mỹ Hòa Hưng"]
    assert names(unit_code="AG.MB") == ["Dòng họ Trần", "Trường THCS Mỹ Hòa Hưng"]
    assert len(names(unit_code="AG")) == 4
    assert names(q="bình thới") == ["Ấp Bình Thới"]
    assert names(level="commune") == ["Trường THCS Mỹ Hòa Hưng"]
    page = tree.get("/groups", params={"limit": 3})
    assert page["total"] == 4 and len(page["items"]) == 3

    tree.delete(f"/groups/{school['id']}")
    tree.get(f"/groups/{school['id']}", status=404)
    assert len(names()) == 3


@pytest.mark.parametrize("body, status, field", [
    ({"kind": "learning_unit", "unit_code": "AG.LX", "name": "UBND"}, 422, "level"),
    ({"kind": "family", "unit_code": "AG.LX", "name": "x", "level": "commune"}, 422, "level"),
    ({"kind": "tribe", "unit_code": "AG.LX", "name": "x"}, 400, "kind"),
    ({"kind": "family", "unit_code": "AG.NOPE", "name": "x"}, 422, "unit_code"),
    ({"kind": "family", "unit_code": "AG.LX", "name": ""}, 400, "name"),
    ({"kind": "family", "unit_code": "AG.LX", "name": "x", "code": "GD-1"}, 409, "code"),
])
def test_bad_groups_write_nothing(tree, db, body, status, field):
    tree.group("family", code="GD-1")
    before = counts(db)
    response = tree.call("POST", "/groups", body, status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before


def test_joining_and_leaving_are_announced(tree, db, tap, wait_for):
    person = tree.person()
    family = tree.group("family")
    joined = tree.join(person, family, role="head", joined_on="2024-01-01")
    assert joined["current"] is True and joined["group_kind"] == "family"
    assert tree.get(f"/groups/{family['id']}")["members"] == 1

    [event] = outbox(db, "membership_changed")
    assert event["data"] == {"membership_id": joined["id"], "person_id": person["id"],
                             "group_id": family["id"], "group_kind": "family",
                             "change": "joined", "effective_on": "2024-01-01",
                             "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]}

    left = tree.patch(f"/memberships/{joined['id']}", {"left_on": TODAY.isoformat()})
    assert left["current"] is False and left["left_on"] == TODAY.isoformat()
    changes = [e["data"]["change"] for e in outbox(db, "membership_changed")]
    assert changes == ["joined", "left"]
    assert tree.get(f"/groups/{family['id']}")["members"] == 0
    published(tap, wait_for, "membership_changed", 2)

    # ending it twice is a conflict, and writes nothing
    before = counts(db)
    tree.call("PATCH", f"/memberships/{joined['id']}", {"left_on": TODAY.isoformat()},
              status=409)
    assert counts(db) == before

    assert tree.get("/memberships", params={"person_id": person["id"]})["total"] == 1
    assert tree.get("/memberships", params={"current": "true"})["total"] == 0
    assert tree.get("/memberships", params={"group_kind": "family",
                                            "current": "false"})["total"] == 1
    assert tree.get(f"/memberships/{joined['id']}")["role"] == "head"


def test_one_family_at_a_time(tree, db):
    person = tree.person()
    first, second = tree.group("family"), tree.group("family")
    membership = tree.join(person, first, joined_on="2020-01-01")

    before = counts(db)
    response = tree.call("POST", "/memberships", {"person_id": person["id"],
                                                  "group_id": second["id"]}, status=409)
    assert response.json()["errors"] == {"person_id": ["already belongs to a family"]}
    # nor a past stay that overlaps the current one
    response = tree.call("POST", "/memberships", {
        "person_id": person["id"], "group_id": second["id"], "joined_on": "2021-01-01",
        "left_on": "2022-01-01"}, status=409)
    assert counts(db) == before

    tree.join(person, tree.group("clan"))  # other kinds are not limited
    tree.join(person, tree.group("community"))
    tree.patch(f"/memberships/{membership['id']}", {"left_on": "2023-01-01"})
    tree.join(person, second, joined_on="2023-01-01")  # the day the first ended: fine
    third = tree.group("family")
    before = counts(db)
    response = tree.call("POST", "/memberships", {
        "person_id": person["id"], "group_id": third["id"],
        "joined_on": "2022-06-01", "left_on": "2023-02-01"}, status=409)  # overlaps both
    assert "family" in response.json()["errors"]["person_id"][0]
    assert counts(db) == before


def test_the_database_also_refuses_a_second_open_family(tree, db):
    """The partial unique index holds even for a writer that skips the domain check."""
    person = tree.person()
    tree.join(person, tree.group("family"))
    other = tree.group("family")
    with pytest.raises(IntegrityError, match="uq_memberships_one_open_family"):
        with db.begin() as conn:
            conn.execute(text(
                "INSERT INTO memberships (id, person_id, group_id, group_kind, role, joined_on)"
                " VALUES (gen_random_uuid(), :p, :g, 'family', 'member', current_date)"),
                {"p": person["id"], "g": other["id"]})
    with pytest.raises(IntegrityError, match="fk_memberships_group"):  # kind must agree
        with db.begin() as conn:
            conn.execute(text(
                "INSERT INTO memberships (id, person_id, group_id, group_kind, role, joined_on)"
                " VALUES (gen_random_uuid(), :p, :g, 'clan', 'member', current_date)"),
                {"p": person["id"], "g": other["id"]})


@pytest.mark.parametrize("change, status, field", [
    ({"joined_on": "2024-05-01", "left_on": "2024-04-30"}, 422, "left_on"),
    ({"joined_on": FUTURE}, 422, "joined_on"),
    ({"joined_on": "2024-05-01", "left_on": FUTURE}, 422, "left_on"),
    ({"group_id": "00000000-0000-0000-0000-000000000000"}, 422, "group_id"),
    ({"person_id": "00000000-0000-0000-0000-000000000000"}, 422, "person_id"),
    ({"group_id": "not-a-uuid"}, 400, "group_id"),
    ({"role": "chief"}, 400, "role"),
])
def test_bad_memberships_write_nothing(tree, db, change, status, field):
    person = tree.person()
    clan = tree.group("clan")
    before = counts(db)
    response = tree.call("POST", "/memberships", {"person_id": person["id"],
                                                  "group_id": clan["id"]} | change,
                         status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before


def test_leave_date_before_join_date_is_422(tree, db):
    person = tree.person()
    membership = tree.join(person, tree.group("clan"), joined_on="2024-05-01")
    before = counts(db)
    response = tree.call("PATCH", f"/memberships/{membership['id']}",
                         {"left_on": "2024-04-30"}, status=422)
    assert response.json()["errors"] == {"left_on": ["must not be before joined_on"]}
    assert counts(db) == before


def test_the_same_group_twice_at_once_is_409(tree, db):
    person = tree.person()
    clan = tree.group("clan")
    tree.join(person, clan)
    before = counts(db)
    tree.call("POST", "/memberships", {"person_id": person["id"], "group_id": clan["id"]},
              status=409)
    assert counts(db) == before


def test_learning_unit_staff_get_and_lose_the_role(tree, db):
    person = tree.person(roles=["association_member"])
    agency = tree.group("learning_unit", name="UBND xã", level="commune")
    membership = tree.join(person, agency)
    assert tree.get(f"/people/{person['id']}")["roles"] == ["association_member",
                                                             "unit_staff"]
    [event] = outbox(db, "person_updated")
    assert event["data"]["changed"] == ["roles"]
    assert event["data"]["previous"]["roles"] == ["association_member"]

    tree.patch(f"/memberships/{membership['id']}", {"left_on": TODAY.isoformat()})
    assert tree.get(f"/people/{person['id']}")["roles"] == ["association_member"]
    assert len(outbox(db, "person_updated")) == 2


def test_a_group_with_members_cannot_be_deleted(tree, db):
    person = tree.person()
    family = tree.group("family")
    membership = tree.join(person, family)
    before = counts(db)
    tree.call("DELETE", f"/groups/{family['id']}", status=409)
    assert counts(db) == before
    tree.delete(f"/memberships/{membership['id']}")  # entered by mistake
    [_, undone] = outbox(db, "membership_changed")
    assert undone["data"]["change"] == "left"
    assert undone["data"]["effective_on"] == membership["joined_on"]
    tree.get(f"/memberships/{membership['id']}", status=404)
    tree.delete(f"/groups/{family['id']}")
    tree.call("POST", "/memberships", {"person_id": person["id"], "group_id": family["id"]},
              status=422)  # a deleted group is unknown


def test_concurrent_joins_leave_exactly_one_family(tree, db):
    import eventlet
    person = tree.person()
    families = [tree.group("family") for _ in range(5)]
    pool = eventlet.GreenPool()
    statuses = sorted(pool.imap(lambda family: tree.call("POST", "/memberships", {
        "person_id": person["id"], "group_id": family["id"]}).status_code, families))
    assert statuses == [201, 409, 409, 409, 409]
    assert tree.get("/memberships", params={"person_id": person["id"]})["total"] == 1
    assert len(outbox(db, "membership_changed")) == 1
