"""Spreadsheet cells that stay data: a text a spreadsheet would run as a formula (CSV or
formula injection: a unit name, an uploaded header or an echoed cell such as
``=HYPERLINK(...)``) is written as text, in CSV with a leading apostrophe, in XLSX typed as a
string. Every CSV and XLSX that CDHT writes goes through these. XML holds no control
characters, so XLSX text loses them (openpyxl refused the whole file: a 500)."""
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def as_text(value):
    """A CSV cell's value, with a text that a spreadsheet would read as a formula quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_value(value):
    """An XLSX cell's value: text without the control characters XML cannot hold."""
    return XML_ILLEGAL.sub("", value) if isinstance(value, str) else value


def xlsx_row(sheet, values):
    """Cells of a write-only openpyxl ``sheet`` for ``values``: what openpyxl would store
    as a formula is stored as text."""
    from openpyxl.cell import WriteOnlyCell
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=xlsx_value(value))
        if cell.data_type == "f":
            cell.data_type = "s"
        cells.append(cell)
    return cells
