"""The groups layout: a commune's spreadsheet of groups, their members and their titles (pure:
no database, no nameko; groups.py writes the records).

One row per member:
    [STT,] Mã nhóm, Loại nhóm, Tên nhóm, Mã đơn vị, Số định danh cá nhân, Vai trò trong nhóm,
    [Cấp (learning units)], [Ngày tham gia], [Năm công nhận, Số quyết định, Ngày quyết định,
    Cơ quan công nhận]
in any order, with or without diacritics, or the English field names. The group's columns
(kind, name, unit, level, and the title's four) are repeated on each of its rows and must
agree; a group is keyed by (kind, code). The file, header search, dates, error type and the
report are files.py's, as for people.
"""
import re
from array import array
from dataclasses import dataclass
from datetime import date

from services.registry import domain, title_rules
from services.registry.imports import files, people_rows
from services.registry.imports.files import (
    HeaderSpec, RowError, Vocabulary, blank, cell_text, digits_cell, fold, parse_date,
)

FIELDS = ("group_code", "group_kind", "group_name", "unit_code", "national_id", "role",
          "level", "joined_on", "year", "decision_number", "decision_date", "issued_by")
REQUIRED = ("group_code", "group_kind", "group_name", "unit_code", "national_id")
TITLE_FIELDS = ("year", "decision_number", "decision_date", "issued_by")

VI_HEADERS = {
    "group_code": "Mã nhóm", "group_kind": "Loại nhóm", "group_name": "Tên nhóm",
    "unit_code": "Mã đơn vị", "national_id": "Số định danh cá nhân",
    "role": "Vai trò trong nhóm", "level": "Cấp", "joined_on": "Ngày tham gia",
    "year": "Năm công nhận", "decision_number": "Số quyết định",
    "decision_date": "Ngày quyết định", "issued_by": "Cơ quan công nhận",
}
_ALIASES = {
    "group_code": ("Mã nhóm", "Mã gia đình", "Mã hộ", "group_code", "group code"),
    "group_kind": ("Loại nhóm", "Loại", "group_kind", "kind"),
    "group_name": ("Tên nhóm", "Tên gia đình", "Tên hộ", "group_name", "group name"),
    "unit_code": ("Mã đơn vị", "unit_code", "unit"),
    "national_id": ("Số định danh cá nhân", "Số định danh", "Số CCCD", "CCCD",
                    "Số căn cước", "Số căn cước công dân", "national_id", "national id number"),
    "role": ("Vai trò trong nhóm", "Vai trò", "role"),
    "level": ("Cấp", "Cấp đơn vị học tập", "level"),
    "joined_on": ("Ngày tham gia", "Ngày vào nhóm", "joined_on"),
    "year": ("Năm công nhận", "Năm", "year"),
    "decision_number": ("Số quyết định", "Số QĐ", "decision_number", "decision number"),
    "decision_date": ("Ngày quyết định", "Ngày QĐ", "Ngày ký", "decision_date",
                      "decision date"),
    "issued_by": ("Cơ quan công nhận", "Cơ quan ra quyết định", "Nơi công nhận", "issued_by",
                  "issued by"),
}
HEADERS = HeaderSpec(
    {fold(alias): name for name, aliases in _ALIASES.items() for alias in aliases},
    REQUIRED, VI_HEADERS)

KIND_LABELS = {"family": "Gia đình học tập", "clan": "Dòng họ học tập",
               "community": "Cộng đồng học tập", "learning_unit": "Đơn vị học tập"}
ROLE_LABELS = {"head": "Chủ hộ", "member": "Thành viên"}
LEVEL_LABELS = {"commune": "Cấp xã", "province": "Cấp tỉnh", "other": "Khác"}


def _index(pairs):
    return {fold(label): code for label, code in pairs}


_KINDS = _index([(label, code) for code, label in KIND_LABELS.items()] +
                [(code, code) for code in KIND_LABELS] +
                [("Gia đình", "family"), ("Hộ gia đình", "family"), ("Dòng họ", "clan"),
                 ("Họ", "clan"), ("Cộng đồng", "community"), ("Ấp", "community"),
                 ("Khóm", "community"), ("Tổ dân phố", "community"),
                 ("Cộng đồng (ấp, khóm)", "community")])
_ROLES = _index([("Chủ hộ", "head"), ("Chủ gia đình", "head"), ("Trưởng họ", "head"),
                 ("Trưởng tộc", "head"), ("Trưởng ấp", "head"), ("Trưởng khóm", "head"),
                 ("Tổ trưởng", "head"), ("Trưởng ban", "head"), ("Thủ trưởng", "head"),
                 ("Trưởng", "head"), ("Người đứng đầu", "head"), ("head", "head"),
                 ("Thành viên", "member"), ("Thành viên gia đình", "member"),
                 ("Cán bộ", "member"), ("member", "member")])
_LEVELS = _index([(label, code) for code, label in LEVEL_LABELS.items()] +
                 [(code, code) for code in LEVEL_LABELS] +
                 [("Xã", "commune"), ("Phường", "commune"), ("Tỉnh", "province")])
_CODE = re.compile(r"[A-Za-z0-9._-]{1,64}")

MESSAGES = people_rows.MESSAGES | {
    "group_kind.unknown": ("Loại nhóm phải là Gia đình, Dòng họ, Cộng đồng hoặc Đơn vị học tập",
                           "must be Gia đình, Dòng họ, Cộng đồng or Đơn vị học tập (family, "
                           "clan, community, learning_unit)"),
    "group_code.format": ("Mã nhóm chỉ gồm chữ, số, '.', '_' hoặc '-' (tối đa 64 ký tự)",
                          "1 to 64 letters, digits, '.', '_' or '-'"),
    "group_name.too_long": ("Tên nhóm dài quá 200 ký tự", "longer than 200 characters"),
    "group.differs": ("Thông tin nhóm (loại, tên, đơn vị, cấp hoặc danh hiệu) khác với dòng "
                      "{first_row} của cùng nhóm",
                      "the group's details (kind, name, unit, level or title) differ from row "
                      "{first_row} of the same group"),
    "role.unknown": ("Vai trò trong nhóm phải là Chủ hộ/Trưởng họ/Trưởng ấp... hoặc Thành viên",
                     "must be a head (Chủ hộ, Trưởng họ, Trưởng ấp...) or Thành viên (member)"),
    "level.required": ("Đơn vị học tập phải có cấp: Cấp xã, Cấp tỉnh hoặc Khác",
                       "a learning unit needs a level: Cấp xã, Cấp tỉnh or Khác"),
    "level.unknown": ("Cấp phải là Cấp xã, Cấp tỉnh hoặc Khác",
                      "must be Cấp xã, Cấp tỉnh or Khác (commune, province, other)"),
    "level.not_allowed": ("Chỉ đơn vị học tập mới có cấp", "only a learning unit has a level"),
    "joined_on.invalid": ("Ngày tham gia không hợp lệ (dùng dd/mm/yyyy)",
                          "not a valid date (use dd/mm/yyyy)"),
    "joined_on.future": ("Ngày tham gia không được ở tương lai", "must not be in the future"),
    "member.duplicate": ("Người này đã có trong cùng nhóm ở dòng {first_row}",
                         "the same person is already in this group at row {first_row}"),
    "member.two_families": ("Người này đã thuộc một gia đình khác ở dòng {first_row}; mỗi "
                            "người chỉ thuộc một gia đình",
                            "the same person is in another family at row {first_row}; a person "
                            "belongs to one family"),
    "group_code.out_of_scope": ("Mã nhóm này đã thuộc một nhóm ngoài phạm vi của bạn",
                                "this group code belongs to a group outside your scope"),
    "member.unknown": ("Chưa có người với số định danh này trong hệ thống; hãy nhập danh sách "
                       "người trước", "no registered person has this national ID: import the "
                       "people first"),
    "member.other_family": ("Người này đang thuộc một gia đình khác",
                            "the person already belongs to another family"),
    "year.invalid": ("Năm công nhận phải là một năm (vd. 2024)", "must be a year (e.g. 2024)"),
    "year.range": ("Năm công nhận phải từ {first} đến {this_year}",
                   "must be between {first} and {this_year}"),
    "decision_date.invalid": ("Ngày quyết định không hợp lệ (dùng dd/mm/yyyy)",
                              "not a valid date (use dd/mm/yyyy)"),
    "decision_date.future": ("Ngày quyết định không được ở tương lai",
                             "must not be in the future"),
    "decision_date.before_year": ("Ngày quyết định không được trước ngày 1/1 của năm công nhận",
                                  "must not be before 1 January of the title's year"),
    "title.incomplete": ("Thiếu thông tin danh hiệu: cần đủ năm, số quyết định, ngày quyết "
                         "định và cơ quan công nhận",
                         "the title is incomplete: give its year, decision number, decision "
                         "date and issuer"),
    "too_long": ("Quá dài", "too long"),
}


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A good row: the group's columns and one member's."""
    row: int
    kind: str
    code: str
    name: str
    unit_code: str
    level: str | None
    national_id: str
    role: str
    joined_on: date
    year: int | None
    decision_number: str | None
    decision_date: date | None
    issued_by: str | None


def _hash64(*parts):
    """A non-zero 63-bit hash of the parts (for the compact tables below): Python's own,
    stable within the process that reads the file, which is all these tables need."""
    return (hash(parts) & 0x7FFFFFFFFFFFFFFF) or 1


class FirstSeen:
    """63-bit keys -> (first row, a 64-bit value), in flat arrays with open addressing: about
    40 bytes per key, so a province's 300,000 groups or 1.2 million members stay small."""

    def __init__(self, expected=0):
        self._allocate(max(16, (max(expected, 1) * 2 - 1).bit_length()))

    def _allocate(self, bits):
        self._bits, self._count = bits, 0
        self._keys = array("q", bytes(8 << bits))
        self._values = array("q", bytes(8 << bits))
        self._rows = array("i", bytes(4 << bits))

    def __len__(self):
        return self._count

    def first(self, key, row, value=0):
        """(row, value) first stored under ``key``; None, and both stored, if it is new."""
        mask = (1 << self._bits) - 1
        i = ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> (64 - self._bits)
        keys = self._keys
        while True:
            found = keys[i]
            if found == key:
                return self._rows[i], self._values[i]
            if found == 0:
                break
            i = (i + 1) & mask
        keys[i], self._rows[i], self._values[i] = key, row, value
        self._count += 1
        if self._count * 2 > mask:
            old = (self._keys, self._rows, self._values)
            self._allocate(self._bits + 1)
            for k, r, v in zip(*old):
                if k:
                    self.first(k, r, v)
        return None


class GroupRowValidator:
    """Checks rows one by one, remembering across the whole file each group's details (they
    must agree on every row) and each member (no one twice in a group, nor in two families).

    ``units`` maps every known unit code to True (valid today) or False (closed)."""

    def __init__(self, layout, units, today=None, in_scope=None):
        self.layout = layout
        self.units = units
        self.in_scope = in_scope or (lambda code: True)
        self.today = today or date.today()
        self._positions = [(n, layout.fields[n]) for n in FIELDS if n in layout.fields]
        self._columns = {n: layout.column_of(n) for n in layout.fields}
        self._has_title = any(n in layout.fields for n in TITLE_FIELDS)
        expected = layout.total_estimate or 0
        self._groups = FirstSeen(expected // 3)
        self._members = FirstSeen(expected)
        self._vocabularies = {"group_kind": Vocabulary(_KINDS),
                              "role": Vocabulary(_ROLES),
                              "level": Vocabulary(_LEVELS)}

    def _error(self, errors, row, name, code, **params):
        vi, en = MESSAGES[code]
        errors.append(RowError(row, name, self._columns[name], code, vi.format(**params),
                               en.format(**params)))

    def check(self, row, cells):
        """(MemberRow or None, errors)."""
        n = len(cells)
        values = {name: (cells[p] if p < n else None) for name, p in self._positions}
        errors, err = [], self._error
        text = cell_text

        kind = self._vocabularies["group_kind"].get(values["group_kind"])
        if kind is None:
            err(errors, row, "group_kind", "required" if blank(values["group_kind"])
                else "group_kind.unknown")
        code = text(values["group_code"])
        if isinstance(values["group_code"], float) and values["group_code"].is_integer():
            code = str(int(values["group_code"]))
        if not code:
            err(errors, row, "group_code", "required")
        elif not _CODE.fullmatch(code):
            err(errors, row, "group_code", "group_code.format")
        name = " ".join(text(values["group_name"]).split())
        if not name:
            err(errors, row, "group_name", "required")
        elif len(name) > 200:
            err(errors, row, "group_name", "group_name.too_long")
        unit_code = text(values["unit_code"])
        if not unit_code:
            err(errors, row, "unit_code", "required")
        elif unit_code not in self.units:
            err(errors, row, "unit_code", "unit_code.unknown")
        elif not self.units[unit_code]:
            err(errors, row, "unit_code", "unit_code.expired")
        elif not self.in_scope(unit_code):
            err(errors, row, "unit_code", "unit_code.out_of_scope")
        level = None
        raw_level = values.get("level")
        if not blank(raw_level):
            level = self._vocabularies["level"].get(raw_level)
            if level is None:
                err(errors, row, "level", "level.unknown")
            elif kind is not None and kind != "learning_unit":
                err(errors, row, "level", "level.not_allowed")
        elif kind == "learning_unit":
            errors.append(RowError(row, "level", self._columns.get("level", VI_HEADERS["level"]),
                                   "level.required", *MESSAGES["level.required"]))
        title = self._title(errors, row, values) if self._has_title else (None,) * 4
        group_ok = not errors

        national_id = digits_cell(values["national_id"], 12)
        if not national_id:
            err(errors, row, "national_id", "required")
        elif len(national_id) != 12 or not (national_id.isascii() and national_id.isdigit()):
            err(errors, row, "national_id", "national_id.format")
        elif domain.national_id_problems(national_id):
            err(errors, row, "national_id", "national_id.province")
        role = "member"
        if not blank(values.get("role")):
            role = self._vocabularies["role"].get(values["role"])
            if role is None:
                err(errors, row, "role", "role.unknown")
        joined_on = self.today
        if not blank(values.get("joined_on")):
            joined_on = parse_date(values["joined_on"])
            if joined_on is None:
                err(errors, row, "joined_on", "joined_on.invalid")
            elif joined_on > self.today:
                err(errors, row, "joined_on", "joined_on.future")

        if group_ok:  # the group's details must be those of its first row
            signature = _hash64(name, unit_code, level, *title)
            seen = self._groups.first(_hash64(kind, code), row, signature)
            if seen is not None and seen[1] != signature:
                err(errors, row, "group_code", "group.differs", first_row=seen[0])
        if not errors:
            key = (_hash64("family", national_id) if kind == "family" else
                   _hash64(kind, code, national_id))
            seen = self._members.first(key, row)
            if seen is not None:
                err(errors, row, "national_id", "member.duplicate" if kind != "family"
                    else "member.two_families", first_row=seen[0])
        if errors:
            if len(errors) > 1:
                errors.sort(key=lambda e: self.layout.fields.get(e.field, 99))
            return None, errors
        return MemberRow(row, kind, code, name, unit_code, level, national_id, role, joined_on,
                         *title), errors

    def _title(self, errors, row, values):
        """(year, decision number, decision date, issuer), all None when the row has none."""
        raw = {f: values.get(f) for f in TITLE_FIELDS}
        if all(blank(v) for v in raw.values()):
            return (None,) * 4
        year = None
        if not blank(raw["year"]):
            try:
                year = int(str(raw["year"]).strip().removesuffix(".0"))
            except ValueError:
                self._error(errors, row, "year", "year.invalid")
                return (None,) * 4
        decision_date = None
        if not blank(raw["decision_date"]):
            decision_date = parse_date(raw["decision_date"])
            if decision_date is None:
                self._error(errors, row, "decision_date", "decision_date.invalid")
                return (None,) * 4
        number = cell_text(raw["decision_number"])
        issuer = " ".join(cell_text(raw["issued_by"]).split())
        problems = title_rules.title_problems(year, number, decision_date, issuer, self.today)
        for field in TITLE_FIELDS:
            for problem in problems.get(field, ()):
                if field not in self._columns:  # the column itself is missing
                    errors.append(RowError(row, field, VI_HEADERS[field], "title.incomplete",
                                           *MESSAGES["title.incomplete"]))
                else:
                    self._error(errors, row, field, problem, first=title_rules.FIRST_YEAR,
                                this_year=self.today.year)
        return year, number, decision_date, issuer


def inspect(path, pause=None):
    """The file's Layout under the groups headers (ImportFileError if it has none)."""
    return files.inspect(path, pause, HEADERS)
