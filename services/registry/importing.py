"""Reading a commune's spreadsheet of people: the file, its headers, and every row's problems.

No database and no nameko here (imports.py is the adapter): this module opens a CSV or XLSX
file, finds and maps its header row, and turns each row into either a person record ready
for the upsert or a list of errors, each with the sheet's row number, the column header as
written in the file, and a reason in Vietnamese and in English. National ID numbers are never
repeated in a reason.

The layout (see services/registry/generator.py, which writes it):
    [STT,] Số định danh cá nhân (or the older Số CCCD), Họ và tên, Giới tính, Ngày sinh,
    Dân tộc, Số điện thoại, Email, Mã đơn vị, Đối tượng, Vai trò
in any order, with or without diacritics, any case, or the English field names.
"""
import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from marshmallow import ValidationError

from cdht.contracts.events import ROLES, TARGET_GROUPS
from services.registry import domain

# -- vocabulary ------------------------------------------------------------------------------
FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone", "email",
          "unit_code", "target_group", "roles")
"""Every field a row can carry, in the order of a person record."""
REQUIRED = ("national_id", "full_name", "gender", "birth_date", "unit_code", "target_group")
GENDERS = ("male", "female", "other")

_VI_HEADERS = {
    "national_id": "Số định danh cá nhân", "full_name": "Họ và tên", "gender": "Giới tính",
    "birth_date": "Ngày sinh", "ethnicity": "Dân tộc", "phone": "Số điện thoại",
    "email": "Email", "unit_code": "Mã đơn vị", "target_group": "Đối tượng", "roles": "Vai trò",
}
_GENDER_LABELS = {"male": "Nam", "female": "Nữ", "other": "Khác"}
_TARGET_GROUP_LABELS = {"resident": "Người dân", "worker": "Người lao động",
                        "employee_business": "Cán bộ công nhân viên, doanh nhân",
                        "student": "Học sinh, sinh viên"}
_ROLE_LABELS = {"association_official": "Cán bộ hội", "association_member": "Hội viên",
                "unit_staff": "Cán bộ đơn vị học tập"}


def _as_code_to_label(mapping, codes):
    """``mapping`` as code -> label, whichever way round its owner wrote it."""
    mapping = dict(mapping)
    if set(mapping) <= set(codes):
        return mapping
    return {code: label for label, code in mapping.items() if code in codes}


try:  # the generator writes the canonical layout: read the vocabulary from one place
    from services.registry import generator as _generator
except ImportError:  # pragma: no cover - until the generator exists
    _generator = None

if _generator is not None and hasattr(_generator, "GENDER_LABELS"):
    GENDER_LABELS = _as_code_to_label(_generator.GENDER_LABELS, GENDERS)
    TARGET_GROUP_LABELS = _as_code_to_label(_generator.TARGET_GROUP_LABELS, TARGET_GROUPS)
    ROLE_LABELS = _as_code_to_label(_generator.ROLE_LABELS, ROLES)
else:
    GENDER_LABELS, TARGET_GROUP_LABELS, ROLE_LABELS = (
        _GENDER_LABELS, _TARGET_GROUP_LABELS, _ROLE_LABELS)


def fold(text):
    """Case-, diacritic- and punctuation-blind form of a header or label.

    "Số CCCD", "so cccd", "SỐ  CCCD" and "So_CCCD" all fold to "so cccd"; "đ" folds to "d".
    """
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


_HEADER_ALIASES = {
    "national_id": ("Số CCCD", "CCCD", "Số căn cước", "Số căn cước công dân", "Số định danh",
                    "Số định danh cá nhân", "national_id", "national id number", "citizen id"),
    "full_name": ("Họ và tên", "Họ tên", "full_name", "name"),
    "gender": ("Giới tính", "gender", "sex"),
    "birth_date": ("Ngày sinh", "Ngày tháng năm sinh", "birth_date", "date of birth", "dob"),
    "ethnicity": ("Dân tộc", "ethnicity"),
    "phone": ("Số điện thoại", "Điện thoại", "SĐT", "phone", "phone number"),
    "email": ("Email", "E-mail", "Thư điện tử", "email"),
    "unit_code": ("Mã đơn vị", "unit_code", "unit"),
    "target_group": ("Đối tượng", "target_group", "group"),
    "roles": ("Vai trò", "roles", "role"),
}
_IGNORED_HEADERS = {"stt", "tt", "so tt", "no", "row"}  # the sheet's own row counter


def _header_index():
    index = {}
    for name, aliases in _HEADER_ALIASES.items():
        for alias in (*aliases, _VI_HEADERS[name]):
            index[fold(alias)] = name
    if _generator is not None and hasattr(_generator, "IMPORT_HEADERS"):
        headers = _generator.IMPORT_HEADERS
        pairs = headers.items() if isinstance(headers, dict) else ()
        for key, value in pairs:  # {field: header} or {header: field}
            name, header = (key, value) if key in FIELDS else (value, key)
            if name in FIELDS:
                index.setdefault(fold(header), name)
    return index


HEADER_INDEX = _header_index()


def header_label(name, vi_headers=None):
    """How the layout writes a field's header ("Số định danh cá nhân (national_id)")."""
    return f"{(vi_headers or _VI_HEADERS)[name]} ({name})"


@dataclass(frozen=True)
class HeaderSpec:
    """Which headers a layout understands (folded header -> field), which fields it
    requires, and how it names them in Vietnamese: the people layout's below, the groups
    layout's in group_importing.py."""
    index: dict
    required: tuple
    vi_headers: dict


PEOPLE = HeaderSpec(HEADER_INDEX, REQUIRED, _VI_HEADERS)


def _value_index(labels, extra=()):
    index = {}
    for code, label in labels.items():
        index[fold(code)] = code
        index[fold(label)] = code
    for alias, code in extra:
        index[fold(alias)] = code
    return index


_GENDER_INDEX = _value_index(GENDER_LABELS)
_TARGET_GROUP_INDEX = _value_index(TARGET_GROUP_LABELS, (
    ("Học sinh, sinh viên, học viên", "student"),
    ("Cán bộ, công nhân viên, doanh nhân", "employee_business")))
_ROLE_INDEX = _value_index(ROLE_LABELS)


# -- errors ----------------------------------------------------------------------------------
MESSAGES = {
    # code: (Vietnamese, English); {placeholders} are filled from RowError.params
    "required": ("Không được để trống", "must not be empty"),
    "national_id.format": ("Số định danh cá nhân phải gồm đúng 12 chữ số",
                           "must be exactly 12 digits"),
    "national_id.province": ("Ba chữ số đầu phải là mã tỉnh từ 001 đến 096",
                             "first three digits must be a province code from 001 to 096"),
    "national_id.birth_year": ("Chữ số thứ 4–6 không khớp với năm sinh",
                               "digits 4-6 do not match the birth year"),
    "national_id.gender": ("Chữ số thứ 4 không khớp với giới tính",
                           "digit 4 does not match the gender"),
    "national_id.invalid": ("Số định danh cá nhân không hợp lệ", "{detail}"),
    "national_id.duplicate": ("Số định danh cá nhân trùng với dòng {first_row} trong tệp",
                              "same national ID as row {first_row} of the file"),
    "full_name.too_long": ("Họ và tên dài quá {max} ký tự", "longer than {max} characters"),
    "full_name.invalid": ("Họ và tên phải có chữ cái và không được có chữ số",
                          "must contain letters and no digits"),
    "gender.unknown": ("Giới tính phải là Nam, Nữ hoặc Khác",
                       "must be Nam, Nữ or Khác (male, female, other)"),
    "birth_date.invalid": ("Ngày sinh không hợp lệ (dùng dd/mm/yyyy)",
                           "not a valid date (use dd/mm/yyyy)"),
    "birth_date.future": ("Ngày sinh không được ở tương lai", "must not be in the future"),
    "birth_date.too_early": ("Năm sinh phải từ 1900 trở đi", "birth year must be 1900 or later"),
    "ethnicity.too_long": ("Dân tộc dài quá {max} ký tự", "longer than {max} characters"),
    "phone.invalid": ("Số điện thoại không hợp lệ (9–15 chữ số, có thể bắt đầu bằng +)",
                      "not a valid phone number (9-15 digits, optionally starting with +)"),
    "email.invalid": ("Email không hợp lệ", "not a valid email address"),
    "unit_code.unknown": ("Mã đơn vị không tồn tại", "unknown unit code"),
    "unit_code.expired": ("Đơn vị không có hiệu lực vào hôm nay (đã sáp nhập, giải thể "
                          "hoặc chưa thành lập)",
                          "the unit is not valid today (merged, dissolved or not yet in force)"),
    "target_group.unknown": ("Đối tượng phải là một trong: {labels_vi}",
                             "must be one of: {labels_en}"),
    "roles.unknown": ("Vai trò không hợp lệ: {value}; dùng: {labels_vi}",
                      "unknown role: {value}; use: {labels_en}"),
}

_DOMAIN_NATIONAL_ID = {  # domain.national_id_problems' messages -> our codes
    "must be exactly 12 digits": "national_id.format",
    "first three digits must be a province code from 001 to 096": "national_id.province",
    "digits 4-6 do not match the birth year": "national_id.birth_year",
    "digit 4 does not match the gender": "national_id.gender",
}
_DOMAIN_BIRTH_DATE = {"must not be in the future": "birth_date.future"}


@dataclass(frozen=True)
class RowError:
    """One problem of one row: ``row`` as the sheet numbers it, ``column`` as its header
    reads in the file, ``field`` the canonical name, ``code`` a stable key (MESSAGES)."""
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


def _cell_text(value):
    if value is None:
        return ""
    return str(value).strip()


def map_headers(cells, spec=PEOPLE):
    """(fields, ignored, duplicates) for one candidate header row."""
    fields, ignored, duplicates = {}, [], []
    for position, cell in enumerate(cells):
        text = _cell_text(cell)
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


def _find_header(candidates, spec=PEOPLE):
    """The first of ``candidates`` (row number, cells) that names every required column."""
    best = None
    for row_number, cells in candidates:
        if not any(_cell_text(c) for c in cells):
            continue
        fields, ignored, duplicates = map_headers(cells, spec)
        if duplicates:
            raise ImportFileError(
                "duplicate_columns", "Cột bị lặp: " + ", ".join(duplicates),
                "columns appear more than once: " + ", ".join(duplicates), duplicates)
        if all(name in fields for name in spec.required):
            return row_number, [_cell_text(c) for c in cells], fields, ignored
        if best is None or len(fields) > len(best[1]):
            best = (row_number, fields, cells)
    if best is None:
        raise ImportFileError("empty", "Tệp rỗng", "the file is empty")
    missing = [name for name in spec.required if name not in best[1]]
    found = [_cell_text(c) for c in best[2] if _cell_text(c)]
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


def inspect(path, pause=None, spec=PEOPLE):
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


class _Workbook:
    """A read-only workbook from a path of any name (openpyxl checks the extension of a path,
    and an upload is stored as ``*.upload``): opened from a file object, both closed together."""

    def __init__(self, path):
        import openpyxl
        self._fh = open(path, "rb")
        try:
            self.book = openpyxl.load_workbook(self._fh, read_only=True, data_only=True)
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


def _inspect_xlsx(path, spec=PEOPLE):
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
                if number > header_row and any(c.strip() for c in cells):
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


# -- one row ---------------------------------------------------------------------------------
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_EXCEL_EPOCH = date(1899, 12, 30)
_PHONE_NOISE = re.compile(r"[\s.\-()]")


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


def _digits_cell(value, width):
    """A number cell that Excel stored as a number (leading zeros lost) back as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value)).zfill(width)
    return _cell_text(value)


def _schema_validators():
    """The registry's own field rules for phone, email, name and ethnicity lengths."""
    try:
        from services.registry.schemas import NewPersonSchema
        declared = NewPersonSchema().fields
    except Exception:  # pragma: no cover - the schema moved: fall back to the rules below
        declared = {}

    def validators(name):
        found = declared.get(name)
        return list(getattr(found, "validators", []) or []) if found else []

    def max_length(name, default):
        for v in validators(name):
            if getattr(v, "max", None):
                return v.max
        return default
    from marshmallow import validate
    phone = validators("phone") or [validate.Regexp(r"^\+?[0-9]{9,15}$")]
    email = [v for v in validators("email")] or [validate.Email()]
    if not any(isinstance(v, validate.Email) for v in email):
        email.append(validate.Email())
    return phone, email, max_length("full_name", 200), max_length("ethnicity", 50)


class SeenIds:
    """National IDs seen so far (as integers) and the row each was first seen on.

    Two flat arrays with open addressing: about 24 bytes per ID, where a dict of Python ints
    takes about 115 (a million-row file: ~25 MB instead of ~115 MB). 0 marks an empty slot
    (no valid ID is 0: its province code is at least 001).
    """

    _MULTIPLIER = 0x9E3779B97F4A7C15  # Fibonacci hashing: IDs are far from random
    _MASK64 = (1 << 64) - 1

    def __init__(self, expected=0):
        bits = max(16, (max(expected, 1) * 2 - 1).bit_length())
        self._allocate(bits)

    def _allocate(self, bits):
        from array import array
        self._bits = bits
        self._keys = array("q", bytes(8 << bits))
        self._rows = array("i", bytes(4 << bits))
        self._count = 0

    def __len__(self):
        return self._count

    def first_row(self, key, row):
        """The row ``key`` was first seen on; None (and ``key`` remembered at ``row``) if new."""
        keys = self._keys
        mask = (1 << self._bits) - 1
        i = ((key * self._MULTIPLIER) & self._MASK64) >> (64 - self._bits)
        while True:
            found = keys[i]
            if found == key:
                return self._rows[i]
            if found == 0:
                break
            i = (i + 1) & mask
        keys[i] = key
        self._rows[i] = row
        self._count += 1
        if self._count * 2 > mask:
            self._grow()
        return None

    def _grow(self):
        keys, rows = self._keys, self._rows
        self._allocate(self._bits + 1)
        for key, row in zip(keys, rows):
            if key:
                self.first_row(key, row)


class RowValidator:
    """Checks rows one by one, remembering national IDs across the whole file.

    ``units`` maps every known unit code to True (valid today) or False (no longer valid);
    it is read once, in bulk, from the units table by the caller.
    """

    def __init__(self, layout, units, today=None):
        self.layout = layout
        self.units = units
        self.today = today or date.today()
        self._positions = [(name, layout.fields[name]) for name in FIELDS
                           if name in layout.fields]
        self._columns = {name: layout.column_of(name) for name in layout.fields}
        self._seen = SeenIds(layout.total_estimate or 0)  # national ID -> first row
        self._genders = _Vocabulary(_GENDER_INDEX)
        self._groups = _Vocabulary(_TARGET_GROUP_INDEX)
        (self._phone_rules, self._email_rules, self._name_max,
         self._ethnicity_max) = _schema_validators()
        self._group_labels_vi = "; ".join(TARGET_GROUP_LABELS[c] for c in TARGET_GROUPS)
        self._group_labels_en = ", ".join(TARGET_GROUPS)
        self._role_labels_vi = "; ".join(ROLE_LABELS[c] for c in ROLES)
        self._role_labels_en = ", ".join(ROLES)

    def _error(self, errors, row, name, code, **params):
        vi, en = MESSAGES[code]
        errors.append(RowError(row, name, self._columns[name], code,
                               vi.format(**params), en.format(**params)))

    def check(self, row, cells):
        """(record, errors): a tuple in FIELDS order when the row is good, else None."""
        values = {}
        n = len(cells)
        for name, position in self._positions:
            values[name] = cells[position] if position < n else None
        errors = []
        err = self._error

        # national ID: format here, consistency with birth date and gender below
        raw_id = values["national_id"]
        national_id = _digits_cell(raw_id, 12)
        id_well_formed = False
        if not national_id:
            err(errors, row, "national_id", "required")
        elif len(national_id) != 12 or not (national_id.isascii() and national_id.isdigit()):
            err(errors, row, "national_id", "national_id.format")  # ("²" passes isdigit())
        else:
            problems = domain.national_id_problems(national_id)
            if problems:
                self._national_id_errors(errors, row, problems)
            else:
                id_well_formed = True
                first = self._seen.first_row(int(national_id), row)
                if first is not None:
                    err(errors, row, "national_id", "national_id.duplicate", first_row=first)

        full_name = domain.normalise_name(_cell_text(values["full_name"]))
        if not full_name:
            err(errors, row, "full_name", "required")
        elif len(full_name) > self._name_max:
            err(errors, row, "full_name", "full_name.too_long", max=self._name_max)
        elif not _is_name(full_name):
            err(errors, row, "full_name", "full_name.invalid")

        gender = self._genders.get(values["gender"])
        if gender is None:
            err(errors, row, "gender", "required" if _blank(values["gender"])
                else "gender.unknown")

        birth_date = None
        if _blank(values["birth_date"]):
            err(errors, row, "birth_date", "required")
        else:
            birth_date = parse_date(values["birth_date"])
            if birth_date is None:
                err(errors, row, "birth_date", "birth_date.invalid")
            elif birth_date.year < 1900:
                err(errors, row, "birth_date", "birth_date.too_early")
                birth_date = None

        if id_well_formed and birth_date is not None:
            try:  # the registry's own cross-field rules (future date, ID vs birth and gender)
                domain.check_new_person(national_id, birth_date, gender, today=self.today)
            except domain.InvalidPerson as exc:
                for message in exc.errors.get("birth_date", []):
                    code = _DOMAIN_BIRTH_DATE.get(message)
                    if code:
                        err(errors, row, "birth_date", code)
                    else:
                        errors.append(RowError(row, "birth_date", self._columns["birth_date"],
                                               "birth_date.invalid", "Ngày sinh không hợp lệ",
                                               message))
                self._national_id_errors(errors, row, exc.errors.get("national_id", []))
        elif birth_date is not None and birth_date > self.today:
            err(errors, row, "birth_date", "birth_date.future")

        ethnicity = _cell_text(values.get("ethnicity")) or None
        if ethnicity and len(ethnicity) > self._ethnicity_max:
            err(errors, row, "ethnicity", "ethnicity.too_long", max=self._ethnicity_max)

        phone = None
        if "phone" in values and not _blank(values["phone"]):
            phone = _phone(values["phone"])
            if not _passes(self._phone_rules, phone):
                err(errors, row, "phone", "phone.invalid")

        email = None
        if "email" in values and not _blank(values["email"]):
            email = _cell_text(values["email"])
            if len(email) > 254 or not _passes(self._email_rules, email):
                err(errors, row, "email", "email.invalid")

        unit_code = _cell_text(values["unit_code"])
        if not unit_code:
            err(errors, row, "unit_code", "required")
        else:
            valid = self.units.get(unit_code)
            if valid is None:
                err(errors, row, "unit_code", "unit_code.unknown")
            elif not valid:
                err(errors, row, "unit_code", "unit_code.expired")

        target_group = self._groups.get(values["target_group"])
        if target_group is None:
            if _blank(values["target_group"]):
                err(errors, row, "target_group", "required")
            else:
                err(errors, row, "target_group", "target_group.unknown",
                    labels_vi=self._group_labels_vi, labels_en=self._group_labels_en)

        roles = []
        if "roles" in values and not _blank(values["roles"]):
            roles, unknown = _roles(values["roles"])
            for value in unknown:
                err(errors, row, "roles", "roles.unknown", value=value[:60],
                    labels_vi=self._role_labels_vi, labels_en=self._role_labels_en)

        if errors:
            if len(errors) > 1:  # in the sheet's column order
                errors.sort(key=lambda e: self.layout.fields[e.field])
            return None, errors
        return (national_id, full_name, gender, birth_date, ethnicity, phone, email,
                unit_code, target_group, roles), errors

    def _national_id_errors(self, errors, row, problems):
        for message in problems:
            code = _DOMAIN_NATIONAL_ID.get(message)
            if code:
                self._error(errors, row, "national_id", code)
            else:  # a rule added to the domain since: its own English text
                self._error(errors, row, "national_id", "national_id.invalid",
                            detail=message)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


class _Vocabulary:
    """A folded label index with a bounded cache of the raw cell texts already seen."""

    def __init__(self, index, cache_size=10000):
        self.index = index
        self.cache = {}
        self.cache_size = cache_size

    def get(self, value):
        if _blank(value):
            return None
        text = str(value).strip()
        try:
            return self.cache[text]
        except KeyError:
            code = self.index.get(fold(text))
            if len(self.cache) < self.cache_size:
                self.cache[text] = code
            return code


_ROLE_SPLIT = re.compile(r"[;,\n]")


@lru_cache(maxsize=1024)
def _roles(text):
    """(roles in canonical order, unknown labels) from "Cán bộ hội; Hội viên"."""
    found, unknown = set(), []
    for part in _ROLE_SPLIT.split(str(text)):
        part = part.strip()
        if not part:
            continue
        code = _ROLE_INDEX.get(fold(part))
        if code is None:
            unknown.append(part)
        else:
            found.add(code)
    return [code for code in ROLES if code in found], tuple(unknown)


def _phone(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = _digits_cell(value, 0)
        return "0" + text if len(text) == 9 else text  # Excel dropped the leading zero
    return _PHONE_NOISE.sub("", str(value).strip())


def _passes(rules, value):
    try:
        for rule in rules:
            rule(value)
    except ValidationError:
        return False
    return True


_NAME_HAS_LETTER = re.compile(r"[^\W\d_]")
_NAME_HAS_DIGIT = re.compile(r"\d")


def _is_name(name):
    return bool(_NAME_HAS_LETTER.search(name)) and not _NAME_HAS_DIGIT.search(name)


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
        writer.writerow(row)
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
        sheet.append(row)
        written += 1
    workbook.save(fh)
