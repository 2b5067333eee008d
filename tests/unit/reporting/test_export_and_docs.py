"""The annual report's layout (pure), and reporting's OpenAPI document against its routes."""
import csv
import io

from openpyxl import load_workbook

from cdht import openapi
from cdht.contracts.events import INDICATORS
from services.reporting import export
from services.reporting.service import ReportingService


def row(unit, num, den, target=0.4, name=None, status=None):
    share = num / den if den else None
    gap = None if not den else max(0, -(-int(round(target * den * 1e6)) // 1_000_000) - num)
    return {"unit_code": unit, "unit_name": name or unit, "numerator": num,
            "denominator": den, "share": share, "target": target, "milestone": target,
            "gap": gap, "status": status}


FOUND = {i: (row("AG", 3, 10, status="behind"),
             [row("AG.MB", 0, 4, name="Xã Mỹ Hòa Hưng", status="behind"),
              row("AG.LX", 3, 6, name="Phường Long Xuyên", status="reached")])
         for i in INDICATORS}


def test_a_sheet_per_indicator_children_by_name_with_a_total():
    sheets = export.report_sheets(FOUND, "AG", 2025, "vi", unit_name="Tỉnh An Giang")
    assert [s["name"] for s in sheets][:3] == ["Tổng hợp", "Quán triệt",
                                               "Người lớn đạt danh hiệu"]
    adults = sheets[2]
    assert adults["title"][1] == "Đơn vị báo cáo: Tỉnh An Giang (AG)"
    assert adults["title"][-1] == "Chỉ số: Người lớn đạt danh hiệu Công dân học tập"
    assert adults["rows"] == [
        [1, "Phường Long Xuyên", "AG.LX", 3, 6, 50.0, 40.0, 40.0, 2025, 0, "Đạt"],
        [2, "Xã Mỹ Hòa Hưng", "AG.MB", 0, 4, 0.0, 40.0, 40.0, 2025, 2, "Chậm tiến độ"]]
    assert adults["total"] == ["", "Tổng cộng", "", 3, 10, 30.0, 40.0, 40.0, 2025, 1,
                               "Chậm tiến độ"]
    assert sheets[0]["rows"][1][1] == "Người lớn đạt danh hiệu Công dân học tập"
    assert sheets[0]["columns"].count("Chỉ số") == 1  # the indicator, not "Chỉ tiêu"
    assert export.report_sheets(FOUND, "AG", 2027, "en")[1]["rows"][0][8] == 2030


def test_xlsx_and_csv_hold_the_same_rows():
    sheets = export.report_sheets(FOUND, "AG", 2025, "en")
    book = load_workbook(io.BytesIO(export.to_xlsx(sheets)))
    assert book.sheetnames == ["Summary", *INDICATORS]
    values = [r for r in book["clans_recognised"].iter_rows(values_only=True)]
    assert (None, "Total", None, 3, 10, 30.0, 40.0, 40.0, 2025, 1, "Behind") in values
    rows = list(csv.reader(io.StringIO(export.to_csv(sheets).decode("utf-8-sig"))))
    assert ["", "Total", "", "3", "10", "30.0", "40.0", "40.0", "2025", "1", "Behind"] in rows
    assert rows.count(export.WORDS["en"]["columns"]) == len(INDICATORS)


def test_a_name_that_is_a_formula_is_exported_as_text():
    """A unit named "=HYPERLINK(...)" (any text a commune typed) must not run in the
    spreadsheet that the province opens."""
    hostile = {i: (row("AG", 3, 10),
                   [row("AG.X", 1, 2, name='=HYPERLINK("http://evil.example","Xem")'),
                    row("AG.Y", 1, 2, name="@SUM(1+1)"), row("AG.Z", 1, 2, name="-1+2"),
                    row("AG.W", 1, 2, name="+cmd|' /C calc'!A0")])
               for i in INDICATORS}
    sheets = export.report_sheets(hostile, "AG", 2025, "vi")
    text = export.to_csv(sheets).decode("utf-8-sig")
    names = {r[1] for r in csv.reader(io.StringIO(text)) if len(r) > 2}
    assert {"'=HYPERLINK(\"http://evil.example\",\"Xem\")", "'@SUM(1+1)", "'-1+2",
            "'+cmd|' /C calc'!A0"} <= names
    book = load_workbook(io.BytesIO(export.to_xlsx(sheets)))
    cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert '=HYPERLINK("http://evil.example","Xem")' in {c.value for c in cells}


def test_a_name_with_control_characters_is_exported_without_them():
    """XML holds no control characters: openpyxl refused the whole workbook (a 500 on
    /units/<code>/review-report.xlsx for a unit named with one)."""
    named = {i: (row("AG", 3, 10), [row("AG.X", 1, 2, name="Xã\x01 Mỹ\x0bBình")])
             for i in INDICATORS}
    book = load_workbook(io.BytesIO(export.to_xlsx(export.report_sheets(named, "AG", 2025,
                                                                        "vi"))))
    assert "Xã MỹBình" in {c.value for ws in book.worksheets for r in ws.iter_rows() for c in r}


def test_every_route_is_documented_and_every_documented_route_served():
    assert not [r for r in openapi.routes_of(ReportingService) if "x-undeclared" in r.extra]
    document = ReportingService.openapi_document()
    progress = document["paths"]["/units/{unit_code}/progress"]["get"]
    assert {p["in"] for p in progress["parameters"]} == {"path", "query"}
    assert "404" in progress["responses"] and "400" in progress["responses"]
