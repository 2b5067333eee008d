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


# -- the command line: cdht report export ---------------------------------------------------------
def figures(session, config, unit_code, year, as_of=None):
    """(today's code, {indicator: (total row, [child rows])}) of a unit and its children, from
    reporting's projections, as the API's /report.xlsx computes them; with ``as_of``, as the
    figures stood at the end of that day. LookupError for a unit reporting does not know."""
    from sqlalchemy import text

    from services.reporting import domain, projection as proj
    if session.execute(text("SELECT 1 FROM unit_paths WHERE unit_code = :c"),
                       {"c": unit_code}).first() is None:
        raise LookupError(f"unknown unit {unit_code}: reporting has no figures for it")
    code, path = proj.placements(session, [unit_code])[unit_code]
    children = [(c, list(p)) for c, p in session.execute(text(
        "SELECT unit_code, path FROM unit_paths WHERE merged_into IS NULL "
        "AND cardinality(path) = :depth AND path[1:cardinality(path) - 1] = "
        "CAST(:parent AS varchar[]) ORDER BY unit_code"), {"depth": len(path) + 1,
                                                           "parent": path})]
    units = [code] + [c for c, _ in children]
    counters = ({u: proj.tallies_as_of(session, u, as_of) for u in units} if as_of
                else proj.tallies_of(session, units))
    targets = domain.load_targets(config.get("TARGETS_FILE") or None)
    adult_age, ratio = proj.adult_age_of(config), proj.warning_ratio_of(config)

    def rows(unit, unit_path):
        return {p.indicator: {"unit_code": unit, "numerator": p.numerator,
                              "denominator": p.denominator, "share": p.share,
                              "target": p.target, "gap": p.gap}
                for p in domain.unit_progress(targets, unit_path, year, counters[unit],
                                              adult_age, ratio)}
    total = rows(code, path)
    per_child = [rows(c, p) for c, p in children]
    return code, {i: (total[i], [r[i] for r in per_child]) for i in total}


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
                code, found = figures(session, config, unit_code, year, as_of)
        finally:
            engine.dispose()
        bar.update(task, description=f"writing {len(found) + 1} sheets ({fmt})")
        sheets = report_sheets(found, code, year, lang)
        data = to_xlsx(sheets) if fmt == "xlsx" else to_csv(sheets)
        partial = f"{out}.partial"
        with open(partial, "wb") as fh:
            fh.write(data)
        os.replace(partial, out)
    return len(data), len(sheets)
