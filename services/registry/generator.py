"""A synthetic, reproducible An Giang province: units, groups, association bodies and people.

It feeds the demo, the importer's tests and the benchmarks. Pure Python (no nameko, no database);
``random.Random(seed)`` drives everything, so one seed always gives byte-identical files.

What is real and what is made up
--------------------------------
- The shape is real: since 1 July 2025 the merged An Giang province (old An Giang + old Kiên Giang)
  has 102 commune-level units, 85 communes (xã), 14 wards (phường) and 3 special zones (đặc khu:
  Phú Quốc, Kiên Hải, Thổ Châu). Before that there were districts (11 in old An Giang, 15 in old
  Kiên Giang); they are kept, closed on 30 June 2025, as the history of the new units.
- The names are synthetic-but-plausible: they are An Giang / Kiên Giang place names, but the exact
  list, the pairing with former districts, the populations and the codes (``AG.001`` ..
  ``AG.102``) are this generator's, not the official register's. Hamlets (ấp / khóm), schools,
  clans and people are invented.
- The distributions follow published orders of magnitude: Vietnamese family-name frequencies
  (Nguyễn ~38% ...; in the South Huỳnh and Võ rather than Hoàng and Vũ), an age pyramid of the
  Mekong Delta (about 23% under 18), ethnicity (Kinh ~90%, Khmer, Hoa, Chăm), about 3.5 people
  per family, one community per ~900 people, one clan per ~3,800 people, association members
  ~15% of adults, officials ~1%, learning-unit staff ~8%.

Layout of the people file
-------------------------
``IMPORT_HEADERS`` is the layout agreed with the importer; ``GENDER_LABELS``,
``TARGET_GROUP_LABELS`` and ``ROLE_LABELS`` map codes to the Vietnamese labels of the file. Roles
are joined with ``"; "``. Birth dates are ``dd/mm/yyyy`` text (``native_dates=True`` writes real
date cells in XLSX). Data rows are numbered from 1: data row 1 is the line after the header
(spreadsheet row 2).

Bad rows
--------
With ``bad_fraction`` > 0, exactly ``round(people * bad_fraction)`` rows are broken, each in one
field only (the rest of the row stays self-consistent, so an importer reports one error for it),
and :attr:`PeopleStream.bad_rows` lists them as :class:`BadRow` (row, column header, kind, detail).
Kinds: ``BAD_KINDS``. A duplicate national ID repeats the ID of an earlier good row; the later row
is the bad one. The good rows are identical with and without bad rows (a separate random stream
chooses and breaks the bad ones).

Run ``python -m services.registry.generator --help`` for the command line.
"""
import argparse
import bisect
import csv
import functools
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
import unicodedata
import zipfile
from collections import Counter, namedtuple
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from services.registry.domain import national_id_for


def _nfc(text):
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------------------------
# The import layout (agreed with the importer; do not reorder)
# ---------------------------------------------------------------------------------------------

IMPORT_HEADERS = tuple(_nfc(h) for h in (
    "Số định danh cá nhân",  # national_id: 12 digits ("Số CCCD" in older files)
    "Họ và tên",        # full_name
    "Giới tính",        # gender: GENDER_LABELS
    "Ngày sinh",        # birth_date: dd/mm/yyyy
    "Dân tộc",          # ethnicity
    "Số điện thoại",    # phone
    "Email",            # email
    "Mã đơn vị",        # unit_code: a commune-level unit
    "Đối tượng",        # target_group: TARGET_GROUP_LABELS
    "Vai trò",          # roles: ROLE_LABELS joined with "; ", empty for none
))
IMPORT_FIELDS = ("national_id", "full_name", "gender", "birth_date", "ethnicity", "phone",
                 "email", "unit_code", "target_group", "roles")
HEADER_OF = dict(zip(IMPORT_FIELDS, IMPORT_HEADERS))

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
DATE_FORMAT = "%d/%m/%Y"

# Reverse look-ups (label -> code) for readers of the file.
GENDER_CODES = {label: code for code, label in GENDER_LABELS.items()}
TARGET_GROUP_CODES = {label: code for code, label in TARGET_GROUP_LABELS.items()}
ROLE_CODES = {label: code for code, label in ROLE_LABELS.items()}

UNIT_KIND_LABELS = {
    "province": _nfc("Tỉnh"), "district_city": _nfc("Thành phố"), "district_town": _nfc("Thị xã"),
    "district": _nfc("Huyện"), "ward": _nfc("Phường"), "commune": _nfc("Xã"),
    "special_zone": _nfc("Đặc khu"),
}
COMMUNE_LEVEL_KINDS = ("ward", "commune", "special_zone")

PROVINCE_CODE = "AG"
PROVINCE_NAME = _nfc("Tỉnh An Giang")
MERGER_DATE = date(2025, 7, 1)
REFERENCE_DATE = date(2026, 1, 1)   # ages are drawn as of this date; keep it in the past
NID_PROVINCE = {"AG": 89, "KG": 91}  # province codes of the citizen ID (old provinces)

BAD_KINDS = ("invalid_national_id", "duplicate_national_id", "future_birth_date",
             "unknown_unit", "empty_name", "malformed_email", "bad_gender")
BAD_COLUMN = {
    "invalid_national_id": "national_id", "duplicate_national_id": "national_id",
    "future_birth_date": "birth_date", "unknown_unit": "unit_code", "empty_name": "full_name",
    "malformed_email": "email", "bad_gender": "gender",
}

# ---------------------------------------------------------------------------------------------
# The unit tree
# ---------------------------------------------------------------------------------------------

# Pre-2025 district-level units: (code, kind, name, expected population in thousands of the
# *communes* listed under them is given per commune below).
_DISTRICTS = (
    ("AG.H01", "district_city", "Long Xuyên"), ("AG.H02", "district_city", "Châu Đốc"),
    ("AG.H03", "district_town", "Tân Châu"), ("AG.H04", "district_town", "Tịnh Biên"),
    ("AG.H05", "district", "An Phú"), ("AG.H06", "district", "Phú Tân"),
    ("AG.H07", "district", "Châu Phú"), ("AG.H08", "district", "Tri Tôn"),
    ("AG.H09", "district", "Châu Thành"), ("AG.H10", "district", "Chợ Mới"),
    ("AG.H11", "district", "Thoại Sơn"),
    ("KG.H01", "district_city", "Rạch Giá"), ("KG.H02", "district_city", "Hà Tiên"),
    ("KG.H03", "district_city", "Phú Quốc"), ("KG.H04", "district", "Kiên Lương"),
    ("KG.H05", "district", "Hòn Đất"), ("KG.H06", "district", "Tân Hiệp"),
    ("KG.H07", "district", "Châu Thành"), ("KG.H08", "district", "Giồng Riềng"),
    ("KG.H09", "district", "Gò Quao"), ("KG.H10", "district", "An Biên"),
    ("KG.H11", "district", "An Minh"), ("KG.H12", "district", "U Minh Thượng"),
    ("KG.H13", "district", "Vĩnh Thuận"), ("KG.H14", "district", "Giang Thành"),
    ("KG.H15", "district", "Kiên Hải"),
)

# Commune-level units: (kind, name, former district, base population in thousands or None for
# the default commune size). Wards first, then communes, then special zones: AG.001 .. AG.102.
_WARDS = (
    ("Long Xuyên", "AG.H01", 110), ("Bình Đức", "AG.H01", 70), ("Mỹ Thới", "AG.H01", 60),
    ("Châu Đốc", "AG.H02", 75), ("Vĩnh Tế", "AG.H02", 40), ("Tân Châu", "AG.H03", 55),
    ("Long Phú", "AG.H03", 45), ("Tịnh Biên", "AG.H04", 35), ("Thới Sơn", "AG.H04", 30),
    ("Chi Lăng", "AG.H04", 35), ("Rạch Giá", "KG.H01", 140), ("Vĩnh Thông", "KG.H01", 90),
    ("Hà Tiên", "KG.H02", 35), ("Tô Châu", "KG.H02", 30),
)
_COMMUNES_BY_DISTRICT = (
    ("AG.H01", ("Mỹ Hòa Hưng",)),
    ("AG.H03", ("Tân An", "Châu Phong", "Vĩnh Xương")),
    ("AG.H04", ("An Cư", "Núi Cấm")),
    ("AG.H05", ("An Phú", "Vĩnh Hậu", "Nhơn Hội", "Khánh Bình", "Phú Hữu")),
    ("AG.H06", ("Phú Tân", "Phú An", "Bình Thạnh Đông", "Chợ Vàm", "Hòa Lạc", "Phú Lâm")),
    ("AG.H07", ("Châu Phú", "Mỹ Đức", "Vĩnh Thạnh Trung", "Bình Mỹ", "Thạnh Mỹ Tây")),
    ("AG.H08", ("Tri Tôn", "Ba Chúc", "Vĩnh Gia", "Ô Lâm", "Cô Tô")),
    ("AG.H09", ("An Châu", "Bình Hòa", "Cần Đăng", "Vĩnh Hanh", "Vĩnh An")),
    ("AG.H10", ("Chợ Mới", "Cù Lao Giêng", "Hội An", "Long Điền", "Nhơn Mỹ", "Long Kiến")),
    ("AG.H11", ("Thoại Sơn", "Óc Eo", "Định Mỹ", "Phú Hòa", "Vĩnh Trạch", "Tây Phú")),
    ("KG.H02", ("Tiên Hải",)),
    ("KG.H04", ("Kiên Lương", "Hòa Điền", "Sơn Hải")),
    ("KG.H05", ("Hòn Đất", "Sơn Kiên", "Mỹ Thuận", "Bình Sơn", "Bình Giang", "Mỹ Lâm")),
    ("KG.H06", ("Tân Hiệp", "Tân Hội", "Thạnh Đông", "Thạnh Trị")),
    ("KG.H07", ("Châu Thành", "Bình An", "Thạnh Lộc")),
    ("KG.H08", ("Giồng Riềng", "Thạnh Hưng", "Long Thạnh", "Hòa Hưng", "Ngọc Chúc",
                "Hòa Thuận")),
    ("KG.H09", ("Gò Quao", "Định Hòa", "Vĩnh Hòa Hưng", "Vĩnh Tuy")),
    ("KG.H10", ("An Biên", "Tây Yên", "Đông Thái")),
    ("KG.H11", ("An Minh", "Đông Hòa", "Tân Thạnh", "Vân Khánh")),
    ("KG.H12", ("U Minh Thượng", "Vĩnh Hòa")),
    ("KG.H13", ("Vĩnh Thuận", "Vĩnh Bình", "Vĩnh Phong")),
    ("KG.H14", ("Giang Thành", "Vĩnh Điều")),
)
_SPECIAL_ZONES = (("Phú Quốc", "KG.H03", 160), ("Kiên Hải", "KG.H15", 20),
                  ("Thổ Châu", "KG.H03", 2))
_COMMUNE_BASE_THOUSANDS = 33

# Ethnic mix by former district (the rest is Kinh). Khmer live mostly in Tri Tôn, Tịnh Biên and
# the Kiên Giang rice districts, Chăm along the upper Hậu river, Hoa in the towns.
_ETHNIC_MIX_DEFAULT = {"Khmer": 0.03, "Hoa": 0.008, "Chăm": 0.001, "Tày": 0.0007,
                       "Mường": 0.0005}
_ETHNIC_MIX_BY_DISTRICT = {
    "AG.H08": {"Khmer": 0.36}, "AG.H04": {"Khmer": 0.25}, "KG.H07": {"Khmer": 0.12},
    "KG.H08": {"Khmer": 0.08}, "KG.H09": {"Khmer": 0.15}, "KG.H10": {"Khmer": 0.05},
    "KG.H04": {"Khmer": 0.08}, "KG.H14": {"Khmer": 0.10},
    "AG.H05": {"Chăm": 0.06}, "AG.H03": {"Chăm": 0.03},
    "AG.H01": {"Hoa": 0.03}, "AG.H02": {"Hoa": 0.03}, "KG.H01": {"Hoa": 0.04},
    "KG.H02": {"Hoa": 0.06}, "KG.H03": {"Hoa": 0.04},
}


@dataclass
class Unit:
    code: str
    name: str
    full_name: str
    kind: str
    parent_code: str | None
    valid_from: date | None = None
    valid_to: date | None = None
    former_codes: tuple = ()           # pre-2025 units this one took over (history)
    merged_into: str | None = None
    old_province: str | None = None    # "AG" or "KG": which old province it belonged to
    slug: str = ""
    population: int = 0                # expected number of generated people living here

    @property
    def commune_level(self):
        return self.kind in COMMUNE_LEVEL_KINDS


@dataclass
class Group:
    """A family, clan, community (hamlet / residential group) or learning unit."""
    code: str
    kind: str              # family | clan | community | learning_unit
    name: str
    unit_code: str
    community_code: str | None = None
    level: str | None = None   # learning units: province | commune
    sector: str | None = None  # learning units: government, education, health, ...
    family_name: str | None = None  # clans


@dataclass
class AssociationBody:
    """The association's own tree: province / commune association, branch, learning board."""
    code: str
    kind: str              # province_association | commune_association | branch | learning_board
    name: str
    unit_code: str
    parent_code: str | None
    group_code: str | None = None   # the community / learning unit / clan it is attached to


def slugify(text):
    """ASCII, lower case, hyphens: 'Mỹ Hòa Hưng' -> 'my-hoa-hung'."""
    return "-".join(_ascii(text).lower().split())


def _ascii(text):
    return " ".join(_ascii_word(w) for w in text.split(" "))


@functools.lru_cache(maxsize=4096)
def _ascii_word(word):
    word = _nfc(word).replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if not unicodedata.combining(c))


def unit_tree(include_history=True):
    """The province, its 102 commune-level units and (optionally) the pre-2025 level.

    Returns a list of :class:`Unit`, parents before children. Populations are set by
    :func:`build_province`.
    """
    units = [Unit(PROVINCE_CODE, _nfc("An Giang"), PROVINCE_NAME, "province", None,
                  slug="an-giang")]
    if include_history:
        units.append(Unit("KG", _nfc("Kiên Giang"), _nfc("Tỉnh Kiên Giang"), "province", None,
                          valid_to=MERGER_DATE - timedelta(days=1), merged_into=PROVINCE_CODE,
                          old_province="KG", slug="kien-giang"))
        for code, kind, name in _DISTRICTS:
            old = code[:2]
            units.append(Unit(code, _nfc(name), _nfc(f"{UNIT_KIND_LABELS[kind]} {name}"), kind,
                              old, valid_to=MERGER_DATE - timedelta(days=1), old_province=old,
                              slug=slugify(name)))
    entries = [("ward", n, d, p) for n, d, p in _WARDS]
    entries += [("commune", n, d, None) for d, names in _COMMUNES_BY_DISTRICT for n in names]
    entries += [("special_zone", n, d, p) for n, d, p in _SPECIAL_ZONES]
    for i, (kind, name, district, _) in enumerate(entries, 1):
        units.append(Unit(f"{PROVINCE_CODE}.{i:03d}", _nfc(name),
                          _nfc(f"{UNIT_KIND_LABELS[kind]} {name}"), kind, PROVINCE_CODE,
                          valid_from=MERGER_DATE, former_codes=(district,),
                          old_province=district[:2], slug=slugify(name)))
    return units


def _base_populations():
    """Thousands of inhabitants per commune-level unit, in unit-tree order (None = default)."""
    return ([p for _, _, p in _WARDS]
            + [None for _, names in _COMMUNES_BY_DISTRICT for _ in names]
            + [p for _, _, p in _SPECIAL_ZONES])


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

# Family names of the Kinh, percent (national frequencies, southern spellings dominant).
_KINH_FAMILY = (
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 4.4),
    ("Hoàng", 0.6), ("Phan", 4.5), ("Võ", 3.4), ("Vũ", 0.5), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Trương", 0.9),
    ("Đoàn", 0.7), ("Đinh", 0.6), ("Lâm", 0.6), ("Mai", 0.5), ("Tô", 0.5), ("Lương", 0.5),
    ("Châu", 0.5), ("Cao", 0.5), ("Thái", 0.4), ("Tạ", 0.3), ("Quách", 0.3), ("La", 0.3),
    ("Hà", 0.4), ("Trịnh", 0.4), ("Đào", 0.4), ("Lưu", 0.3), ("Từ", 0.2), ("Kiều", 0.2),
    ("Văn", 0.2), ("Tăng", 0.2), ("Hứa", 0.2), ("Nhan", 0.1), ("Giang", 0.2), ("Diệp", 0.1),
    ("Lữ", 0.1), ("Triệu", 0.2), ("Âu", 0.1), ("Kha", 0.1), ("Thạch", 0.1), ("Phùng", 0.2),
    ("Mạc", 0.1), ("Tiêu", 0.1), ("Ông", 0.1),
)
_HOA_FAMILY = (("Lý", 12), ("Trần", 12), ("Lâm", 12), ("Quách", 8), ("Tăng", 7), ("Huỳnh", 8),
               ("Châu", 7), ("Lưu", 6), ("Mã", 5), ("Diệp", 5), ("Hứa", 5), ("Thái", 4),
               ("La", 4), ("Trương", 5))
_KHMER_FAMILY = (("Thạch", 22), ("Danh", 20), ("Sơn", 10), ("Kim", 8), ("Lâm", 6),
                 ("Chau", 24), ("Lý", 4), ("Trần", 6))   # "Chau"/"Néang": An Giang style
_CHAM_FAMILY = (("Mohamad", 30), ("Ysa", 20), ("Sa", 15), ("Ma", 15), ("Hàm", 10), ("Ka", 10))

_MALE_GIVEN = (
    "An", "Anh", "Bảo", "Bình", "Cảnh", "Chánh", "Chiến", "Công", "Cường", "Danh", "Dũng",
    "Duy", "Dương", "Đạt", "Điền", "Định", "Đông", "Đức", "Được", "Giang", "Hải", "Hào",
    "Hậu", "Hiền", "Hiếu", "Hiệp", "Hòa", "Hoàng", "Hùng", "Hưng", "Huy", "Kha", "Khải",
    "Khang", "Khánh", "Khoa", "Khôi", "Kiên", "Kiệt", "Lâm", "Lộc", "Lợi", "Long", "Luân",
    "Lực", "Mạnh", "Minh", "Nam", "Nghĩa", "Nguyên", "Nhân", "Nhựt", "Phát", "Phong", "Phú",
    "Phúc", "Phước", "Quân", "Quang", "Quốc", "Sang", "Sơn", "Tài", "Tâm", "Tân", "Thái",
    "Thắng", "Thanh", "Thành", "Thiện", "Thịnh", "Thọ", "Thuận", "Tiến", "Tín", "Toàn",
    "Trí", "Triều", "Trọng", "Trung", "Trường", "Tú", "Tuấn", "Tùng", "Vinh", "Vĩnh", "Vũ",
    "Việt", "Xuân", "Hữu", "Lành", "Mến", "Quý", "Sỹ", "Khanh", "Đăng", "Nhật", "Tường",
)
_FEMALE_GIVEN = (
    "An", "Anh", "Bích", "Cẩm", "Châu", "Chi", "Cúc", "Diễm", "Diệu", "Dung", "Duyên", "Đào",
    "Giang", "Hà", "Hạnh", "Hằng", "Hân", "Hậu", "Hiền", "Hoa", "Hồng", "Huệ", "Hương",
    "Huyền", "Kiều", "Lài", "Lan", "Liên", "Liễu", "Linh", "Loan", "Lụa", "Ly", "Mai", "Mến",
    "My", "Mỹ", "Nga", "Ngân", "Nghi", "Ngọc", "Nguyệt", "Nhàn", "Nhi", "Nhung", "Như",
    "Nương", "Oanh", "Phương", "Phượng", "Quyên", "Quỳnh", "Sương", "Tâm", "Thảo", "Thanh",
    "Thắm", "Thơ", "Thu", "Thủy", "Thúy", "Thư", "Thy", "Tiên", "Trang", "Trâm", "Trinh",
    "Trúc", "Tuyết", "Uyên", "Vân", "Vi", "Vy", "Xuân", "Yến", "Ánh", "Điệp", "Hường",
    "Khánh", "Lệ", "Lợi", "Mơ", "Nhiên", "Tú", "Hoài", "Ngà", "Dịu", "Gấm", "Tươi", "Hiếu",
)
# Middle names: (name, weight for people born before 1980, 1980-1999, 2000 and later).
_MALE_MIDDLE = (("Văn", 60, 38, 12), ("Hữu", 6, 6, 5), ("Đức", 3, 5, 6), ("Minh", 4, 10, 15),
                ("Quốc", 3, 6, 9), ("Thanh", 6, 6, 6), ("Hoàng", 2, 5, 9), ("Tấn", 5, 5, 4),
                ("Công", 4, 4, 4), ("Gia", 0.5, 2, 8), ("Trung", 2, 3, 3), ("Ngọc", 3, 3, 3),
                ("Chí", 2, 3, 4), ("Phước", 2, 2, 2), ("Nhật", 0.5, 2, 6), ("Thành", 2, 3, 4))
_FEMALE_MIDDLE = (("Thị", 72, 45, 16), ("Ngọc", 6, 10, 14), ("Thu", 3, 5, 4),
                  ("Kim", 4, 6, 6), ("Thanh", 3, 6, 6), ("Mỹ", 2, 5, 8), ("Bích", 3, 4, 4),
                  ("Hồng", 3, 4, 4), ("Phương", 1, 3, 6), ("Tuyết", 2, 2, 2),
                  ("Diễm", 0.5, 2, 4), ("Bảo", 0.2, 1, 7), ("Khánh", 0.3, 2, 6),
                  ("Thúy", 2, 3, 3), ("Yến", 1, 2, 3), ("Minh", 0.5, 2, 6))
_FEMALE_SECOND_MIDDLE = ("Ngọc", "Kim", "Thu", "Mỹ", "Bích", "Thanh", "Hồng", "Diễm")
_KHMER_GIVEN_MALE = ("Sóc Kha", "Sa Rinh", "Sol", "Phol", "Sóc Khim", "Chanh Đa", "Kol",
                     "Thươl", "Sà Phol", "Ty", "Sang", "Kim Xuôl", "Pên", "Hoành", "Sóc",
                     "Ri", "Rươl", "Sơn", "Vi Sal", "Thi")
_KHMER_GIVEN_FEMALE = ("Sa Ry", "Sa Ly", "Ni", "Pha Ly", "Xa Ray", "Sô Phia", "Sa Rương",
                       "Thi Đa", "Sóc Phi", "Na", "Sa Vy", "Mông", "Ra Ny", "Chan Thu",
                       "Sà Rết", "Phia", "Kha", "Thy")
_CHAM_GIVEN_MALE = ("Ro Ki", "Ab Đul", "Sa Lim", "Hô Sên", "Ka Rim", "Y Sa", "Ma Dun", "Rô Sít")
_CHAM_GIVEN_FEMALE = ("Ma Ry Dăm", "Sa Ly Ma", "Ka Ri Da", "Ro Ha Na", "Sa Pi Da", "Ha Sa Na")

_ETHNICITY_NAMES = {e: _nfc(e) for e in ("Kinh", "Khmer", "Hoa", "Chăm", "Tày", "Mường")}


def _cum(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class _Choice:
    """Weighted choice with precomputed cumulative weights (faster than random.choices)."""
    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        pairs = [(_nfc(i) if isinstance(i, str) else i, w) for i, w in pairs if w > 0]
        self.items = [i for i, _ in pairs]
        self.cum = _cum(w for _, w in pairs)
        self.total = self.cum[-1]

    def __call__(self, rng):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _uniform(items):
    return _Choice([(i, 1) for i in items])


_FAMILY_CHOICE = {
    "Kinh": _Choice(_KINH_FAMILY), "Hoa": _Choice(_HOA_FAMILY),
    "Khmer": _Choice(_KHMER_FAMILY), "Chăm": _Choice(_CHAM_FAMILY),
}
_MIDDLE_CHOICE = {
    (g, era): _Choice([(m[0], m[1 + era]) for m in table])
    for g, table in (("male", _MALE_MIDDLE), ("female", _FEMALE_MIDDLE)) for era in range(3)
}
_GIVEN_CHOICE = {"male": _uniform(_MALE_GIVEN), "female": _uniform(_FEMALE_GIVEN)}
_KHMER_GIVEN = {"male": _uniform(_KHMER_GIVEN_MALE), "female": _uniform(_KHMER_GIVEN_FEMALE)}
_CHAM_GIVEN = {"male": _uniform(_CHAM_GIVEN_MALE), "female": _uniform(_CHAM_GIVEN_FEMALE)}
_SECOND_MIDDLE = _uniform(_FEMALE_SECOND_MIDDLE)
_THI, _VAN, _NEANG = _nfc("Thị"), _nfc("Văn"), _nfc("Néang")


def _era(year):
    return 0 if year < 1980 else (1 if year < 2000 else 2)


def person_name(rng, gender, birth_year, ethnicity, family_name=None):
    """(full name, family name): 'Nguyễn Thị Ngọc Hân', 'Chau Sóc Kha', 'Thạch Thị Sa Ry'."""
    g = "female" if gender == "female" else "male"
    if ethnicity == "Khmer":
        family_name = family_name or _FAMILY_CHOICE["Khmer"](rng)
        if family_name == "Chau" and g == "female":
            family_name = _NEANG
        middle = (_THI if rng.random() < 0.5 else "") if g == "female" else ""
        parts = (family_name, middle, _KHMER_GIVEN[g](rng))
    elif ethnicity == "Chăm":
        family_name = family_name or _FAMILY_CHOICE["Chăm"](rng)
        parts = (family_name, _CHAM_GIVEN[g](rng))
    else:
        family_name = family_name or _FAMILY_CHOICE.get(ethnicity, _FAMILY_CHOICE["Kinh"])(rng)
        era = _era(birth_year)
        middle = _MIDDLE_CHOICE[g, era](rng)
        if g == "female" and middle == _THI and era > 0 and rng.random() < 0.25:
            middle = f"{_THI} {_SECOND_MIDDLE(rng)}"
        parts = (family_name, middle, _GIVEN_CHOICE[g](rng))
    return " ".join(p for p in parts if p), family_name


# ---------------------------------------------------------------------------------------------
# Ages
# ---------------------------------------------------------------------------------------------

# Mekong Delta age pyramid, percent per 5-year band from 0-4 to 95-99 (a low-fertility,
# out-migrating region: under-15 about 20%, 65+ about 10%).
AGE_BANDS = (5.6, 6.3, 6.8, 6.8, 6.4, 6.8, 7.8, 8.3, 7.9, 7.4, 7.0, 6.4, 5.5, 4.2, 2.9,
             1.8, 1.1, 0.65, 0.28, 0.09)
_AGE_CUM = [0.0] + _cum(AGE_BANDS[a // 5] / 5 for a in range(100))
MAX_AGE = 99
# survival from 55 to each age, read off the pyramid (for the grandparents of a household)
_SURVIVAL = [min(1.0, (AGE_BANDS[a // 5] / AGE_BANDS[11]) ** 0.5) for a in range(100)]


def _age_between(rng, lo, hi):
    """An age in [lo, hi] drawn from the pyramid restricted to that range."""
    lo, hi = max(0, lo), min(MAX_AGE, hi)
    if hi <= lo:
        return lo
    a, b = _AGE_CUM[lo], _AGE_CUM[hi + 1]
    age = bisect.bisect_right(_AGE_CUM, a + rng.random() * (b - a)) - 1
    return min(max(age, lo), hi)


# ---------------------------------------------------------------------------------------------
# Structure: units with populations, communities, clans, learning units, association bodies
# ---------------------------------------------------------------------------------------------

_HAMLET_FIRST = ("An", "Bình", "Hòa", "Long", "Mỹ", "Phú", "Tân", "Thạnh", "Vĩnh", "Hưng",
                 "Phước", "Thới", "Đông", "Tây", "Trung", "Khánh", "Xuân", "Kiến", "Định",
                 "Nhơn", "Hiệp", "Thuận", "Phong")
_HAMLET_SECOND = ("An", "Bình", "Hòa", "Long", "Phú", "Thạnh", "Hưng", "Lợi", "Phước",
                  "Thới", "Trung", "Lộc", "Thành", "Quới", "Hậu", "Định", "Điền", "Hiệp",
                  "Thuận", "Mỹ", "Tân", "Đông", "Tây", "Khánh", "Thượng", "Hạ", "Nhứt", "Nhì")
_SCHOOL_PATRONS = ("Nguyễn Trãi", "Lê Quý Đôn", "Trần Hưng Đạo", "Nguyễn Du", "Lê Lợi",
                   "Võ Thị Sáu", "Nguyễn Đình Chiểu", "Trần Quốc Toản", "Lý Thường Kiệt",
                   "Chu Văn An", "Nguyễn Trung Trực", "Thủ Khoa Nghĩa", "Huỳnh Thị Hưởng",
                   "Mạc Đĩnh Chi", "Nguyễn Hiền", "Phan Bội Châu", "Ngô Quyền", "Quang Trung",
                   "Kim Đồng", "Lê Văn Tám", "Tôn Đức Thắng", "Bùi Thị Xuân", "Hồ Xuân Hương")
# (sector, name pattern, people per unit or None for exactly one, staff weight)
_LOCAL_LEARNING_UNITS = (
    ("government", "Ủy ban nhân dân {unit}", None, 25),
    ("government", "Đảng ủy {unit}", None, 8),
    ("security", "Công an {unit}", None, 15),
    ("health", "Trạm Y tế {unit}", None, 10),
    ("education", "Trường Mầm non {name}", 8000, 20),
    ("education", "Trường Tiểu học {name}", 5000, 25),
    ("education", "Trường THCS {name}", 10000, 35),
    ("education", "Trường THPT {name}", 30000, 60),
    ("cooperative", "Hợp tác xã nông nghiệp {name}", 6000, 12),
    ("business", "Công ty TNHH {name}", 6000, 40),
)
_PROVINCE_LEARNING_UNITS = (
    ("government", "Văn phòng Ủy ban nhân dân tỉnh An Giang", 60),
    ("education", "Sở Giáo dục và Đào tạo tỉnh An Giang", 60),
    ("health", "Sở Y tế tỉnh An Giang", 50),
    ("government", "Sở Nội vụ tỉnh An Giang", 40),
    ("government", "Sở Tài chính tỉnh An Giang", 40),
    ("government", "Sở Nông nghiệp và Môi trường tỉnh An Giang", 60),
    ("government", "Sở Văn hóa, Thể thao và Du lịch tỉnh An Giang", 40),
    ("government", "Sở Khoa học và Công nghệ tỉnh An Giang", 30),
    ("government", "Sở Công Thương tỉnh An Giang", 30),
    ("government", "Sở Xây dựng tỉnh An Giang", 30),
    ("government", "Sở Tư pháp tỉnh An Giang", 20),
    ("government", "Sở Dân tộc và Tôn giáo tỉnh An Giang", 20),
    ("education", "Trường Đại học An Giang", 80),
    ("education", "Trường Cao đẳng Kiên Giang", 50),
    ("health", "Bệnh viện Đa khoa Trung tâm An Giang", 90),
    ("health", "Bệnh viện Đa khoa tỉnh Kiên Giang", 80),
    ("business", "Công ty Cổ phần Xuất nhập khẩu Thủy sản An Giang", 70),
)
PEOPLE_PER_FAMILY = 3.5
PEOPLE_PER_COMMUNITY = 900
PEOPLE_PER_CLAN = 3800
BRANCH_PER_LEARNING_UNIT = 0.08   # branches outside hamlets (schools, agencies)
BOARD_PER_LEARNING_UNIT = 0.4     # learning boards in agencies; every clan has one too


@dataclass
class Province:
    """Everything but the people: the unit tree and the groups and bodies in each unit."""
    seed: int
    population: int
    units: list
    communities: list
    clans: list
    learning_units: list
    associations: list
    reference_date: date = REFERENCE_DATE
    # look-ups for the people generator (not serialised)
    _communities_by_unit: dict = field(default_factory=dict, repr=False)
    _clans_by_unit: dict = field(default_factory=dict, repr=False)
    _staff_choice_by_unit: dict = field(default_factory=dict, repr=False)
    _branch_by_community: dict = field(default_factory=dict, repr=False)

    @property
    def commune_units(self):
        return [u for u in self.units if u.commune_level]

    def groups(self):
        return self.communities + self.clans + self.learning_units

    def summary(self):
        kinds = Counter(u.kind for u in self.commune_units)
        return {"commune_level_units": sum(kinds.values()), **kinds,
                "communities": len(self.communities), "clans": len(self.clans),
                "learning_units": len(self.learning_units),
                **Counter(a.kind for a in self.associations)}


def _stochastic_round(rng, x):
    whole = math.floor(x)
    return whole + (rng.random() < x - whole)


def _hamlet_names(rng, count, ward):
    if ward:   # residential groups in wards: "Khóm 1", "Khóm 2", ...
        return [_nfc(f"Khóm {i}") for i in range(1, count + 1)]
    names, seen = [], set()
    while len(names) < count:
        if len(seen) > 300 or rng.random() < 0.15:
            name = f"Ấp {len(names) + 1}"
        else:
            name = f"Ấp {rng.choice(_HAMLET_FIRST)} {rng.choice(_HAMLET_SECOND)}"
        name = _nfc(name)
        if name not in seen and name.split()[1] != (name.split() + [""])[2]:
            seen.add(name)
            names.append(name)
    return names


def build_province(seed=0, population=100_000, include_history=True,
                   reference_date=REFERENCE_DATE):
    """The unit tree and every group and association body, sized for ``population`` people.

    Communities, clans, learning units and branches scale with ``population`` (so a 20,000-person
    demo has small hamlets, and 3.7 million people give the province's real ~4,000 communities);
    every commune-level unit gets at least one community, its People's Committee and schools.
    """
    rng = random.Random(f"province:{seed}")
    units = unit_tree(include_history)
    communes = [u for u in units if u.commune_level]
    bases = [(b if b is not None else _COMMUNE_BASE_THOUSANDS * math.exp(rng.gauss(0, 0.25)))
             for b in _base_populations()]
    total = sum(bases)
    for unit, base in zip(communes, bases):
        unit.population = base / total * population
    units[0].population = population
    communities, clans, learning_units, associations = [], [], [], []
    province = Province(seed, population, units, communities, clans, learning_units,
                        associations, reference_date)
    associations.append(AssociationBody(f"{PROVINCE_CODE}.HKH",
                                        "province_association",
                                        _nfc("Hội Khuyến học tỉnh An Giang"), PROVINCE_CODE,
                                        None))
    province_units = []
    for i, (sector, name, weight) in enumerate(_PROVINCE_LEARNING_UNITS, 1):
        g = Group(f"{PROVINCE_CODE}.DV{i:03d}", "learning_unit", _nfc(name), PROVINCE_CODE,
                  level="province", sector=sector)
        learning_units.append(g)
        province_units.append((g.code, weight))
    province._province_staff_choice = _Choice(province_units)

    surname_choice = {eth: _FAMILY_CHOICE[eth] for eth in ("Kinh", "Hoa", "Khmer")}
    for unit in communes:
        pop = unit.population
        ward = unit.kind == "ward"
        hamlet_word = _nfc("khóm") if ward else _nfc("ấp")
        n_comm = max(1, round(pop / PEOPLE_PER_COMMUNITY))
        assoc_code = f"{unit.code}.HKH"
        associations.append(AssociationBody(
            assoc_code, "commune_association",
            _nfc(f"Hội Khuyến học {unit.full_name[0].lower()}{unit.full_name[1:]}"),
            unit.code, f"{PROVINCE_CODE}.HKH"))
        unit_comms = []
        for j, hname in enumerate(_hamlet_names(rng, n_comm, ward), 1):
            c = Group(f"{unit.code}.CD{j:03d}", "community", hname, unit.code)
            unit_comms.append(c)
            b = AssociationBody(f"{unit.code}.CH{j:03d}", "branch",
                                _nfc(f"Chi hội khuyến học {hname[0].lower()}{hname[1:]}"),
                                unit.code, assoc_code, group_code=c.code)
            associations.append(b)
            province._branch_by_community[c.code] = b.code
        communities.extend(unit_comms)
        province._communities_by_unit[unit.code] = unit_comms

        # learning units
        staff = []
        k = 0
        seen = set()
        place = f"{UNIT_KIND_LABELS[unit.kind].lower()} {unit.name}"
        for sector, pattern, per, weight in _LOCAL_LEARNING_UNITS:
            count = 1 if per is None else (max(1, round(pop / per)) if per <= 10000
                                          else _stochastic_round(rng, pop / per))
            for n in range(count):
                k += 1
                if "{unit}" in pattern:
                    name = pattern.format(unit=place)
                elif sector == "education":   # named after the place or a national figure
                    label = unit.name if n == 0 and rng.random() < 0.6 else rng.choice(
                        _SCHOOL_PATRONS)
                    name = pattern.format(name=label)
                else:                         # named after a hamlet
                    hamlet = unit_comms[n % len(unit_comms)].name.split(" ", 1)[1]
                    name = pattern.format(name=unit.name if hamlet.isdigit() else hamlet)
                base, i = name, 1
                while name in seen:
                    i += 1
                    name = f"{base} {i}" if "{unit}" in pattern or i > 2 else \
                        f"{base} {_nfc('số')} {i}"
                seen.add(name)
                g = Group(f"{unit.code}.DV{k:03d}", "learning_unit", _nfc(name), unit.code,
                          level="commune", sector=sector)
                learning_units.append(g)
                staff.append((g.code, weight))
                if rng.random() < BRANCH_PER_LEARNING_UNIT:
                    associations.append(AssociationBody(
                        f"{unit.code}.CH{len(unit_comms) + k:03d}", "branch",
                        _nfc(f"Chi hội khuyến học {g.name}"), unit.code, assoc_code,
                        group_code=g.code))
                if rng.random() < BOARD_PER_LEARNING_UNIT:
                    associations.append(AssociationBody(
                        f"{unit.code}.BKH{k:03d}", "learning_board",
                        _nfc(f"Ban khuyến học {g.name}"), unit.code, assoc_code,
                        group_code=g.code))
        province._staff_choice_by_unit[unit.code] = _Choice(staff)

        # clans: a lineage of one family name, rooted in one hamlet
        mix = _ethnic_mix(unit)
        unit_clans = []
        for j in range(1, _stochastic_round(rng, pop / PEOPLE_PER_CLAN) + 1):
            eth = "Khmer" if rng.random() < mix.get("Khmer", 0) else (
                "Hoa" if rng.random() < 0.02 else "Kinh")
            surname = surname_choice[eth](rng)
            if surname == "Chau":
                surname = "Thạch"
            home = rng.choice(unit_comms)
            g = Group(f"{unit.code}.DH{j:03d}", "clan",
                      _nfc(f"Dòng họ {surname} {hamlet_word} {home.name.split(' ', 1)[1]}"),
                      unit.code, community_code=home.code, family_name=_nfc(surname))
            unit_clans.append(g)
            associations.append(AssociationBody(
                f"{unit.code}.BKHDH{j:03d}", "learning_board",
                _nfc(f"Ban khuyến học dòng họ {surname} {hamlet_word} "
                     f"{home.name.split(' ', 1)[1]}"),
                unit.code, assoc_code, group_code=g.code))
        clans.extend(unit_clans)
        province._clans_by_unit[unit.code] = {}
        for c in unit_clans:
            province._clans_by_unit[unit.code].setdefault(c.family_name, []).append(c.code)
    return province


def _ethnic_mix(unit):
    mix = dict(_ETHNIC_MIX_DEFAULT)
    for former in unit.former_codes:
        mix.update(_ETHNIC_MIX_BY_DISTRICT.get(former, {}))
    return mix


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------

Person = namedtuple("Person", (
    "national_id", "full_name", "gender", "birth_date", "ethnicity", "phone", "email",
    "unit_code", "target_group", "roles",
    # beyond the import layout: memberships (written to families.csv / memberships.csv)
    "family_code", "relation", "community_code", "clan_code", "branch_code",
    "learning_unit_code", "bad"))
Person.__doc__ = """One generated person. ``gender``/``target_group``/``roles`` are codes, except
that a bad row may carry a raw, unknown gender label. ``bad`` is the bad kind or None."""

Family = namedtuple("Family", ("code", "name", "unit_code", "community_code", "clan_code",
                               "size"))
BadRow = namedtuple("BadRow", ("row", "column", "kind", "detail"))
BadRow.__doc__ = """An injected error: 1-based data row, the column's header, the kind, a note
(never the national ID itself)."""

# Vietnamese mobile prefixes (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile) with shares.
_MOBILE_PREFIXES = _Choice([
    ("086", 3), ("096", 6), ("097", 7), ("098", 7), ("032", 3), ("033", 3), ("034", 3),
    ("035", 3), ("036", 3), ("037", 3), ("038", 3), ("039", 3),
    ("088", 2), ("091", 5), ("094", 4), ("081", 2), ("082", 2), ("083", 2), ("084", 2),
    ("085", 2), ("089", 2), ("090", 5), ("093", 4), ("070", 2), ("076", 1), ("077", 2),
    ("078", 1), ("079", 2), ("092", 1), ("056", 1), ("058", 1), ("099", 0.5), ("059", 0.5),
])
_EMAIL_DOMAINS = _Choice([("gmail.com", 82), ("yahoo.com", 6), ("outlook.com", 4),
                          ("icloud.com", 3), ("hotmail.com", 3), ("yahoo.com.vn", 2)])
_STAFF_EMAIL_DOMAINS = {"government": "angiang.gov.vn", "security": "angiang.gov.vn",
                        "health": "angiang.gov.vn", "education": "angiang.edu.vn"}
# Citizen-ID province codes of people registered at birth outside the province.
_MIGRANT_NID = _Choice([(87, 25), (92, 20), (79, 15), (86, 10), (94, 8), (93, 8), (96, 7),
                        (95, 4), (1, 3)])
MIGRANT_SHARE = 0.05

# Household compositions: (kind, share). Tuned so ~3.5 people per family and ~23% minors.
_HOUSEHOLDS = _Choice([("single", 0.07), ("couple", 0.11), ("nuclear", 0.51),
                       ("extended", 0.26), ("single_parent", 0.05)])
_CHILDREN = _Choice([(1, 0.25), (2, 0.42), (3, 0.20), (4, 0.10), (5, 0.03)])  # planned

# Role and target-group probabilities (over adults; calibrated in the tests).
P_OFFICIAL = 0.0125        # of adults 25-75; officials are members too
P_MEMBER = 0.154           # of adults, officials included
P_STAFF = 0.099           # of adults 20-62 -> ~8% of all adults
P_OTHER_GENDER = 0.0005
P_GROWN_CHILD_STAYS = 0.6  # a child of 25+ still living in the parents' household
SINGLE_YOUNG, SINGLE_OLD, P_SINGLE_OLD = (20, 59), (60, 99), 0.5
COUPLE_YOUNG, COUPLE_OLD, P_COUPLE_OLD = (21, 35), (45, 92), 0.7
MOTHER_MIN_AGE = 24


class _NationalIds:
    """Unique, valid citizen IDs: one counter per (province, birth year, gender), scattered
    over the 6-digit serial by an affine permutation so they don't look sequential.

    The last ``SPARE`` positions of each permutation are never handed to a good row: bad rows
    whose ID is well-formed but contradicts the birth date or gender take their serials from
    there, so such an ID can never also be a good row's ID (now or later in the stream), and
    good rows get the same IDs with or without bad rows.
    """
    SPARE = 1_000

    def __init__(self, rng):
        self.mult = rng.randrange(1, 1_000_000)
        while math.gcd(self.mult, 1_000_000) != 1:
            self.mult += 1
        self.salt = rng.randrange(1 << 30)
        self.counters = {}   # key -> [next index, offset, next spare index]

    def _slot(self, key):
        slot = self.counters.get(key)
        if slot is None:   # the offset depends on the key only, not on the order of arrival
            offset = random.Random(f"{self.salt}:{key}").randrange(1_000_000)
            slot = self.counters[key] = [0, offset, 1_000_000 - self.SPARE]
        return slot

    def allocate(self, province, birth_date, gender):
        slot = self._slot((province, birth_date.year, gender == "female"))
        n = slot[0]
        if n >= 1_000_000 - self.SPARE:
            raise OverflowError("too many IDs for one province, birth year and gender")
        slot[0] = n + 1
        return national_id_for(province, birth_date, gender,
                               (self.mult * n + slot[1]) % 1_000_000)

    def spare(self, province, year, female):
        """A serial that no good row gets, for the given province, birth year and gender."""
        slot = self._slot((province, year, female))
        n = slot[2]
        if n >= 1_000_000:
            raise OverflowError("too many spare IDs for one province, birth year and gender")
        slot[2] = n + 1
        return (self.mult * n + slot[1]) % 1_000_000


class PeopleStream:
    """Iterate to get ``people`` :class:`Person` records, household by household.

    Streaming: memory does not grow with ``people`` (only ``bad_rows``, ~bad_fraction of it,
    and a few counters). Families are reported to ``on_family`` as they are completed.
    Iterate once; a second iteration starts over and gives the same people.
    """

    def __init__(self, province, people, seed=0, bad_fraction=0.0, on_family=None):
        if people < 0:
            raise ValueError("people must be >= 0")
        if not 0 <= bad_fraction <= 1:
            raise ValueError("bad_fraction must be between 0 and 1")
        self.province = province
        self.people = people
        self.seed = seed
        self.bad_fraction = bad_fraction
        self.bad_count = round(people * bad_fraction)
        self.on_family = on_family
        self.bad_rows = []
        self.reference = province.reference_date
        communes = province.commune_units
        self._unit_choice = _Choice([(u, u.population or 1) for u in communes])
        self._ethnic_choice = {}
        for u in communes:
            mix = _ethnic_mix(u)
            self._ethnic_choice[u.code] = _Choice([("Kinh", 1 - sum(mix.values()))]
                                                  + list(mix.items()))
        self._unit_codes = {u.code for u in province.units}
        self._sector = {g.code: g.sector for g in province.learning_units}
        ref = self.reference
        # birth date of someone aged ``a`` on the reference date = _last_birthday[a] - 0..364
        self._last_birthday = [_minus_years(ref, a).toordinal() for a in range(MAX_AGE + 1)]

    # -- public -------------------------------------------------------------------------------

    def __iter__(self):
        rng = random.Random(self.seed)
        bad_rng = random.Random(f"bad:{self.seed}")
        ids = self._ids = _NationalIds(random.Random(f"nid:{self.seed}"))
        self.bad_rows = []
        self.family_count = 0
        family_seq = Counter()
        recent = [None] * 64          # recent good rows, sources of duplicate IDs
        row = 0
        bad_left = self.bad_count
        while row < self.people:
            unit = self._unit_choice(rng)
            members = self._household(rng, unit)
            members = members[:self.people - row]
            family_seq[unit.code] += 1
            family_code = f"{unit.code}.HGD{family_seq[unit.code]:06d}"
            comms = self.province._communities_by_unit[unit.code]
            community = comms[int(rng.random() * len(comms))]
            clan_code = None
            clans = self.province._clans_by_unit.get(unit.code)
            if clans:
                options = clans.get(members[0]["lineage"])
                if options and rng.random() < 0.5:
                    clan_code = options[int(rng.random() * len(options))]
            head_name = None
            good = 0
            for m in members:
                p = self._finish(rng, m, unit, family_code, community.code, clan_code)
                if head_name is None:
                    head_name = p.full_name
                row += 1
                # selection sampling: exactly bad_count rows, uniformly spread
                if bad_left and bad_rng.random() * (self.people - row + 1) < bad_left:
                    p = self._break(bad_rng, p, row, recent, ids)
                    if p.bad:
                        bad_left -= 1
                if p.bad is None:
                    recent[row % 64] = p
                    good += 1
                yield p
            self.family_count += 1
            if self.on_family is not None and good:   # a family of bad rows only is left out
                self.on_family(Family(family_code, _nfc(f"Hộ {head_name}"), unit.code,
                                      community.code, clan_code, good))

    # -- households -----------------------------------------------------------------------------

    def _household(self, rng, unit):
        """Members as dicts (age, gender, relation, family name), head first."""
        kind = _HOUSEHOLDS(rng)
        eth = self._ethnic_choice[unit.code](rng)
        members = []

        def add(age, gender, relation, family_name=None):
            members.append({"age": min(age, MAX_AGE), "gender": gender, "relation": relation,
                            "family_name": family_name, "ethnicity": eth})

        male = "male" if rng.random() < 0.5 else "female"
        if kind == "single":   # young people living alone, and widowed elders
            age = _age_between(rng, *(SINGLE_OLD if rng.random() < P_SINGLE_OLD else SINGLE_YOUNG))
            add(age, "female" if age >= 65 and rng.random() < 0.6 else male, "head")
        elif kind == "couple":  # newly-weds, and parents whose children have left
            head = _age_between(rng, *(COUPLE_OLD if rng.random() < P_COUPLE_OLD else COUPLE_YOUNG))
            add(head, "male" if rng.random() < 0.8 else "female", "head")
            add(max(18, head + round(rng.gauss(-3 if members[0]["gender"] == "male" else 3, 3))),
                "female" if members[0]["gender"] == "male" else "male", "spouse")
        else:
            mother = _age_between(rng, MOTHER_MIN_AGE, 68 if kind == "extended" else 72)
            father = max(20, mother - 2, mother + round(rng.gauss(3.5, 3)))
            kids = _CHILDREN(rng) if kind != "single_parent" else 1 + (rng.random() < 0.4)
            if kind == "single_parent":
                if rng.random() < 0.8:
                    add(mother, "female", "head")
                else:
                    add(father, "male", "head")
            elif rng.random() < 0.82:
                add(father, "male", "head")
                add(mother, "female", "spouse")
            else:
                add(mother, "female", "head")
                add(father, "male", "spouse")
            # children: the first born when the mother was ~25, then every ~3.5 years; the
            # unborn are not there yet, and grown-up children have often left home
            gap = min(max(rng.gauss(25, 4.5), 18), 40)
            for _ in range(kids):
                age = int(mother - gap)
                if age < 0:
                    break
                if age < 25 or rng.random() < P_GROWN_CHILD_STAYS:
                    add(age, "male" if rng.random() < 0.52 else "female", "child")
                gap += max(1.0, rng.gauss(3.5, 2))
            if kind == "extended":   # the head's or spouse's parents, if still alive
                for _ in range(1 + (rng.random() < 0.35)):
                    age = int(max(mother, father) + rng.gauss(27, 4.5))
                    if age <= MAX_AGE and rng.random() < _SURVIVAL[age]:
                        add(age, "female" if rng.random() < 0.56 else "male", "parent")
        # names: children carry the father's family name; a head's parent carries the head's
        father_m = next((m for m in members[:2] if m["gender"] == "male"
                         and m["relation"] in ("head", "spouse")), None)
        lineage = None
        for m in members:
            if m["relation"] == "child" and father_m is not None:
                m["family_name"] = father_m["family_name"]
            elif m["relation"] == "parent" and members[0]["gender"] == "male" \
                    and m["gender"] == "male":
                m["family_name"] = members[0]["family_name"]
            m["birth"] = date.fromordinal(self._last_birthday[m["age"]] - int(rng.random() * 365))
            if rng.random() < P_OTHER_GENDER and m["age"] >= 16:
                m["gender_out"] = "other"
            name, fam = person_name(rng, m["gender"], m["birth"].year, eth, m["family_name"])
            m["full_name"], m["family_name"] = name, fam
            if m["relation"] in ("head", "spouse") and m["gender"] == "male" and lineage is None:
                lineage = fam
        members[0]["lineage"] = lineage or members[0]["family_name"]
        return members

    def _finish(self, rng, m, unit, family_code, community_code, clan_code):
        age, birth = m["age"], m["birth"]
        gender = m.get("gender_out", m["gender"])
        if rng.random() < MIGRANT_SHARE:
            province = _MIGRANT_NID(rng)
        else:
            province = NID_PROVINCE[unit.old_province]
        nid = self._ids.allocate(province, birth, m["gender"])
        roles = []
        branch = staff_unit = None
        if age < 18:
            target = "student"
        else:
            if 20 <= age <= 62 and rng.random() < P_STAFF:
                roles.append("unit_staff")
                if rng.random() < 0.1:
                    staff_unit = self.province._province_staff_choice(rng)
                else:
                    staff_unit = self.province._staff_choice_by_unit[unit.code](rng)
            official = 25 <= age <= 75 and rng.random() < P_OFFICIAL
            if official:
                roles.insert(0, "association_official")
                roles.insert(1, "association_member")
            elif rng.random() < P_MEMBER - P_OFFICIAL:
                roles.insert(0, "association_member")
            if "association_member" in roles:
                branch = (f"{unit.code}.HKH" if official and rng.random() < 0.6
                          else self.province._branch_by_community[community_code])
            target = self._target_group(rng, age, staff_unit)
        phone = ""
        p_phone = 0.0 if age < 15 else (0.5 if age < 18 or age >= 75 else 0.93)
        if rng.random() < p_phone:
            phone = _MOBILE_PREFIXES(rng) + f"{int(rng.random() * 10_000_000):07d}"
        email = ""
        if roles and ("unit_staff" in roles or "association_official" in roles):
            p_email = 0.8
        elif age < 15:
            p_email = 0.0
        elif age < 18:
            p_email = 0.2
        else:
            p_email = 0.45 if age <= 35 else (0.25 if age <= 50 else (0.1 if age <= 65 else 0.03))
        if rng.random() < p_email:
            email = self._email(rng, m["full_name"], birth, staff_unit)
        return Person(nid, m["full_name"], gender, birth, m["ethnicity"], phone, email,
                      unit.code, target, tuple(roles), family_code, m["relation"],
                      community_code, clan_code, branch, staff_unit, None)

    def _target_group(self, rng, age, staff_unit):
        r = rng.random()
        if staff_unit is not None:
            if self._sector[staff_unit] in ("business", "cooperative"):
                return "worker" if r < 0.6 else "employee_business"
            return "worker" if r < 0.05 else "employee_business"
        if age <= 22:
            return "student" if r < 0.35 else ("worker" if r < 0.75 else "resident")
        if age < 60:
            return "worker" if r < 0.44 else ("employee_business" if r < 0.52 else "resident")
        return "worker" if r < 0.15 else ("employee_business" if r < 0.17 else "resident")

    def _email(self, rng, full_name, birth, staff_unit):
        parts = _ascii(full_name).lower().split()
        if not parts:
            return ""
        family, given = parts[0], parts[-1]
        initials = "".join(p[0] for p in parts[:-1])
        style = rng.random()
        if staff_unit is not None and style < 0.35:
            domain = _STAFF_EMAIL_DOMAINS.get(self._sector[staff_unit], "gmail.com")
            return f"{given}{initials}@{domain}"
        if style < 0.35:
            local = f"{given}{family}{birth.year % 100:02d}"
        elif style < 0.6:
            local = f"{''.join(parts)}{int(rng.random() * 100)}"
        elif style < 0.8:
            local = f"{given}.{family}{birth.year}"
        else:
            local = f"{initials}{given}{int(rng.random() * 1000)}"
        return f"{local}@{_EMAIL_DOMAINS(rng)}"

    # -- bad rows -------------------------------------------------------------------------------

    def _break(self, rng, p, row, recent, ids):
        """Break one field of ``p``; returns the bad person (or ``p`` if no kind applies)."""
        kinds = list(BAD_KINDS)
        if not any(recent):
            kinds.remove("duplicate_national_id")
        kind = rng.choice(kinds)
        detail = ""
        if kind == "invalid_national_id":
            p, detail = self._bad_nid(rng, p, ids)
        elif kind == "duplicate_national_id":
            src = rng.choice([r for r in recent if r is not None])
            name, _ = person_name(rng, src.gender, src.birth_date.year, p.ethnicity)
            age = _age(src.birth_date, self.reference)
            p = p._replace(national_id=src.national_id, gender=src.gender,
                           birth_date=src.birth_date, full_name=name,
                           target_group=src.target_group if age >= 18 else "student",
                           roles=p.roles if age >= 18 else ())
            detail = "the ID of an earlier row"
        elif kind == "future_birth_date":
            year = self.reference.year + 50 + rng.randrange(20)
            born = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
            nid_gender = "female" if p.gender == "female" else "male"
            p = p._replace(birth_date=born, target_group="student", roles=(),
                           national_id=ids.allocate(int(p.national_id[:3]), born, nid_gender))
            detail = "born after today (century typo)"
        elif kind == "unknown_unit":
            while True:
                code = rng.choice((f"{PROVINCE_CODE}.{rng.randrange(103, 200):03d}",
                                   f"{PROVINCE_CODE}.000", f"KG.{rng.randrange(1, 100):03d}",
                                   f"{PROVINCE_CODE}.{rng.randrange(1, 103):03d}X"))
                if code not in self._unit_codes:
                    break
            p = p._replace(unit_code=code)
            detail = "no such commune-level unit"
        elif kind == "empty_name":
            p = p._replace(full_name=rng.choice(("", " ", "   ")))
            detail = "blank"
        elif kind == "malformed_email":
            local = _ascii(p.full_name).lower().replace(" ", "") or "user"
            p = p._replace(email=rng.choice((
                f"{local}.gmail.com", f"{local}@gmail", f"{local}@@gmail.com",
                f"{local[:4]} {local[4:]}@gmail.com", f"{local}@gmail..com", "@gmail.com",
                f"{local}@gmail,com", f"{local}@yahoo .com")))
            detail = "not an email address"
        elif kind == "bad_gender":
            p = p._replace(gender=rng.choice(("X", "?", "N/A", "--", "Không rõ", "0")))
            detail = "not Nam, Nữ or Khác"
        column = HEADER_OF[BAD_COLUMN[kind]]
        self.bad_rows.append(BadRow(row, column, kind, detail))
        return p._replace(bad=kind)

    def _bad_nid(self, rng, p, ids):
        """A realistic slip. A 12-digit result that contradicts the birth date or gender gets a
        spare serial (see _NationalIds), so it is never also a good row's ID."""
        nid = p.national_id
        variants = ["short", "long", "letter", "province", "year"]
        if p.gender in ("male", "female"):
            variants.append("gender")
        v = rng.choice(variants)
        digit, yy = int(nid[3]), int(nid[4:6])
        if v == "year":   # another year in the same century
            yy = (yy + rng.randrange(1, 10)) % 100
            year = 1900 + digit // 2 * 100 + yy
            serial = ids.spare(int(nid[:3]), year, digit % 2 == 1)
            return p._replace(national_id=f"{nid[:4]}{yy:02d}{serial:06d}"), \
                "birth year digits differ from the birth date"
        if v == "gender":
            digit ^= 1
            serial = ids.spare(int(nid[:3]), 1900 + digit // 2 * 100 + yy, digit % 2 == 1)
            return p._replace(national_id=f"{nid[:3]}{digit}{yy:02d}{serial:06d}"), \
                "gender digit differs from the gender"
        if v == "short":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + nid[i + 1:]), "11 digits"
        if v == "long":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + nid[i] + nid[i:]), "13 digits"
        if v == "letter":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + rng.choice("OolI") + nid[i + 1:]), \
                "a letter among the digits"
        return p._replace(national_id=rng.choice(("000", "097", "099")) + nid[3:]), \
            "unknown province code"


def _minus_years(d, years):
    try:
        return d.replace(year=d.year - years)
    except ValueError:   # 29 February
        return d.replace(year=d.year - years, day=28)


def _age(birth, reference):
    return reference.year - birth.year - ((reference.month, reference.day)
                                          < (birth.month, birth.day))


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------

def _open_csv(path):
    """A text file for CSV, UTF-8 with a BOM (written once: the utf-8-sig codec is slower)."""
    f = open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)
    f.write("\ufeff")
    return f


def format_date(d):
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def import_row(p):
    """The person as the ten strings of ``IMPORT_HEADERS`` (unknown gender labels pass through)."""
    return [p.national_id, p.full_name, GENDER_LABELS.get(p.gender, p.gender),
            format_date(p.birth_date), p.ethnicity, p.phone, p.email, p.unit_code,
            TARGET_GROUP_LABELS[p.target_group],
            ROLE_SEPARATOR.join(ROLE_LABELS[r] for r in p.roles)]


def write_people_csv(path, people, batch=2000):
    """Stream ``people`` to ``path`` in the import layout: UTF-8 with BOM, CRLF, as Excel saves.

    Returns the number of data rows written.
    """
    count = 0
    with _open_csv(path) as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(IMPORT_HEADERS)
        rows = []
        for p in people:
            rows.append(import_row(p))
            if len(rows) >= batch:
                w.writerows(rows)
                count += len(rows)
                rows.clear()
        w.writerows(rows)
        count += len(rows)
    return count


XLSX_SHEET_TITLE = _nfc("Danh sách")
_XLSX_WIDTHS = (15, 28, 9, 12, 9, 14, 30, 11, 32, 40)
_FIXED_TIME = datetime(2025, 7, 1)


def write_people_xlsx(path, people, native_dates=False, reproducible=True):
    """Stream ``people`` to an XLSX workbook (openpyxl write-only mode), one sheet, the layout's
    headers on row 1. IDs and phones are text (leading zeros kept); birth dates are dd/mm/yyyy
    text, or date cells formatted dd/mm/yyyy with ``native_dates``.

    ``reproducible`` fixes the timestamps inside the file, so that one seed gives one file.
    Returns the number of data rows written.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.creator = "CDHT synthetic data generator"
    wb.properties.created = _FIXED_TIME
    ws = wb.create_sheet(XLSX_SHEET_TITLE)
    for i, width in enumerate(_XLSX_WIDTHS, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for h in IMPORT_HEADERS:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        header.append(c)
    ws.append(header)
    count = 0
    date_cell = None
    for p in people:
        row = [v or None for v in import_row(p)]   # an empty field is no cell, as in Excel
        if native_dates:
            if p.birth_date.year < 10000:
                date_cell = WriteOnlyCell(ws, value=p.birth_date)
                date_cell.number_format = "DD/MM/YYYY"
                row[3] = date_cell
        ws.append(row)
        count += 1
    if reproducible:   # what wb.save() does, minus the "now" timestamps
        from openpyxl.writer.excel import ExcelWriter
        wb.properties.modified = _FIXED_TIME
        ExcelWriter(wb, _FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    else:
        wb.save(path)
    return count


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed time (ZipFile stamps 'now' or file mtimes)."""

    def _info(self, name):
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME.timetuple()[:6])
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        return super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs):
        info = self._info(arcname or os.path.basename(filename))
        big = os.path.getsize(filename) > 1 << 30
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=big) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def read_import_rows(path):
    """Rows of a people file (CSV or XLSX) as lists of strings, header first. For tests and
    tools; dates read from native XLSX date cells come back as dd/mm/yyyy."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook
        wb = load_workbook(path, read_only=True)
        try:
            width = None
            for values in wb.worksheets[0].iter_rows(values_only=True):
                row = ["" if v is None else (format_date(v) if isinstance(v, (date, datetime))
                                             else str(v)) for v in values]
                width = width or len(row)
                yield row + [""] * (width - len(row))   # trailing empty cells are not stored
        finally:
            wb.close()
    else:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from csv.reader(f)


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ";".join(value)
    return value


UNIT_COLUMNS = ("code", "name", "full_name", "kind", "parent_code", "valid_from", "valid_to",
                "former_codes", "merged_into", "old_province", "slug", "population")
GROUP_COLUMNS = ("code", "kind", "name", "unit_code", "community_code", "level", "sector",
                 "family_name")
ASSOCIATION_COLUMNS = ("code", "kind", "name", "unit_code", "parent_code", "group_code")
FAMILY_COLUMNS = Family._fields
MEMBERSHIP_COLUMNS = ("group_code", "group_kind", "national_id", "role")
BAD_ROW_COLUMNS = BadRow._fields


def _unit_record(u):
    d = asdict(u)
    d["population"] = round(u.population)
    return d


def write_structure(province, out_dir, fmt="csv"):
    """Write units, groups (communities, clans, learning units) and association bodies.

    ``fmt`` is ``"csv"`` (UTF-8 with BOM) or ``"json"``. Returns {name: (path, records)}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "units": (UNIT_COLUMNS, [_unit_record(u) for u in province.units]),
        "groups": (GROUP_COLUMNS, [asdict(g) for g in province.groups()]),
        "associations": (ASSOCIATION_COLUMNS, [asdict(a) for a in province.associations]),
    }
    written = {}
    for name, (columns, records) in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "json":
            with open(path, "w", encoding="utf-8") as f:
                json.dump([{k: _plain(r[k]) for k in columns} for r in records], f,
                          ensure_ascii=False, indent=1)
                f.write("\n")
        elif fmt == "csv":
            with open(path, "w", encoding="utf-8-sig", newline="") as f:
                w = csv.writer(f, lineterminator="\r\n")
                w.writerow(columns)
                for r in records:
                    w.writerow(["" if r[k] is None else _plain(r[k]) for k in columns])
        else:
            raise ValueError(f"unknown structure format {fmt!r}")
        written[name] = (path, len(records))
    return written


class SideFiles:
    """families.csv and memberships.csv, written during the people pass.

    Use ``stream = PeopleStream(..., on_family=side.family)`` and iterate ``side.tap(stream)``.
    Bad rows get no memberships. ``counts`` tallies the good rows (by unit, gender, target group,
    adults on the reference date) for the manifest.
    """

    def __init__(self, out_dir, reference_date=REFERENCE_DATE):
        out_dir = Path(out_dir)
        self.paths = {"families": out_dir / "families.csv",
                      "memberships": out_dir / "memberships.csv"}
        self._files = {k: _open_csv(p) for k, p in self.paths.items()}
        self._families = csv.writer(self._files["families"], lineterminator="\r\n")
        self._members = csv.writer(self._files["memberships"], lineterminator="\r\n")
        self._families.writerow(FAMILY_COLUMNS)
        self._members.writerow(MEMBERSHIP_COLUMNS)
        self.rows = {"families": 0, "memberships": 0}
        self.reference = reference_date
        self.counts = {"good_rows": 0, "adults": 0, "by_unit": Counter(), "by_gender": Counter(),
                       "by_target_group": Counter(), "by_role": Counter()}

    def family(self, fam):
        self._families.writerow(["" if v is None else v for v in fam])
        self.rows["families"] += 1

    def tap(self, people):
        write = self._members.writerow
        c = self.counts
        for p in people:
            if p.bad is None:
                nid = p.national_id
                write((p.family_code, "family", nid, p.relation))
                n = 1
                if p.clan_code:
                    write((p.clan_code, "clan", nid, "member"))
                    n += 1
                if p.branch_code:
                    write((p.branch_code, "association_body", nid,
                           "official" if "association_official" in p.roles else "member"))
                    n += 1
                if p.learning_unit_code:
                    write((p.learning_unit_code, "learning_unit", nid, "staff"))
                    n += 1
                self.rows["memberships"] += n
                c["good_rows"] += 1
                c["by_unit"][p.unit_code] += 1
                c["by_gender"][p.gender] += 1
                c["by_target_group"][p.target_group] += 1
                for r in p.roles:
                    c["by_role"][r] += 1
                if _age(p.birth_date, self.reference) >= 18:
                    c["adults"] += 1
            yield p

    def close(self):
        for f in self._files.values():
            f.close()


def write_bad_rows(path, bad_rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(BAD_ROW_COLUMNS)
        w.writerows(bad_rows)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

class _Progress:
    """A rich progress bar when rich is installed and stderr is a terminal, else a line every
    10% on stderr (nothing when ``quiet``)."""

    def __init__(self, total, label, quiet=False):
        self.total, self.label, self.done, self.quiet = total, label, 0, quiet
        self._bar = None
        self._next_report = total / 10
        self._start = time.monotonic()
        if quiet or total == 0:
            return
        try:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
        except ImportError:
            return
        from rich.console import Console
        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                             console=console)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n):
        if not n:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif not self.quiet and self.done >= self._next_report:
            rate = self.done / max(time.monotonic() - self._start, 1e-9)
            print(f"{self.label}: {self.done:,}/{self.total:,} rows ({rate:,.0f} rows/s)",
                  file=sys.stderr, flush=True)
            self._next_report += self.total / 10

    def close(self):
        if self._bar is not None:
            self._bar.stop()

    def tap(self, items, every=5000):
        n = 0
        for item in items:
            yield item
            n += 1
            if n == every:
                self.advance(n)
                n = 0
        self.advance(n)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def generate(out_dir, people, seed=0, fmt="csv", bad_fraction=0.0, structure_format="csv",
             include_history=True, reference_date=REFERENCE_DATE, native_dates=False,
             quiet=True):
    """Write a whole synthetic province to ``out_dir``; returns the manifest (also written as
    manifest.json)."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown people format {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    province = build_province(seed, max(people, 1), include_history, reference_date)
    files = {name: {"path": path.name, "rows": n}
             for name, (path, n) in write_structure(province, out_dir, structure_format).items()}
    side = SideFiles(out_dir, reference_date)
    stream = PeopleStream(province, people, seed, bad_fraction, on_family=side.family)
    progress = _Progress(people, f"people.{fmt}", quiet)
    people_path = out_dir / f"people.{fmt}"
    people_started = time.monotonic()
    try:
        rows = progress.tap(side.tap(stream))
        if fmt == "csv":
            n = write_people_csv(people_path, rows)
        else:
            n = write_people_xlsx(people_path, rows, native_dates=native_dates)
    finally:
        progress.close()
        side.close()
    people_seconds = time.monotonic() - people_started
    files["people"] = {"path": people_path.name, "rows": n}
    for name, path in side.paths.items():
        files[name] = {"path": path.name, "rows": side.rows[name]}
    bad_path = out_dir / "bad_rows.csv"
    if bad_fraction > 0:
        write_bad_rows(bad_path, stream.bad_rows)
        files["bad_rows"] = {"path": bad_path.name, "rows": len(stream.bad_rows)}
    elif bad_path.exists():
        bad_path.unlink()
    for info in files.values():
        path = out_dir / info["path"]
        info["bytes"] = path.stat().st_size
        info["sha256"] = _sha256(path)
    counts = side.counts
    manifest = {
        "generator": "services.registry.generator",
        "seed": seed, "people": people, "bad_fraction": bad_fraction,
        "bad_rows": len(stream.bad_rows),
        "bad_kinds": dict(sorted(Counter(b.kind for b in stream.bad_rows).items())),
        "reference_date": reference_date.isoformat(),
        "people_format": fmt, "structure_format": structure_format,
        "structure": {k: v for k, v in province.summary().items()},
        "families": side.rows["families"],
        "good_rows": counts["good_rows"],
        "adults_on_reference_date": counts["adults"],
        "good_rows_by_gender": dict(sorted(counts["by_gender"].items())),
        "good_rows_by_target_group": dict(sorted(counts["by_target_group"].items())),
        "good_rows_by_role": dict(sorted(counts["by_role"].items())),
        "good_rows_by_unit": dict(sorted(counts["by_unit"].items())),
        "files": files,
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    manifest["_timing"] = {"seconds": time.monotonic() - started,
                           "people_seconds": people_seconds}
    return manifest


def _parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="python -m services.registry.generator",
        description="Write a synthetic An Giang province (units, groups, association bodies, "
                    "people in the import layout) to a directory.")
    ap.add_argument("--people", type=int, default=10_000, help="number of people (rows)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    ap.add_argument("--out", required=True, help="output directory (created if needed)")
    ap.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                    help="people file format (default csv)")
    ap.add_argument("--bad-fraction", type=float, default=0.0,
                    help="share of people rows to break (e.g. 0.01); truth in bad_rows.csv")
    ap.add_argument("--structure-format", choices=("csv", "json"), default="csv",
                    help="format of units, groups and associations (default csv)")
    ap.add_argument("--no-history", action="store_true",
                    help="leave out the pre-2025 districts and old Kiên Giang province")
    ap.add_argument("--reference-date", type=date.fromisoformat, default=REFERENCE_DATE,
                    help=f"ages are drawn as of this date (default {REFERENCE_DATE})")
    ap.add_argument("--native-dates", action="store_true",
                    help="XLSX: birth dates as date cells instead of dd/mm/yyyy text")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    ap.add_argument("--profile", choices=("merged", "pre-merger"), default="merged",
                    help="merged: today's province (102 commune-level units); pre-merger: An "
                         "Giang before 1 July 2025 with its groups' titles (generator_profiles)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="pre-merger: share of the real province's size (e.g. 0.01)")
    args = ap.parse_args(argv)
    if not 0 < args.scale <= 1:
        ap.error("--scale must be above 0 and at most 1")
    if args.people < 0:
        ap.error("--people must be >= 0")
    if not 0 <= args.bad_fraction <= 1:
        ap.error("--bad-fraction must be between 0 and 1")
    if args.reference_date > date.today():
        ap.error("--reference-date must not be in the future")
    return args


def main(argv=None):
    args = _parse_args(argv)
    if args.profile == "pre-merger":
        from services.registry.generator_profiles import generate_pre_merger, print_summary
        return print_summary(generate_pre_merger(args.out, args.seed, args.scale), args.out)
    m = generate(args.out, args.people, args.seed, args.format, args.bad_fraction,
                 args.structure_format, not args.no_history, args.reference_date,
                 args.native_dates, args.quiet)
    t = m["_timing"]
    out = Path(args.out)
    print(f"Synthetic An Giang province, seed {m['seed']}, {m['people']:,} people "
          f"({m['bad_rows']:,} bad rows), reference date {m['reference_date']}")
    s = m["structure"]
    print(f"  {s['commune_level_units']} commune-level units ({s.get('commune', 0)} communes, "
          f"{s.get('ward', 0)} wards, {s.get('special_zone', 0)} special zones), "
          f"{m['families']:,} families, {s['communities']:,} communities, {s['clans']:,} clans, "
          f"{s['learning_units']:,} learning units, {s.get('branch', 0):,} branches, "
          f"{s.get('learning_board', 0):,} learning boards")
    print(f"Wrote to {out}:")
    for info in m["files"].values():
        print(f"  {info['path']:<20} {info['rows']:>12,} rows {info['bytes'] / 1e6:>10.1f} MB")
    print(f"  {'manifest.json':<20} (parameters, counts, checksums)")
    rate = m["people"] / t["people_seconds"] if t["people_seconds"] else 0
    print(f"Took {t['seconds']:.1f} s; people pass {t['people_seconds']:.1f} s, {rate:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
