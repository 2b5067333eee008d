"""Reading an import's file, whatever its layout: CSV (UTF-8, any of , ; tab) or XLSX, the
header row found among the first rows and mapped to fields, rows streamed, cells read as text,
numbers and dates; and the error report written back as CSV or XLSX.

No database and no nameko here. A layout (people_rows.PEOPLE, group_rows.HEADERS) says which
headers it understands and which columns it requires; a file that can't be imported at all is
an ``ImportFileError`` before anything is written.
"""
import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cdht.cells import as_text, xlsx_row


def fold(text):
    """Case-, diacritic- and punctuation-blind form of a header or label.

    "Số CCCD", "so cccd", "SỐ  CCCD" and "So_CCCD" all fold to "so cccd"; "đ" folds to "d".
    """
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


_IGNORED_HEADERS = {"stt", "tt", "so tt", "no", "row"}  # the sheet's own row counter


def header_label(name, vi_headers):
    """How the layout writes a field's header ("Số định danh cá nhân (national_id)")."""
    return f"{vi_headers[name]} ({name})"


@dataclass(frozen=True)
class HeaderSpec:
    """Which headers a layout understands (folded header -> field), which fields it
    requires, and how it names them in Vietnamese: people_rows.PEOPLE, group_rows.HEADERS."""
    index: dict
    required: tuple
    vi_headers: dict


@dataclass(frozen=True)
class RowError:
    """One problem of one row: ``row`` as the sheet numbers it, ``column`` as its header
    reads in the file, ``field`` the canonical name, ``code`` a stable key (the layout's
    MESSAGES)."""
    row: int
    field: str
    column: str
    code: str
    reason_vi: str
    reason_en: str


class ImportFileError(ValueError):
    """The file as a whole can't be imported (not CSV/XLSX, empty, wrong headers): nothing
    is written. ``code`` is a stable key; ``details`` lists e.g. the missing columns."""

    def __init__(self, code, reason_vi, reason_en, details=None):
        super().__init__(reason_en)
        self.code = code
        self.reason_vi = reason_vi
        self.reason_en = reason_en
        self.details = details or []

    def as_dict(self):
        return {"code": self.code, "reason_vi": self.reason_vi, "reason_en": self.reason_en,
                **({"details": self.details} if self.details else {})}


# -- the file --------------------------------------------------------------------------------
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_SEARCH_ROWS = 10  # a title or blank rows may sit above the header row
_SNIFF_BYTES = 64 * 1024
_BLOCK = 1 << 20


@dataclass
class Layout:
    """What inspect() learned about a file; read_rows() reads it with this."""
    format: str                       # "csv" | "xlsx"
    header_row: int                   # the header's row number in the sheet (1-based)
    columns: list                     # the headers as written, by position
    fields: dict                      # field -> position
    ignored: list = field(default_factory=list)  # headers not understood (STT aside)
    delimiter: str | None = None      # CSV only
    sheet: str | None = None          # XLSX only
    total_estimate: int | None = None  # data rows (approximate for CSV: physical lines)

    def column_of(self, name):
        return self.columns[self.fields[name]]


def sniff_format(head):
    """"csv" or "xlsx" from a file's first bytes; ImportFileError when it is neither."""
    if not head.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n,;"):
        raise ImportFileError("empty", "Tệp rỗng", "the file is empty")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "xls_unsupported", "Không hỗ trợ tệp Excel 97-2003 (.xls); hãy lưu thành .xlsx",
            "Excel 97-2003 (.xls) files are not supported; save the sheet as .xlsx")
    if b"\x00" in head:
        raise ImportFileError("not_a_table", "Tệp không phải CSV hoặc XLSX",
                              "the file is neither CSV nor XLSX")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise _not_utf8() from None
    return "csv"


def _not_utf8():
    return ImportFileError("not_utf8", "Tệp CSV phải được lưu với mã UTF-8",
                           "the CSV file must be encoded in UTF-8")


def map_headers(cells, spec):
    """(fields, ignored, duplicates) for one candidate header row."""
    fields, ignored, duplicates = {}, [], []
    for position, cell in enumerate(cells):
        text = cell_text(cell)
        if not text:
            continue
        key = fold(text)
        name = spec.index.get(key)
        if name is None:
            if key not in _IGNORED_HEADERS:
                ignored.append(text)
        elif name in fields:
            duplicates.append(text)
        else:
            fields[name] = position
    return fields, ignored, duplicates


def _find_header(candidates, spec):
    """The first of ``candidates`` (row number, cells) that names every required column."""
    best = None
    for row_number, cells in candidates:
        if not any(cell_text(c) for c in cells):
            continue
        fields, ignored, duplicates = map_headers(cells, spec)
        if duplicates:
            raise ImportFileError(
                "duplicate_columns", "Cột bị lặp: " + ", ".join(duplicates),
                "columns appear more than once: " + ", ".join(duplicates), duplicates)
        if all(name in fields for name in spec.required):
            return row_number, [cell_text(c) for c in cells], fields, ignored
        if best is None or len(fields) > len(best[1]):
            best = (row_number, fields, cells)
    if best is None:
        raise ImportFileError("empty", "Tệp rỗng", "the file is empty")
    missing = [name for name in spec.required if name not in best[1]]
    found = [cell_text(c) for c in best[2] if cell_text(c)]
    raise ImportFileError(
        "missing_columns",
        "Thiếu cột bắt buộc: " + ", ".join(spec.vi_headers[m] for m in missing) +
        ". Các cột trong tệp: " + ", ".join(found),
        "missing required columns: " +
        ", ".join(header_label(m, spec.vi_headers) for m in missing) +
        "; columns found: " + ", ".join(found),
        [header_label(m, spec.vi_headers) for m in missing])


def _csv_text_head(path):
    """The decoded start of a CSV file (enough for the header search)."""
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return decoder.decode(raw, final=False)
    except UnicodeDecodeError:
        raise _not_utf8() from None


def _delimiter(text):
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def check_utf8_and_count_lines(path, pause=None):
    """Validate that the whole file decodes as UTF-8 (so nothing is written for a file that
    breaks half-way) and count its physical lines; ``pause()`` is called between blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, last = 0, b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if not block:
                break
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                raise _not_utf8() from None
            lines += block.count(b"\n")
            last = block
            if pause:
                pause()
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_utf8() from None
    if last and not last.endswith(b"\n"):
        lines += 1
    return lines


def inspect(path, pause, spec):
    """Open ``path``, check it is a CSV or XLSX file with the required headers; Layout.

    Raises ImportFileError for an empty file, a file that is neither format, a CSV that is
    not UTF-8, or a header row that lacks required columns.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    fmt = sniff_format(head)
    if fmt == "xlsx":
        layout = _inspect_xlsx(path, spec)
    else:
        text = _csv_text_head(path)
        delimiter = _delimiter(text)
        lines = text.splitlines()[:HEADER_SEARCH_ROWS]
        candidates = enumerate(csv.reader(lines, delimiter=delimiter), start=1)
        header_row, columns, fields, ignored = _find_header(candidates, spec)
        total_lines = check_utf8_and_count_lines(path, pause)
        layout = Layout("csv", header_row, columns, fields, ignored, delimiter=delimiter,
                        total_estimate=max(0, total_lines - header_row))
    rows = read_rows(path, layout)
    try:
        if next(rows, None) is None:
            raise ImportFileError("no_rows", "Tệp không có dòng dữ liệu nào dưới dòng tiêu đề",
                                  "the file has no data rows under its header row")
    finally:
        rows.close()
    return layout


# An XLSX is a zip: a few kilobytes can unpack to gigabytes, and openpyxl holds the whole
# shared-string table in memory even in read-only mode. Real spreadsheets pack their XML about
# 5-20 to 1; these caps refuse a bomb before anything is unpacked (Python's zipfile never
# unpacks more than a member declares: a member that lies fails its CRC check).
XLSX_MAX_UNPACKED = 1024 * 1024 * 1024      # every part together
XLSX_MAX_SHARED_STRINGS = 64 * 1024 * 1024  # xl/sharedStrings.xml, held in memory whole
XLSX_MAX_RATIO = 100                        # unpacked / packed, for a part over 1 MiB


def check_not_a_bomb(fh):
    """Raise ImportFileError (``xlsx_too_large``) for an XLSX that would unpack beyond the
    caps above; the file is read from its zip directory only."""
    try:
        parts = zipfile.ZipFile(fh).infolist()
    except zipfile.BadZipFile:
        return  # not a zip at all: openpyxl says so ("bad_xlsx")
    finally:
        fh.seek(0)
    unpacked = sum(p.file_size for p in parts)
    shared = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    packed_too_tight = [p.filename for p in parts if p.file_size > 1024 * 1024
                        and p.file_size > XLSX_MAX_RATIO * max(p.compress_size, 1)]
    if unpacked > XLSX_MAX_UNPACKED or shared > XLSX_MAX_SHARED_STRINGS or packed_too_tight:
        raise ImportFileError(
            "xlsx_too_large",
            "Tệp XLSX khi giải nén quá lớn hoặc bị nén bất thường; hãy lưu lại tệp bằng Excel "
            "hoặc chia nhỏ, hoặc dùng CSV",
            f"the XLSX file unpacks to {unpacked:,} bytes ({shared:,} of shared strings) or is "
            f"packed abnormally tightly ({', '.join(packed_too_tight) or 'no part'}): save it "
            "again from a spreadsheet program, split it, or use CSV")


class _Workbook:
    """A read-only workbook from a path of any name (openpyxl checks the extension of a path,
    and an upload is stored as ``*.upload``): opened from a file object, both closed together;
    an XLSX bomb is refused before openpyxl unpacks anything (check_not_a_bomb)."""

    def __init__(self, path):
        import openpyxl
        self._fh = open(path, "rb")
        try:
            check_not_a_bomb(self._fh)
            self.book = openpyxl.load_workbook(self._fh, read_only=True, data_only=True)
        except ImportFileError:
            self._fh.close()
            raise
        except Exception as exc:  # zipfile, KeyError, openpyxl's own: all mean "not a workbook"
            self._fh.close()
            raise ImportFileError(
                "bad_xlsx", "Tệp XLSX bị hỏng hoặc không đọc được",
                f"the XLSX file is damaged or unreadable ({type(exc).__name__})") from None

    def close(self):
        try:
            self.book.close()
        finally:
            self._fh.close()


def _open_workbook(path):
    return _Workbook(path)


def _inspect_xlsx(path, spec):
    workbook = _open_workbook(path)
    try:
        first_error = None
        for sheet in workbook.book.worksheets:
            rows = sheet.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, values_only=True)
            try:
                header_row, columns, fields, ignored = _find_header(enumerate(rows, start=1), spec)
            except ImportFileError as exc:
                first_error = first_error or exc
                continue
            max_row = sheet.max_row
            return Layout("xlsx", header_row, columns, fields, ignored, sheet=sheet.title,
                          total_estimate=(max_row - header_row) if max_row else None)
        raise first_error or ImportFileError("empty", "Tệp rỗng", "the file is empty")
    finally:
        workbook.close()


def read_rows(path, layout):
    """(row number, cells) for every non-blank row under the header."""
    if layout.format == "xlsx":
        yield from _xlsx_rows(path, layout)
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)
        header_row = layout.header_row
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                if number > header_row and "".join(cells).strip():  # not blank
                    yield number, cells
        except csv.Error as exc:  # a NUL byte, a field beyond csv.field_size_limit()
            raise ImportFileError(
                "bad_csv", f"Tệp CSV bị hỏng ở dòng {number + 1}",
                f"the CSV file is broken at row {number + 1} ({exc})") from None


def _xlsx_rows(path, layout):
    workbook = _open_workbook(path)
    try:
        sheet = workbook.book[layout.sheet]
        rows = sheet.iter_rows(min_row=layout.header_row + 1, values_only=True)
        for number, cells in enumerate(rows, start=layout.header_row + 1):
            if any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells):
                yield number, cells
    finally:
        workbook.close()


# -- cells -----------------------------------------------------------------------------------
def cell_text(value):
    if value is None:
        return ""
    return str(value).strip()


def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


class Vocabulary:
    """A folded label index with a bounded cache of the raw cell texts already seen."""

    def __init__(self, index, cache_size=10000):
        self.index = index
        self.cache = {}
        self.cache_size = cache_size

    def get(self, value):
        if blank(value):
            return None
        text = str(value).strip()
        try:
            return self.cache[text]
        except KeyError:
            code = self.index.get(fold(text))
            if len(self.cache) < self.cache_size:
                self.cache[text] = code
            return code


_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value):
    """A date from a cell: dd/mm/yyyy, yyyy-mm-dd, an Excel date, or an Excel serial number.
    None when it is none of those."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466 and float(value).is_integer():
            return _EXCEL_EPOCH + timedelta(days=int(value))
        return None
    text = str(value).strip()
    try:
        match = _DMY.fullmatch(text)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        match = _YMD.fullmatch(text)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return None


def digits_cell(value, width):
    """A number cell that Excel stored as a number (leading zeros lost) back as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value)).zfill(width)
    return cell_text(value)


# -- the report ------------------------------------------------------------------------------
REPORT_HEADERS = ("Dòng / Row", "Cột / Column", "Lý do", "Reason")


def report_rows(errors):
    """The error report's rows for CSV/XLSX: (row, column, reason_vi, reason_en)."""
    for e in errors:
        yield (e.row, e.column, e.reason_vi, e.reason_en)


def report_csv(rows, batch=1000):
    """The error report as CSV text chunks (UTF-8 with a BOM, so Excel shows Vietnamese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(REPORT_HEADERS)
    count = 0
    for row in rows:
        writer.writerow([as_text(cell) for cell in row])  # an echoed "=..." stays text
        count += 1
        if count % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


XLSX_MAX_ROWS = 1_048_576


def write_report_xlsx(rows, fh):
    """The error report as an XLSX workbook written to ``fh`` (a path or a binary file)."""
    import openpyxl
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Lỗi - Errors")
    sheet.append(REPORT_HEADERS)
    written = 1
    for row in rows:
        if written >= XLSX_MAX_ROWS - 1:
            sheet.append(("…", "", "Báo cáo bị cắt: tải bản CSV để xem đủ",
                          "report truncated: download the CSV for every row"))
            break
        sheet.append(xlsx_row(sheet, row))
        written += 1
    workbook.save(fh)
