"""Reading the groups spreadsheet and the title rules: no database, no broker."""
import csv
from datetime import date

import pytest

from services.registry.imports import group_rows as gi
from services.registry import title_rules
from services.registry.domain import Conflict, Invalid, national_id_for
from services.registry.imports.files import ImportFileError, read_rows

TODAY = date(2026, 12, 2)
UNITS = {"AG.LX": True, "AG.OLD": False}
HEADER = ["STT", "Mã nhóm", "Loại nhóm", "Tên nhóm", "Mã đơn vị", "Số định danh cá nhân",
          "Vai trò trong nhóm", "Năm công nhận", "Số quyết định", "Ngày quyết định",
          "Cơ quan công nhận"]


def nid(serial):
    return national_id_for(89, date(1985, 4, 2), "male", serial)


def row(code="HGD1", kind="Gia đình", name="Gia đình ông An", unit="AG.LX", serial=1,
        role="Chủ hộ", title=("2024", "12/QĐ-UBND", "20/12/2024", "UBND phường Long Xuyên")):
    return ["1", code, kind, name, unit, nid(serial), role, *title]


def check(tmp_path, *rows, header=HEADER):
    path = tmp_path / "nhom.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    layout = gi.inspect(path)
    validator = gi.GroupRowValidator(layout, UNITS, today=TODAY)
    return [validator.check(n, cells) for n, cells in read_rows(path, layout)]


def problems(results):
    return [(e.row, e.column, e.code) for _, errors in results for e in errors]


def test_a_good_row_becomes_a_member_row(tmp_path):
    [(record, errors)] = check(tmp_path, row())
    assert errors == []
    assert record == gi.MemberRow(2, "family", "HGD1", "Gia đình ông An", "AG.LX", None, nid(1),
                                  "head", TODAY, 2024, "12/QĐ-UBND", date(2024, 12, 20),
                                  "UBND phường Long Xuyên")


@pytest.mark.parametrize("header", [
    ["ma nhom", "LOAI NHOM", "ten nhom", "Ma don vi", "so dinh danh ca nhan"],
    ["group_code", "group_kind", "group_name", "unit_code", "national_id"],
    ["Mã nhóm", "Loại nhóm", "Tên nhóm", "Mã đơn vị", "Số CCCD"],
])
def test_headers_with_or_without_diacritics_or_in_english(tmp_path, header):
    [(record, errors)] = check(tmp_path, ["HGD1", "Dòng họ", "Dòng họ Trần", "AG.LX", nid(2)],
                               header=header)
    assert errors == [] and record.kind == "clan" and record.role == "member"
    assert record.year is None


def test_a_file_without_the_group_columns_names_them(tmp_path):
    with pytest.raises(ImportFileError) as caught:
        check(tmp_path, ["x", "y"], header=["Họ và tên", "Số CCCD"])
    assert caught.value.code == "missing_columns"
    assert "Mã nhóm" in caught.value.reason_vi and "group_code" in caught.value.reason_en


@pytest.mark.parametrize("kind, expected", [
    ("Gia đình học tập", "family"), ("gia dinh", "family"), ("Dòng họ", "clan"),
    ("Cộng đồng", "community"), ("Ấp", "community"), ("community", "community"),
])
def test_kinds_are_read_from_their_vietnamese_names(tmp_path, kind, expected):
    [(record, _)] = check(tmp_path, row(kind=kind))
    assert record.kind == expected


@pytest.mark.parametrize("change, column, code", [
    ({"kind": "Nhóm bạn"}, "Loại nhóm", "group_kind.unknown"),
    ({"code": ""}, "Mã nhóm", "required"),
    ({"code": "HGD 1"}, "Mã nhóm", "group_code.format"),
    ({"name": " "}, "Tên nhóm", "required"),
    ({"unit": "AG.404"}, "Mã đơn vị", "unit_code.unknown"),
    ({"unit": "AG.OLD"}, "Mã đơn vị", "unit_code.expired"),
    ({"role": "Khách"}, "Vai trò trong nhóm", "role.unknown"),
    ({"title": ("1999", "1/QĐ", "01/06/1999", "UBND")}, "Năm công nhận", "year.range"),
    ({"title": ("2027", "1/QĐ", "01/06/2026", "UBND")}, "Năm công nhận", "year.range"),
    ({"title": ("năm 2024", "1/QĐ", "01/06/2024", "UBND")}, "Năm công nhận", "year.invalid"),
    ({"title": ("2024", "1/QĐ", "31/12/2023", "UBND")}, "Ngày quyết định",
     "decision_date.before_year"),
    ({"title": ("2026", "1/QĐ", "03/12/2026", "UBND")}, "Ngày quyết định",
     "decision_date.future"),
    ({"title": ("2024", "1/QĐ", "32/12/2024", "UBND")}, "Ngày quyết định",
     "decision_date.invalid"),
    ({"title": ("2024", "", "20/12/2024", "UBND")}, "Số quyết định", "required"),
    ({"title": ("2024", "1/QĐ", "20/12/2024", "")}, "Cơ quan công nhận", "required"),
])
def test_each_bad_cell_is_named_with_a_reason_in_both_languages(tmp_path, change, column, code):
    [(record, errors)] = check(tmp_path, row(**change))
    assert record is None
    assert [(e.column, e.code) for e in errors] == [(column, code)]
    assert errors[0].reason_vi and errors[0].reason_en


def test_a_bad_national_id_is_reported_without_repeating_it(tmp_path):
    [(_, errors)] = check(tmp_path, row()[:5] + ["08908500012"] + row()[6:])
    assert [(e.column, e.code) for e in errors] == [("Số định danh cá nhân",
                                                     "national_id.format")]
    assert "08908500012" not in errors[0].reason_vi + errors[0].reason_en


def test_a_group_must_read_the_same_on_every_row(tmp_path):
    results = check(tmp_path, row(serial=1), row(serial=2, role="Thành viên"),
                    row(serial=3, name="Gia đình bà Bình"),
                    row(serial=4, title=("2023", "12/QĐ-UBND", "20/12/2023", "UBND")),
                    row(code="HGD2", serial=5, title=("", "", "", "")))
    assert problems(results) == [(4, "Mã nhóm", "group.differs"),
                                 (5, "Mã nhóm", "group.differs")]
    assert "dòng 2" in results[2][1][0].reason_vi


def test_a_person_is_in_one_family_and_once_in_a_group(tmp_path):
    results = check(tmp_path, row(serial=1), row(code="HGD2", serial=1),
                    row(code="DH1", kind="Dòng họ", serial=1),
                    row(code="DH1", kind="Dòng họ", serial=1, role="Thành viên"),
                    row(code="CD1", kind="Cộng đồng", serial=1))
    assert problems(results) == [(3, "Số định danh cá nhân", "member.two_families"),
                                 (5, "Số định danh cá nhân", "member.duplicate")]


def test_a_learning_unit_needs_a_level_and_only_it_has_one(tmp_path):
    header = HEADER[:7] + ["Cấp"]
    results = check(tmp_path, row(kind="Đơn vị học tập", title=("Cấp xã",)),
                    row(code="DV2", kind="Đơn vị học tập", serial=2, title=("",)),
                    row(code="HGD9", serial=3, title=("Cấp tỉnh",)), header=header)
    assert results[0][0].level == "commune" and results[0][1] == []
    assert problems(results) == [(3, "Cấp", "level.required"), (4, "Cấp", "level.not_allowed")]


def test_first_seen_remembers_a_million_keys_in_little_memory():
    seen = gi.FirstSeen()
    for i in range(1, 200_001):
        assert seen.first(gi._hash64("family", i), i, i * 7) is None
    assert seen.first(gi._hash64("family", 4242), 999) == (4242, 4242 * 7)
    assert len(seen) == 200_000
    assert len(seen._keys) * 20 < 200_000 * 110  # vs a dict of tuples


# -- the title rules (shared with POST /groups/<id>/titles) ---------------------------------
def test_title_rules():
    assert title_rules.title_problems(2024, "1/QĐ", date(2024, 12, 1), "UBND", TODAY) == {}
    assert title_rules.title_problems(2026, "1/QĐ", date(2026, 12, 2), "UBND", TODAY) == {}
    assert title_rules.title_problems(None, " ", None, "", TODAY) == {
        "year": ["required"], "decision_number": ["required"], "issued_by": ["required"],
        "decision_date": ["required"]}
    with pytest.raises(Invalid) as caught:
        title_rules.check_title(2027, "1", date(2026, 1, 1), "UBND", TODAY)
    assert caught.value.errors == {"year": ["must be between 2000 and 2026"]}
    with pytest.raises(Conflict):
        title_rules.check_one_per_year([2023, 2024], 2024)
    title_rules.check_one_per_year([2023], 2024)
