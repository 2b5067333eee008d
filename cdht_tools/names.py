"""Vietnamese people's names and ages as found in the Mekong Delta, drawn from a ``random.Random``.

Family-name frequencies follow published orders of magnitude (Nguyễn ~38% ...; in the South
Huỳnh and Võ rather than Hoàng and Vũ), with Khmer, Hoa and Chăm naming customs; middle names
follow the birth year's fashion. Ages follow the region's age pyramid (about 23% under 18).
Shared by ``cdht seed demo`` and the generator (cdht_tools/generator), like places.py.
"""
import bisect

from cdht_tools.places import nfc

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


def cumulative(weights):
    """Running totals of ``weights``: [w0, w0 + w1, ...]."""
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class Choice:
    """Weighted choice with precomputed cumulative weights (faster than random.choices)."""
    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        pairs = [(nfc(i) if isinstance(i, str) else i, w) for i, w in pairs if w > 0]
        self.items = [i for i, _ in pairs]
        self.cum = cumulative(w for _, w in pairs)
        self.total = self.cum[-1]

    def __call__(self, rng):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def uniform(items):
    """A :class:`Choice` of ``items``, each as likely as the others."""
    return Choice([(i, 1) for i in items])


FAMILY_CHOICE = {
    "Kinh": Choice(_KINH_FAMILY), "Hoa": Choice(_HOA_FAMILY),
    "Khmer": Choice(_KHMER_FAMILY), "Chăm": Choice(_CHAM_FAMILY),
}
_MIDDLE_CHOICE = {
    (g, era): Choice([(m[0], m[1 + era]) for m in table])
    for g, table in (("male", _MALE_MIDDLE), ("female", _FEMALE_MIDDLE)) for era in range(3)
}
_GIVEN_CHOICE = {"male": uniform(_MALE_GIVEN), "female": uniform(_FEMALE_GIVEN)}
_KHMER_GIVEN = {"male": uniform(_KHMER_GIVEN_MALE), "female": uniform(_KHMER_GIVEN_FEMALE)}
_CHAM_GIVEN = {"male": uniform(_CHAM_GIVEN_MALE), "female": uniform(_CHAM_GIVEN_FEMALE)}
_SECOND_MIDDLE = uniform(_FEMALE_SECOND_MIDDLE)
_THI, _VAN, _NEANG = nfc("Thị"), nfc("Văn"), nfc("Néang")


def _era(year):
    return 0 if year < 1980 else (1 if year < 2000 else 2)


def person_name(rng, gender, birth_year, ethnicity, family_name=None):
    """(full name, family name): 'Nguyễn Thị Ngọc Hân', 'Chau Sóc Kha', 'Thạch Thị Sa Ry'."""
    g = "female" if gender == "female" else "male"
    if ethnicity == "Khmer":
        family_name = family_name or FAMILY_CHOICE["Khmer"](rng)
        if family_name == "Chau" and g == "female":
            family_name = _NEANG
        middle = (_THI if rng.random() < 0.5 else "") if g == "female" else ""
        parts = (family_name, middle, _KHMER_GIVEN[g](rng))
    elif ethnicity == "Chăm":
        family_name = family_name or FAMILY_CHOICE["Chăm"](rng)
        parts = (family_name, _CHAM_GIVEN[g](rng))
    else:
        family_name = family_name or FAMILY_CHOICE.get(ethnicity, FAMILY_CHOICE["Kinh"])(rng)
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
_AGE_CUM = [0.0] + cumulative(AGE_BANDS[a // 5] / 5 for a in range(100))
MAX_AGE = 99
# survival from 55 to each age, read off the pyramid (for the grandparents of a household)
SURVIVAL = [min(1.0, (AGE_BANDS[a // 5] / AGE_BANDS[11]) ** 0.5) for a in range(100)]


def age_between(rng, lo, hi):
    """An age in [lo, hi] drawn from the pyramid restricted to that range."""
    lo, hi = max(0, lo), min(MAX_AGE, hi)
    if hi <= lo:
        return lo
    a, b = _AGE_CUM[lo], _AGE_CUM[hi + 1]
    age = bisect.bisect_right(_AGE_CUM, a + rng.random() * (b - a)) - 1
    return min(max(age, lo), hi)
