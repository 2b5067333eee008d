"""The annual report exports (CSV, XLSX) from the running service, read back as a
spreadsheet program would."""
import csv
import io

from openpyxl import load_workbook

import pytest

from services.reporting import export
from tests.integration.reporting.conftest import LX, MB, every_adult_rules


@pytest.fixture
def targets_change():
    """The layout probed with every adult counted, digital skills by level."""
    return every_adult_rules


def test_xlsx_has_a_sheet_per_indicator_units_as_rows_and_totals(feed, api):
    lx = [feed.person(path=LX) for _ in range(4)]
    mb = [feed.person(path=MB) for _ in range(2)]
    feed.grant(lx[0])
    feed.grant(lx[1], skills="proficient")
    feed.grant(mb[0])

    response = api.get("/units/AG/report.xlsx", params={"year": 2025})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert 'filename="cdht-AG-2025.xlsx"' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Tổng hợp", *export.SHEETS["vi"].values(),
                               "Người lớn theo cách tính", "Hội Khuyến học"]
    sheet = book["Người lớn đạt danh hiệu"]
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    assert rows[0][0] == "BÁO CÁO KẾT QUẢ XÂY DỰNG MÔ HÌNH CÔNG DÂN HỌC TẬP NĂM 2025"
    header = rows.index(next(r for r in rows if r[0] == "STT"))
    body = rows[header + 1:]
    assert body == [  # no names known yet: the codes stand in
        (1, "AG.LX", "AG.LX", 2, 4, 50.0, 40.0, 40.0, 2025, 0, "Đạt"),
        (2, "AG.MB", "AG.MB", 1, 2, 50.0, 40.0, 40.0, 2025, 0, "Đạt"),
        (None, "Tổng cộng", None, 3, 6, 50.0, 40.0, 40.0, 2025, 0, "Đạt")]
    # the summary sheet repeats every indicator's total, and the API's figures
    summary = [r for r in book["Tổng hợp"].iter_rows(values_only=True) if r and r[0]]
    progress = api.get("/units/AG/progress", params={"year": 2025}).json()
    digital = next(i for i in progress["indicators"]
                   if i["indicator"] == "titled_digitally_proficient")
    row = next(r for r in summary if r[1] == "Công dân học tập thành thạo kỹ năng số")
    assert row[3:5] == (digital["numerator"], digital["denominator"]) == (1, 3)


def test_csv_in_english(feed, api):
    feed.grant(feed.person(path=LX))
    response = api.get("/units/AG/report.csv", params={"year": 2025, "lang": "en"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(
        "text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    start = rows.index(["[adults_titled]"])
    block = rows[start:rows.index([], start)]
    assert block[1] == ["LEARNING CITIZEN PROGRAMME: RESULTS FOR 2025"]
    assert block[4] == export.WORDS["en"]["columns"]
    assert block[5] == ["1", "AG.LX", "AG.LX", "1", "1", "100.0", "40.0", "40.0", "2025", "0",
                        "Reached"]
    assert block[-1] == ["", "Total", "", "1", "1", "100.0", "40.0", "40.0", "2025", "0",
                         "Reached"]
    assert api.get("/units/AG/report.csv", params={"year": 2025, "lang": "fr"}).status_code \
        == 400
