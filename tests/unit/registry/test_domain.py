"""Who a person is: national ID, names, adulthood, the unit path (pure core)."""
from datetime import date

import pytest

from services.registry import domain


@pytest.mark.parametrize("nid, born, gender, problems", [
    ("089085000123", date(1985, 4, 2), "male", []),
    ("089185000123", date(1985, 4, 2), "female", []),
    ("089205000123", date(2005, 1, 1), "male", []),
    ("089305000123", date(2005, 1, 1), "female", []),
    ("089185000123", date(1985, 4, 2), "male", ["digit 4 does not match the gender"]),
    ("089086000123", date(1985, 4, 2), "male", ["digits 4-6 do not match the birth year"]),
    ("08908500012", date(1985, 4, 2), "male", ["must be exactly 12 digits"]),
    ("08908500012a", date(1985, 4, 2), "male", ["must be exactly 12 digits"]),
    ("000085000123", date(1985, 4, 2), "male",
     ["first three digits must be a province code from 001 to 096"]),
    ("097085000123", None, None, ["first three digits must be a province code from 001 to 096"]),
])
def test_national_id(nid, born, gender, problems):
    assert domain.national_id_problems(nid, born, gender) == problems


def test_problems_never_repeat_the_number():
    for message in domain.national_id_problems("089185000123", date(1990, 1, 1), "male"):
        assert "089185000123" not in message


@pytest.mark.parametrize("born, gender", [(date(1985, 4, 2), "male"),
                                          (date(2007, 12, 31), "female")])
def test_generated_ids_are_valid(born, gender):
    nid = domain.national_id_for(89, born, gender, 42)
    assert domain.national_id_problems(nid, born, gender) == []


def test_names_are_nfc_with_single_spaces():
    decomposed = "Nguye\u0302\u0303n  Va\u0306n   An "
    assert domain.normalise_name(decomposed) == "Nguyễn Văn An"


@pytest.mark.parametrize("born, on, adult", [
    (date(2007, 6, 1), date(2025, 5, 31), False),
    (date(2007, 6, 1), date(2025, 6, 1), True),
    (date(2008, 2, 29), date(2026, 2, 28), False),
])
def test_adult_on_reference_date(born, on, adult):
    assert domain.is_adult(born, on) is adult


def test_future_birth_date_and_bad_id_reported_together():
    with pytest.raises(domain.InvalidPerson) as err:
        domain.check_new_person("12", date(2030, 1, 1), "male", today=date(2026, 1, 1))
    assert set(err.value.errors) == {"birth_date", "national_id"}


def test_unit_path_root_first_and_cycles_detected():
    parents = {"AG": None, "AG.LX": "AG", "AG.LX.1": "AG.LX"}
    assert domain.unit_path(parents, "AG.LX.1") == ["AG", "AG.LX", "AG.LX.1"]
    with pytest.raises(ValueError):
        domain.unit_path({"A": "B", "B": "A"}, "A")


@pytest.mark.parametrize("nid", ["08908500012²", "０８９０８５０００１２３", "08908500012٣"])
def test_national_id_refuses_non_ascii_digits(nid):
    """str.isdigit() is true for superscripts and other scripts' digits."""
    assert domain.national_id_problems(nid) == ["must be exactly 12 digits"]
