"""What the portal says: Vietnamese first, the services' field errors translated and placed."""
import pytest

from services.portal import words


def test_every_word_has_a_vietnamese_and_an_english_text():
    assert all(isinstance(vi, str) and vi and isinstance(en, str) and en
               for vi, en in words.WORDS.values())


def test_a_services_validation_errors_land_on_their_fields_in_vietnamese():
    errors = {"birth_date": ["Not a valid date."], "scores": {"TC1.1": ["Missing data for "
                                                                        "required field."]},
              "unit_code": ["unit AG.XX is not registered"]}
    assert words.field_errors(errors, "vi") == {
        "birth_date": ["Ngày không hợp lệ (dd/mm/yyyy)."],
        "scores.TC1.1": ["Bắt buộc nhập."],
        "unit_code": ["unit AG.XX is not registered"]}
    assert words.field_errors(errors, "en")["scores.TC1.1"] == ["Required."]


def test_a_word_said_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        words.register({"home": ("Trang chủ", "Home")})
    with pytest.raises(ValueError, match="vietnamese"):
        words.register({"unheard_of_key": "only one"})
