"""An Giang's places: the merged province's unit tree and the names of its hamlets and schools.

The shape is real: since 1 July 2025 the merged An Giang province (old An Giang + old Kiên
Giang) has 102 commune-level units, 85 communes (xã), 14 wards (phường) and 3 special zones
(đặc khu: Phú Quốc, Kiên Hải, Thổ Châu). Before that there were districts (11 in old An Giang,
15 in old Kiên Giang); they are kept, closed on 30 June 2025, as the history of the new units.
The exact list, the pairing with former districts, the populations and the codes (``AG.001``
.. ``AG.102``) are ours, not the official register's; hamlets and schools are invented.

A small public vocabulary apart from the generator: ``cdht seed demo`` takes its units and
names from here and runs in the production image, which carries no generator
(cdht_tools/generator builds on this module).
"""
import functools
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta


def nfc(text):
    """The NFC form of ``text``: one spelling of each Vietnamese letter, whatever the source."""
    return unicodedata.normalize("NFC", text)


UNIT_KIND_LABELS = {
    "province": nfc("Tỉnh"), "district_city": nfc("Thành phố"), "district_town": nfc("Thị xã"),
    "district": nfc("Huyện"), "ward": nfc("Phường"), "commune": nfc("Xã"),
    "special_zone": nfc("Đặc khu"),
}
COMMUNE_LEVEL_KINDS = ("ward", "commune", "special_zone")

PROVINCE_CODE = "AG"
PROVINCE_NAME = nfc("Tỉnh An Giang")
MERGER_DATE = date(2025, 7, 1)

# ---------------------------------------------------------------------------------------------
# The unit tree
# ---------------------------------------------------------------------------------------------

# Pre-2025 district-level units: (code, kind, name, expected population in thousands of the
# *communes* listed under them is given per commune below).
DISTRICTS = (
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
WARDS = (
    ("Long Xuyên", "AG.H01", 110), ("Bình Đức", "AG.H01", 70), ("Mỹ Thới", "AG.H01", 60),
    ("Châu Đốc", "AG.H02", 75), ("Vĩnh Tế", "AG.H02", 40), ("Tân Châu", "AG.H03", 55),
    ("Long Phú", "AG.H03", 45), ("Tịnh Biên", "AG.H04", 35), ("Thới Sơn", "AG.H04", 30),
    ("Chi Lăng", "AG.H04", 35), ("Rạch Giá", "KG.H01", 140), ("Vĩnh Thông", "KG.H01", 90),
    ("Hà Tiên", "KG.H02", 35), ("Tô Châu", "KG.H02", 30),
)
COMMUNES_BY_DISTRICT = (
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
SPECIAL_ZONES = (("Phú Quốc", "KG.H03", 160), ("Kiên Hải", "KG.H15", 20),
                 ("Thổ Châu", "KG.H03", 2))
COMMUNE_BASE_THOUSANDS = 33


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


def slugify(text):
    """ASCII, lower case, hyphens: 'Mỹ Hòa Hưng' -> 'my-hoa-hung'."""
    return "-".join(unaccent(text).lower().split())


def unaccent(text):
    """``text`` without diacritics, "đ" as "d": 'Mỹ Hòa Hưng' -> 'My Hoa Hung'."""
    return " ".join(_ascii_word(w) for w in text.split(" "))


@functools.lru_cache(maxsize=4096)
def _ascii_word(word):
    word = nfc(word).replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if not unicodedata.combining(c))


def unit_tree(include_history=True):
    """The province, its 102 commune-level units and (optionally) the pre-2025 level.

    Returns a list of :class:`Unit`, parents before children. Populations are set by the
    generator (cdht_tools/generator/province.py).
    """
    units = [Unit(PROVINCE_CODE, nfc("An Giang"), PROVINCE_NAME, "province", None,
                  slug="an-giang")]
    if include_history:
        units.append(Unit("KG", nfc("Kiên Giang"), nfc("Tỉnh Kiên Giang"), "province", None,
                          valid_to=MERGER_DATE - timedelta(days=1), merged_into=PROVINCE_CODE,
                          old_province="KG", slug="kien-giang"))
        for code, kind, name in DISTRICTS:
            old = code[:2]
            units.append(Unit(code, nfc(name), nfc(f"{UNIT_KIND_LABELS[kind]} {name}"), kind,
                              old, valid_to=MERGER_DATE - timedelta(days=1), old_province=old,
                              slug=slugify(name)))
    entries = [("ward", n, d, p) for n, d, p in WARDS]
    entries += [("commune", n, d, None) for d, names in COMMUNES_BY_DISTRICT for n in names]
    entries += [("special_zone", n, d, p) for n, d, p in SPECIAL_ZONES]
    for i, (kind, name, district, _) in enumerate(entries, 1):
        units.append(Unit(f"{PROVINCE_CODE}.{i:03d}", nfc(name),
                          nfc(f"{UNIT_KIND_LABELS[kind]} {name}"), kind, PROVINCE_CODE,
                          valid_from=MERGER_DATE, former_codes=(district,),
                          old_province=district[:2], slug=slugify(name)))
    return units


def base_populations():
    """Thousands of inhabitants per commune-level unit, in unit-tree order (None = default)."""
    return ([p for _, _, p in WARDS]
            + [None for _, names in COMMUNES_BY_DISTRICT for _ in names]
            + [p for _, _, p in SPECIAL_ZONES])


HAMLET_FIRST = ("An", "Bình", "Hòa", "Long", "Mỹ", "Phú", "Tân", "Thạnh", "Vĩnh", "Hưng",
                "Phước", "Thới", "Đông", "Tây", "Trung", "Khánh", "Xuân", "Kiến", "Định",
                "Nhơn", "Hiệp", "Thuận", "Phong")
HAMLET_SECOND = ("An", "Bình", "Hòa", "Long", "Phú", "Thạnh", "Hưng", "Lợi", "Phước",
                 "Thới", "Trung", "Lộc", "Thành", "Quới", "Hậu", "Định", "Điền", "Hiệp",
                 "Thuận", "Mỹ", "Tân", "Đông", "Tây", "Khánh", "Thượng", "Hạ", "Nhứt", "Nhì")
SCHOOL_PATRONS = ("Nguyễn Trãi", "Lê Quý Đôn", "Trần Hưng Đạo", "Nguyễn Du", "Lê Lợi",
                  "Võ Thị Sáu", "Nguyễn Đình Chiểu", "Trần Quốc Toản", "Lý Thường Kiệt",
                  "Chu Văn An", "Nguyễn Trung Trực", "Thủ Khoa Nghĩa", "Huỳnh Thị Hưởng",
                  "Mạc Đĩnh Chi", "Nguyễn Hiền", "Phan Bội Châu", "Ngô Quyền", "Quang Trung",
                  "Kim Đồng", "Lê Văn Tám", "Tôn Đức Thắng", "Bùi Thị Xuân", "Hồ Xuân Hương")
