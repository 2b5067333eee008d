"""The people layout: a commune's spreadsheet of people, each row either a person record ready
for the upsert or a list of errors, each with the sheet's row number, the column header as
written in the file, and a reason in Vietnamese and in English. National ID numbers are never
repeated in a reason. No database and no nameko here (people.py writes the records).

The layout (declared in layout.py, which the synthetic-province generator also writes):
    [STT,] Số định danh cá nhân (or the older Số CCCD), Họ và tên, Giới tính, Ngày sinh,
    Dân tộc, Số điện thoại, Email, Mã đơn vị, Đối tượng, Vai trò
in any order, with or without diacritics, any case, or the English field names.
"""
import re
from datetime import date
from functools import lru_cache

from marshmallow import ValidationError

from cdht.contracts.events import ROLES, TARGET_GROUPS
from services.registry import domain
from services.registry.imports import files
from services.registry.imports.files import (
    HeaderSpec, RowError, Vocabulary, blank, cell_text, digits_cell, fold, parse_date,
)
from services.registry.imports.layout import (
    FIELDS, GENDER_LABELS, ROLE_LABELS, TARGET_GROUP_LABELS,
)
from services.registry.imports.layout import HEADERS as _VI_HEADERS

REQUIRED = ("national_id", "full_name", "gender", "birth_date", "unit_code", "target_group")
GENDERS = ("male", "female", "other")

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
def _header_index():
    index = {}
    for name, aliases in _HEADER_ALIASES.items():
        for alias in (*aliases, _VI_HEADERS[name]):
            index[fold(alias)] = name
    return index


HEADER_INDEX = _header_index()



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
    "unit_code.out_of_scope": ("Đơn vị nằm ngoài phạm vi của bạn: chỉ nhập được cho các đơn vị "
                               "thuộc tỉnh, xã của mình",
                               "the unit is outside your scope: import only into your own "
                               "unit's subtree"),
    "national_id.unavailable": ("Số định danh này không thể đăng ký tại đơn vị của bạn",
                                "this national ID cannot be registered by you"),
    "national_id.removed": ("Người có số định danh này đã bị xoá khỏi danh sách ngày {on}; "
                            "muốn khôi phục thì nhập lại tệp với tuỳ chọn khôi phục "
                            "(restore_removed=true, hoặc cdht import people --restore-removed)",
                            "the person with this national ID was removed on {on}; to "
                            "restore them, import the file again with the restore option "
                            "(restore_removed=true, or cdht import people --restore-removed)"),
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



def inspect(path, pause=None):
    """The file's Layout under the people headers (ImportFileError if it has none)."""
    return files.inspect(path, pause, PEOPLE)


# -- one row ---------------------------------------------------------------------------------
_PHONE_NOISE = re.compile(r"[\s.\-()]")


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

    def __init__(self, layout, units, today=None, in_scope=None):
        self.layout = layout
        self.units = units
        self.in_scope = in_scope or (lambda code: True)
        self.today = today or date.today()
        self._positions = [(name, layout.fields[name]) for name in FIELDS
                           if name in layout.fields]
        self._columns = {name: layout.column_of(name) for name in layout.fields}
        self._seen = SeenIds(layout.total_estimate or 0)  # national ID -> first row
        self._genders = Vocabulary(_GENDER_INDEX)
        self._groups = Vocabulary(_TARGET_GROUP_INDEX)
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

    def unavailable(self, row):
        """The error of a national ID held outside the importer's scope: the words of the
        HTTP route's 409, naming neither the unit nor the person."""
        errors = []
        self._error(errors, row, "national_id", "national_id.unavailable")
        return errors[0]

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
        national_id = digits_cell(raw_id, 12)
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

        full_name = domain.normalise_name(cell_text(values["full_name"]))
        if not full_name:
            err(errors, row, "full_name", "required")
        elif len(full_name) > self._name_max:
            err(errors, row, "full_name", "full_name.too_long", max=self._name_max)
        elif not _is_name(full_name):
            err(errors, row, "full_name", "full_name.invalid")

        gender = self._genders.get(values["gender"])
        if gender is None:
            err(errors, row, "gender", "required" if blank(values["gender"])
                else "gender.unknown")

        birth_date = None
        if blank(values["birth_date"]):
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

        ethnicity = cell_text(values.get("ethnicity")) or None
        if ethnicity and len(ethnicity) > self._ethnicity_max:
            err(errors, row, "ethnicity", "ethnicity.too_long", max=self._ethnicity_max)

        phone = None
        if "phone" in values and not blank(values["phone"]):
            phone = _phone(values["phone"])
            if not _passes(self._phone_rules, phone):
                err(errors, row, "phone", "phone.invalid")

        email = None
        if "email" in values and not blank(values["email"]):
            email = cell_text(values["email"])
            if len(email) > 254 or not _passes(self._email_rules, email):
                err(errors, row, "email", "email.invalid")

        unit_code = cell_text(values["unit_code"])
        if not unit_code:
            err(errors, row, "unit_code", "required")
        else:
            valid = self.units.get(unit_code)
            if valid is None:
                err(errors, row, "unit_code", "unit_code.unknown")
            elif not valid:
                err(errors, row, "unit_code", "unit_code.expired")
            elif not self.in_scope(unit_code):
                err(errors, row, "unit_code", "unit_code.out_of_scope")

        target_group = self._groups.get(values["target_group"])
        if target_group is None:
            if blank(values["target_group"]):
                err(errors, row, "target_group", "required")
            else:
                err(errors, row, "target_group", "target_group.unknown",
                    labels_vi=self._group_labels_vi, labels_en=self._group_labels_en)

        roles = []
        if "roles" in values and not blank(values["roles"]):
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
        text = digits_cell(value, 0)
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
