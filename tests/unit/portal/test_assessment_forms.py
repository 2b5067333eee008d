"""The assessment pages' pure parts: forms into API bodies, the service's answers into
words (Vietnamese first)."""
from services.portal import assessment_forms as forms

INDICATORS = [{"code": "TC1.1", "max": 10}, {"code": "TC2.2", "max": 10}]
CRITERIA = {
    "version": "324/QĐ-KHVN", "title": "Công dân học tập (Learning Citizen)",
    "indicators": [
        {"code": "TC1.1", "name": "Đọc sách, báo, cập nhật thông tin (reading, keeping up "
                                  "with information)", "max": 10},
        {"code": "TC2.3", "name": "Vận dụng toán học vào công việc (numeracy applied to work)",
         "max": 10}],
    "variants": {
        "student": {"form": "Mẫu 4: Học sinh, sinh viên, học viên (students)",
                    "names": {"TC2.3": "Vận dụng toán học vào học tập (numeracy applied to "
                                       "study)"}},
        "resident": {"form": "Mẫu 1: Người dân ở xã, phường, đặc khu (residents)"}}}


def test_names_are_split_into_vietnamese_and_english():
    assert forms.split_name("Ngoại ngữ (foreign language)") == ("Ngoại ngữ", "foreign language")
    assert forms.split_name("Không ngoặc") == ("Không ngoặc", "Không ngoặc")
    assert forms.in_language("Ngoại ngữ (foreign language)", "en") == "Foreign language"
    assert forms.in_language("Ngoại ngữ (foreign language)", "vi") == "Ngoại ngữ"


def test_indicators_take_the_target_groups_wording():
    student = forms.indicators_of(CRITERIA, "student", "vi")
    assert [(i["number"], i["name"]) for i in student] == [
        ("1.1", "Đọc sách, báo, cập nhật thông tin"), ("2.3", "Vận dụng toán học vào học tập")]
    resident = forms.indicators_of(CRITERIA, "resident", "vi")
    assert resident[1]["name"] == "Vận dụng toán học vào công việc"
    assert forms.form_title(CRITERIA, "student", "vi") == "Mẫu 4: Học sinh, sinh viên, học viên"
    assert forms.form_title(CRITERIA, "student", "en") == "Form 4: Students"


def test_scores_each_required_and_within_the_scale():
    scores, errors = forms.scores_from({"scores.TC1.1": "9", "scores.TC2.2": "7"},
                                       INDICATORS, "vi")
    assert (scores, errors) == ({"TC1.1": 9, "TC2.2": 7}, {})
    scores, errors = forms.scores_from({"scores.TC1.1": "11", "scores.TC2.2": ""},
                                       INDICATORS, "vi")
    assert scores == {}
    assert errors == {"scores.TC1.1": ["Chọn điểm từ 0 đến 10."],
                      "scores.TC2.2": ["Chọn điểm từ 0 đến 10."]}
    for bad in ("-1", "7.5", "bảy", " ", "1e1"):
        assert forms.score_of(bad, 10) is None, bad
    assert forms.scores_from({"scores.TC1.1": "x"}, INDICATORS[:1], "en")[1] == {
        "scores.TC1.1": ["Choose a score from 0 to 10."]}


def test_the_year():
    assert forms.year_from("2025", "vi") == (2025, None)
    assert forms.year_from("2020", "vi")[1] == "Năm đánh giá phải là số từ 2021 đến 2100."
    assert forms.year_from("năm nay", "vi")[0] is None


def test_adjustments_only_the_changed_scores_each_with_a_reason():
    current = {"TC1.1": 9, "TC2.2": 7}
    form = {"adjust.TC1.1": "9", "adjust.TC2.2": "5", "why.TC2.2": "Chưa có chứng chỉ"}
    assert forms.adjustments_from(form, INDICATORS, current, "vi") == (
        {"TC2.2": {"score": 5, "reason": "Chưa có chứng chỉ"}}, {})
    _, errors = forms.adjustments_from({"adjust.TC2.2": "5"}, INDICATORS, current, "vi")
    assert errors == {"why.TC2.2": ["Ghi lý do điều chỉnh điểm chỉ số này."]}
    _, errors = forms.adjustments_from({"adjust.TC2.2": "12", "why.TC2.2": "x"}, INDICATORS,
                                       current, "vi")
    assert errors == {"adjust.TC2.2": ["Chọn điểm từ 0 đến 10."]}
    _, errors = forms.adjustments_from({"adjust.TC1.1": "9"}, INDICATORS, current, "vi")
    assert list(errors) == ["_form"] and "Chưa có điểm nào được thay đổi" in errors["_form"][0]
    _, errors = forms.adjustments_from({"adjust.TC2.2": "5", "why.TC2.2": "x" * 501},
                                       INDICATORS, current, "vi")
    assert errors == {"why.TC2.2": ["Tối đa 500 ký tự."]}


def test_a_review_refusal_lands_beside_its_indicator():
    assert forms.review_field("adjustments.TC1.1.value.reason") == "why.TC1.1"
    assert forms.review_field("adjustments.TC1.1.value.score") == "adjust.TC1.1"
    assert forms.review_field("adjustments") == "_form"
    assert forms.review_field("reason") == "reason"
    said = forms.said_errors({"adjustments": ["adjust needs at least one score"],
                              "reason": ["say why the assessment is sent back"]}, "vi",
                             forms.review_field)
    assert said == {"_form": [forms.word("asm_err_no_change", "vi")],
                    "reason": ["Ghi lý do trả lại để người dân biết cần sửa gì."]}


def test_the_services_problems_in_words():
    assert forms.say_problem("must be a whole number from 0 to 10", "vi") == \
        "Chọn điểm từ 0 đến 10."
    assert forms.say_problem("only a submitted assessment can be reviewed; this one is "
                             "reviewed", "vi").startswith("Hồ sơ này không còn chờ thẩm định")
    assert forms.say_problem("refusing an assessment that meets the criteria needs the "
                             "reviewer's reasons", "en").startswith("The assessment meets")
    assert forms.say_problem("something new", "vi") == "something new"


def test_unknown_fields_join_the_summary():
    assert forms.fold_errors({"scores.TC1.1": ["a"], "person_id": ["b"], "_form": ["c"]},
                             {"scores.TC1.1"}) == {"scores.TC1.1": ["a"], "_form": ["b", "c"]}


def test_reasons_one_a_line():
    assert forms.reasons_from("  Lý do một \n\n Lý do hai", "vi") == (
        ["Lý do một", "Lý do hai"], {})
    assert forms.reasons_from("\n".join(["x"] * 11), "vi")[1] == {
        "reasons": ["Tối đa 10 lý do (mỗi dòng một lý do)."]}
    assert forms.note_from("  ", "reason", "vi", "asm_err_send_back_reason")[1] == {
        "reason": ["Ghi lý do trả lại để người dân biết cần sửa gì."]}
    assert forms.note_from(" Thiếu minh chứng ", "reason", "vi") == ("Thiếu minh chứng", {})


def test_refusal_reasons_said_from_data():
    names = {"TC2.2": "Ngoại ngữ"}
    total = {"kind": "total_below", "total": 79, "minimum": 80}
    below = {"kind": "indicator_below", "indicator": "TC2.2", "score": 4, "maximum": 10,
             "minimum": 5}
    note = {"kind": "reviewer", "note": "Chưa tham gia sinh hoạt"}
    assessment = {"refusal_details": [total, below, note],
                  "refusal_reasons": ["total 79 is under 80"]}
    assert forms.refusal_texts(assessment, names, "vi") == [
        "Tổng điểm 79, chưa đạt mức 80 điểm",
        "Chỉ số 2.2 (Ngoại ngữ) đạt 4/10, dưới mức tối thiểu 5",
        "Chưa tham gia sinh hoạt"]
    assert forms.reason_text(total, names, "en") == "Total 79 is under the required 80"
    # a refusal decided before reasons were data: its sentences, as they are
    assert forms.refusal_texts({"refusal_details": None, "refusal_reasons": ["old"]}, names,
                               "vi") == ["old"]


def test_what_an_evaluation_lacks():
    decision = {"total": 79, "min_total": 80, "results": [
        {"code": "TC2.2", "score": 4, "maximum": 10, "minimum": 5, "met": False},
        {"code": "TC1.1", "score": 10, "maximum": 10, "minimum": 5, "met": True}]}
    assert forms.shortfalls(decision, {"TC2.2": "Ngoại ngữ"}, "vi") == [
        "Tổng điểm 79, chưa đạt mức 80 điểm",
        "Chỉ số 2.2 (Ngoại ngữ) đạt 4/10, dưới mức tối thiểu 5"]
    assert forms.shortfalls({"total": 81, "min_total": 80, "results": []}, {}, "vi") == []


def test_history_details_in_words():
    assert forms.adjustment_text("TC1.1: 9 -> 10 (đọc sách đều)", "vi") == \
        "Chỉ số 1.1: 9 → 10 (đọc sách đều)"
    assert forms.adjustment_text("odd note", "vi") == "odd note"
    assert forms.evidence_text("confirmed by mooc 2025-03-20, course 2025-05-02", "vi") == \
        "Khóa học trực tuyến (20/03/2025); Khóa học (02/05/2025)"
    assert forms.words_for("status", "returned", "vi") == "Bị trả lại để sửa"
    assert forms.words_for("status", "returned", "en") == "Sent back for changes"
    assert forms.words_for("status", "new_status", "vi") == "new_status"


def test_preference_changes_leave_mandatory_categories_alone():
    categories = [{"name": "congratulations", "mandatory": False, "opted_out": False},
                  {"name": "weekly_summary", "mandatory": False, "opted_out": True},
                  {"name": "recognition_decisions", "mandatory": True, "opted_out": False}]
    assert forms.preference_changes(categories, {"want.weekly_summary": "1"}) == (
        ["congratulations"], ["weekly_summary"])
    assert forms.preference_changes(categories, {"want.congratulations": "1"}) == ([], [])
