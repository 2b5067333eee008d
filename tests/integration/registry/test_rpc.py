"""The registry's RPC, called as the other services call it (nameko's standalone proxies over
RabbitMQ) against the running container: profile, contact, memberships, and the paged
export for rebuilds."""
import uuid
from datetime import date

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy, ServiceRpcProxy

PII = {"national_id", "full_name", "phone", "email", "birth_date", "national_id_masked"}


@pytest.fixture
def rpc(registry):
    with ServiceRpcProxy("registry", registry.config) as proxy:
        yield proxy


def test_profile_and_contact(tree, rpc):
    person = tree.person(email="an@example.org", phone="0912345678", language="en",
                         roles=["unit_staff"])
    assert rpc.profile(person["id"]) == {
        "person_id": person["id"], "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"],
        "target_group": "resident", "roles": ["unit_staff"], "birth_year": 1985}
    assert rpc.contact(person["id"]) == {
        "person_id": person["id"], "full_name": "Nguyễn Văn An", "email": "an@example.org",
        "phone": "0912345678", "language": "en"}
    assert rpc.profile(str(uuid.uuid4())) is None
    tree.delete(f"/people/{person['id']}")
    assert rpc.contact(person["id"]) is None


def test_memberships_current_and_past(tree, rpc):
    person = tree.person()
    old_family = tree.group("family", name="Gia đình cũ")
    family = tree.group("family", name="Gia đình mới")
    agency = tree.group("learning_unit", name="Trường Tiểu học A", level="commune")
    past = tree.join(person, old_family, joined_on="2015-01-01", left_on="2020-01-01")
    now = tree.join(person, family, joined_on="2020-01-01", role="head")
    tree.join(person, agency, joined_on="2021-09-01")
    commune = tree.post("/association/bodies", {"kind": "commune_association",
                                                "name": "Hội Khuyến học", "unit_code": "AG.LX"})
    tree.post("/association/members", {"person_id": person["id"], "body_id": commune["id"],
                                       "role": "official", "joined_on": "2022-01-01"})

    found = rpc.memberships(person["id"])
    assert found["person_id"] == person["id"]
    groups = {g["membership_id"]: g for g in found["groups"]}
    assert groups[past["id"]] == {
        "membership_id": past["id"], "group_id": old_family["id"], "group_kind": "family",
        "group_name": "Gia đình cũ", "level": None, "unit_code": "AG.LX", "role": "member",
        "joined_on": "2015-01-01", "left_on": "2020-01-01", "current": False}
    assert groups[now["id"]]["current"] is True and groups[now["id"]]["role"] == "head"
    assert [g["group_kind"] for g in found["groups"]] == ["family", "family", "learning_unit"]
    [position] = found["association"]
    assert (position["body_id"], position["body_kind"], position["role"], position["current"]) \
        == (commune["id"], "commune_association", "official", True)
    assert rpc.memberships(str(uuid.uuid4())) is None


def test_export_pages_through_everyone_without_personal_data(tree, registry):
    people = [tree.person(unit="AG.LX" if i % 2 else "AG.MB", born=date(1960 + i, 1, 1))
              for i in range(23)]
    removed = people.pop()
    tree.delete(f"/people/{removed['id']}")

    with ClusterRpcProxy(registry.config) as cluster:
        seen, after, pages = [], None, 0
        while True:
            page = cluster.registry.export_people(after_id=after, limit=10)
            pages += 1
            seen += page["items"]
            after = page["next_after"]
            if after is None:
                break
        with pytest.raises(RemoteError, match="limit must be between"):
            cluster.registry.export_people(limit=5001)

    assert pages == 3
    assert [p["person_id"] for p in seen] == sorted(p["id"] for p in people)  # by id
    assert removed["id"] not in {p["person_id"] for p in seen}
    for item in seen:
        assert set(item) == {"person_id", "unit_code", "unit_path", "target_group", "roles",
                             "birth_year"}
        assert not PII & set(item)
        assert item["unit_path"] == ["AG", item["unit_code"]]
    assert {p["birth_year"] for p in seen} == set(range(1960, 1982))
