"""What the assessment pages say and how their forms become API bodies: pure functions (no
nameko, no HTTP), so that each rule is tested on its own.

The assessment service answers in data and, for people, in English: the indicators' names
come as "Vietnamese (English)", a refusal's reasons as data (services/assessment/reasons.py),
a review's adjustments as "TC1.1: 5 -> 7 (why)". Here they become sentences in the reader's
language, Vietnamese first.
"""
import re

from services.portal.words import register, word

FIRST_YEAR, LAST_YEAR = 2021, 2100  # the programme's years (the assessment service's bounds)
MAX_REASON = 500
MAX_REASONS = 10

register({
    # statuses of an assessment
    "asm_status_submitted": ("Chờ thẩm định", "Waiting for review"),
    "asm_status_reviewed": ("Đã thẩm định, chờ công nhận", "Reviewed, waiting for a decision"),
    "asm_status_returned": ("Bị trả lại để sửa", "Sent back for changes"),
    "asm_status_recognised": ("Đã công nhận", "Recognised"),
    "asm_status_refused": ("Không được công nhận", "Not recognised"),
    "asm_status_superseded": ("Đã được đánh giá lại", "Superseded by a re-evaluation"),
    # target groups
    "asm_group_resident": ("Người dân ở xã, phường, đặc khu", "Resident"),
    "asm_group_worker": ("Người lao động", "Worker"),
    "asm_group_employee_business": ("Cán bộ, công nhân viên, doanh nhân",
                                    "Employee or business person"),
    "asm_group_student": ("Học sinh, sinh viên, học viên", "Student"),
    # digital skills
    "asm_digital_none": ("Chưa đạt", "Not reached"),
    "asm_digital_basic": ("Cơ bản", "Basic"),
    "asm_digital_proficient": ("Thành thạo", "Proficient"),
    # learning activities that confirm an indicator
    "asm_activity_digital_skills_basic": ("Lớp kỹ năng số cơ bản", "Basic digital skills course"),
    "asm_activity_digital_skills_proficient": ("Lớp kỹ năng số nâng cao",
                                               "Advanced digital skills course"),
    "asm_activity_course": ("Khóa học", "Course"),
    "asm_activity_mooc": ("Khóa học trực tuyến", "Online course"),
    "asm_activity_briefing": ("Buổi sinh hoạt, phổ biến kiến thức", "Briefing"),
    # the steps of an assessment's history
    "asm_step_submitted": ("Nộp bản tự đánh giá", "Self-assessment submitted"),
    "asm_step_resubmitted": ("Nộp lại sau khi sửa", "Resubmitted"),
    "asm_step_reviewed": ("Thẩm định", "Reviewed"),
    "asm_step_sent_back": ("Trả lại để sửa", "Sent back"),
    "asm_step_recognised": ("Công nhận danh hiệu", "Title granted"),
    "asm_step_refused": ("Không công nhận", "Refused"),
    "asm_step_superseded": ("Được thay bằng bản đánh giá lại", "Superseded"),
    "asm_step_re-evaluated": ("Đánh giá lại theo bộ tiêu chí khác",
                              "Re-evaluated under another criteria set"),
    "asm_step_title_kept": ("Giữ danh hiệu", "Title kept"),
    "asm_step_digital_confirmed": ("Xác nhận kỹ năng số", "Digital skills confirmed"),
    "asm_step_revoked": ("Thu hồi danh hiệu", "Title revoked"),
    "asm_verdict_accept": ("Chấp nhận", "Accepted"),
    "asm_verdict_adjust": ("Điều chỉnh điểm", "Scores adjusted"),
    "asm_verdict_send_back": ("Trả lại", "Sent back"),
    # reasons and problems
    "asm_reason_total": ("Tổng điểm {total}, chưa đạt mức {minimum} điểm",
                         "Total {total} is under the required {minimum}"),
    "asm_reason_indicator": ("Chỉ số {number} ({name}) đạt {score}/{maximum}, dưới mức tối "
                             "thiểu {minimum}",
                             "Indicator {number} ({name}) scored {score}/{maximum}, under the "
                             "minimum of {minimum}"),
    "asm_adjusted": ("Chỉ số {number}: {before} → {after} ({reason})",
                     "Indicator {number}: {before} → {after} ({reason})"),
    "asm_err_score": ("Chọn điểm từ 0 đến {maximum}.", "Choose a score from 0 to {maximum}."),
    "asm_err_year": ("Năm đánh giá phải là số từ {first} đến {last}.",
                     "The year must be a number from {first} to {last}."),
    "asm_err_reason_needed": ("Ghi lý do điều chỉnh điểm chỉ số này.",
                              "Say why this score is changed."),
    "asm_err_too_long": ("Tối đa {n} ký tự.", "At most {n} characters."),
    "asm_err_no_change": ("Chưa có điểm nào được thay đổi: đổi ít nhất một điểm, hoặc chọn "
                          "Chấp nhận.",
                          "No score was changed: change at least one, or choose Accept."),
    "asm_err_send_back_reason": ("Ghi lý do trả lại để người dân biết cần sửa gì.",
                                 "Say why it is sent back, so that the citizen knows what to "
                                 "change."),
    "asm_err_refuse_reason": ("Hồ sơ đạt tiêu chí: muốn không công nhận, phải ghi lý do.",
                              "The assessment meets the criteria: refusing it needs your "
                              "reasons."),
    "asm_err_too_many_reasons": ("Tối đa {n} lý do (mỗi dòng một lý do).",
                                 "At most {n} reasons (one per line)."),
    "asm_err_not_submitted": ("Hồ sơ này không còn chờ thẩm định (có thể người khác vừa thẩm "
                              "định). Xin tải lại trang.",
                              "This assessment no longer waits for review (someone may have "
                              "just reviewed it). Reload the page."),
    "asm_err_not_reviewed": ("Hồ sơ này chưa thẩm định hoặc đã có quyết định. Xin tải lại "
                             "trang.",
                             "This assessment is not reviewed, or already decided. Reload "
                             "the page."),
    "asm_err_not_returned": ("Hồ sơ này không ở trạng thái bị trả lại nên không nộp lại được.",
                             "This assessment was not sent back, so it cannot be resubmitted."),
    "asm_err_fails_rule": ("Hồ sơ không đạt tiêu chí nên không thể công nhận.",
                           "The assessment does not meet the criteria: it cannot be "
                           "recognised."),
    "asm_err_already_titled": ("Người này đã được công nhận danh hiệu của năm này.",
                               "This person already holds the title for this year."),
    "asm_err_already_open": ("Người này đã có một bản tự đánh giá của năm này đang xử lý.",
                             "This person already has an assessment of this year in progress."),
    "asm_err_no_criteria": ("Chưa có bộ tiêu chí áp dụng cho năm này.",
                            "No criteria set applies to this year."),
})

# The service's English problems that a person meets, said in the reader's language.
_PROBLEMS = (
    (re.compile(r"^must be a whole number from 0 to (\d+)$"), "asm_err_score", "maximum"),
    (re.compile(r"^missing score$"), "required", None),
    (re.compile(r"^only a submitted assessment can be reviewed"), "asm_err_not_submitted", None),
    (re.compile(r"^only a reviewed assessment can be decided"), "asm_err_not_reviewed", None),
    (re.compile(r"^only an assessment sent back can be resubmitted"), "asm_err_not_returned",
     None),
    (re.compile(r"^the assessment does not meet the criteria"), "asm_err_fails_rule", None),
    (re.compile(r"^refusing an assessment that meets the criteria"), "asm_err_refuse_reason",
     None),
    (re.compile(r"^say why the assessment is sent back"), "asm_err_send_back_reason", None),
    (re.compile(r"^adjust needs at least one score"), "asm_err_no_change", None),
    (re.compile(r"^this person already holds the title"), "asm_err_already_titled", None),
    (re.compile(r"^an assessment of this person for this year is already open"),
     "asm_err_already_open", None),
    (re.compile(r"^no learning_citizen criteria set is in force"), "asm_err_no_criteria", None),
)


def say_problem(message, lang):
    """A problem the assessment service states, in the reader's language where it is known."""
    text = str(message)
    for pattern, key, param in _PROBLEMS:
        found = pattern.search(text)
        if found:
            said = word(key, lang)
            return said.format(**{param: found.group(1)}) if param else said
    return text


def said_errors(errors, lang, field_of=None):
    """{field: [message]} of a refusal with the assessment service's messages said in the
    reader's language, each under the form's field (``field_of`` maps an API field name to
    the form's, e.g. ``review_field``)."""
    out = {}
    for name, messages in (errors or {}).items():
        target = field_of(name) if field_of else name
        out.setdefault(target, []).extend(say_problem(m, lang) for m in messages)
    return out


def fold_errors(errors, shown):
    """Errors of fields the form does not show (``shown``: its field names) join the form's
    summary, so that no refusal goes unsaid."""
    out = {}
    for name, messages in (errors or {}).items():
        out.setdefault(name if name in shown else "_form", []).extend(messages)
    return out


# -- the criteria set's wording --------------------------------------------------------------
def split_name(name):
    """"Ngoại ngữ (foreign language)" -> ("Ngoại ngữ", "foreign language"): the criteria files
    write each name in Vietnamese with its English in brackets."""
    text = str(name or "").strip()
    found = re.match(r"^(.*\S)\s*\(([^()]*)\)$", text)
    if not found:
        return text, text
    return found.group(1), found.group(2)


def in_language(name, lang):
    """The name in the reader's language (English capitalised, as a label)."""
    vi, en = split_name(name)
    if lang != "en":
        return vi
    return en[:1].upper() + en[1:]


def indicator_number(code):
    """"TC1.3" -> "1.3", the number the paper forms print."""
    code = str(code)
    return code[2:] if code.upper().startswith("TC") and code[2:3].isdigit() else code


def indicators_of(criteria, target_group, lang):
    """The set's indicators as the target group's form words them: [{code, number, name, max}]."""
    names = ((criteria.get("variants") or {}).get(target_group) or {}).get("names") or {}
    return [{"code": i["code"], "number": indicator_number(i["code"]), "max": int(i["max"]),
             "name": in_language(names.get(i["code"], i["name"]), lang)}
            for i in criteria.get("indicators") or ()]


def form_title(criteria, target_group, lang):
    variant = (criteria.get("variants") or {}).get(target_group) or {}
    return form_name(variant.get("form") or criteria.get("title") or "", lang)


def form_name(name, lang):
    """"Mẫu 4: Học sinh, sinh viên, học viên (students)" -> "Form 4: Students" in English."""
    said = in_language(name, lang)
    numbered = re.match(r"^Mẫu (\d+):", split_name(name)[0])
    if lang == "en" and numbered and not said.startswith("Form"):
        return f"Form {numbered.group(1)}: {said}"
    return said


# -- forms -> API bodies ---------------------------------------------------------------------
def year_from(text, lang):
    """(year, None) or (None, the message)."""
    try:
        year = int(str(text or "").strip())
    except ValueError:
        year = None
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        return None, word("asm_err_year", lang).format(first=FIRST_YEAR, last=LAST_YEAR)
    return year, None


def score_of(text, maximum):
    """A whole number within 0..maximum from a form's text, or None."""
    text = str(text if text is not None else "").strip()
    if not re.fullmatch(r"\d{1,3}", text):
        return None
    value = int(text)
    return value if value <= maximum else None


def scores_from(form, indicators, lang):
    """The scores of a self-assessment form (fields ``scores.<code>``): (scores, errors), each
    indicator required, a whole number within its scale."""
    scores, errors = {}, {}
    for indicator in indicators:
        field = f"scores.{indicator['code']}"
        value = score_of(form.get(field), indicator["max"])
        if value is None:
            errors[field] = [word("asm_err_score", lang).format(maximum=indicator["max"])]
        else:
            scores[indicator["code"]] = value
    return scores, errors


def adjustments_from(form, indicators, current, lang):
    """A review's adjustments from the form (``adjust.<code>`` the new score and
    ``why.<code>`` its reason): only the changed scores, each with its reason; (adjustments,
    errors)."""
    adjustments, errors = {}, {}
    for indicator in indicators:
        code = indicator["code"]
        given = str(form.get(f"adjust.{code}") or "").strip()
        why = str(form.get(f"why.{code}") or "").strip()
        if given == "" or given == str(current.get(code)):
            continue
        score = score_of(given, indicator["max"])
        if score is None:
            errors[f"adjust.{code}"] = [word("asm_err_score", lang).format(
                maximum=indicator["max"])]
            continue
        if not why:
            errors[f"why.{code}"] = [word("asm_err_reason_needed", lang)]
        elif len(why) > MAX_REASON:
            errors[f"why.{code}"] = [word("asm_err_too_long", lang).format(n=MAX_REASON)]
        else:
            adjustments[code] = {"score": score, "reason": why}
    if not adjustments and not errors:
        errors["_form"] = [word("asm_err_no_change", lang)]
    return adjustments, errors


def review_field(api_field):
    """Where a review refusal's field goes on the adjust form: ``adjustments.TC1.1...`` beside
    the indicator's new score (its reason when the problem is the reason)."""
    parts = str(api_field).split(".")
    if parts[0] == "adjustments" and len(parts) >= 3:
        code = ".".join(parts[1:3])
        return f"why.{code}" if "reason" in parts[3:] else f"adjust.{code}"
    if parts[0] == "adjustments":
        return "_form"
    return api_field


def reasons_from(text, lang):
    """A refusal's reasons: one a line, blank lines dropped; (reasons, errors)."""
    reasons = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if len(reasons) > MAX_REASONS:
        return reasons, {"reasons": [word("asm_err_too_many_reasons", lang).format(
            n=MAX_REASONS)]}
    if any(len(r) > MAX_REASON for r in reasons):
        return reasons, {"reasons": [word("asm_err_too_long", lang).format(n=MAX_REASON)]}
    return reasons, {}


def note_from(text, field, lang, required_key=None):
    """A free text note (a send-back's reason): (note or None, errors)."""
    note = str(text or "").strip()
    if not note:
        return None, ({field: [word(required_key, lang)]} if required_key else {})
    if len(note) > MAX_REASON:
        return None, {field: [word("asm_err_too_long", lang).format(n=MAX_REASON)]}
    return note, {}


def preference_changes(categories, form):
    """What to change of a person's notification preferences: (opt out of, opt back in to),
    from the checkboxes ``want.<category>`` of the categories that are not mandatory."""
    out, back = [], []
    for category in categories:
        if category.get("mandatory"):
            continue
        wanted = form.get(f"want.{category['name']}") is not None
        if wanted and category.get("opted_out"):
            back.append(category["name"])
        elif not wanted and not category.get("opted_out"):
            out.append(category["name"])
    return out, back


# -- what an assessment says, in words -------------------------------------------------------
def reason_text(reason, names, lang):
    """One refusal reason (data, or a sentence of a refusal decided before reasons were data)
    in the reader's language; ``names``: {code: name} of the indicators."""
    if isinstance(reason, str):
        return reason
    kind = reason.get("kind")
    if kind == "total_below":
        return word("asm_reason_total", lang).format(total=reason["total"],
                                                     minimum=reason["minimum"])
    if kind == "indicator_below":
        code = reason["indicator"]
        return word("asm_reason_indicator", lang).format(
            number=indicator_number(code), name=names.get(code, code), score=reason["score"],
            maximum=reason["maximum"], minimum=reason["minimum"])
    return str(reason.get("note") or "")


def refusal_texts(assessment, names, lang):
    details = assessment.get("refusal_details")
    if details:
        return [reason_text(r, names, lang) for r in details]
    return list(assessment.get("refusal_reasons") or ())


def shortfalls(decision, names, lang):
    """Why an evaluation does not pass, in words (empty when it passes)."""
    if not decision:
        return []
    found = []
    if decision.get("total", 0) < decision.get("min_total", 0):
        found.append(reason_text({"kind": "total_below", "total": decision["total"],
                                  "minimum": decision["min_total"]}, names, lang))
    for result in decision.get("results") or ():
        if not result.get("met"):
            found.append(reason_text({"kind": "indicator_below", "indicator": result["code"],
                                      "score": result["score"], "maximum": result["maximum"],
                                      "minimum": result["minimum"]}, names, lang))
    return found


_ADJUSTED = re.compile(r"^(\S+): (-?\d+) -> (-?\d+) \((.*)\)$", re.S)


def adjustment_text(note, lang):
    """"TC1.1: 5 -> 7 (why)" in the reader's language."""
    found = _ADJUSTED.match(str(note))
    if not found:
        return str(note)
    code, before, after, why = found.groups()
    return word("asm_adjusted", lang).format(number=indicator_number(code), before=before,
                                             after=after, reason=why)


def evidence_text(evidence, lang):
    """"confirmed by mooc 2025-03-20, course 2025-05-02" as the activities' names and dates."""
    text = str(evidence or "")
    if text.startswith("confirmed by "):
        text = text[len("confirmed by "):]
    said = []
    for label in (p.strip() for p in text.split(",") if p.strip()):
        kind, _, day = label.partition(" ")
        said.append(activity_text(kind, lang) + (f" ({_date(day)})" if day else ""))
    return "; ".join(said)


def activity_text(kind, lang):
    try:
        return word(f"asm_activity_{kind}", lang)
    except KeyError:
        return kind


def _date(text):
    text = str(text)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text


def words_for(prefix, value, lang):
    """``asm_<prefix>_<value>`` in the reader's language, or the value itself when unknown."""
    try:
        return word(f"asm_{prefix}_{value}", lang)
    except KeyError:
        return str(value or "")
