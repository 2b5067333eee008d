"""Each role sees the minimum, and nobody learns or writes outside their scope (docs/roles.md,
"What each role sees of a person"; docs/architecture.md §D8): the four services run as real
processes (conftest.py). A reviewer reads masked contacts; a national ID registered outside
the caller's subtree is one generic 409, then a 429; an import writes only into the
importer's province; a province's staff do not change where a unit sits in the tree."""
import csv
import io
import re
import uuid
from datetime import date

import pytest

from services.registry.domain import national_id_for
from tests.security.conftest import Client, person_body
from tests.support import token, wait_for

MASKED_PHONE = re.compile(r"^\+?[0-9]{2}\*+[0-9]{2}$")
MASKED_EMAIL = re.compile(r"^[^@*]\*\*\*@[^@]+$")


def caller(secured, role, unit):
    """A client with a token of its own (a fresh subject: its own count of refusals)."""
    minted = token(role=role, unit_code=unit, subject=str(uuid.uuid4()))
    return Client(secured.system, {"Authorization": f"Bearer {minted}"})


@pytest.fixture(scope="module")
def elsewhere(secured):
    """People registered by an admin in AG.MB and KG.RG: outside a commune official's subtree
    (AG.LX), the first inside a province official's (AG), the second not."""
    bodies = {unit: person_body(unit) for unit in ("AG.MB", "KG.RG")}
    for body in bodies.values():
        answer = secured.admin.call("POST", "registry", "/people", body)
        assert answer.status_code == 201, answer.text
        body["id"] = answer.json()["id"]
    return bodies


def test_a_reviewer_lists_and_reads_people_with_contacts_masked(secured, as_role):
    reviewer, staff = as_role("reviewer"), as_role("commune_staff")
    listed = reviewer.call("GET", "registry", "/people").json()["items"]
    assert listed and all(p["unit_code"] == "AG.LX" for p in listed)
    whole = {p["id"]: p for p in staff.call("GET", "registry", "/people").json()["items"]}
    for shown in listed:
        assert MASKED_PHONE.match(shown["phone"]), shown["phone"]
        assert MASKED_EMAIL.match(shown["email"]), shown["email"]
        assert "birth_date" not in shown and shown["birth_year"] == 1980
        assert shown["national_id_masked"].startswith("********")
        full = whole[shown["id"]]
        assert full["phone"] != shown["phone"] and full["birth_date"] == "1980-05-17"
        assert full["phone"][:2] == shown["phone"][:2] and full["email"][0] == shown["email"][0]
    one = reviewer.call("GET", "registry", f"/people/{listed[0]['id']}")
    assert one.status_code == 200
    assert one.json()["phone"] == listed[0]["phone"] and "birth_date" not in one.json()


def test_an_id_registered_outside_the_scope_is_one_generic_409_then_429(secured, elsewhere):
    official = caller(secured, "commune_staff", "AG.LX")
    answers = [official.call("POST", "registry", "/people", person_body(
        "AG.LX", national_id=elsewhere[unit]["national_id"])) for unit in ("AG.MB", "KG.RG")]
    assert [a.status_code for a in answers] == [409, 409], [a.text for a in answers]
    first, second = (a.json() for a in answers)
    assert first == second  # whichever unit holds it
    assert first["errors"]["code"] == "national_id_unavailable"
    for text in (answers[0].text, answers[1].text):
        for unit in ("AG.MB", "KG.RG", "KG"):
            assert unit not in text
        assert "person_id" not in text
    statuses = [official.call("POST", "registry", "/people", person_body(
        "AG.LX", national_id=elsewhere["KG.RG"]["national_id"])).status_code
        for _ in range(18)]
    assert statuses == [409] * 18  # 20 refusals in all
    blocked = official.call("POST", "registry", "/people", person_body("AG.LX"))
    assert blocked.status_code == 429, blocked.text  # even for an ID nobody holds
    assert int(blocked.headers["Retry-After"]) > 0
    assert blocked.json()["errors"]["code"] == "national_id_refusals_exhausted"
    assert caller(secured, "commune_staff", "AG.LX").call(
        "POST", "registry", "/people", person_body("AG.LX")).status_code == 201  # per caller


def test_inside_the_scope_the_409_names_the_person(secured, elsewhere):
    province = caller(secured, "province_staff", "AG")
    answer = province.call("POST", "registry", "/people", person_body(
        "AG.LX", national_id=elsewhere["AG.MB"]["national_id"]))
    assert answer.status_code == 409
    assert answer.json()["errors"]["code"] == "national_id_taken"


def _people_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Số CCCD", "Họ và tên", "Giới tính", "Ngày sinh", "Mã đơn vị",
                     "Đối tượng"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_an_import_writes_only_into_the_importers_subtree(secured, elsewhere):
    born = date(1985, 4, 2)
    ids = [national_id_for(89, born, "male", serial) for serial in (700001, 700002)]
    rows = [[ids[0], "Nguyễn Văn An", "Nam", "02/04/1985", "AG.MB", "Người dân"],
            [ids[1], "Nguyễn Văn Bình", "Nam", "02/04/1985", "KG.RG", "Người dân"],
            [elsewhere["KG.RG"]["national_id"], "Trần Thị Bích", "Nữ", "17/05/1980", "AG.MB",
             "Người dân"]]
    province = caller(secured, "province_staff", "AG")
    started = province.call("POST", "registry", "/imports", data=_people_csv(rows),
                            params={"filename": "ag.csv"},
                            headers={"Content-Type": "text/csv"})
    assert started.status_code == 202, started.text
    path = f"/imports/{started.json()['import_id']}"
    job = wait_for(lambda: (j := province.call("GET", "registry", path).json())["status"]
                   in ("done", "failed") and j, timeout=30, message="the import done")
    assert job["status"] == "done", job
    assert job["counts"]["registered"] == 1 and job["counts"]["bad"] == 2
    errors = province.call("GET", "registry", f"{path}/errors",
                           params={"format": "json"}).json()["errors"]
    by_row = {e["row"]: e for e in errors}
    assert set(by_row) == {3, 4}
    assert by_row[3]["column"] == "Mã đơn vị" and "phạm vi" in by_row[3]["reason_vi"]
    assert by_row[4]["column"] == "Số CCCD" and "KG" not in by_row[4]["reason_vi"]
    people = secured.admin.call("GET", "registry", "/people",
                                params={"unit_code": "KG.RG"}).json()["items"]
    assert "Nguyễn Văn Bình" not in {p["full_name"] for p in people}
    held = secured.admin.call("GET", "registry", f"/people/{elsewhere['KG.RG']['id']}").json()
    assert held["unit_code"] == "KG.RG"  # not moved into the importer's province


@pytest.mark.parametrize("change", [{"kind": "province", "parent_code": None},
                                    {"parent_code": "KG"}, {"kind": "ward"}])
def test_province_staff_change_neither_a_units_kind_nor_its_parent(secured, as_role, change):
    province = as_role("province_staff")
    answer = province.call("PATCH", "registry", "/units/AG.MB", change)
    assert answer.status_code == 403, answer.text
    assert answer.json()["errors"]["code"] == "unit_structure_admin_only"
    unit = secured.admin.call("GET", "registry", "/units/AG.MB").json()
    assert (unit["kind"], unit["parent_code"]) == ("commune", "AG")


def test_province_staff_still_rename_a_unit(secured, as_role):
    province = as_role("province_staff")
    answer = province.call("PATCH", "registry", "/units/AG.MB",
                           {"name": "Xã Mỹ Bình", "kind": "commune", "parent_code": "AG"})
    assert answer.status_code == 200, answer.text
