"""The staff pages' forms -> API bodies, their problems as word keys, the services' refusals
beside the right field, and the dashboard's allowlist (services/portal/staff_forms.py)."""
from datetime import date

import pytest

from services.portal import staff_forms as forms
from services.portal.words import WORDS, word
from services.registry.domain import national_id_for

TODAY = date(2026, 12, 3)
BORN = date(1985, 4, 2)


def t(key, **params):
    text = word(key, "vi")
    return text.format(**params) if params else text


def person_form(**changes):
    values = {"full_name": "  Nguyễn   Thị Học ", "national_id": national_id_for(89, BORN,
                                                                               "female", 12),
              "birth_date": "02/04/1985", "gender": "female", "unit_code": "AG.LX",
              "target_group": "resident", "phone": "", "email": "", "ethnicity": "Kinh"}
    return values | changes


def test_a_registration_form_becomes_the_registrys_body():
    body, problems = forms.person_body(person_form(), ["unit_staff"], today=TODAY)
    assert problems == {}
    assert body == {"full_name": "Nguyễn Thị Học", "gender": "female",
                    "birth_date": "1985-04-02", "national_id": person_form()["national_id"],
                    "unit_code": "AG.LX", "target_group": "resident", "phone": None,
                    "email": None, "ethnicity": "Kinh", "language": "vi",
                    "roles": ["unit_staff"]}


@pytest.mark.parametrize("changes, field, key", [
    ({"full_name": " "}, "full_name", "staff_err_required"),
    ({"birth_date": "1985-04-02"}, "birth_date", "staff_err_date"),
    ({"birth_date": "31/02/1985"}, "birth_date", "staff_err_date"),
    ({"birth_date": "01/01/2027"}, "birth_date", "staff_err_date_future"),
    ({"national_id": "12345"}, "national_id", "staff_err_national_id_digits"),
    ({"national_id": "099185000012"}, "national_id", "staff_err_national_id_province"),
    ({"national_id": national_id_for(89, date(1990, 4, 2), "female", 1)}, "national_id",
     "staff_err_national_id_year"),
    ({"gender": "male"}, "national_id", "staff_err_national_id_gender"),
    ({"gender": "x"}, "gender", "staff_err_choose"),
    ({"unit_code": ""}, "unit_code", "staff_err_choose"),
    ({"target_group": "everyone"}, "target_group", "staff_err_choose"),
    ({"phone": "12ab"}, "phone", "staff_err_phone"),
    ({"email": "not-an-address"}, "email", "staff_err_email"),
])
def test_what_a_person_gets_wrong_is_found_before_anything_is_sent(changes, field, key):
    body, problems = forms.person_body(person_form(**changes), [], today=TODAY)
    assert body is None
    assert key in problems[field]
    assert all(k in WORDS for keys in problems.values() for k in keys)


def test_an_unknown_role_is_refused():
    body, problems = forms.person_body(person_form(), ["mayor"], today=TODAY)
    assert body is None and problems == {"roles": ["staff_err_choose"]}


def test_problems_are_said_in_vietnamese():
    said = forms.say({"birth_date": ["staff_err_date"]}, t)
    assert said == {"birth_date": ["Ngày không hợp lệ: viết theo dạng ngày/tháng/năm, ví dụ "
                                   "04/05/1980."]}


def test_the_search_form_becomes_a_page_of_the_registrys_list():
    params, problems = forms.people_query({"q": " Học ", "national_id": "089 185 000 012",
                                           "unit_code": "AG.LX", "page": "3"})
    assert problems == {}
    assert params == {"limit": 20, "offset": 40, "q": "Học", "national_id": "089185000012",
                      "unit_code": "AG.LX"}
    params, problems = forms.people_query({"national_id": "0891"})
    assert problems == {"national_id": ["staff_err_national_id_digits"]}
    assert forms.people_query({"page": "x"})[0]["offset"] == 0


def test_paging_links():
    assert forms.pages({"total": 45}, 20, 20) == {"current": 2, "last": 3, "total": 45,
                                                  "previous": 1, "next": 3}
    assert forms.pages({"total": 0}, 20, 0) == {"current": 1, "last": 1, "total": 0,
                                                "previous": None, "next": None}


def test_a_title_form_is_held_to_the_registrys_title_rules():
    body, problems = forms.title_body({"year": "2025", "decision_number": " 12/QĐ-UBND ",
                                       "decision_date": "15/01/2026",
                                       "issued_by": "UBND  xã Mỹ Hòa Hưng"}, today=TODAY)
    assert problems == {}
    assert body == {"year": 2025, "decision_number": "12/QĐ-UBND",
                    "decision_date": "2026-01-15", "issued_by": "UBND xã Mỹ Hòa Hưng"}
    _, problems = forms.title_body({"year": "1999", "decision_number": "",
                                    "decision_date": "05/05/2027", "issued_by": ""},
                                   today=TODAY)
    assert problems == {"year": ["groups_err_year"], "decision_number": ["staff_err_required"],
                        "issued_by": ["staff_err_required"],
                        "decision_date": ["staff_err_date_future"]}
    _, problems = forms.title_body({"year": "2025", "decision_number": "1",
                                    "decision_date": "31/12/2024", "issued_by": "UBND"},
                                   today=TODAY)
    assert problems == {"decision_date": ["groups_err_before_year"]}


def test_a_closing_needs_a_year_a_unit_and_a_confirmation():
    assert forms.closing_request({"year": "2026", "unit_code": "AG.LX", "confirm": "yes"}) \
        == ((2026, "AG.LX"), {})
    assert forms.closing_request({"year": "1999", "unit_code": ""})[1] == {
        "year": ["closing_err_year"], "unit_code": ["staff_err_choose"],
        "confirm": ["closing_err_confirm"]}


def test_a_services_refusal_lands_beside_its_field_in_vietnamese():
    # as words.field_errors flattens a registry 409 and an assessment 409
    taken = {"national_id": ["a person with this national ID exists"],
             "person_id": ["3f0c..."], "code": ["national_id_taken"]}
    tidy = forms.tidy_refusal(taken, t)
    assert tidy["national_id"] == [t("people_err_taken")]
    assert tidy["person_id"] == ["3f0c..."]     # the page links the existing record
    assert "code" not in tidy
    not_over = {"year": ["year 2031 has not begun"], "code": ["year_not_over"]}
    assert forms.tidy_refusal(not_over, t) == {"year": [t("closing_err_not_over")]}
    deciding = {"unit_code": ["closing a year (khóa sổ năm) is the act of the association "
                              "that decides (Hội Khuyến học tỉnh): close it for the province"]}
    assert forms.tidy_refusal(deciding, t) == {"unit_code": [t("closing_err_deciding_body")]}
    twice = {"year": ["the group already has a recorded title for 2025: withdraw it first"]}
    assert forms.tidy_refusal(twice, t) == {"year": [t("groups_err_year_taken")]}
    assert forms.tidy_refusal({"birth": ["something new"]}, t, {"birth": "birth_date"}) == \
        {"birth_date": ["something new"]}


@pytest.mark.parametrize("path, allowed", [
    ("units", True),
    ("units/AG/progress", True),
    ("units/AG.LX/breakdown", True),
    ("units/AG/series", True),
    ("units/AG/review", True),
    ("units/AG/report.csv", True),
    ("units/AG/report.xlsx", True),
    ("units/AG/review-report.xlsx", True),
    ("lag", False),
    ("dashboard", False),
    ("openapi.json", False),
    ("units/AG", False),
    ("units/../lag", False),
    ("units/AG/progress/../../lag", False),
    ("units/A G/progress", False),
    ("", False),
])
def test_the_dashboard_forwards_only_reportings_read_routes(path, allowed):
    assert forms.dashboard_route(path) is allowed


def test_the_portal_points_the_dashboards_data_calls_at_itself():
    from pathlib import Path
    html = (Path(forms.__file__).resolve().parents[1] / "reporting" / "dashboard.html") \
        .read_text(encoding="utf-8")
    served = forms.portal_dashboard(html)
    assert '<body data-api="/dashboard/data">' in served
    assert served.count("<body data-api=") == 1
    assert "?token=" not in html and 'params.get("token")' not in html
    with pytest.raises(ValueError):
        forms.portal_dashboard("<body>")


def test_every_word_is_said_in_both_languages():
    for key in WORDS:
        if key.startswith(("staff_", "people_", "imports_", "groups_", "closing_", "gkind_",
                           "tg_", "gender_", "prole_", "astatus_", "dashboard_")):
            vi, en = WORDS[key]
            assert vi.strip() and en.strip(), key
