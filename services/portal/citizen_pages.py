"""A citizen's own pages: their record with their assessments and titles, the online
self-assessment (and its resubmission after a send-back), and which notifications they get.

The session's ``user.person_id`` (the provider's ``sub``) is the citizen's registry record; the
services answer a citizen about themselves only.
"""
from services.portal import assessment_forms as forms
from services.portal.assessment_pages import Names, ScoresForm, local_time, year_asked
from services.portal.pages import PageError, page
from services.portal.words import register

CITIZEN = ("citizen",)

register({
    "me_title": ("Hồ sơ của tôi", "My record"),
    "me_full_name": ("Họ và tên", "Full name"),
    "me_birth_date": ("Ngày sinh", "Date of birth"),
    "me_gender": ("Giới tính", "Gender"),
    "me_gender_male": ("Nam", "Male"),
    "me_gender_female": ("Nữ", "Female"),
    "me_gender_other": ("Khác", "Other"),
    "me_national_id": ("Số định danh", "National ID"),
    "me_phone": ("Điện thoại", "Phone"),
    "me_email": ("Thư điện tử", "Email"),
    "me_assessments": ("Các lần tự đánh giá", "My self-assessments"),
    "me_no_assessments": ("Bạn chưa tự đánh giá lần nào.", "You have not self-assessed yet."),
    "me_start_self": ("Tự đánh giá năm nay", "Self-assess this year"),
    "me_titles": ("Danh hiệu Công dân học tập", "Learning Citizen titles"),
    "me_no_titles": ("Bạn chưa có danh hiệu nào.", "You hold no title yet."),
    "me_granted_on": ("Ngày công nhận", "Granted on"),
    "me_revoked": ("Đã thu hồi ngày {day}: {reason}", "Revoked on {day}: {reason}"),
    "me_in_force": ("Còn hiệu lực", "In force"),
    "me_title_state": ("Tình trạng", "State"),
    "me_decision": ("Quyết định", "Decision"),
    "me_open": ("Xem", "Open"),
    "me_open_year": ("Xem hồ sơ năm {year}", "Open the assessment of {year}"),
    "me_preferences_title": ("Nhận thông báo", "Notifications"),
    "me_preferences_intro": ("Chọn những loại thông báo bạn muốn nhận qua thư điện tử hoặc tin "
                             "nhắn. Thông báo về quyết định liên quan đến bạn luôn được gửi.",
                             "Choose which notifications you get by email or text message. "
                             "Decisions about you are always sent."),
    "me_category": ("Loại thông báo", "Notification"),
    "me_always": ("Luôn nhận (bắt buộc)", "Always (required)"),
    "me_preferences_saved": ("Đã lưu lựa chọn nhận thông báo.",
                             "Your notification choices are saved."),
    "me_cat_congratulations": ("Thư chúc mừng khi được công nhận", "Congratulations"),
    "me_cat_recognition_decisions": ("Quyết định công nhận hoặc không công nhận",
                                     "Recognition decisions"),
    "me_cat_review_requests": ("Hồ sơ mới cần thẩm định", "Assessments to review"),
    "me_cat_target_alerts": ("Cảnh báo chỉ tiêu của đơn vị", "Target alerts"),
    "me_cat_weekly_summary": ("Bản tin tổng hợp hằng tuần", "Weekly summary"),
})


def person_of(visit):
    """The signed-in citizen's registry record; a page for an account linked to none."""
    person_id = (visit.user or {}).get("person_id")
    if not person_id:
        raise PageError(403, "asm_no_person")
    return visit.api.get("registry", f"/people/{person_id}")


class CitizenPages:
    """The pages of /me."""

    @page("GET", "/me", roles=CITIZEN)
    def my_record(self, visit, request):
        lang = visit.lang
        person = person_of(visit)
        assessments = visit.api.get("assessment", "/assessments", params={
            "person_id": person["id"], "limit": 100})["items"]
        assessments.sort(key=lambda a: (a["year"], str(a["created_at"])), reverse=True)
        rows = []
        for a in assessments:
            decision = a.get("decision") or {}
            names = {r["code"]: forms.in_language(r["name"], lang)
                     for r in decision.get("results") or ()}
            rows.append({"id": a["assessment_id"], "year": a["year"],
                         "status": forms.words_for("status", a["status"], lang),
                         "total": decision.get("total"),
                         "submitted": local_time(a["created_at"])[:10],
                         "returned": a["status"] == "returned",
                         "sent_back": sent_back_reason(visit, a)
                         if a["status"] == "returned" else None,
                         "reasons": forms.refusal_texts(a, names, lang)
                         if a["status"] == "refused" else []})
        titles = visit.api.get("assessment", "/recognitions", params={
            "person_id": person["id"], "limit": 100})["items"]
        titles.sort(key=lambda t: t["year"], reverse=True)
        return visit.render(
            "citizen/record.html", person=person, rows=rows, titles=[t | {
                "granted": local_time(t["granted_at"])[:10],
                "revoked": local_time(t["revoked_at"])[:10] if t.get("revoked_at") else None,
                "digital": forms.words_for("digital", t.get("digital_skills"), lang)}
                for t in titles],
            unit=Names(visit).unit(person.get("unit_code")),
            group=forms.words_for("group", person.get("target_group"), lang),
            gender=category_or(visit, "me_gender_", person.get("gender")))

    @page("GET", "/me/self-assessment", roles=CITIZEN)
    def self_assessment(self, visit, request):
        person = person_of(visit)
        form = ScoresForm(visit, person, year_asked(visit, request.args.get("year")))
        restored = visit.restored_form()
        return form.render("/me/self-assessment", "asm_self_title", values=restored or None)

    @page("POST", "/me/self-assessment", roles=CITIZEN)
    def submit_self_assessment(self, visit, request):
        values = request.form.to_dict()
        year, problem = forms.year_from(values.get("year"), visit.lang)
        if problem:
            raise PageError(400, "asm_err_year", first=forms.FIRST_YEAR, last=forms.LAST_YEAR)
        person = person_of(visit)
        return ScoresForm(visit, person, year).submit("/me/self-assessment", "asm_self_title",
                                                      values)

    @page("GET", "/me/preferences", roles=CITIZEN)
    def preferences(self, visit, request):
        person = person_of(visit)
        return self._preferences_page(visit, person)

    def _preferences_page(self, visit, person, errors=None, status=200):
        found = visit.api.get("notifications", f"/preferences/{person['id']}")
        categories = [c | {"words": category_or(visit, "me_cat_", c["name"])}
                      for c in found["categories"]]
        return visit.render("citizen/preferences.html", status=status, categories=categories,
                            errors=errors or {}, form_id=visit.form_id())

    @page("POST", "/me/preferences", roles=CITIZEN)
    def save_preferences(self, visit, request):
        person = person_of(visit)
        form = request.form

        def act():
            found = visit.api.get("notifications", f"/preferences/{person['id']}")
            opt_out, opt_in = forms.preference_changes(found["categories"], form)
            for name in opt_out:
                visit.api.put("notifications", f"/preferences/{person['id']}/{name}")
            for name in opt_in:
                visit.api.delete("notifications", f"/preferences/{person['id']}/{name}")
            visit.remember(notice="me_preferences_saved")
            return "/me/preferences"

        return visit.act(act, lambda errors: self._preferences_page(
            visit, person, forms.said_errors(errors, visit.lang), status=422))


def sent_back_reason(visit, assessment):
    """Why the reviewer sent an assessment back (the last send-back of its history)."""
    found = visit.api.get("assessment", f"/assessments/{assessment['assessment_id']}")
    steps = [s for s in found.get("history") or () if s.get("action") == "sent_back"]
    return steps[-1].get("reason") if steps else None


def category_or(visit, prefix, value):
    """A coded value in words (``me_gender_male``), or the value itself."""
    try:
        return visit.t(f"{prefix}{value}")
    except KeyError:
        return str(value or "")
