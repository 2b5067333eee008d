"""Group titles recorded from paper decisions: POST / GET / DELETE /groups/<id>/titles, the
group_titles_recorded events, the rules (clear 400/409, nothing written), the scope, and the
export for rebuilds."""
from datetime import date

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.integration.registry.helpers import counts, outbox

TITLE = {"year": 2024, "decision_number": "125/QĐ-UBND", "decision_date": "2024-12-20",
         "issued_by": "UBND phường Long Xuyên"}


def test_record_list_and_withdraw_a_title(tree, db):
    family = tree.group("family", unit="AG.LX")
    title = tree.post(f"/groups/{family['id']}/titles", TITLE)
    assert {k: title[k] for k in TITLE} == TITLE and title["import_id"] is None
    older = tree.post(f"/groups/{family['id']}/titles", TITLE | {
        "year": 2022, "decision_number": "  7/QĐ-UBND ", "decision_date": "2022-01-01"})
    assert older["decision_number"] == "7/QĐ-UBND"
    listed = tree.get(f"/groups/{family['id']}/titles")
    assert [t["year"] for t in listed["items"]] == [2022, 2024]

    withdrawn = tree.delete(f"/groups/{family['id']}/titles/{title['id']}")
    assert withdrawn["withdrawn_at"] is not None
    assert [t["year"] for t in tree.get(f"/groups/{family['id']}/titles")["items"]] == [2022]
    tree.delete(f"/groups/{family['id']}/titles/{title['id']}", status=404)
    again = tree.post(f"/groups/{family['id']}/titles", TITLE)  # once withdrawn, a new record
    assert again["id"] != title["id"]

    events = outbox(db, "group_titles_recorded")
    assert [(e["data"]["import_id"], e["data"]["batch"], len(e["data"]["titles"]))
            for e in events] == [(None, 1, 1)] * 4
    items = [e["data"]["titles"][0] for e in events]
    assert [(i["title_id"], i["change"], i["year"]) for i in items] == [
        (title["id"], "recorded", 2024), (older["id"], "recorded", 2022),
        (title["id"], "withdrawn", 2024), (again["id"], "recorded", 2024)]
    assert items[0] == {"title_id": title["id"], "group_id": family["id"], "group_kind": "family",
                        "year": 2024, "decision_number": "125/QĐ-UBND",
                        "decision_date": "2024-12-20", "issued_by": "UBND phường Long Xuyên",
                        "change": "recorded", "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]}


this_year = date.today().year


@pytest.mark.parametrize("change, status, field", [
    ({"year": 1999}, 400, "year"),
    ({"year": this_year + 1, "decision_date": date.today().isoformat()}, 422, "year"),
    ({"decision_date": "2023-12-31"}, 422, "decision_date"),          # before the year began
    ({"year": this_year, "decision_date": date(this_year + 1, 1, 1).isoformat()}, 422,
     "decision_date"),                                                # in the future
    ({"decision_number": "   "}, 422, "decision_number"),
    ({"issued_by": ""}, 400, "issued_by"),
    ({"year": "2024"}, 400, "year"),
    ({"decision_date": "20/12/2024"}, 400, "decision_date"),
    ({"extra": 1}, 400, "extra"),
])
def test_a_bad_title_is_a_clear_4xx_and_writes_nothing(tree, db, change, status, field):
    """400: against the OpenAPI document; 422: well-formed, against a rule it cannot state
    (a year after this one, a decision dated outside its year)."""
    family = tree.group("family")
    before = counts(db) | {"titles": len(outbox(db, "group_titles_recorded"))}
    response = tree.call("POST", f"/groups/{family['id']}/titles", TITLE | change, status)
    assert field in response.json()["errors"]
    assert counts(db) | {"titles": len(outbox(db, "group_titles_recorded"))} == before


def test_one_recorded_title_per_group_and_year(tree, db):
    clan = tree.group("clan")
    tree.post(f"/groups/{clan['id']}/titles", TITLE)
    response = tree.call("POST", f"/groups/{clan['id']}/titles", TITLE | {
        "decision_number": "126/QĐ-UBND"}, 409)
    assert "2024" in response.json()["errors"]["year"][0]
    assert len(outbox(db, "group_titles_recorded")) == 1
    tree.call("POST", "/groups/00000000-0000-4000-8000-000000000000/titles", TITLE, 404)


def test_commune_staff_record_titles_only_in_their_commune(tree, registry, web_session):
    theirs, other = tree.group("community", unit="AG.LX"), tree.group("community", unit="AG.MB")
    staff = web_session(registry.config, role="commune_staff", unit_code="AG.LX")
    assert staff.post(f"/groups/{theirs['id']}/titles", json=TITLE).status_code == 201
    assert staff.post(f"/groups/{other['id']}/titles", json=TITLE).status_code == 403
    assert staff.get(f"/groups/{other['id']}/titles").status_code == 403
    citizen = web_session(registry.config, role="citizen", unit_code="AG.LX")
    assert citizen.get(f"/groups/{theirs['id']}/titles").status_code == 403


def test_export_group_titles_leaves_withdrawn_ones_out(tree, registry):
    groups = [tree.group("family"), tree.group("clan", unit="AG.MB"), tree.group("community")]
    titles = [tree.post(f"/groups/{g['id']}/titles", TITLE) for g in groups]
    tree.delete(f"/groups/{groups[1]['id']}/titles/{titles[1]['id']}")
    with ClusterRpcProxy(registry.config) as cluster:
        page = cluster.registry.export_group_titles(limit=1)
        rest = cluster.registry.export_group_titles(after_id=page["next_after"], limit=1)
        last = cluster.registry.export_group_titles(after_id=rest["next_after"], limit=1)
    items = page["items"] + rest["items"] + last["items"]
    assert last["next_after"] is None or last["items"] == []
    expected = sorted([titles[0]["id"], titles[2]["id"]])
    assert [i["title_id"] for i in items] == expected
    assert set(items[0]) == {"title_id", "group_id", "group_kind", "year", "decision_number",
                             "decision_date", "issued_by", "unit_code", "unit_path"}
    assert {i["decision_date"] for i in items} == {"2024-12-20"}
