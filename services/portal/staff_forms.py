"""What the staff pages check and send, free of nameko and HTTP: a form's values become an
API body (or the problems a person can fix, as word keys beside their fields), a service's
refusal becomes words beside the matching field, and the dashboard's data calls are held
to reporting's read-only routes.

Validators answer ``(result, problems)``: ``problems`` is ``{field: [word key, ...]}``,
said by ``say(problems, t)``; nothing is sent while there is one.
"""
import re
from datetime import date

from services.portal.words import register

TARGET_GROUPS = ("resident", "worker", "employee_business", "student")
GENDERS = ("male", "female", "other")
PERSON_ROLES = ("association_official", "association_member", "unit_staff")
GROUP_KINDS = ("family", "clan", "community", "learning_unit")
ASSESSMENT_STATUSES = ("submitted", "reviewed", "returned", "recognised", "refused",
                       "superseded")
IMPORT_STATUSES = ("queued", "running", "done", "failed")
CLOSING_STATUSES = ("running", "interrupted", "failed", "finished")
FIRST_TITLE_YEAR = 2000           # registry title_rules.FIRST_YEAR
FIRST_CLOSING_YEAR, LAST_CLOSING_YEAR = 2021, 2100   # assessment's years
PAGE_SIZE = 20

DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
NATIONAL_ID = re.compile(r"^\d{12}$")
PHONE = re.compile(r"^\+?[0-9]{9,15}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- small parts ----------------------------------------------------------------------------------
def parse_date(text):
    """``dd/mm/yyyy`` (as dates are written here) -> date, or None when it is not one."""
    match = DATE.match(text or "")
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_year(text):
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) == 4 else None


def national_id_problems(national_id, birth_date=None, gender=None):
    """Word keys of what is wrong with a 12-digit citizen ID (căn cước), as the registry
    checks it: province code 001-096, then century+gender and birth year digits."""
    if not NATIONAL_ID.match(national_id):
        return ["staff_err_national_id_digits"]
    if not 1 <= int(national_id[:3]) <= 96:
        return ["staff_err_national_id_province"]
    problems = []
    if birth_date is not None:
        century_gender = int(national_id[3])
        if 1900 + (century_gender // 2) * 100 + int(national_id[4:6]) != birth_date.year:
            problems.append("staff_err_national_id_year")
        if gender in ("male", "female") and (century_gender % 2 == 1) != (gender == "female"):
            problems.append("staff_err_national_id_gender")
    return problems


def say(problems, t):
    """{field: [word key]} -> {field: [message]} in the reader's language."""
    return {field: [t(key) for key in keys] for field, keys in problems.items()}


def clean(values, name):
    return " ".join(str(values.get(name) or "").split())


# -- people ---------------------------------------------------------------------------------------
def people_query(args, limit=PAGE_SIZE):
    """The registry's GET /people query from the search form; problems for what is not
    searchable (a national ID that is not 12 digits)."""
    params, problems = {"limit": limit}, {}
    name = clean(args, "q")
    if name:
        params["q"] = name[:200]
    national_id = clean(args, "national_id").replace(" ", "")
    if national_id:
        if NATIONAL_ID.match(national_id):
            params["national_id"] = national_id
        else:
            problems["national_id"] = ["staff_err_national_id_digits"]
    unit = clean(args, "unit_code")
    if unit:
        params["unit_code"] = unit
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    params["offset"] = (page - 1) * limit
    return params, problems


def person_body(values, roles=(), today=None):
    """POST /people's body from the registration form, or the problems to fix first."""
    today = today or date.today()
    problems, body = {}, {}
    body["full_name"] = clean(values, "full_name")
    if not body["full_name"]:
        problems["full_name"] = ["staff_err_required"]
    elif len(body["full_name"]) > 200:
        problems["full_name"] = ["staff_err_too_long"]
    body["gender"] = values.get("gender") or ""
    if body["gender"] not in GENDERS:
        problems["gender"] = ["staff_err_choose"]
    birth_text = clean(values, "birth_date")
    birth = parse_date(birth_text)
    if not birth_text:
        problems["birth_date"] = ["staff_err_required"]
    elif birth is None:
        problems["birth_date"] = ["staff_err_date"]
    elif birth > today:
        problems["birth_date"] = ["staff_err_date_future"]
    elif birth.year < 1900:
        problems["birth_date"] = ["staff_err_date"]
    else:
        body["birth_date"] = birth.isoformat()
    national_id = clean(values, "national_id").replace(" ", "")
    if not national_id:
        problems["national_id"] = ["staff_err_required"]
    else:
        found = national_id_problems(national_id, birth if "birth_date" in body else None,
                                     body["gender"])
        if found:
            problems["national_id"] = found
    body["national_id"] = national_id
    body["unit_code"] = clean(values, "unit_code")
    if not body["unit_code"]:
        problems["unit_code"] = ["staff_err_choose"]
    body["target_group"] = values.get("target_group") or ""
    if body["target_group"] not in TARGET_GROUPS:
        problems["target_group"] = ["staff_err_choose"]
    for name, pattern, key in (("phone", PHONE, "staff_err_phone"),
                               ("email", EMAIL, "staff_err_email")):
        text = clean(values, name).replace(" ", "") if name == "phone" else clean(values, name)
        if text and not pattern.match(text):
            problems[name] = [key]
        body[name] = text or None
    ethnicity = clean(values, "ethnicity")
    if len(ethnicity) > 50:
        problems["ethnicity"] = ["staff_err_too_long"]
    body["ethnicity"] = ethnicity or None
    body["language"] = values.get("language") if values.get("language") in ("vi", "en") else "vi"
    chosen = [r for r in roles if r in PERSON_ROLES]
    if len(chosen) != len(list(roles)):
        problems["roles"] = ["staff_err_choose"]
    body["roles"] = sorted(set(chosen))
    return (None if problems else body), problems


# -- group titles ---------------------------------------------------------------------------------
def title_body(values, today=None):
    """POST /groups/<id>/titles' body from the form (the registry's title rules, said first
    in Vietnamese), or the problems."""
    today = today or date.today()
    problems, body = {}, {}
    year_text = clean(values, "year")
    year = parse_year(year_text)
    if not year_text:
        problems["year"] = ["staff_err_required"]
    elif year is None or not FIRST_TITLE_YEAR <= year <= today.year:
        problems["year"] = ["groups_err_year"]
    else:
        body["year"] = year
    body["decision_number"] = clean(values, "decision_number")
    if not body["decision_number"]:
        problems["decision_number"] = ["staff_err_required"]
    elif len(body["decision_number"]) > 50:
        problems["decision_number"] = ["staff_err_too_long"]
    body["issued_by"] = clean(values, "issued_by")
    if not body["issued_by"]:
        problems["issued_by"] = ["staff_err_required"]
    elif len(body["issued_by"]) > 200:
        problems["issued_by"] = ["staff_err_too_long"]
    date_text = clean(values, "decision_date")
    decided = parse_date(date_text)
    if not date_text:
        problems["decision_date"] = ["staff_err_required"]
    elif decided is None:
        problems["decision_date"] = ["staff_err_date"]
    elif decided > today:
        problems["decision_date"] = ["staff_err_date_future"]
    elif year and "year" in body and decided < date(year, 1, 1):
        problems["decision_date"] = ["groups_err_before_year"]
    else:
        body["decision_date"] = decided.isoformat()
    return (None if problems else body), problems


# -- closing a year -------------------------------------------------------------------------------
def closing_request(values):
    """(year, unit_code) of the closing form, or the problems."""
    problems = {}
    year_text = clean(values, "year")
    year = parse_year(year_text)
    if not year_text:
        problems["year"] = ["staff_err_required"]
    elif year is None or not FIRST_CLOSING_YEAR <= year <= LAST_CLOSING_YEAR:
        problems["year"] = ["closing_err_year"]
    unit = clean(values, "unit_code")
    if not unit:
        problems["unit_code"] = ["staff_err_choose"]
    if values.get("confirm") != "yes":
        problems["confirm"] = ["closing_err_confirm"]
    return (None if problems else (year, unit)), problems


# -- what the services answer ---------------------------------------------------------------------
# Their refusals in English (registry domain and title rules, assessment closing), said here.
API_MESSAGES = {
    "must be exactly 12 digits": "staff_err_national_id_digits",
    "first three digits must be a province code from 001 to 096":
        "staff_err_national_id_province",
    "12 digits, the first three a province code from 001 to 096":
        "staff_err_national_id_province",
    "digits 4-6 do not match the birth year": "staff_err_national_id_year",
    "digit 4 does not match the gender": "staff_err_national_id_gender",
    "must not be in the future": "staff_err_date_future",
    "a person with this national ID exists": "people_err_taken",
    "this national ID cannot be registered by you": "people_err_unavailable",
    "must not be before 1 January of the title's year": "groups_err_before_year",
    "must not be empty": "staff_err_required",
    "is too long": "staff_err_too_long",
    "String does not match expected pattern.": "staff_err_format",
}
API_PREFIXES = (
    ("must be between 2000 and", "groups_err_year"),
    ("the group already has a recorded title for", "groups_err_year_taken"),
    ("closing a year (khóa sổ năm) is the act of", "closing_err_deciding_body"),
    ("the unit is not valid on", "staff_err_unit_closed"),
    ("unknown unit", "staff_err_unit_unknown"),
)
API_CODES = {  # an API's stable code -> (the field it concerns, what to say)
    "national_id_taken": ("national_id", "people_err_taken"),
    "national_id_unavailable": ("national_id", "people_err_unavailable"),
    "national_id_refusals_exhausted": ("_form", "people_err_refusals_exhausted"),
    "year_not_over": ("year", "closing_err_not_over"),
}


def api_message(message, t):
    key = API_MESSAGES.get(message)
    if key is None:
        key = next((k for prefix, k in API_PREFIXES if str(message).startswith(prefix)), None)
    return t(key) if key else message


def tidy_refusal(errors, t, fields=None):
    """A service's errors (as words.field_errors flattened them) beside this form's fields:
    known English messages said in the reader's language, an API field renamed to the form's
    (``fields``: {api name: form name}), its stable ``code`` said in words on its field; what
    matches no field goes to the form's summary."""
    fields = fields or {}
    errors = dict(errors)
    codes = errors.pop("code", [])
    errors.pop("details", None)
    tidy = {}
    for name, messages in errors.items():
        target = fields.get(name, name)
        tidy.setdefault(target, []).extend(api_message(m, t) for m in messages)
    for code in codes:
        if code in API_CODES:
            field, key = API_CODES[code]
            tidy[fields.get(field, field)] = [t(key)]
    return tidy


# -- paging ---------------------------------------------------------------------------------------
def pages(page, limit, offset):
    """Previous and next page numbers (or None) of a registry page {total, limit, offset}."""
    total = int(page.get("total") or 0)
    current = offset // limit + 1
    return {"current": current, "last": max(1, -(-total // limit)), "total": total,
            "previous": current - 1 if current > 1 else None,
            "next": current + 1 if offset + limit < total else None}


# -- the dashboard --------------------------------------------------------------------------------
_UNIT = r"[A-Za-z0-9._-]{1,64}"
DASHBOARD_ROUTES = re.compile(
    rf"^units(/{_UNIT}/(progress|breakdown|series|review|report\.csv|report\.xlsx"
    rf"|review-report\.xlsx))?$")


def dashboard_route(path):
    """Whether ``path`` (below /dashboard/data/) is one of reporting's GET routes the
    dashboard reads; nothing else is forwarded."""
    return bool(DASHBOARD_ROUTES.match(path or "")) and ".." not in path


def portal_dashboard(html, prefix="/dashboard/data"):
    """reporting's dashboard page with its data calls sent to the portal (``data-api``)."""
    marker = '<body data-api="">'
    if marker not in html:
        raise ValueError("dashboard.html has no <body data-api=\"\">")
    return html.replace(marker, f'<body data-api="{prefix}">', 1)


register({
    # shared
    "staff_err_required": ("Bắt buộc nhập.", "Required."),
    "staff_err_choose": ("Xin chọn một mục trong danh sách.", "Choose one of the list."),
    "staff_err_too_long": ("Quá dài.", "Too long."),
    "staff_err_date": ("Ngày không hợp lệ: viết theo dạng ngày/tháng/năm, ví dụ 04/05/1980.",
                       "Not a date: write day/month/year, e.g. 04/05/1980."),
    "staff_err_date_future": ("Ngày không được ở tương lai.", "Must not be in the future."),
    "staff_err_format": ("Không đúng định dạng.", "Not in the expected format."),
    "staff_err_phone": ("Số điện thoại gồm 9 đến 15 chữ số.", "A phone number is 9 to 15 digits."),
    "staff_err_email": ("Địa chỉ email không hợp lệ.", "Not a valid email address."),
    "staff_err_national_id_digits": ("Số định danh cá nhân gồm đúng 12 chữ số.",
                                     "A national ID is exactly 12 digits."),
    "staff_err_national_id_province": ("Ba chữ số đầu phải là mã tỉnh từ 001 đến 096.",
                                       "The first three digits must be a province code "
                                       "from 001 to 096."),
    "staff_err_national_id_year": ("Chữ số thứ 4 đến 6 không khớp năm sinh.",
                                   "Digits 4-6 do not match the birth year."),
    "staff_err_national_id_gender": ("Chữ số thứ 4 không khớp giới tính.",
                                     "Digit 4 does not match the gender."),
    "staff_err_unit_closed": ("Đơn vị này không còn hiệu lực (đã sáp nhập).",
                              "This unit is no longer valid (merged)."),
    "staff_err_unit_unknown": ("Không có đơn vị này.", "No such unit."),
    "staff_unit": ("Đơn vị", "Unit"),
    "staff_all_units": ("Tất cả đơn vị", "All units"),
    "staff_choose": ("— Chọn —", "— Choose —"),
    "staff_year": ("Năm", "Year"),
    "staff_status": ("Trạng thái", "Status"),
    "staff_page_of": ("Trang {current}/{last} · {total} kết quả",
                      "Page {current} of {last} · {total} results"),
    "staff_pages": ("Các trang", "Pages"),
    "staff_refreshing": ("Trang tự cập nhật vài giây một lần cho đến khi xong.",
                         "This page refreshes every few seconds until it is done."),
    "staff_refresh_now": ("Cập nhật ngay", "Refresh now"),
    "staff_started": ("Bắt đầu", "Started"),
    "staff_finished": ("Kết thúc", "Finished"),
    "staff_none": ("—", "—"),
    "staff_yes": ("Có", "Yes"),
    "staff_no": ("Không", "No"),
    # target groups, genders, person roles
    "tg_resident": ("Người dân ở xã, phường, đặc khu", "Resident"),
    "tg_worker": ("Người lao động", "Worker"),
    "tg_employee_business": ("Cán bộ, công nhân viên, doanh nhân",
                             "Employee or business person"),
    "tg_student": ("Học sinh, sinh viên, học viên", "Student"),
    "gender_male": ("Nam", "Male"),
    "gender_female": ("Nữ", "Female"),
    "gender_other": ("Khác", "Other"),
    "prole_association_official": ("Cán bộ Hội Khuyến học", "Association official"),
    "prole_association_member": ("Hội viên Hội Khuyến học", "Association member"),
    "prole_unit_staff": ("Cán bộ, công chức, viên chức, người lao động trong đơn vị học tập",
                         "Staff of a learning unit"),
    "astatus_submitted": ("Đã nộp, chờ thẩm định", "Submitted, awaiting review"),
    "astatus_reviewed": ("Đã thẩm định, chờ công nhận", "Reviewed, awaiting decision"),
    "astatus_returned": ("Trả lại để bổ sung", "Sent back"),
    "astatus_recognised": ("Được công nhận", "Recognised"),
    "astatus_refused": ("Không được công nhận", "Refused"),
    "astatus_superseded": ("Đã được thay thế", "Superseded"),
    # people
    "people_title": ("Tìm người dân", "Find people"),
    "people_name": ("Họ và tên", "Full name"),
    "people_name_hint": ("Một phần họ tên, có dấu hoặc không dấu.",
                         "Part of the name, with or without diacritics."),
    "people_national_id": ("Số định danh cá nhân (CCCD)", "National ID"),
    "people_national_id_hint": ("Đủ 12 chữ số.", "All 12 digits."),
    "people_new": ("Đăng ký người dân mới", "Register a person"),
    "people_found": ("Kết quả", "Results"),
    "people_birth": ("Ngày sinh", "Born"),
    "people_birth_year": ("Năm sinh", "Birth year"),
    "people_gender": ("Giới tính", "Gender"),
    "people_target_group": ("Đối tượng", "Target group"),
    "people_ethnicity": ("Dân tộc", "Ethnicity"),
    "people_phone": ("Điện thoại", "Phone"),
    "people_email": ("Email", "Email"),
    "people_roles": ("Vai trò", "Roles"),
    "people_adult": ("Người lớn", "Adult"),
    "people_language": ("Ngôn ngữ nhận thông báo", "Language of notices"),
    "people_birth_hint": ("Ngày/tháng/năm, ví dụ 04/05/1980.", "Day/month/year, e.g. 04/05/1980."),
    "people_record": ("Hồ sơ người dân", "Person's record"),
    "people_assessments": ("Các lần đánh giá", "Assessments"),
    "people_titles": ("Danh hiệu Công dân học tập", "Learning Citizen titles"),
    "people_no_assessments": ("Chưa có lần đánh giá nào.", "No assessment yet."),
    "people_no_titles": ("Chưa có danh hiệu nào.", "No title yet."),
    "people_paper": ("Nhập phiếu tự đánh giá giấy", "Enter a paper self-assessment"),
    "people_open": ("Xem", "Open"),
    "people_total_score": ("Tổng điểm", "Total score"),
    "people_digital": ("Kỹ năng số", "Digital skills"),
    "people_granted": ("Ngày công nhận", "Granted on"),
    "people_revoked": ("Đã thu hồi", "Revoked"),
    "people_registered": ("Đã đăng ký người dân.", "The person is registered."),
    "people_err_taken": ("Số định danh này đã được đăng ký cho một người khác.",
                         "This national ID is already registered for someone."),
    "people_err_unavailable": ("Bạn không thể đăng ký số định danh này (đã có ở đơn vị khác). "
                               "Xin liên hệ cán bộ cấp tỉnh.",
                               "You cannot register this national ID (it is held elsewhere). "
                               "Ask the province staff."),
    "people_err_refusals_exhausted": ("Đã bị từ chối quá nhiều số định danh; xin thử lại sau.",
                                      "Too many national IDs refused; try again later."),
    "people_see_taken": ("Xem hồ sơ đã có", "See the existing record"),
    "lang_vi": ("Tiếng Việt", "Vietnamese"),
    "lang_en": ("Tiếng Anh", "English"),
    # imports
    "imports_title": ("Nhập danh sách người dân", "Import people"),
    "imports_file": ("Tệp danh sách (CSV hoặc XLSX)", "The list (CSV or XLSX)"),
    "imports_file_hint": ("Tệp mẫu: docs/mau-danh-sach-xa.csv. Dòng tiêu đề gồm Họ và tên, Số "
                          "định danh cá nhân, Ngày sinh, Giới tính, Mã đơn vị, Đối tượng.",
                          "Sample: docs/mau-danh-sach-xa.csv. The header row names the full "
                          "name, national ID, birth date, gender, unit code, target group."),
    "imports_restore": ("Khôi phục người đã bị xóa có trong tệp",
                        "Restore removed people the file names"),
    "imports_upload": ("Tải lên và nhập", "Upload and import"),
    "imports_err_no_file": ("Xin chọn tệp CSV hoặc XLSX.", "Choose a CSV or XLSX file."),
    "imports_err_too_large": ("Tệp quá lớn.", "The file is too large."),
    "imports_latest": ("Các lần nhập gần đây", "Latest imports"),
    "imports_none": ("Chưa có lần nhập nào.", "No import yet."),
    "imports_filename": ("Tệp", "File"),
    "imports_progress": ("Tiến độ", "Progress"),
    "imports_rows": ("{read} / {total} dòng", "{read} / {total} rows"),
    "imports_one": ("Lần nhập danh sách", "An import"),
    "imports_kind_people": ("Người dân", "People"),
    "imports_kind_groups": ("Nhóm và danh hiệu", "Groups and titles"),
    "imports_count_total": ("Số dòng đã đọc", "Rows read"),
    "imports_count_good": ("Dòng hợp lệ", "Good rows"),
    "imports_count_bad": ("Dòng có lỗi", "Rows with errors"),
    "imports_count_registered": ("Đăng ký mới", "Registered"),
    "imports_count_updated": ("Cập nhật", "Updated"),
    "imports_count_moved": ("Chuyển đơn vị", "Moved"),
    "imports_count_unchanged": ("Không thay đổi", "Unchanged"),
    "imports_count_errors": ("Số lỗi trong báo cáo", "Lines of the error report"),
    "imports_errors_csv": ("Tải báo cáo lỗi (CSV)", "Download the error report (CSV)"),
    "imports_errors_xlsx": ("Tải báo cáo lỗi (XLSX)", "Download the error report (XLSX)"),
    "imports_failed": ("Không nhập được tệp", "The file could not be imported"),
    "imports_status_queued": ("Đang chờ", "Queued"),
    "imports_status_running": ("Đang nhập", "Running"),
    "imports_status_done": ("Đã xong", "Done"),
    "imports_status_failed": ("Thất bại", "Failed"),
    "imports_started": ("Đã nhận tệp; đang nhập.", "File received; importing."),
    # group titles
    "groups_title": ("Danh hiệu tập thể", "Group titles"),
    "groups_search": ("Tìm nhóm", "Find groups"),
    "groups_name": ("Tên nhóm", "Group name"),
    "groups_kind": ("Loại", "Kind"),
    "groups_all_kinds": ("Tất cả các loại", "All kinds"),
    "groups_members": ("Số thành viên", "Members"),
    "gkind_family": ("Gia đình học tập", "Learning family"),
    "gkind_clan": ("Dòng họ học tập", "Learning clan"),
    "gkind_community": ("Cộng đồng học tập", "Learning community"),
    "gkind_learning_unit": ("Đơn vị học tập", "Learning unit"),
    "groups_recognitions": ("Công nhận tập thể năm {year}", "Group recognitions of {year}"),
    "groups_no_recognitions": ("Chưa có tập thể nào được công nhận trong năm này.",
                               "No group recognised this year."),
    "groups_titled": ("Thành viên đạt danh hiệu", "Members titled"),
    "groups_explanation": ("Căn cứ", "Grounds"),
    "groups_level": ("Mức", "Level"),
    "groups_show_year": ("Xem năm", "Show year"),
    "groups_one": ("Danh hiệu của nhóm", "The group's titles"),
    "groups_recorded": ("Danh hiệu đã ghi nhận (theo quyết định giấy)",
                        "Titles recorded (from paper decisions)"),
    "groups_no_titles": ("Chưa ghi nhận danh hiệu nào.", "No title recorded."),
    "groups_decision_number": ("Số quyết định", "Decision number"),
    "groups_decision_date": ("Ngày quyết định", "Decision date"),
    "groups_issued_by": ("Cơ quan ban hành", "Issued by"),
    "groups_issued_by_hint": ("Ví dụ: UBND xã Mỹ Hòa Hưng.", "E.g. UBND xã Mỹ Hòa Hưng."),
    "groups_grant": ("Ghi nhận danh hiệu cho một năm", "Record a title for a year"),
    "groups_grant_button": ("Ghi nhận danh hiệu", "Record the title"),
    "groups_withdrawn": ("Đã rút", "Withdrawn"),
    "groups_source": ("Nguồn", "Source"),
    "groups_from_import": ("Nhập từ tệp", "Imported"),
    "groups_by_hand": ("Nhập tay", "Entered by hand"),
    "groups_assessed": ("Kết quả đánh giá tập thể", "Group assessments"),
    "groups_err_year": ("Năm phải từ 2000 đến năm nay.", "The year must be 2000 to this year."),
    "groups_err_before_year": ("Ngày quyết định không được trước ngày 1/1 của năm danh hiệu.",
                               "The decision must not be dated before 1 January of the year."),
    "groups_err_year_taken": ("Nhóm đã có danh hiệu ghi nhận cho năm này; hãy rút bản ghi cũ "
                              "trước.", "The group already has a title for this year: "
                                        "withdraw it first."),
    # closing a year
    "closing_title": ("Khóa sổ năm", "Close a year"),
    "closing_intro": ("Khóa sổ quyết định các phiếu còn lại của đơn vị và các đơn vị trực thuộc "
                      "theo quy trình, rồi xét công nhận các tập thể. Việc này không hoàn tác "
                      "được.", "Closing decides the submissions left in the unit and the units "
                                "below it, then evaluates every group. It cannot be undone."),
    "closing_confirm": ("Tôi xác nhận khóa sổ năm này cho đơn vị đã chọn",
                        "I confirm closing this year for the chosen unit"),
    "closing_button": ("Khóa sổ", "Close the year"),
    "closing_list": ("Các lần khóa sổ", "Closings"),
    "closing_none": ("Chưa có lần khóa sổ nào.", "No closing yet."),
    "closing_one": ("Khóa sổ năm {year}", "Closing {year}"),
    "closing_phase": ("Giai đoạn", "Phase"),
    "closing_to_decide": ("Phiếu cần quyết định", "Submissions to decide"),
    "closing_decided": ("Đã quyết định", "Decided"),
    "closing_recognised": ("Được công nhận", "Recognised"),
    "closing_refused": ("Không được công nhận", "Refused"),
    "closing_groups_evaluated": ("Tập thể đã xét", "Groups evaluated"),
    "closing_groups_granted": ("Tập thể được công nhận", "Groups recognised"),
    "closing_groups_revoked": ("Tập thể bị thu hồi công nhận", "Groups revoked"),
    "closing_left_open": ("Phiếu còn để mở", "Submissions left open"),
    "closing_error": ("Lỗi", "Error"),
    "closing_status_running": ("Đang chạy", "Running"),
    "closing_status_interrupted": ("Bị gián đoạn (gửi lại để tiếp tục)",
                                   "Interrupted (send again to resume)"),
    "closing_status_failed": ("Thất bại", "Failed"),
    "closing_status_finished": ("Đã xong", "Finished"),
    "closing_phase_submissions": ("Quyết định các phiếu", "Deciding submissions"),
    "closing_phase_groups": ("Xét tập thể", "Evaluating groups"),
    "closing_phase_done": ("Hoàn tất", "Done"),
    "closing_started": ("Đã bắt đầu khóa sổ.", "The closing has started."),
    "closing_err_year": ("Năm phải từ 2021 đến 2100.", "The year must be 2021 to 2100."),
    "closing_err_confirm": ("Xin đánh dấu để xác nhận.", "Tick to confirm."),
    "closing_err_not_over": ("Năm này chưa bắt đầu nên chưa thể khóa sổ.",
                             "This year has not begun: it cannot be closed yet."),
    "closing_err_deciding_body": ("Khóa sổ năm là việc của Hội Khuyến học cấp ra quyết định "
                                  "công nhận: ở cấp tỉnh, chỉ khóa sổ cho cả tỉnh.",
                                  "Closing a year is the act of the association that decides "
                                  "recognitions: at province level, close it for the whole "
                                  "province."),
    "closing_err_scope": ("Đơn vị này nằm ngoài phạm vi của bạn.",
                          "This unit is outside your scope."),
    # the dashboard
    "dashboard_refused": ("Bạn không được xem số liệu này.", "You may not see these figures."),
})
