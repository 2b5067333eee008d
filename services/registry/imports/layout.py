"""The layout of a commune's people file, declared once: its columns and its label vocabularies.

The importer (people_rows.py) reads files in this layout and the synthetic-province generator
(cdht_tools/generator) writes them; both take the headers and labels from here, so a file the
generator writes is one the importer reads. Labels are NFC-normalised Vietnamese; codes are the
event contracts' (cdht.contracts.events ROLES and TARGET_GROUPS).
"""
import unicodedata


def _nfc(text):
    return unicodedata.normalize("NFC", text)


FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone", "email",
          "unit_code", "target_group", "roles")
"""Every field a row can carry, in the order of a person record and of the file's columns."""

HEADERS = {name: _nfc(header) for name, header in (
    ("national_id", "Số định danh cá nhân"),  # 12 digits ("Số CCCD" in older files)
    ("full_name", "Họ và tên"),
    ("gender", "Giới tính"),                  # GENDER_LABELS
    ("birth_date", "Ngày sinh"),              # DATE_FORMAT
    ("ethnicity", "Dân tộc"),
    ("phone", "Số điện thoại"),
    ("email", "Email"),
    ("unit_code", "Mã đơn vị"),               # a commune-level unit
    ("target_group", "Đối tượng"),            # TARGET_GROUP_LABELS
    ("roles", "Vai trò"),                     # ROLE_LABELS joined with ROLE_SEPARATOR
)}
"""field -> the Vietnamese header the layout writes for it."""

IMPORT_HEADERS = tuple(HEADERS[name] for name in FIELDS)
"""The header row, in column order."""

GENDER_LABELS = {"male": _nfc("Nam"), "female": _nfc("Nữ"), "other": _nfc("Khác")}
TARGET_GROUP_LABELS = {
    "resident": _nfc("Người dân"),
    "worker": _nfc("Người lao động"),
    "employee_business": _nfc("Cán bộ công nhân viên, doanh nhân"),
    "student": _nfc("Học sinh, sinh viên"),
}
ROLE_LABELS = {
    "association_official": _nfc("Cán bộ hội"),
    "association_member": _nfc("Hội viên"),
    "unit_staff": _nfc("Cán bộ đơn vị học tập"),
}
ROLE_SEPARATOR = "; "
"""Between a person's roles in the Vai trò column; empty for none."""
DATE_FORMAT = "%d/%m/%Y"
"""How the layout writes a birth date as text (XLSX may also hold real date cells)."""
