"""unit_changed and association_body_changed: names and shape of the tree and of the
association reach the other services as events (outbox, same transaction), and the RPC
exports for rebuilds say the same."""
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from tests.integration.registry.helpers import counts, outbox, published
from tests.integration.registry.test_units import merge_fixture


def changes(db, event_type):
    return [e["data"] for e in outbox(db, event_type)]


def test_creating_renaming_and_deleting_a_unit_publish_unit_changed(tree, db, tap, wait_for):
    created = changes(db, "unit_changed")
    assert [(e["unit_code"], e["change"], e["unit_name"], e["kind"]) for e in created] == [
        ("AG", "created", "Tỉnh An Giang", "province"), ("AG.LX", "created", "Xã AG.LX", "ward"),
        ("AG.MB", "created", "Xã AG.MB", "commune")]
    assert created[1]["unit_path"] == ["AG", "AG.LX"]
    assert created[1]["valid_from"] is None and created[1]["valid_to"] is None

    tree.patch("/units/AG.MB", {"name": "Xã Mỹ Hòa Hưng"})
    tree.patch("/units/AG.MB", {"name": "Xã Mỹ Hòa Hưng"})  # no change, no event
    tree.patch("/units/AG.LX", {"valid_to": "2026-06-30"})
    tree.unit("AG.X")
    tree.delete("/units/AG.X")
    later = changes(db, "unit_changed")[3:]
    assert [(e["unit_code"], e["change"], e["unit_name"]) for e in later] == [
        ("AG.MB", "updated", "Xã Mỹ Hòa Hưng"), ("AG.LX", "closed", "Xã AG.LX"),
        ("AG.X", "created", "Xã AG.X"), ("AG.X", "closed", "Xã AG.X")]
    assert later[1]["valid_to"] == "2026-06-30" and later[3]["valid_to"] is not None
    wire = published(tap, wait_for, "unit_changed", 7)
    assert [e["data"]["change"] for e in wire] == ["created"] * 3 + [
        "updated", "closed", "created", "closed"]


def test_moving_a_unit_under_another_parent_announces_the_units_below(tree, db):
    tree.post("/units", {"code": "KG", "name": "Tỉnh Kiên Giang", "kind": "province"})
    tree.post("/units", {"code": "AG.D1", "name": "Huyện Một", "kind": "district",
                         "parent_code": "AG"})
    tree.unit("AG.D1.X", parent="AG.D1")
    tree.patch("/units/AG.D1", {"parent_code": "KG"})
    moved = [(e["unit_code"], e["change"], e["unit_path"])
             for e in changes(db, "unit_changed")][-2:]
    assert moved == [("AG.D1", "updated", ["KG", "AG.D1"]),
                     ("AG.D1.X", "updated", ["KG", "AG.D1", "AG.D1.X"])]


def test_a_refused_unit_change_publishes_nothing(tree, db):
    before = counts(db)
    tree.call("PATCH", "/units/AG.MB", {"parent_code": "AG.MB"}, 422)
    assert counts(db) == before


def test_a_merge_closes_the_old_units_and_moves_their_bodies(tree, db):
    people, family, body = merge_fixture(tree)
    tree.post("/units/merge", {
        "from_codes": ["AG.CT.A", "AG.CT.B"],
        "into": {"code": "AG.CM", "name": "Xã Chợ Mới", "kind": "commune", "parent_code": "AG"},
        "effective_on": "2025-07-01"})
    assert len(outbox(db, "units_merged")) == 1
    merge = [(e["unit_code"], e["change"], e["valid_to"])
             for e in changes(db, "unit_changed")][-3:]
    assert merge == [("AG.CM", "created", None), ("AG.CT.A", "closed", "2025-06-30"),
                     ("AG.CT.B", "closed", "2025-06-30")]
    bodies = changes(db, "association_body_changed")
    assert [(b["body_id"], b["change"], b["unit_code"], b["unit_path"]) for b in bodies] == [
        (body["id"], "created", "AG.CT.A", ["AG", "AG.CT", "AG.CT.A"]),
        (body["id"], "updated", "AG.CM", ["AG", "AG.CM"])]


def test_association_bodies_publish_their_changes(tree, db):
    association = tree.post("/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": "AG.LX"})
    branch = tree.post("/association/bodies", {
        "kind": "branch", "name": "Chi hội khóm 1", "unit_code": "AG.LX",
        "parent_id": association["id"]})
    tree.patch(f"/association/bodies/{branch['id']}", {"name": "Chi hội khóm Đông Thịnh"})
    tree.patch(f"/association/bodies/{branch['id']}", {"name": "Chi hội khóm Đông Thịnh"})
    tree.delete(f"/association/bodies/{branch['id']}")
    events = changes(db, "association_body_changed")
    assert [(e["kind"], e["change"], e["body_name"], e["parent_id"]) for e in events] == [
        ("commune_association", "created", "Hội Khuyến học phường", None),
        ("branch", "created", "Chi hội khóm 1", association["id"]),
        ("branch", "updated", "Chi hội khóm Đông Thịnh", association["id"]),
        ("branch", "removed", "Chi hội khóm Đông Thịnh", association["id"])]
    assert {e["unit_path"] == ["AG", "AG.LX"] for e in events} == {True}


def test_exports_of_units_and_bodies_say_what_the_events_said(tree, registry, db):
    people, family, body = merge_fixture(tree)
    tree.post("/units/merge", {"from_codes": ["AG.CT.A", "AG.CT.B"], "into": {
        "code": "AG.CM", "name": "Xã Chợ Mới", "kind": "commune", "parent_code": "AG"},
        "effective_on": "2025-07-01"})
    board = tree.post("/association/bodies", {"kind": "learning_board", "name": "Ban khuyến học",
                                              "unit_code": "AG.CM", "parent_id": body["id"]})
    gone = tree.post("/association/bodies", {"kind": "commune_association", "name": "Hội cũ",
                                             "unit_code": "AG.MB"})
    tree.delete(f"/association/bodies/{gone['id']}")
    tree.unit("AG.X")
    tree.delete("/units/AG.X")
    with ClusterRpcProxy(registry.config) as cluster:
        units = cluster.registry.export_units()
        first = cluster.registry.export_association_bodies(limit=1)
        rest = cluster.registry.export_association_bodies(after_id=first["next_after"])
    by_code = {u["unit_code"]: u for u in units}
    assert sorted(by_code) == ["AG", "AG.CM", "AG.CT", "AG.CT.A", "AG.CT.B", "AG.LX", "AG.MB",
                               "AG.X"]
    assert by_code["AG.X"]["closed"] is True and by_code["AG.X"]["valid_to"] is not None
    assert by_code["AG.CT.A"] == {
        "unit_code": "AG.CT.A", "unit_path": ["AG", "AG.CT", "AG.CT.A"],
        "unit_name": "Xã AG.CT.A", "kind": "commune", "valid_from": "2010-01-01",
        "valid_to": "2025-06-30", "closed": True}
    assert by_code["AG.CM"]["closed"] is False and by_code["AG.CM"]["unit_name"] == "Xã Chợ Mới"
    last_event = {}
    for e in changes(db, "unit_changed"):
        last_event[e["unit_code"]] = e
    for code, event in last_event.items():
        assert {k: by_code[code][k] for k in event if k != "change"} == \
            {k: v for k, v in event.items() if k != "change"}
    bodies = first["items"] + rest["items"]
    assert rest["next_after"] is None
    assert sorted((b["body_id"], b["kind"], b["unit_code"], b["parent_id"]) for b in bodies) == \
        sorted([(body["id"], "commune_association", "AG.CM", None),
                (board["id"], "learning_board", "AG.CM", body["id"])])
    assert {tuple(b["unit_path"]) for b in bodies} == {("AG", "AG.CM")}
    with db.connect() as conn:  # the export is keyset-paged by id
        assert [str(i) for i in conn.scalars(text(
            "SELECT id FROM association_bodies WHERE deleted_at IS NULL ORDER BY id"))] == \
            [b["body_id"] for b in bodies]
