"""The annual report's layout (pure), and reporting's OpenAPI document against its routes."""
import csv
import io

from openpyxl import load_workbook

from cdht import openapi
from cdht.contracts.events import INDICATORS
from services.reporting import export
from services.reporting.service import ReportingService


def row(unit, num, den, target=0.4):
    share = num / den if den else None
    gap = None if not den else max(0, -(-int(round(target * den * 1e6)) // 1_000_000) - num)
    return {"unit_code": unit, "numerator": num, "denominator": den, "share": share,
            "target": target, "gap": gap}


FOUND = {i: (row("AG", 3, 10), [row("AG.MB", 0, 4), row("AG.LX", 3, 6)]) for i in INDICATORS}


def test_a_sheet_per_indicator_children_in_code_order_with_a_total():
    sheets = export.report_sheets(FOUND, "AG", 2025, "vi")
    assert [s["name"] for s in sheets] == ["Tổng hợp", *INDICATORS]
    adults = sheets[2]
    assert adults["title"][-1] == "Chỉ số: Người lớn đạt danh hiệu Công dân học tập"
    assert adults["rows"] == [[1, "AG.LX", 3, 6, 50.0, 40.0, 2025, 0],
                              [2, "AG.MB", 0, 4, 0.0, 40.0, 2025, 2]]
    assert adults["total"] == ["", "Tổng cộng", 3, 10, 30.0, 40.0, 2025, 1]
    assert sheets[0]["rows"][1][1:4] == ["Người lớn đạt danh hiệu Công dân học tập", 3, 10]
    assert export.report_sheets(FOUND, "AG", 2027, "en")[1]["rows"][0][6] == 2030


def test_xlsx_and_csv_hold_the_same_rows():
    sheets = export.report_sheets(FOUND, "AG", 2025, "en")
    book = load_workbook(io.BytesIO(export.to_xlsx(sheets)))
    assert book.sheetnames == ["Summary", *INDICATORS]
    values = [r for r in book["clans_recognised"].iter_rows(values_only=True)]
    assert (None, "Total", 3, 10, 30.0, 40.0, 2025, 1) in values
    rows = list(csv.reader(io.StringIO(export.to_csv(sheets).decode("utf-8-sig"))))
    assert ["", "Total", "3", "10", "30.0", "40.0", "2025", "1"] in rows
    assert rows.count(["No.", "Unit", "Achieved", "Population", "Share (%)", "Target (%)",
                       "Target year", "Still needed"]) == len(INDICATORS)


def test_every_route_is_documented_and_every_documented_route_served():
    assert openapi.undocumented(ReportingService) == ([], [])
    document = ReportingService.openapi_document()
    progress = document["paths"]["/units/{unit_code}/progress"]["get"]
    assert {p["in"] for p in progress["parameters"]} == {"path", "query"}
    assert "404" in progress["responses"] and "400" in progress["responses"]
