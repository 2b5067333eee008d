"""The annual report to the national association, laid out as it is sent: a summary sheet,
then a sheet per indicator with the child units (communes) as rows and the unit's total.

Pure: ``report_sheets`` turns figures into rows; ``to_csv`` / ``to_xlsx`` into bytes.
"""
import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cdht.contracts.events import INDICATORS
from services.reporting.domain import LABELS

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

WORDS = {
    "vi": {"title": "BÁO CÁO KẾT QUẢ XÂY DỰNG MÔ HÌNH CÔNG DÂN HỌC TẬP NĂM {year}",
           "unit": "Đơn vị báo cáo: {unit}", "summary": "Tổng hợp",
           "columns": ["STT", "Đơn vị", "Số đạt", "Tổng số", "Tỷ lệ (%)", "Chỉ tiêu (%)",
                       "Năm chỉ tiêu", "Còn thiếu"],
           "summary_columns": ["STT", "Chỉ tiêu", "Số đạt", "Tổng số", "Tỷ lệ (%)",
                               "Chỉ tiêu (%)", "Năm chỉ tiêu", "Còn thiếu"],
           "total": "Tổng cộng", "indicator": "Chỉ số"},
    "en": {"title": "LEARNING CITIZEN PROGRAMME: RESULTS FOR {year}",
           "unit": "Reporting unit: {unit}", "summary": "Summary",
           "columns": ["No.", "Unit", "Achieved", "Population", "Share (%)", "Target (%)",
                       "Target year", "Still needed"],
           "summary_columns": ["No.", "Indicator", "Achieved", "Population", "Share (%)",
                               "Target (%)", "Target year", "Still needed"],
           "total": "Total", "indicator": "Indicator"},
}


def _pct(value):
    return None if value is None else round(value * 100, 2)


def _figures(row, target_year):
    return [row["numerator"], row["denominator"], _pct(row["share"]), _pct(row["target"]),
            target_year, row["gap"]]


def target_year_of(year):
    return 2025 if year <= 2025 else 2030 if year <= 2030 else None


def report_sheets(found, unit_code, year, lang="vi"):
    """``found``: {indicator: (total row, [child rows])} with numerator, denominator, share,
    target, gap per row. Returns [{"name", "title", "columns", "rows", "total"}]: the
    summary sheet first, then one per indicator, children in unit-code order."""
    words, labels = WORDS[lang], LABELS[lang]
    target_year = target_year_of(year)
    heading = [words["title"].format(year=year), words["unit"].format(unit=unit_code)]
    summary = {"name": words["summary"], "title": heading, "columns": words["summary_columns"],
               "rows": [], "total": None}
    sheets = [summary]
    for i, indicator in enumerate(i for i in INDICATORS if i in found):
        total, children = found[indicator]
        summary["rows"].append([i + 1, labels[indicator], *_figures(total, target_year)])
        rows = [[n + 1, child["unit_code"], *_figures(child, target_year)]
                for n, child in enumerate(sorted(children, key=lambda c: c["unit_code"]))]
        sheets.append({"name": indicator[:31], "title": heading + [
            f"{words['indicator']}: {labels[indicator]}"], "columns": words["columns"],
            "rows": rows, "total": ["", words["total"], *_figures(total, target_year)]})
    return sheets


def to_csv(sheets):
    """One CSV: a block per sheet (its name, title lines, header, rows, total), blank lines
    between blocks; UTF-8 with a BOM so Excel shows the Vietnamese right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for n, sheet in enumerate(sheets):
        if n:
            writer.writerow([])
        writer.writerow([f"[{sheet['name']}]"])
        for line in sheet["title"]:
            writer.writerow([line])
        writer.writerow(sheet["columns"])
        writer.writerows(["" if v is None else v for v in row] for row in sheet["rows"])
        if sheet["total"]:
            writer.writerow(["" if v is None else v for v in sheet["total"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets):
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for sheet in sheets:
        ws = book.create_sheet(sheet["name"])
        for line in sheet["title"]:
            ws.append([line])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([])
        ws.append(sheet["columns"])
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in sheet["rows"]:
            ws.append(row)
        if sheet["total"]:
            ws.append(sheet["total"])
            for cell in ws[ws.max_row]:
                cell.font = bold
        for col, width in enumerate((6, 44, 12, 12, 11, 12, 12, 12), start=1):
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
