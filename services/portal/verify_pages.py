"""Proof of a title: the public page a certificate's QR code opens (``/xac-minh/<code>``),
and the downloads of a title's certificate (PDF) and digital credential.

The verification page is a stranger's: no sign-in, no menu (a signed-in visitor sees what a
stranger sees), and only what assessment's public ``/verifications/<code>`` says: the holder's
name, the title, the year, the issuing association and the status. Any code it does not know,
well-formed or not, gets the same 404 page. Each client address may look up so many codes a
minute, and the portal's calls to assessment stay under assessment's own limit
(rate_limits.py). Search engines are told to keep these pages out of their index.

The downloads are fetched with the signed-in user's token, so assessment decides who may have
them (the holder, or staff in scope), and passed on to the browser, which never holds a
token. The digital credential is the signed VC-JWT (``application/vc+jwt``): the credential's
JSON is its payload, and only the signed form proves anything.
"""
import re
from urllib.parse import quote

from werkzeug.wrappers import Response

from cdht.auth import STAFF_AND_CITIZEN
from cdht.web import attachment
from services.portal.backend import Refused, SignInAgain, Unavailable
from services.portal.pages import page
from services.portal.words import register

# A verification code: URL-safe, at least 128 bits (22 base64url characters); anything else is
# unknown without asking assessment.
CODE = re.compile(r"[A-Za-z0-9_-]{22,128}")
STATES = {"valid": "ok", "revoked": "bad", "superseded": "old"}  # status -> its look
ROBOTS = "noindex, nofollow, noarchive"
PDF_HEADERS = ("Content-Type", "Content-Disposition", "Content-Length")
VC_JWT = "application/vc+jwt"

register({
    "verify_title": ("Xác minh giấy chứng nhận", "Certificate verification"),
    "verify_intro": ("Trang này cho biết một giấy chứng nhận danh hiệu Công dân học tập có do "
                     "Hội Khuyến học cấp hay không, và nay còn hiệu lực hay không.",
                     "This page tells whether a Learning Citizen certificate was issued by the "
                     "Association for Promoting Education, and whether it is still in force."),
    "verify_holder": ("Họ và tên", "Holder"),
    "verify_title_name": ("Danh hiệu", "Title"),
    "verify_year": ("Năm", "Year"),
    "verify_issuer": ("Đơn vị cấp", "Issued by"),
    "verify_status": ("Tình trạng", "Status"),
    "verify_state_valid": ("Còn hiệu lực", "Valid"),
    "verify_state_revoked": ("Đã thu hồi", "Revoked"),
    "verify_state_superseded": ("Đã được thay thế", "Superseded"),
    "verify_means_valid": ("Danh hiệu này đang có hiệu lực.", "This title is in force."),
    "verify_means_revoked": ("Danh hiệu này đã bị thu hồi: giấy chứng nhận không còn giá trị.",
                             "This title was revoked: the certificate is no longer valid."),
    "verify_means_superseded": ("Danh hiệu này đã được xét lại và thay bằng một quyết định "
                                "mới: giấy chứng nhận này không còn giá trị.",
                                "This title was decided again and replaced by a new "
                                "decision: this certificate is no longer valid."),
    "verify_unknown_title": ("Không tìm thấy giấy chứng nhận", "Certificate not found"),
    "verify_unknown": ("Mã xác minh này không có trong hệ thống. Xin kiểm tra lại đường dẫn, "
                       "hoặc mã in dưới mã QR trên giấy chứng nhận.",
                       "This verification code is not known. Check the address, or the code "
                       "printed under the QR code of the certificate."),
    "verify_too_many_title": ("Xin chờ một chút", "Please wait a moment"),
    "verify_too_many": ("Có quá nhiều lượt tra cứu trong thời gian ngắn. Xin thử lại sau "
                        "{seconds} giây.",
                        "Too many look-ups in a short time. Try again in {seconds} seconds."),
    "verify_down_title": ("Chưa tra cứu được", "Cannot look it up now"),
    "verify_enter_title": ("Nhập mã xác minh", "Enter a verification code"),
    "verify_enter_intro": ("Nhập mã in dưới mã QR trên giấy chứng nhận.",
                           "Type the code printed under the QR code of the certificate."),
    "verify_code": ("Mã xác minh", "Verification code"),
    "verify_look_up": ("Tra cứu", "Look up"),
    "verify_another": ("Tra cứu mã khác", "Look up another code"),
    # the downloads, on a holder's record and the staff's person page
    "cert_pdf": ("Tải giấy chứng nhận (PDF)", "Download the certificate (PDF)"),
    "cert_pdf_of": ("Tải giấy chứng nhận (PDF) năm {year}",
                    "Download the certificate (PDF) of {year}"),
    "cert_vc": ("Chứng nhận số (VC-JWT)", "Digital credential (VC-JWT)"),
    "cert_vc_of": ("Chứng nhận số (VC-JWT) năm {year}", "Digital credential (VC-JWT) of {year}"),
    "cert_verify": ("Mở trang xác minh", "Open the verification page"),
    "cert_verify_of": ("Mở trang xác minh năm {year}", "Open the verification page of {year}"),
    "cert_column": ("Giấy chứng nhận", "Certificate"),
    "cert_heading": ("Giấy chứng nhận năm {year}", "Certificate of {year}"),
})


class VerifyPages:
    """The verification page and the certificate downloads, one mixin of the portal."""

    @page("GET", "/xac-minh", public=True)
    def verify_enter(self, visit, request):
        """The code typed from a paper certificate (GET: a bookmarkable address)."""
        code = "".join((request.args.get("ma") or "").split())
        if CODE.fullmatch(code):
            return unindexed(visit.redirect(f"/xac-minh/{code}"))
        if code:
            return look_up(self.portal, visit, request, code)  # counted, unknown
        return unindexed(visit.render("verify/enter.html", as_stranger=True))

    @page("GET", "/xac-minh/<string:code>", public=True)
    def verify(self, visit, request, code):
        return look_up(self.portal, visit, request, code)

    # -- the downloads ---------------------------------------------------------------------
    @page("GET", "/titles/<uuid:recognition_id>/certificate.pdf", roles=STAFF_AND_CITIZEN)
    def certificate_pdf(self, visit, request, recognition_id):
        """assessment's PDF, passed on as it streams (its name and type as assessment says)."""
        answer = visit.api.get("assessment", f"/recognitions/{recognition_id}/certificate.pdf",
                               raw=True, stream=True)
        headers = {k: answer.headers[k] for k in PDF_HEADERS if k in answer.headers}
        headers.setdefault("Content-Type", "application/pdf")
        if "attachment" not in headers.get("Content-Disposition", ""):
            headers["Content-Disposition"] = 'attachment; filename="chung-nhan.pdf"'
        return Response(answer.iter_content(1 << 16), status=200, headers=headers,
                        direct_passthrough=True)

    @page("GET", "/titles/<uuid:recognition_id>/credential.jwt", roles=STAFF_AND_CITIZEN)
    def credential_jwt(self, visit, request, recognition_id):
        found = credential_of(visit, recognition_id)
        return attachment(found["jwt"].encode("ascii"), credential_file_name(found), VC_JWT)

    @page("GET", "/titles/<uuid:recognition_id>/verification", roles=STAFF_AND_CITIZEN)
    def verification_of(self, visit, request, recognition_id):
        """The title's verification page, as its QR code opens it."""
        found = credential_of(visit, recognition_id)
        return visit.redirect(f"/xac-minh/{quote(found['verification_code'], safe='')}")


def look_up(portal, visit, request, code):
    """The page of ``code``: counted against the client's and the portal's limits first."""
    limits = portal.verification
    client = limits.client(request.remote_addr, request.headers.get("X-Forwarded-For"))
    wait = limits.wait(client)
    if wait:
        return too_many(visit, wait)
    if not CODE.fullmatch(code):
        return unknown(visit)
    try:  # on the visitor's behalf: assessment counts them, where it trusts the portal
        found = portal.backend(None).get("assessment", f"/verifications/{code}",
                                         headers={"X-Forwarded-For": client})
    except Refused as exc:
        if exc.status == 429:
            return too_many(visit, seconds(exc.retry_after))
        return unknown(visit)
    except (Unavailable, SignInAgain):
        return unindexed(visit.render(
            "verify/page.html", status=503, as_stranger=True, outcome="down",
            message=visit.t("service_down", service=visit.t("service_assessment"))))
    status = found.get("status")
    label = (visit.t(f"verify_state_{status}") if status in STATES
             else found.get("status_label") or str(status))
    return unindexed(visit.render(
        "verify/page.html", as_stranger=True, outcome="found", found=found,
        state=status if status in STATES else "other", look=STATES.get(status, "other"),
        label=label))


def credential_of(visit, recognition_id):
    """The title's credential (assessment issues it at the first asking)."""
    return visit.api.get("assessment", f"/recognitions/{recognition_id}/credential")


def credential_file_name(found):
    """chung-nhan-so-cong-dan-hoc-tap-2026.jwt: the year from the credential's name
    ("Công dân học tập năm 2026")."""
    year = re.search(r"(\d{4})\s*$", str((found.get("credential") or {}).get("name") or ""))
    return f"chung-nhan-so-cong-dan-hoc-tap{'-' + year.group(1) if year else ''}.jwt"


def seconds(retry_after):
    """A Retry-After in seconds (a date, or nothing, counts as a minute)."""
    try:
        return max(1, int(retry_after))
    except (TypeError, ValueError):
        return 60


def too_many(visit, wait):
    response = visit.render("verify/page.html", status=429, as_stranger=True,
                            outcome="too_many", message=visit.t("verify_too_many",
                                                                seconds=wait))
    response.headers["Retry-After"] = str(wait)
    return unindexed(response)


def unknown(visit):
    """The one answer to every code not known (so a guess learns nothing more)."""
    return unindexed(visit.render("verify/page.html", status=404, as_stranger=True,
                                  outcome="unknown"))


def unindexed(response):
    response.headers["X-Robots-Tag"] = ROBOTS
    return response
