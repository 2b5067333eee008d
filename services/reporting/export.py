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
from cdht.cells import as_text, xlsx_value
from services.reporting import domain, rules
from services.reporting.words import (
    ASSOCIATION_WORDS, LABELS, POPULATION_WORDS, STATUS_WORDS,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

WORDS = {
    "vi": {"title": "BÁO CÁO KẾT QUẢ XÂY DỰNG MÔ HÌNH CÔNG DÂN HỌC TẬP NĂM {year}",
           "unit": "Đơn vị báo cáo: {unit}", "summary": "Tổng hợp",
           "columns": ["STT", "Đơn vị", "Mã đơn vị", "Số đạt", "Tổng số", "Tỷ lệ (%)",
                       "Mức cần đạt trong năm (%)", "Chỉ tiêu (%)", "Năm chỉ tiêu",
                       "Còn thiếu", "Tình trạng"],
           "summary_columns": ["STT", "Chỉ số", "Văn bản", "Số đạt", "Tổng số", "Tỷ lệ (%)",
                               "Mức cần đạt trong năm (%)", "Chỉ tiêu (%)", "Năm chỉ tiêu",
                               "Còn thiếu", "Tình trạng", "Chỉ tiêu 2030 (%)"],
           "total": "Tổng cộng", "indicator": "Chỉ số",
           "association": "Hội Khuyến học", "association_columns": ["STT", "Nội dung", "Số lượng"],
           "populations": "Người lớn theo cách tính",
           "population_columns": ["STT", "Cách tính", "Đang áp dụng", "Số đạt", "Tổng số",
                                  "Tỷ lệ (%)"],
           "yes": "Có", "no": "Không"},
    "en": {"title": "LEARNING CITIZEN PROGRAMME: RESULTS FOR {year}",
           "unit": "Reporting unit: {unit}", "summary": "Summary",
           "columns": ["No.", "Unit", "Unit code", "Achieved", "Population", "Share (%)",
                       "Milestone this year (%)", "Target (%)", "Target year", "Still needed",
                       "Status"],
           "summary_columns": ["No.", "Indicator", "Document", "Achieved", "Population",
                               "Share (%)", "Milestone this year (%)", "Target (%)",
                               "Target year", "Still needed", "Status", "2030 target (%)"],
           "total": "Total", "indicator": "Indicator",
           "association": "Association", "association_columns": ["No.", "What", "Count"],
           "populations": "Adults by rule",
           "population_columns": ["No.", "Rule", "In force", "Achieved", "Population",
                                  "Share (%)"],
           "yes": "Yes", "no": "No"},
}
# sheet names (at most 31 characters, none of []:*?/\)
SHEETS = {
    "vi": {"briefed_members": "Quán triệt", "adults_titled": "Người lớn đạt danh hiệu",
           "unit_staff_titled": "CBCCVC NLĐ đạt danh hiệu",
           "titled_with_digital_skills": "Đào tạo, có kỹ năng số",
           "titled_digitally_proficient": "Thành thạo kỹ năng số",
           "families_recognised": "Gia đình học tập", "clans_recognised": "Dòng họ học tập",
           "communities_recognised": "Cộng đồng học tập",
           "learning_units_recognised": "Đơn vị học tập"},
    "en": {i: i[:31] for i in INDICATORS},
}


def _pct(value):
    return None if value is None else round(value * 100, 2)


def _status(row, lang):
    return STATUS_WORDS[lang].get(row.get("status")) or ""


def _figures(row, target_year, lang="vi"):
    return [row["numerator"], row["denominator"], _pct(row["share"]),
            _pct(row.get("milestone")), _pct(row["target"]), row.get("target_year") or
            target_year, row["gap"], _status(row, lang)]


def target_year_of(year):
    return 2025 if year <= 2025 else 2030 if year <= 2030 else None


def report_sheets(found, unit_code, year, lang="vi", unit_name=None, extra=None,
                  targets=None):
    """``found``: {indicator: (total row, [child rows])} with numerator, denominator, share,
    milestone, target, gap, status per row. Returns [{"name", "title", "columns", "rows",
    "total"}]: the summary sheet first, then one per indicator (children by name), then
    the adults under each rule and the association's own figures when ``extra`` has them."""
    words, labels = WORDS[lang], LABELS[lang]
    target_year = target_year_of(year)
    shown = f"{unit_name} ({unit_code})" if unit_name and unit_name != unit_code else unit_code
    heading = [words["title"].format(year=year), words["unit"].format(unit=shown)]
    summary = {"name": words["summary"], "title": heading, "columns": words["summary_columns"],
               "rows": [], "total": None}
    sheets = [summary]
    for i, indicator in enumerate(i for i in INDICATORS if i in found):
        total, children = found[indicator]
        document = rules.document_of(targets or {}, indicator)["code"] or ""
        y2030 = domain.milestones_for(targets, indicator).get(2030) if targets else None
        summary["rows"].append([i + 1, labels[indicator], document,
                                *_figures(total, target_year, lang), _pct(y2030)])
        ordered = sorted(children, key=lambda c: (c.get("unit_name") or c["unit_code"],
                                                  c["unit_code"]))
        rows = [[n + 1, child.get("unit_name") or child["unit_code"], child["unit_code"],
                 *_figures(child, target_year, lang)] for n, child in enumerate(ordered)]
        sheets.append({"name": SHEETS[lang][indicator], "title": heading + [
            f"{words['indicator']}: {labels[indicator]}"], "columns": words["columns"],
            "rows": rows, "total": ["", words["total"], "",
                                    *_figures(total, target_year, lang)]})
    if extra:
        sheets.append({"name": words["populations"], "title": heading + [
            f"{words['indicator']}: {labels['adults_titled']}"],
            "columns": words["population_columns"], "total": None, "rows": [
                [n + 1, POPULATION_WORDS[lang][p["rule"]],
                 words["yes"] if p["in_force"] else words["no"], p["numerator"],
                 p["denominator"], _pct(p["share"])]
                for n, p in enumerate(extra["populations"])]})
        sheets.append({"name": words["association"], "title": heading,
                       "columns": words["association_columns"], "total": None, "rows": [
                           [n + 1, ASSOCIATION_WORDS[lang][k], extra["association"][k]]
                           for n, k in enumerate(ASSOCIATION_WORDS[lang])]})
    return sheets


def _cells(values):
    return ["" if v is None else as_text(v) for v in values]


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
            writer.writerow(_cells([line]))
        writer.writerow(sheet["columns"])
        writer.writerows(_cells(row) for row in sheet["rows"])
        if sheet["total"]:
            writer.writerow(_cells(sheet["total"]))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets):
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for sheet in sheets:
        ws = book.create_sheet(sheet["name"])
        for line in sheet["title"]:
            ws.append([xlsx_value(line)])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([])
        ws.append([xlsx_value(v) for v in sheet["columns"]])
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in sheet["rows"]:
            ws.append([xlsx_value(v) for v in row])
        if sheet["total"]:
            ws.append([xlsx_value(v) for v in sheet["total"]])
            for cell in ws[ws.max_row]:
                cell.font = bold
        for col, width in enumerate((6, 44, 14, 12, 12, 11, 14, 12, 12, 12, 16, 12),
                                    start=1):
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":  # a name like "=HYPERLINK(...)": text, never run
                    cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the command line: cdht report export ---------------------------------------------------------
def figures(session, config, unit_code, year, as_of=None):
    """(today's code, its name, {indicator: (total row, [child rows])}, extra) of a unit and
    its children, from reporting's projections, as the API's /report.xlsx computes them;
    with ``as_of``, as the figures stood at the end of that day. LookupError for a unit
    reporting does not know."""
    from services.reporting import reads
    targets = domain.load_targets(config.get("TARGETS_FILE") or None)
    try:
        return (*reads.breakdown(session, targets, config, unit_code, year, as_of=as_of),
                targets)
    except LookupError:
        raise LookupError(f"unknown unit {unit_code}: reporting has no figures for it") from None


def export_file(unit_code, year, out, fmt="xlsx", as_of=None, lang="vi", console=None):
    """``cdht report export``: write the annual report of ``unit_code`` to ``out``; returns
    (bytes written, sheets).

    It reads reporting's database directly (REPORTING_DATABASE_URL), as ``cdht rebuild``
    does, rather than calling GET /units/<code>/report.xlsx: the operator needs no running
    service and no token, and ``as_of`` (which the HTTP report does not take) gives the
    figures as they stood at the end of a year. The file is written whole or not at all."""
    import os

    from rich.progress import Progress, SpinnerColumn, TextColumn
    from sqlalchemy.orm import Session

    from cdht.config import load_config
    from cdht.db import make_engine
    config = load_config("reporting")
    engine = make_engine(config["DATABASE_URL"], pool_size=1, max_overflow=0)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console,
                  transient=True, disable=console is not None and not console.is_terminal) as bar:
        task = bar.add_task(f"reading the figures of {unit_code} for {year}")
        try:
            with Session(engine) as session:
                code, name, found, extra, targets = figures(session, config, unit_code,
                                                            year, as_of)
        finally:
            engine.dispose()
        bar.update(task, description=f"writing {len(found) + 1} sheets ({fmt})")
        sheets = report_sheets(found, code, year, lang, unit_name=name, extra=extra,
                               targets=targets)
        data = to_xlsx(sheets) if fmt == "xlsx" else to_csv(sheets)
        partial = f"{out}.partial"
        with open(partial, "wb") as fh:
            fh.write(data)
        os.replace(partial, out)
    return len(data), len(sheets)
