"""What the pages say, Vietnamese first, English second: ``WORDS[key] = (vi, en)``.

Templates write ``t("key")``; a key missing here is a KeyError in the tests, never an
English word on a Vietnamese page. The services answer refusals in English: ``field_error``
says the common ones in the reader's language, next to the field they concern.
"""
LANGUAGES = ("vi", "en")

WORDS = {
    # the frame of every page
    "site_name": ("Công dân học tập", "Learning Citizen"),
    "site_owner": ("Hội Khuyến học tỉnh", "Provincial Association for Promoting Education"),
    "skip_to_content": ("Chuyển đến nội dung chính", "Skip to main content"),
    "menu": ("Danh mục", "Menu"),
    "home": ("Trang chủ", "Home"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "signed_in_as": ("Đang đăng nhập", "Signed in as"),
    "language": ("Ngôn ngữ", "Language"),
    "other_language": ("English", "Tiếng Việt"),
    "save": ("Lưu", "Save"),
    "send": ("Gửi", "Send"),
    "search": ("Tìm", "Search"),
    "back": ("Quay lại", "Back"),
    "next_page": ("Trang sau", "Next page"),
    "previous_page": ("Trang trước", "Previous page"),
    "none_found": ("Không có kết quả.", "Nothing found."),
    "saved": ("Đã lưu.", "Saved."),
    "already_sent": ("Biểu mẫu này đã được gửi; đây là kết quả.",
                     "This form was already sent; here is its result."),
    "form_has_errors": ("Biểu mẫu có lỗi, xin xem các ô được đánh dấu. Chưa có gì được lưu.",
                        "The form has errors: see the marked fields. Nothing was saved."),
    "form_restored": ("Phiên làm việc đã hết hạn; bạn đã đăng nhập lại. Nội dung bạn đã nhập "
                      "được giữ lại: hãy kiểm tra và gửi lại.",
                      "Your session had ended; you are signed in again. What you typed is "
                      "kept: check it and send it again."),
    "required": ("Bắt buộc", "Required"),
    # roles
    "role_admin": ("Quản trị hệ thống", "Administrator"),
    "role_province_staff": ("Cán bộ cấp tỉnh", "Province staff"),
    "role_commune_staff": ("Cán bộ cấp xã", "Commune staff"),
    "role_reviewer": ("Người thẩm định", "Reviewer"),
    "role_citizen": ("Công dân", "Citizen"),
    "role_learning_platform": ("Nền tảng học tập", "Learning platform"),
    # the menu (menu.py)
    "menu_my_record": ("Hồ sơ của tôi", "My record"),
    "menu_self_assessment": ("Tự đánh giá", "Self-assessment"),
    "menu_preferences": ("Nhận thông báo", "Notifications"),
    "menu_people": ("Người dân", "People"),
    "menu_imports": ("Nhập danh sách", "Imports"),
    "menu_review": ("Thẩm định", "Review"),
    "menu_decisions": ("Công nhận", "Decisions"),
    "menu_group_titles": ("Danh hiệu tập thể", "Group titles"),
    "menu_closing": ("Khóa sổ năm", "Close a year"),
    "menu_dashboard": ("Bảng theo dõi", "Dashboard"),
    # home
    "welcome": ("Xin chào", "Welcome"),
    "home_intro": ("Chọn việc cần làm:", "Choose what to do:"),
    "signed_out": ("Bạn đã đăng xuất.", "You are signed out."),
    "sign_in_intro": ("Đăng nhập bằng tài khoản do Hội Khuyến học cấp để tự đánh giá, xem kết "
                      "quả và quản lý chương trình Công dân học tập.",
                      "Sign in with the account the Association gave you to self-assess, see "
                      "your results and run the Learning Citizen programme."),
    # errors
    "error_title": ("Có lỗi", "Something went wrong"),
    "error_404": ("Không tìm thấy trang hoặc hồ sơ này.", "This page or record was not found."),
    "error_403": ("Bạn không có quyền xem hoặc thay đổi nội dung này.",
                  "You may not see or change this."),
    "error_500": ("Hệ thống gặp lỗi ngoài dự kiến. Xin thử lại sau ít phút; nếu lỗi còn, báo "
                  "cho quản trị viên kèm mã tra cứu dưới đây.",
                  "An unexpected error occurred. Try again in a few minutes; if it persists, "
                  "tell the administrator the reference below."),
    "error_reference": ("Mã tra cứu", "Reference"),
    "error_csrf": ("Biểu mẫu đã cũ hoặc không đến từ trang này. Xin mở lại trang và gửi lại.",
                   "This form is stale or did not come from this site. Open the page again "
                   "and resend it."),
    "provider_down": ("Không kết nối được với máy chủ đăng nhập. Xin thử lại sau ít phút.",
                      "The sign-in server cannot be reached. Try again in a few minutes."),
    "service_down": ("Dịch vụ {service} tạm thời không trả lời. Chưa có gì được lưu; xin thử "
                     "lại sau ít phút.",
                     "The {service} service is not answering. Nothing was saved; try again "
                     "in a few minutes."),
    "sign_in_failed": ("Đăng nhập không thành công ({reason}). Xin đăng nhập lại.",
                       "Sign-in failed ({reason}). Please sign in again."),
    "claims_missing": ("Tài khoản của bạn chưa được gán {missing} trong hệ thống Công dân học "
                       "tập. Xin liên hệ cán bộ Hội Khuyến học để được cấp quyền.",
                       "Your account has no {missing} in the Learning Citizen system. Ask "
                       "the Association's staff to grant it."),
    "claim_role": ("vai trò", "role"),
    "claim_unit": ("đơn vị", "unit"),
    "try_again": ("Thử lại", "Try again"),
    # service names
    "service_registry": ("Quản lý hồ sơ", "registry"),
    "service_assessment": ("Đánh giá", "assessment"),
    "service_reporting": ("Báo cáo", "reporting"),
    "service_notifications": ("Thông báo", "notifications"),
}

# The services' own validation messages (marshmallow's), said in the reader's language.
FIELD_ERRORS = {
    "Missing data for required field.": ("Bắt buộc nhập.", "Required."),
    "Field may not be null.": ("Bắt buộc nhập.", "Required."),
    "Not a valid string.": ("Giá trị không hợp lệ.", "Not valid."),
    "Not a valid integer.": ("Phải là một số nguyên.", "Must be a whole number."),
    "Not a valid number.": ("Phải là một số.", "Must be a number."),
    "Not a valid date.": ("Ngày không hợp lệ (dd/mm/yyyy).", "Not a valid date."),
    "Not a valid email address.": ("Địa chỉ email không hợp lệ.", "Not a valid email address."),
    "Not a valid UUID.": ("Mã không hợp lệ.", "Not a valid id."),
    "Unknown field.": ("Trường không được chấp nhận.", "Unknown field."),
}


def word(key, lang):
    vi, en = WORDS[key]
    return en if lang == "en" else vi


def field_error(message, lang):
    """A service's message about a field, in the reader's language where it is a known one;
    otherwise as the service said it."""
    known = FIELD_ERRORS.get(str(message))
    if known:
        return known[1] if lang == "en" else known[0]
    if str(message).startswith(("Length must be", "Longer than maximum length")):
        return "Quá dài." if lang != "en" else "Too long."
    if str(message).startswith("Must be one of"):
        return "Giá trị không nằm trong danh sách cho phép." if lang != "en" else str(message)
    return str(message)


def field_errors(errors, lang):
    """{field: [message, ...]} of a service's 400/422 body, said in the reader's language;
    nested fields are joined with a dot (``scores.1``)."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)):
            if all(isinstance(v, str) for v in value):
                flat.setdefault(prefix or "_form", []).extend(
                    field_error(v, lang) for v in value)
            else:
                for i, inner in enumerate(value):
                    walk(f"{prefix}.{i}", inner)
        else:
            flat.setdefault(prefix or "_form", []).append(field_error(value, lang))

    walk("", errors or {})
    return flat


def register(more):
    """Add a page module's words; a key said twice is a mistake, refused at import."""
    twice = set(more) & set(WORDS)
    if twice:
        raise ValueError(f"words defined twice: {sorted(twice)}")
    for key, pair in more.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"{key}: expected (vietnamese, english)")
    WORDS.update(more)
