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


def test_certificate_holder_answers_the_name_alone_and_is_audited(tree, rpc, db):
    from sqlalchemy import text
    person = tree.person(email="an@example.org", phone="0912345678")
    assert rpc.certificate_holder(person["id"]) == {"person_id": person["id"],
                                                    "full_name": "Nguyễn Văn An"}
    with db.connect() as conn:
        rows = conn.execute(text("SELECT actor, action, person_id::text, fields, purpose "
                                 "FROM personal_data_audit WHERE action = 'certificate'")).all()
    assert [tuple(r) for r in rows] == [("service:standalone_rpc_proxy", "certificate",
                                         person["id"], ["full_name"],
                                         "rpc certificate_holder")]
    assert rpc.certificate_holder(str(uuid.uuid4())) is None


def test_issuer_profile_names_the_association_recorded_or_derived(tree, rpc):
    """The ward AG.LX has no association body yet: its name is derived from the unit's;
    once one is recorded, its own name; a unit not recorded: None."""
    assert rpc.issuer_profile("AG.LX") == {
        "unit_code": "AG.LX", "unit_name": "Xã AG.LX", "unit_kind": "ward",
        "province_code": "AG", "province_name": "Tỉnh An Giang",
        "association_name": "Hội Khuyến học xã AG.LX"}
    assert rpc.issuer_profile("AG")["association_name"] == "Hội Khuyến học tỉnh An Giang"
    tree.post("/association/bodies", {"kind": "commune_association", "unit_code": "AG.MB",
                                       "name": "Hội Khuyến học xã Mỹ Hòa Hưng"})
    assert rpc.issuer_profile("AG.MB")["association_name"] == "Hội Khuyến học xã Mỹ Hòa Hưng"
    assert rpc.issuer_profile("NOWHERE") is None


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
                             "birth_year", "registered_at"}
        assert not PII & set(item)
        assert item["unit_path"] == ["AG", item["unit_code"]]
    assert {p["birth_year"] for p in seen} == set(range(1960, 1982))


def _all_pages(call, **kwargs):
    items, after = [], None
    while True:
        page = call(after_id=after, **kwargs)
        items += page["items"]
        after = page["next_after"]
        if after is None:
            return items


def test_export_memberships_and_activities(tree, registry):
    people = [tree.person(unit="AG.LX" if i % 2 else "AG.MB") for i in range(5)]
    family = tree.group("family", unit="AG.MB")
    agency = tree.group("learning_unit", unit="AG.LX", level="commune")
    joined = [tree.join(p, family, joined_on="2020-01-01") for p in people[:3]]
    tree.join(people[3], agency, joined_on="2021-09-01", left_on="2024-01-01")
    gone = tree.join(people[4], agency, joined_on="2021-09-01")
    tree.delete(f"/memberships/{gone['id']}")
    course = tree.post("/learning-activities", {
        "person_id": people[1]["id"], "kind": "digital_skills_basic", "title": "Kỹ năng số",
        "started_on": "2025-03-01", "ended_on": "2025-03-20", "hours": 12})

    with ClusterRpcProxy(registry.config) as cluster:
        memberships = _all_pages(cluster.registry.export_memberships, limit=2)
        activities = _all_pages(cluster.registry.export_activities)
        with pytest.raises(RemoteError, match="limit must be between"):
            cluster.registry.export_activities(limit=0)

    assert len(memberships) == 4  # the deleted one is not exported
    assert [m["membership_id"] for m in memberships] == sorted(m["membership_id"]
                                                               for m in memberships)
    by_id = {m["membership_id"]: m for m in memberships}
    assert by_id[joined[0]["id"]] == {
        "membership_id": joined[0]["id"], "person_id": people[0]["id"],
        "group_id": family["id"], "group_kind": "family", "group_level": None,
        "role": "member", "joined_on": "2020-01-01", "left_on": None, "unit_code": "AG.MB",
        "unit_path": ["AG", "AG.MB"]}
    [past] = [m for m in memberships if m["group_kind"] == "learning_unit"]
    assert (past["left_on"], past["group_level"], past["unit_path"]) == (
        "2024-01-01", "commune", ["AG", "AG.LX"])
    assert activities == [{
        "activity_id": course["id"], "person_id": people[1]["id"],
        "kind": "digital_skills_basic", "started_on": "2025-03-01", "ended_on": "2025-03-20",
        "hours": 12.0, "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]}]
    for item in memberships + activities:
        assert not PII & set(item)


def test_association_officials_of_a_unit(tree, rpc):
    commune = tree.post("/association/bodies", {"kind": "commune_association",
                                                "name": "Hội Khuyến học", "unit_code": "AG.LX"})
    branch = tree.post("/association/bodies", {"kind": "branch", "name": "Chi hội 1",
                                               "unit_code": "AG.LX", "parent_id": commune["id"]})
    elsewhere = tree.post("/association/bodies", {"kind": "commune_association",
                                                  "name": "Hội Khuyến học MB",
                                                  "unit_code": "AG.MB"})
    chair, clerk, member, former, other = (tree.person() for _ in range(5))

    def position(person, body, role, **extra):
        tree.post("/association/members", {"person_id": person["id"], "body_id": body["id"],
                                           "role": role, "joined_on": "2022-01-01", **extra})
    position(chair, commune, "official")
    position(chair, branch, "official")
    position(clerk, branch, "official")
    position(member, commune, "member")
    position(former, commune, "official", left_on="2023-01-01")
    position(other, elsewhere, "official")

    assert rpc.association_officials("AG.LX") == sorted([chair["id"], clerk["id"]])
    assert rpc.association_officials("AG.MB") == [other["id"]]
    assert rpc.association_officials("AG") == []
    tree.delete(f"/people/{clerk['id']}")
    assert rpc.association_officials("AG.LX") == [chair["id"]]


def test_profile_and_memberships_answers_both_in_one_call(tree, rpc):
    """What a step taken on a person's behalf needs: the person's profile and the actor's
    positions, each as its own RPC answers it."""
    person, official = tree.person(), tree.person()
    commune = tree.post("/association/bodies", {"kind": "commune_association",
                                                "name": "Hội Khuyến học", "unit_code": "AG.LX"})
    tree.post("/association/members", {"person_id": official["id"], "body_id": commune["id"],
                                       "role": "official", "joined_on": "2022-01-01"})
    assert rpc.profile_and_memberships(person["id"], official["id"]) == {
        "profile": rpc.profile(person["id"]), "memberships": rpc.memberships(official["id"])}
    unknown = str(uuid.uuid4())
    assert rpc.profile_and_memberships(unknown, official["id"])["profile"] is None
    tree.delete(f"/people/{official['id']}")
    assert rpc.profile_and_memberships(person["id"], official["id"])["memberships"] is None


def test_each_contact_answered_is_audited_and_an_unknown_person_is_not(tree, rpc, db):
    from sqlalchemy import text
    person = tree.person(email="an@example.org")
    for _ in range(2):
        assert rpc.contact(person["id"])["email"] == "an@example.org"
    assert rpc.contact(str(uuid.uuid4())) is None
    with db.connect() as conn:
        rows = conn.execute(text("SELECT actor, person_id::text, fields, purpose "
                                 "FROM personal_data_audit WHERE action = 'contact'")).all()
    assert [tuple(r) for r in rows] == 2 * [(
        "service:standalone_rpc_proxy", person["id"], ["email", "full_name", "language",
                                                       "phone"], "rpc contact")]
