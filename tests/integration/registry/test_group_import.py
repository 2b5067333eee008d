"""The groups import on real PostgreSQL and RabbitMQ: a small pre-merger province (the
generator's profile) imported over HTTP and counted against its manifest, the events in
batches, idempotency, the error report, and the rules a file cannot break."""
import csv
import io
import json
import re
import time

import eventlet
import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from cdht_tools.generator.profiles import generate_pre_merger
from services.registry.imports.files import XLSX_MIME
from services.registry.imports.runner import Importer
from services.registry.service import RegistryService
from tests.integration.registry.helpers import outbox, person_body

HEADER = ["Mã nhóm", "Loại nhóm", "Tên nhóm", "Mã đơn vị", "Số định danh cá nhân",
          "Vai trò trong nhóm", "Năm công nhận", "Số quyết định", "Ngày quyết định",
          "Cơ quan công nhận"]
TITLE = ["2024", "12/QĐ-UBND", "20/12/2024", "UBND phường Long Xuyên"]
ID = re.compile(r"(?<![0-9a-f-])\d{12}(?![0-9a-f-])")


@pytest.fixture
def service(container_factory, service_config, web_session, engines):
    config = service_config("registry")
    container = container_factory(RegistryService, config)
    container.start()
    return web_session(config)


@pytest.fixture
def db(engines):
    return engines["registry"]


def groups_csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def run_import(http, body, filename="nhom.csv", content_type="text/csv", timeout=120):
    response = http.post("/imports/groups", data=body, params={"filename": filename},
                         headers={"Content-Type": content_type})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    deadline = time.monotonic() + timeout
    while True:
        status = http.get(f"/imports/{import_id}").json()
        if status["status"] in ("done", "failed"):
            assert status["status"] == "done", status
            return status
        assert time.monotonic() < deadline, status
        eventlet.sleep(0.1)


def load_units(db, path):
    with open(path, encoding="utf-8-sig") as fh, db.begin() as conn:
        for row in csv.DictReader(fh):
            conn.execute(text("INSERT INTO units (code, name, kind, parent_code) "
                              "VALUES (:code, :name, :kind, :parent)"),
                         row | {"parent": row["parent_code"] or None})


def small_tree(service):
    service.post("/units", json={"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    for code in ("AG.LX", "AG.MB"):
        assert service.post("/units", json={"code": code, "name": f"Phường {code}",
                                            "kind": "ward", "parent_code": "AG"}).ok


def register(service, n, unit="AG.LX"):
    people = []
    for _ in range(n):
        body = person_body(unit)
        response = service.post("/people", json=body)
        assert response.status_code == 201, response.text
        people.append(response.json() | {"national_id": body["national_id"]})
    return people


def test_a_pre_merger_province_imports_as_its_manifest_says(service, db, tmp_path):
    manifest = generate_pre_merger(tmp_path, seed=5, scale=0.01)
    load_units(db, tmp_path / "units.csv")
    people = Importer(sessionmaker(db, expire_on_commit=False)).run(tmp_path / "people.csv")
    assert people.bad == 0 and people.registered == manifest["people"]

    status = run_import(service, (tmp_path / "groups.csv").read_bytes(), "groups.csv")
    groups = sum(manifest["groups"].values())
    titles = sum(sum(by_year.values()) for by_year in manifest["titles"].values())
    assert status["kind"] == "groups"
    counts = status["counts"]
    assert (counts["bad"], counts["registered"], counts["members_joined"],
            counts["titles_recorded"]) == (0, groups, sum(manifest["member_rows"].values()),
                                           titles)
    with db.connect() as conn:
        by_kind = dict(conn.execute(text("SELECT kind, count(*) FROM groups GROUP BY kind"))
                       .all())
        by_year = {(k, str(y)): n for k, y, n in conn.execute(text(
            "SELECT g.kind, t.year, count(*) FROM group_titles t JOIN groups g "
            "ON g.id = t.group_id GROUP BY 1, 2"))}
    assert by_kind == manifest["groups"]
    assert by_year == {(k, y): n for k, years in manifest["titles"].items()
                       for y, n in years.items() if n}

    imported = [e["data"] for e in outbox(db, "groups_imported")]
    recorded = [e["data"] for e in outbox(db, "group_titles_recorded")]
    assert sum(len(e["groups"]) for e in imported) >= groups  # a group split over chunks
    assert {g["group_id"] for e in imported for g in e["groups"]
            if g["change"] == "registered"}.__len__() == groups
    assert sum(len(e["titles"]) for e in recorded) == titles
    assert [e["batch"] for e in recorded] == list(range(1, len(recorded) + 1))
    assert max(len(e["groups"]) for e in imported) <= 5000
    with open(tmp_path / "people.csv", encoding="utf-8-sig") as fh:
        national_ids = {row[0] for row in csv.reader(fh)}
    assert not national_ids & set(ID.findall(json.dumps(imported + recorded)))
    assert counts["events"] == len(imported) + len(recorded)

    before = len(outbox(db))
    again = run_import(service, (tmp_path / "groups.csv").read_bytes(), "groups.csv")["counts"]
    assert (again["registered"], again["updated"], again["members_joined"],
            again["titles_recorded"], again["events"]) == (0, 0, 0, 0, 0)
    assert again["unchanged"] == again["good"] == counts["good"]
    assert len(outbox(db)) == before


def test_bad_rows_are_reported_and_good_rows_committed(service, db):
    small_tree(service)
    a, b, c, d = register(service, 4)
    gone = register(service, 1)[0]
    service.delete(f"/people/{gone['id']}")
    rows = [
        ["HGD1", "Gia đình", "Gia đình ông A", "AG.LX", a["national_id"], "Chủ hộ", *TITLE],  # 2
        ["HGD1", "Gia đình", "Gia đình ông A", "AG.LX", b["national_id"], "Thành viên",
         *TITLE],                                                                          # 3
        ["HGD1", "Gia đình", "Gia đình ông A", "AG.LX", c["national_id"], "Thành viên",
         "2023", *TITLE[1:]],                                              # 4: title differs
        ["HGD2", "Gia dinh", "Gia đình bà B", "AG.LX", b["national_id"], "Chủ hộ", *TITLE],
        ["HGD3", "Nhóm bạn", "Nhóm", "AG.LX", c["national_id"], "Chủ hộ", *TITLE],    # 6: kind
        ["HGD4", "Gia đình", "Gia đình C", "AG.LX", gone["national_id"], "Chủ hộ", "", "",
         "", ""],                                                 # 7: person removed
        ["CD1", "Cộng đồng", "Ấp Mỹ Hòa", "AG.LX", d["national_id"], "Trưởng ấp", "1999",
         "1/QĐ", "01/01/1999", "UBND"],                            # 8: year out of range
        ["CD2", "Cộng đồng", "Ấp Mỹ Phú", "AG.404", d["national_id"], "Thành viên", "", "",
         "", ""],                                                  # 9: unknown unit
        ["DV1", "Đơn vị học tập", "Trường THCS", "AG.LX", d["national_id"], "Thành viên",
         "", "", "", ""],                                          # 10: no level column
        ["DH1", "Dòng họ", "Dòng họ Nguyễn", "AG.LX", d["national_id"], "Trưởng họ", *TITLE],
        ["DH1", "Dòng họ", "Dòng họ Nguyễn", "AG.LX", d["national_id"], "Thành viên",
         *TITLE],                                                  # 12: twice in the clan
    ]
    status = run_import(service, groups_csv(rows))
    counts = status["counts"]
    assert (counts["good"], counts["bad"], counts["registered"], counts["members_joined"],
            counts["titles_recorded"]) == (3, 8, 2, 3, 2)
    report = service.get(f"/imports/{status['import_id']}/errors", params={"format": "json"})
    errors = [(e["row"], e["column"]) for e in report.json()["errors"]]
    assert errors == [(4, "Mã nhóm"), (5, "Số định danh cá nhân"), (6, "Loại nhóm"),
                      (7, "Số định danh cá nhân"), (8, "Năm công nhận"), (9, "Mã đơn vị"),
                      (10, "Cấp"),
                      (12, "Số định danh cá nhân")]
    reasons = {e["row"]: (e["reason_vi"], e["reason_en"]) for e in report.json()["errors"]}
    assert reasons[4][1] == ("the group's details (kind, name, unit, level or title) differ "
                             "from row 2 of the same group")
    assert "một gia đình khác ở dòng 3" in reasons[5][0]
    assert "import the people first" in reasons[7][1]
    written = json.dumps(report.json())
    assert not any(p["national_id"] in written for p in (a, b, c, d, gone))

    xlsx = service.get(f"/imports/{status['import_id']}/errors", params={"format": "xlsx"})
    assert xlsx.headers["Content-Type"] == XLSX_MIME
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == ("Dòng / Row", "Cột / Column", "Lý do", "Reason") and len(lines) == 9

    family = service.get("/groups", params={"kind": "family"}).json()["items"]
    assert [(g["code"], g["members"]) for g in family] == [("HGD1", 2)]
    clan = service.get("/groups", params={"kind": "clan"}).json()["items"]
    assert [(g["code"], g["members"]) for g in clan] == [("DH1", 1)]
    titles = service.get(f"/groups/{family[0]['id']}/titles").json()["items"]
    assert [(t["year"], t["decision_number"], t["import_id"]) for t in titles] == [
        (2024, "12/QĐ-UBND", status["import_id"])]
    heads = service.get("/memberships", params={"group_id": family[0]["id"]}).json()["items"]
    assert sorted(m["role"] for m in heads) == ["head", "member"]


def test_a_person_already_in_another_family_is_refused(service, db):
    small_tree(service)
    [a] = register(service, 1)
    family = service.post("/groups", json={"kind": "family", "unit_code": "AG.LX",
                                           "name": "Gia đình cũ", "code": "OLD"}).json()
    service.post("/memberships", json={"person_id": a["id"], "group_id": family["id"]})
    status = run_import(service, groups_csv([
        ["NEW", "Gia đình", "Gia đình mới", "AG.LX", a["national_id"], "Chủ hộ", *TITLE]]))
    report = service.get(f"/imports/{status['import_id']}/errors",
                         params={"format": "json"}).json()["errors"]
    assert [(e["row"], e["reason_en"]) for e in report] == [
        (2, "the person already belongs to another family")]
    assert (status["counts"]["registered"], status["counts"]["members_joined"]) == (0, 0)
    again = run_import(service, groups_csv([   # the family they are in: nothing to change
        ["OLD", "Gia đình", "Gia đình cũ", "AG.LX", a["national_id"], "Chủ hộ"]],
        header=HEADER[:6]))
    assert (again["counts"]["good"], again["counts"]["updated"],
            again["counts"]["members_joined"]) == (1, 0, 0)


def test_an_import_adds_and_updates_and_never_ends_a_membership(service, db):
    small_tree(service)
    a, b, c = register(service, 3)
    first = [["CD1", "Cộng đồng", "Khóm 1", "AG.LX", p["national_id"], "Thành viên", *TITLE]
             for p in (a, b)]
    run_import(service, groups_csv(first))
    second = [["CD1", "Community", "Khóm Đông Thịnh", "AG.LX", p["national_id"], "member",
               "2024", "12/QĐ-UBND", "2024-12-21", "UBND phường Long Xuyên"] for p in (b, c)]
    status = run_import(service, groups_csv(second))
    counts = status["counts"]
    assert (counts["registered"], counts["updated"], counts["members_joined"],
            counts["titles_recorded"]) == (0, 1, 1, 1)
    [group] = service.get("/groups", params={"kind": "community"}).json()["items"]
    assert group["name"] == "Khóm Đông Thịnh" and group["members"] == 3
    [event] = [e["data"] for e in outbox(db, "groups_imported")][-1:]
    [entry] = event["groups"]
    assert entry["change"] == "updated" and [m["person_id"] for m in entry["memberships"]] == \
        [c["id"]]
    [title] = outbox(db, "group_titles_recorded")[-1]["data"]["titles"]
    assert title["decision_date"] == "2024-12-21" and title["change"] == "recorded"


def test_joining_a_learning_unit_makes_a_person_its_staff(service, db):
    small_tree(service)
    [a] = register(service, 1)
    header = HEADER[:6] + ["Cấp"]
    status = run_import(service, groups_csv(
        [["DV1", "Đơn vị học tập", "Trường THCS Mỹ Hòa", "AG.LX", a["national_id"], "Cán bộ",
          "Cấp xã"]], header=header))
    assert status["counts"]["members_joined"] == 1
    assert service.get(f"/people/{a['id']}").json()["roles"] == ["unit_staff"]
    [updated] = [e["data"] for e in outbox(db, "person_updated")]
    assert updated["changed"] == ["roles"] and updated["previous"]["roles"] == []


def test_a_file_without_the_group_columns_is_refused_and_writes_nothing(service, db):
    small_tree(service)
    response = service.post("/imports/groups", data=groups_csv([["x"]], header=["Họ và tên"]),
                            headers={"Content-Type": "text/csv"})
    assert response.status_code == 422
    assert "Mã nhóm" in response.json()["errors"]["file_vi"][0]
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_jobs")) == 0
