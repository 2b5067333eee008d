"""People over HTTP: register, read, change, move, list with filters, remove; their events in
the outbox and on the wire; every bad input a 4xx that writes nothing."""
import logging
import unicodedata
from datetime import date, timedelta

import pytest

from tests.integration.registry.helpers import counts, outbox, person_body, published


def test_register_read_and_the_event(tree, db, tap, wait_for):
    decomposed = unicodedata.normalize("NFD", "Trần  Thị Ánh")
    body = person_body(full_name=decomposed, gender="female", born=date(1990, 3, 1),
                       roles=["association_member"], email="anh@example.org")
    created = tree.post("/people", body, headers={"X-Correlation-ID": "corr-42"})
    assert created["full_name"] == "Trần Thị Ánh"  # NFC, one space
    assert unicodedata.is_normalized("NFC", created["full_name"])
    assert created["national_id_masked"] == "********" + body["national_id"][-4:]
    assert "national_id" not in created
    assert created["is_adult"] is True

    read = tree.get(f"/people/{created['id']}")
    assert read == created

    [event] = outbox(db, "person_registered")
    assert event["correlation_id"] == "corr-42"
    assert event["data"] == {"person_id": created["id"], "unit_code": "AG.LX",
                             "unit_path": ["AG", "AG.LX"], "target_group": "resident",
                             "roles": ["association_member"], "birth_year": 1990}
    [wire] = published(tap, wait_for, "person_registered")
    assert wire["event_id"] == event["event_id"]
    assert body["national_id"] not in str(outbox(db))


def test_changes_publish_updated_or_moved(tree, db, tap, wait_for):
    person = tree.person()
    pid = person["id"]

    changed = tree.patch(f"/people/{pid}", {"phone": "0912345678", "target_group": "worker"})
    assert changed["phone"] == "0912345678" and changed["updated_at"]
    [updated] = outbox(db, "person_updated")
    assert updated["data"]["changed"] == ["phone", "target_group"]
    assert updated["data"]["previous"] == {"target_group": "resident", "roles": [],
                                           "birth_year": 1985}
    assert updated["data"]["target_group"] == "worker"
    assert "0912345678" not in str(updated)  # names of fields, never values

    tree.patch(f"/people/{pid}", {"unit_code": "AG.MB"})
    [moved] = outbox(db, "person_moved")
    assert moved["data"]["unit_path"] == ["AG", "AG.MB"]
    assert moved["data"]["from_unit_path"] == ["AG", "AG.LX"]
    assert len(outbox(db, "person_updated")) == 1  # a move is not an update

    # both at once: the update at the old place first, then the move with the new facts
    tree.patch(f"/people/{pid}", {"unit_code": "AG.LX", "birth_date": "1985-05-02"})
    last_two = outbox(db)[-2:]
    assert [e["event_type"] for e in last_two] == ["person_updated", "person_moved"]
    assert last_two[0]["data"]["unit_code"] == "AG.MB"
    assert last_two[0]["data"]["changed"] == ["birth_date"]
    assert last_two[1]["data"]["from_unit_path"] == ["AG", "AG.MB"]

    before = len(outbox(db))
    tree.patch(f"/people/{pid}", {"phone": "0912345678"})  # no change, no event
    assert len(outbox(db)) == before
    published(tap, wait_for, "person_moved", 2)


def test_remove_hides_the_person_and_announces_it(tree, db, tap, wait_for):
    person = tree.person()
    family = tree.group("family")
    tree.join(person, family)
    removed = tree.delete(f"/people/{person['id']}", params={"reason": "moved away"})
    assert removed["id"] == person["id"]
    tree.get(f"/people/{person['id']}", status=404)
    assert tree.get("/people")["total"] == 0
    [event] = outbox(db, "person_removed")
    assert event["data"]["reason"] == "moved away"
    left = [e for e in outbox(db, "membership_changed") if e["data"]["change"] == "left"]
    assert len(left) == 1 and left[0]["data"]["group_id"] == family["id"]
    assert tree.get(f"/groups/{family['id']}")["members"] == 0
    tree.delete(f"/people/{person['id']}", status=404)
    published(tap, wait_for, "person_removed")


def test_list_filters_and_pagination(tree):
    an = tree.person(full_name="Nguyễn Văn An", roles=["unit_staff"])
    tree.person(full_name="Lê Thị Hoa", gender="female", unit="AG.MB")
    child = tree.person(full_name="Phạm Minh Đức", born=date(2010, 1, 1), target_group="student")

    def names(**params):
        page = tree.get("/people", params=params)
        return sorted(p["full_name"] for p in page["items"])

    assert names() == ["Lê Thị Hoa", "Nguyễn Văn An", "Phạm Minh Đức"]
    assert names(unit_code="AG.LX") == ["Nguyễn Văn An", "Phạm Minh Đức"]
    assert names(unit_code="AG") == names()  # subtree by default
    assert names(unit_code="AG", subtree="false") == []
    assert names(target_group="student") == ["Phạm Minh Đức"]
    assert names(role="unit_staff") == ["Nguyễn Văn An"]
    assert names(q="nguyen van") == ["Nguyễn Văn An"]  # without diacritics
    assert names(q="ĐỨC") == ["Phạm Minh Đức"]
    assert names(q="%") == []  # a wildcard is a plain character
    assert names(adult="false") == ["Phạm Minh Đức"]
    assert names(adult="true", reference_date="2028-01-01") == names()  # 18 by then
    assert names(adult="false", reference_date="2027-12-31") == ["Phạm Minh Đức"]
    minor = tree.get(f"/people/{child['id']}")
    assert minor["is_adult"] is False
    assert an["is_adult"] is True

    page = tree.get("/people", params={"limit": 2, "offset": 0})
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 0, 2)
    rest = tree.get("/people", params={"limit": 2, "offset": 2})
    assert len(rest["items"]) == 1
    assert {p["id"] for p in page["items"] + rest["items"]} == {
        p["id"] for p in tree.get("/people")["items"]}


@pytest.mark.parametrize("params, status, field", [
    ({"limit": 501}, 400, "limit"),
    ({"limit": 0}, 400, "limit"),
    ({"offset": -1}, 400, "offset"),
    ({"target_group": "pensioner"}, 400, "target_group"),
    ({"unit_code": "XX"}, 422, "unit_code"),  # well-formed, but no such unit
    ({"colour": "red"}, 400, "colour"),
    ({"reference_date": "yesterday"}, 400, "reference_date"),
])
def test_bad_list_queries_are_4xx(tree, params, status, field):
    response = tree.call("GET", "/people", params=params, status=status)
    assert field in response.json()["errors"]


FUTURE = (date.today() + timedelta(days=30)).isoformat()  # still ahead if a run crosses midnight


@pytest.mark.parametrize("change, status, field", [
    ({"unit_code": "NOWHERE"}, 422, "unit_code"),
    ({"birth_date": FUTURE}, 422, "birth_date"),
    ({"national_id": "12345"}, 400, "national_id"),
    ({"national_id": "097085000123"}, 400, "national_id"),  # no province 097
    ({"gender": "female"}, 422, "national_id"),  # digit 4 no longer matches
    ({"email": "not-an-address"}, 400, "email"),
    ({"roles": ["mayor"]}, 400, "roles"),
    ({"full_name": ""}, 400, "full_name"),
])
def test_bad_changes_are_rejected_and_change_nothing(tree, db, change, status, field):
    person = tree.person()
    before, stored = counts(db), tree.get(f"/people/{person['id']}")
    response = tree.call("PATCH", f"/people/{person['id']}", change, status=status)
    assert field in response.json()["errors"]
    assert counts(db) == before
    assert tree.get(f"/people/{person['id']}") == stored


def test_taking_another_persons_national_id_is_409(tree, db):
    first = person_body()
    tree.post("/people", first)
    other = tree.person(born=date(1985, 1, 1))
    before = counts(db)
    response = tree.call("PATCH", f"/people/{other['id']}",
                         {"national_id": first["national_id"]}, status=409)
    assert "national_id" in response.json()["errors"]
    assert first["national_id"] not in response.text
    assert counts(db) == before


def bad_registrations():
    good = person_body(unit="AG.LX")
    return [
        ("unknown unit", good | {"unit_code": "AG.NOPE"}, 422, "unit_code"),
        ("birth date in the future", good | {"birth_date": FUTURE}, 422, "birth_date"),
        ("short national ID", good | {"national_id": "0890850001"}, 400, "national_id"),
        ("ID of another birth year", good | {"birth_date": "1986-04-02"}, 422, "national_id"),
        ("missing name", {k: v for k, v in good.items() if k != "full_name"}, 400,
         "full_name"),
        ("unknown field", good | {"shoe_size": 42}, 400, "shoe_size"),
        ("bad target group", good | {"target_group": "tourist"}, 400, "target_group"),
        ("bad phone", good | {"phone": "call me"}, 400, "phone"),
        ("bad date", good | {"birth_date": "02/04/1985"}, 400, "birth_date"),
    ]


@pytest.mark.parametrize("why, body, status, field", bad_registrations(),
                         ids=[c[0] for c in bad_registrations()])
def test_bad_registrations_write_nothing(tree, db, why, body, status, field):
    before = counts(db)
    response = tree.call("POST", "/people", body, status=status)
    assert field in response.json()["errors"], why
    assert body.get("national_id", "-") not in response.text
    assert counts(db) == before


def test_sql_errors_carry_no_parameters(tree):
    """An unexpected database error is logged: its text must not hold a national ID."""
    from cdht.db import Database
    [provider] = [d for d in tree.container.dependencies if isinstance(d, Database)]
    assert provider.engine.hide_parameters is True


def test_duplicate_national_id_is_409_and_never_echoed_or_logged(tree, db, caplog):
    body = person_body()
    tree.post("/people", body)
    before = counts(db)
    with caplog.at_level(logging.DEBUG):
        response = tree.call("POST", "/people", body | {"full_name": "Someone Else"},
                             status=409)
    first = tree.get("/people", params={"q": body["full_name"]})["items"][0]
    assert response.json()["errors"] == {  # in the caller's scope: named, so staff find them
        "national_id": ["a person with this national ID exists"],
        "person_id": [first["id"]], "code": "national_id_taken"}
    assert body["national_id"] not in response.text
    assert body["national_id"] not in caplog.text
    assert counts(db) == before


@pytest.mark.parametrize("data, headers, status", [
    ("not json", {"Content-Type": "application/json"}, 400),
    ('{"full_name": "x"}', {"Content-Type": "text/plain"}, 415),
])
def test_bodies_that_are_not_json(tree, db, data, headers, status):
    before = counts(db)
    response = tree.http.post("/people", data=data, headers=headers)
    assert response.status_code == status
    assert counts(db) == before


def test_a_closed_unit_takes_no_one_and_names_its_successor(tree, db):
    tree.unit("AG.OLD")
    tree.post("/units/merge", {"from_codes": ["AG.OLD"], "into": "AG.MB",
                               "effective_on": "2025-07-01"})
    before = counts(db)
    response = tree.call("POST", "/people", person_body(unit="AG.OLD"), status=422)
    [message] = response.json()["errors"]["unit_code"]
    assert "merged into AG.MB" in message
    assert counts(db) == before
