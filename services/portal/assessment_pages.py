"""The assessment pages of staff: a paper self-assessment entered on a citizen's behalf, the
reviewers' queue and review form, the decisions awaiting the commune association, and one
assessment with its evaluation and history (which citizens open too, for their own).

What a user may see and do is what the assessment service allows with their token; a form
offers only the steps the assessment's status allows, and the service has the last word.
"""
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cdht.auth import EVERYONE, REVIEWERS, STAFF
from services.portal import assessment_forms as forms
from services.portal.backend import Refused
from services.portal.pages import PageError, page
from services.portal.words import register

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
QUEUE_PAGE = 20

register({
    "asm_paper_title": ("Nhập phiếu tự đánh giá giấy", "Enter a paper self-assessment"),
    "asm_self_title": ("Tự đánh giá", "Self-assessment"),
    "asm_for_person": ("Người tự đánh giá", "Citizen"),
    "asm_year": ("Năm đánh giá", "Year assessed"),
    "asm_show_year": ("Xem năm này", "Show this year"),
    "asm_form": ("Mẫu phiếu", "Form"),
    "asm_criteria_version": ("Bộ tiêu chí", "Criteria set"),
    "asm_scale": ("Mỗi chỉ số chấm từ 0 đến {maximum} điểm. Đạt danh hiệu khi tổng điểm từ "
                  "{min_total} trở lên và không chỉ số nào dưới {minimum} điểm.",
                  "Each indicator is scored from 0 to {maximum}. The title is earned with a "
                  "total of at least {min_total} and no indicator under {minimum}."),
    "asm_indicators": ("Các chỉ số", "Indicators"),
    "asm_choose": ("— chọn điểm —", "— choose —"),
    "asm_suggested": ("Gợi ý {score} điểm theo hoạt động học tập đã ghi nhận: {evidence}",
                      "{score} points suggested by the recorded learning activities: "
                      "{evidence}"),
    "asm_resubmit_intro": ("Hồ sơ đã bị trả lại với lý do: «{reason}». Sửa điểm rồi gửi lại.",
                           "The assessment was sent back: “{reason}”. Change the scores and "
                           "send it again."),
    "asm_blocked": ("Năm này đã có hồ sơ: {status}.", "This year already has an assessment: "
                    "{status}."),
    "asm_open_assessment": ("Xem hồ sơ", "Open the assessment"),
    "asm_sent": ("Đã gửi bản tự đánh giá. Dưới đây là kết quả chấm tạm thời.",
                 "The self-assessment is sent. Below is its provisional evaluation."),
    "asm_no_person": ("Tài khoản của bạn chưa gắn với hồ sơ người dân nào.",
                      "Your account is not linked to a citizen's record."),
    "asm_err_not_official": ("Bạn không phải cán bộ Hội Khuyến học ở đơn vị của người này (hoặc "
                             "cấp trên) nên không thể nhập thay.",
                             "You are not an official of the association at this person's "
                             "unit or above, so you cannot enter it for them."),
    "asm_err_not_reviewer": ("Bạn không thẩm định được hồ sơ này: chỉ cán bộ Hội Khuyến học ở "
                             "đơn vị của người dân (hoặc cấp trên), hay người đứng đầu đơn vị "
                             "học tập của họ, mới được thẩm định.",
                             "You cannot review this assessment: only an official of the "
                             "association at the citizen's unit or above, or the head of their "
                             "learning unit, reviews it."),
    "asm_err_not_decider": ("Bạn không quyết định được hồ sơ này: chỉ cán bộ của Hội Khuyến "
                            "học có thẩm quyền công nhận mới được quyết định.",
                            "You cannot decide this assessment: only an official of the "
                            "association that recognises the title decides."),
    # the queues
    "asm_review_title": ("Hồ sơ chờ thẩm định", "Assessments waiting for review"),
    "asm_decisions_title": ("Hồ sơ chờ công nhận", "Assessments waiting for a decision"),
    "asm_queue_count": ("{n} hồ sơ", "{n} assessments"),
    "asm_all_years": ("Tất cả các năm", "All years"),
    "asm_filter": ("Lọc", "Filter"),
    "asm_person": ("Họ tên", "Name"),
    "asm_unit": ("Đơn vị", "Unit"),
    "asm_total": ("Tổng điểm", "Total"),
    "asm_provisional": ("Kết quả chấm", "Evaluation"),
    "asm_submitted_on": ("Ngày nộp", "Submitted on"),
    "asm_status": ("Trạng thái", "Status"),
    "asm_passes": ("Đạt", "Passes"),
    "asm_fails": ("Chưa đạt", "Does not pass"),
    "asm_unknown_person": ("(không xem được tên)", "(name not shown)"),
    "asm_official": ("Cán bộ Hội Khuyến học", "Association official"),
    # one assessment
    "asm_assessment_title": ("Hồ sơ tự đánh giá năm {year}", "Self-assessment of {year}"),
    "asm_target_group": ("Đối tượng", "Target group"),
    "asm_person_record": ("Xem hồ sơ người dân", "Open the person's record"),
    "asm_evaluation": ("Kết quả chấm điểm", "Evaluation"),
    "asm_indicator": ("Chỉ số", "Indicator"),
    "asm_self_score": ("Tự chấm", "Self-scored"),
    "asm_score": ("Điểm", "Score"),
    "asm_result": ("Kết quả", "Result"),
    "asm_met": ("Đạt", "Met"),
    "asm_not_met": ("Chưa đạt", "Not met"),
    "asm_evidence": ("Minh chứng", "Evidence"),
    "asm_total_line": ("Tổng điểm: {total}/{maximum} (cần từ {min_total}, không chỉ số nào "
                       "dưới {minimum}).",
                       "Total: {total}/{maximum} (at least {min_total} needed, no indicator "
                       "under {minimum})."),
    "asm_passed_line": ("Đạt tiêu chí danh hiệu Công dân học tập.",
                        "Meets the criteria of the Learning Citizen title."),
    "asm_failed_line": ("Chưa đạt tiêu chí, vì:", "Does not meet the criteria, because:"),
    "asm_digital_skills": ("Kỹ năng số", "Digital skills"),
    "asm_refusal_reasons": ("Lý do không công nhận", "Why it was not recognised"),
    "asm_history": ("Quá trình xử lý", "History"),
    "asm_when": ("Thời gian", "When"),
    "asm_step": ("Bước", "Step"),
    "asm_by": ("Người thực hiện", "By"),
    "asm_details": ("Chi tiết", "Details"),
    "asm_sent_back_reason": ("Lý do trả lại: {reason}", "Sent back because: {reason}"),
    "asm_resubmit_link": ("Sửa và gửi lại", "Change and send again"),
    # the review form
    "asm_review_heading": ("Thẩm định hồ sơ", "Review"),
    "asm_accept_intro": ("Điểm tự chấm đúng với thực tế: chấp nhận và chuyển lên để công "
                         "nhận.", "The scores are right: accept them and pass the assessment "
                         "on for a decision."),
    "asm_accept": ("Chấp nhận", "Accept"),
    "asm_adjust_intro": ("Đổi điểm những chỉ số chưa đúng; mỗi điểm đổi cần ghi lý do.",
                         "Change the scores that are not right, each with its reason."),
    "asm_new_score": ("Điểm mới của chỉ số {number}", "New score of indicator {number}"),
    "asm_why": ("Lý do đổi điểm chỉ số {number}", "Why indicator {number} changes"),
    "asm_adjust": ("Điều chỉnh", "Adjust"),
    "asm_send_back_intro": ("Trả hồ sơ để người dân sửa và gửi lại.",
                            "Send it back to the citizen to change and send again."),
    "asm_send_back_reason": ("Lý do trả lại", "Why it is sent back"),
    "asm_send_back": ("Trả lại", "Send back"),
    "asm_reviewed": ("Đã ghi kết quả thẩm định.", "The review is recorded."),
    # the decision form
    "asm_decision_heading": ("Quyết định công nhận", "Decision"),
    "asm_recognise_intro": ("Hồ sơ đạt tiêu chí: công nhận danh hiệu Công dân học tập năm "
                            "{year}.", "The assessment meets the criteria: grant the Learning "
                            "Citizen title of {year}."),
    "asm_recognise": ("Công nhận", "Recognise"),
    "asm_refuse_intro": ("Không công nhận: lý do theo tiêu chí được ghi tự động; thêm lý do "
                         "của Hội (mỗi dòng một lý do).",
                         "Refuse: the criteria's reasons are recorded by themselves; add the "
                         "association's own (one per line)."),
    "asm_rule_reasons": ("Lý do theo tiêu chí:", "The criteria's reasons:"),
    "asm_refuse_reasons": ("Lý do của Hội Khuyến học", "The association's reasons"),
    "asm_refuse": ("Không công nhận", "Refuse"),
    "asm_decided": ("Đã ghi quyết định.", "The decision is recorded."),
})


def local_time(text):
    """An API timestamp as the people here read it: ``03/12/2026 14:05`` (Vietnam's time)."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TIME)
    return moment.strftime("%d/%m/%Y %H:%M")


class Names:
    """People's and units' names for one page (each asked once). A name the user may not
    read (a citizen asking about an official, a unit outside the scope) is None."""

    def __init__(self, visit):
        self.visit, self.people, self.units = visit, {}, {}

    def person(self, person_id):
        key = str(person_id)
        if key not in self.people:
            try:
                self.people[key] = self.visit.api.get("registry", f"/people/{key}")
            except Refused:
                self.people[key] = None
        return self.people[key]

    def person_name(self, person_id):
        found = self.person(person_id) if person_id else None
        return found.get("full_name") if found else None

    def unit(self, code):
        if not code:
            return ""
        if code not in self.units:
            try:
                self.units[code] = self.visit.api.get("registry", f"/units/{quote(code)}")[
                    "name"]
            except Refused:
                self.units[code] = code
        return self.units[code]


def actor_name(visit, names, actor_id, person_id):
    """Who took a step: their name where the user may read it; the citizen themselves, or
    "an association official" for someone the user may not look up."""
    if not actor_id:
        return ""
    name = names.person_name(actor_id)
    if name:
        return name
    return "" if str(actor_id) == str(person_id) else visit.t("asm_official")


def not_official(exc, visit, key="asm_err_not_official"):
    """A 403 of the assessment service to someone acting for another person, as the form's
    error (Visit.act shows 422s on the form, with nothing written)."""
    return Refused(422, exc.message, {"_form": [visit.t(key)]})


class ScoresForm:
    """The self-assessment form, the same on paper (staff) and online (the citizen): the
    criteria set's indicators in the wording of the person's target group, prefilled from
    their learning activities; a new submission, or the resubmission of one sent back."""

    def __init__(self, visit, person, year):
        self.visit, self.person, self.year = visit, person, year
        self.person_id = str(person["id"])
        self.problem = None
        self.existing = self._latest()
        self.mode = self._mode()
        self.criteria, self.prefill, self.indicators = None, {}, []
        if self.mode in ("new", "resubmit"):
            self._load_criteria()

    def _latest(self):
        found = self.visit.api.get("assessment", "/assessments", params={
            "person_id": self.person_id, "year": self.year, "limit": 50})["items"]
        found = [a for a in found if a["status"] != "superseded"]
        return max(found, key=lambda a: str(a["created_at"])) if found else None

    def _mode(self):
        status = (self.existing or {}).get("status")
        if status == "returned":
            return "resubmit"
        if status in ("submitted", "reviewed", "recognised"):
            return "blocked"
        return "new"

    def _load_criteria(self):
        lang = self.visit.lang
        try:
            self.prefill = self.visit.api.get(
                "assessment", f"/people/{self.person_id}/prefill", params={"year": self.year})
        except Refused as exc:
            if exc.status not in (400, 422):
                raise
            self.problem = forms.said_errors(exc.errors, lang).get("year") or [
                forms.say_problem(exc.message, lang)]
            self.mode = "none"
            return
        version = (self.existing or {}).get("criteria_version") or \
            self.prefill["criteria_version"]
        self.criteria = self.visit.api.get("assessment", f"/criteria/{quote(version)}")
        group = self.person.get("target_group")
        evidence = self.prefill.get("evidence") or {}
        suggested = self.prefill.get("scores") or {}
        self.indicators = [i | {
            "suggested": suggested.get(i["code"]),
            "evidence": forms.evidence_text(", ".join(evidence.get(i["code"], ())), lang)}
            for i in forms.indicators_of(self.criteria, group, lang)]

    def values(self):
        """What the form starts with: the returned assessment's scores, else the suggestions."""
        if self.mode == "resubmit":
            given = self.existing.get("self_scores") or self.existing.get("scores") or {}
        else:
            given = {i["code"]: i["suggested"] for i in self.indicators}
        return {f"scores.{code}": score for code, score in given.items() if score is not None}

    def sent_back_reason(self):
        steps = [s for s in (self.existing or {}).get("history") or ()
                 if s.get("action") == "sent_back"]
        return steps[-1].get("reason") if steps else None

    def render(self, action, title_key, values=None, errors=None, status=200):
        visit = self.visit
        if self.mode == "resubmit" and "history" not in self.existing:
            self.existing = visit.api.get("assessment",
                                          f"/assessments/{self.existing['assessment_id']}")
        this_year = date.today().year
        return visit.render(
            "assessment/scores_form.html", status=status, title_key=title_key,
            action=action, form=self, person=self.person,
            back=f"/people/{self.person_id}" if action.startswith("/people/") else "/me",
            group=forms.words_for("group", self.person.get("target_group"), visit.lang),
            unit=Names(visit).unit(self.person.get("unit_code")),
            years=list(range(this_year, max(forms.FIRST_YEAR, this_year - 4) - 1, -1)),
            form_title=forms.form_title(self.criteria, self.person.get("target_group"),
                                        visit.lang) if self.criteria else "",
            status_words=forms.words_for("status", (self.existing or {}).get("status"),
                                         visit.lang),
            values=self.values() if values is None else values,
            errors=forms.fold_errors(errors, {f"scores.{i['code']}" for i in self.indicators}
                                     | {"year"}),
            form_id=visit.form_id())

    def submit(self, action, title_key, values):
        """Check the form, then submit (or resubmit) it once; the result's page after."""
        visit = self.visit
        if self.mode == "none":  # no criteria set for the year: the page says so
            return self.render(action, title_key, values, status=422)
        scores, errors = forms.scores_from(values, self.indicators, visit.lang)
        if errors:
            return self.render(action, title_key, values, errors, status=422)

        def act():
            if self.mode not in ("new", "resubmit"):  # not a double click: act() said so
                raise Refused(409, "blocked", {"_form": [visit.t("asm_blocked", status=(
                    forms.words_for("status", (self.existing or {}).get("status"),
                                    visit.lang)))]})
            try:
                if self.mode == "resubmit":
                    done = visit.api.put("assessment", f"/assessments/"
                                         f"{self.existing['assessment_id']}/scores",
                                         {"scores": scores})
                else:
                    done = visit.api.post("assessment", "/assessments", {
                        "person_id": self.person_id, "year": self.year, "scores": scores,
                        "criteria_version": self.criteria["version"]})
            except Refused as exc:
                if exc.status == 403:
                    raise not_official(exc, visit) from None
                raise
            visit.remember(notice="asm_sent")
            return f"/assessments/{done['assessment_id']}"

        return visit.act(act, lambda errors: self.render(
            action, title_key, values, forms.said_errors(errors, visit.lang), status=422))


def year_asked(visit, text):
    """The year a page is about: the one asked for, else this year."""
    if not text:
        return date.today().year
    year, problem = forms.year_from(text, visit.lang)
    if problem:
        raise PageError(400, "asm_err_year", first=forms.FIRST_YEAR, last=forms.LAST_YEAR)
    return year


class AssessmentPages:
    """Pages of the individual workflow for staff and reviewers (and the assessment's page,
    which a citizen opens for their own)."""

    # -- a paper self-assessment -------------------------------------------------------------
    @page("GET", "/people/<uuid:person_id>/paper-assessment", roles=STAFF)
    def paper_assessment(self, visit, request, person_id):
        person = visit.api.get("registry", f"/people/{person_id}")
        form = ScoresForm(visit, person, year_asked(visit, request.args.get("year")))
        restored = visit.restored_form()
        return form.render(f"/people/{person_id}/paper-assessment", "asm_paper_title",
                           values=restored or None)

    @page("POST", "/people/<uuid:person_id>/paper-assessment", roles=STAFF)
    def submit_paper_assessment(self, visit, request, person_id):
        values = request.form.to_dict()
        year, problem = forms.year_from(values.get("year"), visit.lang)
        if problem:
            raise PageError(400, "asm_err_year", first=forms.FIRST_YEAR, last=forms.LAST_YEAR)
        person = visit.api.get("registry", f"/people/{person_id}")
        return ScoresForm(visit, person, year).submit(
            f"/people/{person_id}/paper-assessment", "asm_paper_title", values)

    # -- the queues --------------------------------------------------------------------------
    @page("GET", "/review", roles=REVIEWERS)
    def review_queue(self, visit, request):
        return self._queue(visit, request, "submitted", "asm_review_title")

    @page("GET", "/decisions", roles=STAFF)
    def decision_queue(self, visit, request):
        return self._queue(visit, request, "reviewed", "asm_decisions_title")

    def _queue(self, visit, request, status, title_key):
        params = {"status": status, "limit": QUEUE_PAGE}
        year = request.args.get("year") or ""
        if year:
            params["year"] = year_asked(visit, year)
        try:
            offset = max(0, int(request.args.get("offset") or 0))
        except ValueError:
            offset = 0
        params["offset"] = offset
        found = visit.api.get("assessment", "/assessments", params=params)
        names = Names(visit)
        rows = [{"id": a["assessment_id"], "year": a["year"],
                 "name": names.person_name(a["person_id"]) or visit.t("asm_unknown_person"),
                 "unit": names.unit(a["unit_code"]),
                 "total": (a.get("decision") or {}).get("total"),
                 "passed": (a.get("decision") or {}).get("passed"),
                 "submitted": local_time(a["created_at"])[:10]}
                for a in found["items"]]
        this_year = date.today().year
        return visit.render("assessment/queue.html", title_key=title_key,
                            rows=rows, total=found["total"], offset=offset, limit=QUEUE_PAGE,
                            year=str(year), years=list(range(this_year, forms.FIRST_YEAR - 1,
                                                              -1)))

    # -- one assessment ----------------------------------------------------------------------
    @page("GET", "/assessments/<uuid:assessment_id>", roles=EVERYONE)
    def assessment(self, visit, request, assessment_id):
        return self._assessment_page(visit, assessment_id)

    def _assessment_page(self, visit, assessment_id, *, failed=None, values=None, errors=None,
                         status=200):
        lang = visit.lang
        found = visit.api.get("assessment", f"/assessments/{assessment_id}")
        decision = found.get("decision") or {}
        results = decision.get("results") or []
        indicator_names = {r["code"]: forms.in_language(r["name"], lang) for r in results}
        names = Names(visit)
        history = [{"when": local_time(s.get("at")),
                    "step": forms.words_for("step", s.get("action"), lang),
                    "verdict": forms.words_for("verdict", s["verdict"], lang)
                    if s.get("verdict") else "",
                    "by": actor_name(visit, names, s.get("actor_id"), found["person_id"]),
                    "adjustments": [forms.adjustment_text(n, lang)
                                    for n in s.get("adjustments") or ()],
                    "reason": s.get("reason"),
                    "reasons": [forms.reason_text(r, indicator_names, lang)
                                for r in (s.get("details") or s.get("reasons") or ())]}
                   for s in found.get("history") or ()]
        role = visit.role
        rows = [r | {"name": indicator_names[r["code"]],
                     "number": forms.indicator_number(r["code"]),
                     "self_score": (found.get("self_scores") or {}).get(r["code"]),
                     "evidence_text": forms.evidence_text(r.get("evidence"), lang)
                     if r.get("evidence") else ""}
                for r in results]
        sent_back = [s for s in found.get("history") or () if s.get("action") == "sent_back"]
        shown = {"adjust": {f"{kind}.{r['code']}" for r in results for kind in ("adjust", "why")},
                 "send_back": {"reason"}, "refuse": {"reasons"}}.get(failed, set())
        ids = {key: visit.form_id() for key in ("accept", "adjust", "send_back", "recognise",
                                                "refuse")}
        return visit.render(
            "assessment/assessment.html", status=status, a=found, decision=decision,
            rows=rows, history=history, submitted=local_time(found["created_at"])[:10],
            person_name=names.person_name(found["person_id"])
            or visit.t("asm_unknown_person"), unit=names.unit(found["unit_code"]),
            group=forms.words_for("group", found.get("target_group"), lang),
            status_words=forms.words_for("status", found["status"], lang),
            form_title=forms.form_name(decision.get("form") or "", lang),
            shortfalls=forms.shortfalls(decision, indicator_names, lang),
            refusal=forms.refusal_texts(found, indicator_names, lang),
            digital=forms.words_for("digital", decision.get("digital_skills"), lang),
            maximum=sum(r.get("maximum", 0) for r in results),
            sent_back_reason=sent_back[-1].get("reason") if sent_back else None,
            can_review=role in REVIEWERS and found["status"] == "submitted",
            can_decide=role in STAFF and found["status"] == "reviewed",
            is_citizen=role == "citizen",
            failed=failed, values=values or {}, errors=forms.fold_errors(errors, shown),
            form_ids=ids)

    # A form sent after the session ended comes back here after sign-in (Visit.to_sign_in):
    # the assessment's page, with what was typed in that form.
    @page("GET", "/assessments/<uuid:assessment_id>/review", roles=REVIEWERS)
    def review_restored(self, visit, request, assessment_id):
        values = visit.restored_form() or {}
        return self._assessment_page(visit, assessment_id, failed=values.get("action"),
                                     values=values)

    @page("GET", "/assessments/<uuid:assessment_id>/decision", roles=STAFF)
    def decision_restored(self, visit, request, assessment_id):
        values = visit.restored_form() or {}
        return self._assessment_page(visit, assessment_id, failed=values.get("decision"),
                                     values=values)

    @page("POST", "/assessments/<uuid:assessment_id>/review", roles=REVIEWERS)
    def review(self, visit, request, assessment_id):
        values = request.form.to_dict()
        action = values.get("action")
        if action not in ("accept", "adjust", "send_back"):
            raise PageError(400, "error_title")
        body, errors = {"action": action}, {}
        if action == "adjust":
            current = visit.api.get("assessment", f"/assessments/{assessment_id}")
            indicators = [{"code": r["code"], "max": r["maximum"]}
                          for r in (current.get("decision") or {}).get("results") or ()]
            body["adjustments"], errors = forms.adjustments_from(
                values, indicators, current.get("scores") or {}, visit.lang)
        elif action == "send_back":
            body["reason"], errors = forms.note_from(values.get("reason"), "reason",
                                                     visit.lang, "asm_err_send_back_reason")
        if errors:
            return self._assessment_page(visit, assessment_id, failed=action, values=values,
                                         errors=errors, status=422)

        return self._take_step(visit, assessment_id, "review", body, failed=action,
                               values=values, not_allowed="asm_err_not_reviewer",
                               notice="asm_reviewed", field=forms.review_field)

    @page("POST", "/assessments/<uuid:assessment_id>/decision", roles=STAFF)
    def decide(self, visit, request, assessment_id):
        values = request.form.to_dict()
        verdict = values.get("decision")
        if verdict not in ("recognise", "refuse"):
            raise PageError(400, "error_title")
        body, errors = {"decision": verdict}, {}
        if verdict == "refuse":
            body["reasons"], errors = forms.reasons_from(values.get("reasons"), visit.lang)
        if errors:
            return self._assessment_page(visit, assessment_id, failed=verdict, values=values,
                                         errors=errors, status=422)

        return self._take_step(visit, assessment_id, "decision", body, failed=verdict,
                               values=values, not_allowed="asm_err_not_decider",
                               notice="asm_decided")

    def _take_step(self, visit, assessment_id, step, body, *, failed, values, not_allowed,
                   notice, field=None):
        """POST a review or a decision once; a 403 says who may take the step, any other
        refusal lands beside its field on the assessment's page (``failed``: which form)."""
        def act():
            try:
                visit.api.post("assessment", f"/assessments/{assessment_id}/{step}", body)
            except Refused as exc:
                if exc.status == 403:
                    raise not_official(exc, visit, not_allowed) from None
                raise
            visit.remember(notice=notice)
            return f"/assessments/{assessment_id}"

        return visit.act(act, lambda errors: self._assessment_page(
            visit, assessment_id, failed=failed, values=values,
            errors=forms.said_errors(errors, visit.lang, field), status=422))
