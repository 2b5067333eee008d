"""How the registry names a unit's association when no body of it is recorded (the issuer of
a title's credential)."""
import pytest

from services.registry.rpc import association_name


@pytest.mark.parametrize("unit_name, kind, name", [
    ("Phường Long Xuyên", "ward", "Hội Khuyến học phường Long Xuyên"),
    ("Tỉnh  An Giang", "province", "Hội Khuyến học tỉnh An Giang"),
    ("Thành phố Cần Thơ", "province", "Hội Khuyến học thành phố Cần Thơ"),
    ("Đặc khu Phú Quốc", "special_zone", "Hội Khuyến học đặc khu Phú Quốc"),
    ("Mỹ Hòa Hưng", "commune", "Hội Khuyến học xã Mỹ Hòa Hưng"),
    ("Long Xuyên", "ward", "Hội Khuyến học phường Long Xuyên"),
    ("Vùng X", "unknown", "Hội Khuyến học Vùng X"),
])
def test_the_kind_word_is_lower_cased_or_added(unit_name, kind, name):
    assert association_name(unit_name, kind) == name
