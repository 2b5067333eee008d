"""The public verification page and the certificate downloads (verify_pages.py, rate_limits.py),
served through the real ``@page`` wrapper, Visit and templates, with assessment's HTTP answers
faked at the HTTP client (the real Backend sends them): what a stranger is shown for each
status, the one 404 for every unknown code, the limits per client and for the portal as a
whole, and the files passed on with the user's token."""
import uuid

import lxml.html
import pytest
from werkzeug.test import EnvironBuilder

from services.portal.backend import Backend
from services.portal.extensions import template_environment
from services.portal.pages import COOKIE, LANG_COOKIE, Visit
from services.portal.rate_limits import (
    ClientLimits, TokenBucket, VerificationLimits, client_address, client_key,
)
from services.portal.service import PortalService

CODE = "Q2VydGlmaWNhdGUtY29kZS0xMjM0"  # 28 URL-safe characters
RECOGNITION = str(uuid.uuid4())
FOUND = {"holder_name": "Nguyễn Thị Học", "title": "Công dân học tập", "year": 2026,
         "issuer_name": "Hội Khuyến học phường Long Xuyên", "status": "valid",
         "status_label": "Còn hiệu lực"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Answer:
    def __init__(self, status=200, body=None, headers=None, content=None):
        self.status_code, self.body = status, body
        self.headers = headers or {"Content-Type": "application/json"}
        self.content = content if content is not None else (b"{}" if body is not None else b"")
        self.reason = "Too Many Requests" if status == 429 else "Not Found"

    def json(self):
        return self.body

    def iter_content(self, size):
        for i in range(0, len(self.content), size):
            yield self.content[i:i + size]


class FakeHttp:
    """Answers by (method, path); records what was sent."""

    def __init__(self, answers=None):
        self.answers, self.sent = dict(answers or {}), []

    def request(self, method, url, headers=None, timeout=None, **kwargs):
        path = url.split("://", 1)[1].split("/", 1)[1]
        self.sent.append((method, "/" + path, headers or {}, kwargs))
        answer = self.answers.get((method, "/" + path), Answer(404, {"error": "not found"}))
        return answer() if callable(answer) else answer


class FakeStore:
    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def load(self, hashed_id):
        return self.session

    def update(self, hashed_id, data):
        pass


class FakeDb:
    def __init__(self, session=None):
        self.session = session

    def store(self, write=False):
        return FakeStore(self.session)


class FakePortal:
    """The Portal dependency's part the pages use: settings, templates, limits, a Backend."""

    def __init__(self, http, per_client=3, overall=100, clock=None):
        self.config = {"OIDC_ISSUER": "https://id.example.vn"}
        self.templates = template_environment()
        self.clock = clock or Clock()
        self.verification = VerificationLimits(per_client, overall, clock=self.clock)
        self.http = http
        self.tokens = []

    def backend(self, token):
        self.tokens.append(token)
        return Backend({"assessment": "http://assessment.test",
                        "registry": "http://registry.test"}, token, http=self.http)

    def visit(self, request, db):
        return Visit(self, request, db)


class Service:
    """What a page method finds on ``self``."""

    def __init__(self, portal, session=None):
        self.portal, self.db = portal, FakeDb(session)


def open_page(service, method_name, path, *, address="203.0.113.7", headers=None,
              cookies=None, **url_args):
    builder = EnvironBuilder(path=path, environ_base={"REMOTE_ADDR": address},
                             headers=headers or {})
    request = builder.get_request()
    for name, value in (cookies or {}).items():
        request.cookies = request.cookies.copy()
        request.cookies[name] = value
    return getattr(PortalService, method_name)(service, request, **url_args)


def verify(service, code=CODE, **kwargs):
    return open_page(service, "verify", f"/xac-minh/{code}", code=code, **kwargs)


def html_of(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def text_of(tree, selector):
    return [" ".join(e.text_content().split()) for e in tree.cssselect(selector)]


def assessment_says(body=None, status=200, headers=None):
    return FakeHttp({("GET", f"/verifications/{CODE}"): Answer(status, body, headers)})


# -- the page a QR code opens ---------------------------------------------------------------
@pytest.mark.parametrize("status, label, look", [
    ("valid", "Còn hiệu lực", "ok"), ("revoked", "Đã thu hồi", "bad"),
    ("superseded", "Đã được thay thế", "old")])
def test_a_stranger_sees_the_holder_the_title_and_its_status(status, label, look):
    http = assessment_says(FOUND | {"status": status})
    response = verify(Service(FakePortal(http)))
    assert response.status_code == 200
    tree = html_of(response)
    assert tree.get("lang") == "vi"
    assert text_of(tree, "#certificate dd") == [
        "Nguyễn Thị Học", "Công dân học tập", "2026", "Hội Khuyến học phường Long Xuyên", label]
    verdict = tree.cssselect("#verdict")[0]
    assert label in verdict.text_content() and look in verdict.get("class").split()
    assert verdict.get("data-status") == status
    # nothing else: no id, no code, no link but home and the language switch
    assert [a.get("href") for a in tree.cssselect("a")] == [
        "#main", "/", f"/language/en?next=/xac-minh/{CODE}"]
    # unseen by search engines; assessment asked without any token
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert tree.cssselect('meta[name="robots"]')[0].get("content").startswith("noindex")
    (method, path, headers, _), = http.sent
    assert (method, path) == ("GET", f"/verifications/{CODE}")
    assert "Authorization" not in headers
    assert headers["X-Forwarded-For"] == "203.0.113.7"  # whose look-up it is


def test_a_signed_in_visitor_sees_what_a_stranger_sees():
    session = {"user": {"role": "commune_staff", "unit": "AG.LX", "name": "Trần Thị Chủ Tịch",
                        "person_id": str(uuid.uuid4())}, "csrf": "c", "access_token": "tok"}
    http = assessment_says(FOUND)
    response = verify(Service(FakePortal(http), session), cookies={COOKIE: "s" * 40})
    tree = html_of(response)
    assert not tree.cssselect('a[href="/people"]') and not tree.cssselect("form.who")
    assert "Trần Thị Chủ Tịch" not in response.get_data(as_text=True)
    assert "Authorization" not in http.sent[0][2]  # not even the visitor's token


def test_the_page_in_english():
    response = verify(Service(FakePortal(assessment_says(FOUND | {"status": "revoked"}))),
                      cookies={LANG_COOKIE: "en"})
    tree = html_of(response)
    assert tree.get("lang") == "en"
    assert text_of(tree, "h1") == ["Certificate verification"]
    assert text_of(tree, "#certificate dd")[-1] == "Revoked"


def unknown_page(response, code):
    return response.get_data(as_text=True).replace(code, "CODE")


def test_every_unknown_code_gets_the_same_404():
    known_not = assessment_says({"error": "unknown verification code"}, status=404)
    service = Service(FakePortal(known_not))
    unknown = verify(service)
    assert unknown.status_code == 404
    assert "Mã xác minh này không có trong hệ thống" in unknown.get_data(as_text=True)
    assert unknown.headers["X-Robots-Tag"].startswith("noindex")
    malformed = "abc"  # not even a code: assessment is not asked
    short = verify(service, code=malformed)
    assert short.status_code == 404 and len(known_not.sent) == 1
    assert unknown_page(short, malformed) == unknown_page(unknown, CODE)
    other = verify(service, code="Z" * 30)
    assert unknown_page(other, "Z" * 30) == unknown_page(unknown, CODE)


def test_one_client_is_slowed_down_and_the_others_are_not():
    http = assessment_says(FOUND)
    portal = FakePortal(http, per_client=3)
    service = Service(portal)
    assert [verify(service).status_code for _ in range(3)] == [200, 200, 200]
    refused = verify(service)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "20"
    assert "Xin thử lại sau 20 giây" in refused.get_data(as_text=True)
    assert refused.headers["X-Robots-Tag"].startswith("noindex")
    assert len(http.sent) == 3  # the refused look-up never reached assessment
    assert verify(service, code="x", address="203.0.113.8").status_code == 404  # counted
    assert verify(service, address="198.51.100.1").status_code == 200  # another client
    portal.clock.now += 20
    assert verify(service).status_code == 200


def test_behind_a_trusted_proxy_the_client_is_who_the_proxy_saw():
    http = assessment_says(FOUND)
    portal = FakePortal(http, per_client=1)
    portal.verification.trusted_proxies = 1
    service = Service(portal)
    proxy = "10.0.0.2"
    assert verify(service, address=proxy, headers={
        "X-Forwarded-For": "1.2.3.4, 198.51.100.9"}).status_code == 200
    assert http.sent[-1][2]["X-Forwarded-For"] == "198.51.100.9"
    assert verify(service, address=proxy, headers={  # the same client, whatever it writes
        "X-Forwarded-For": "5.6.7.8, 198.51.100.9"}).status_code == 429
    assert verify(service, address=proxy, headers={
        "X-Forwarded-For": "198.51.100.10"}).status_code == 200


def test_the_portal_keeps_under_assessments_limit_for_everybody():
    http = assessment_says(FOUND)
    portal = FakePortal(http, per_client=10, overall=6)
    portal.verification = VerificationLimits(10, 6, overall_burst=2, clock=portal.clock)
    service = Service(portal)
    assert verify(service, address="192.0.2.1").status_code == 200
    assert verify(service, address="192.0.2.2").status_code == 200
    refused = verify(service, address="192.0.2.3")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 10
    assert len(http.sent) == 2
    portal.clock.now += 10
    assert verify(service, address="192.0.2.3").status_code == 200


def test_the_limits_are_read_from_the_settings():
    limits = VerificationLimits.from_config({
        "VERIFY_PER_CLIENT_PER_MINUTE": 4, "VERIFY_PER_MINUTE": 30, "VERIFY_BURST": 3,
        "TRUSTED_PROXIES": 1})
    assert limits.clients.per_minute == 4 and limits.overall.capacity == 3
    assert limits.overall.rate == 0.5 and limits.trusted_proxies == 1
    with pytest.raises(ValueError):
        VerificationLimits.from_config({"VERIFY_PER_CLIENT_PER_MINUTE": -1})


def test_assessments_own_429_is_passed_on_with_its_wait():
    http = assessment_says({"error": "too many look-ups"}, status=429,
                           headers={"Retry-After": "42"})
    response = verify(Service(FakePortal(http)))
    assert response.status_code == 429 and response.headers["Retry-After"] == "42"


def test_assessment_not_answering_is_said_plainly():
    http = FakeHttp({("GET", f"/verifications/{CODE}"): Answer(503, {"error": "down"})})
    response = verify(Service(FakePortal(http)))
    assert response.status_code == 503
    assert "Dịch vụ Đánh giá tạm thời không trả lời" in response.get_data(as_text=True)
    assert response.headers["X-Robots-Tag"].startswith("noindex")


def test_a_code_typed_from_the_paper_leads_to_its_page():
    service = Service(FakePortal(assessment_says(FOUND)))
    form = open_page(service, "verify_enter", "/xac-minh")
    assert form.status_code == 200 and html_of(form).cssselect('form[action="/xac-minh"] #ma')
    typed = open_page(service, "verify_enter", f"/xac-minh?ma=%20{CODE[:10]}%20{CODE[10:]}")
    assert typed.status_code == 303 and typed.headers["Location"] == f"/xac-minh/{CODE}"
    wrong = open_page(service, "verify_enter", "/xac-minh?ma=../../people")
    assert wrong.status_code == 404


# -- the downloads --------------------------------------------------------------------------
def signed_in(role="citizen"):
    return {"user": {"role": role, "unit": "AG.LX", "name": "Nguyễn Thị Học",
                     "person_id": str(uuid.uuid4())}, "csrf": "c", "access_token": "user-token"}


CREDENTIAL = {"credential_id": "urn:uuid:" + str(uuid.uuid4()), "verification_code": CODE,
              "verify_url": f"https://cdht.example.vn/xac-minh/{CODE}", "status": "valid",
              "issuer": {"unit_code": "AG.LX", "name": "Hội Khuyến học phường Long Xuyên"},
              "jwt": "eyJhbGciOiJFZERTQSJ9.eyJ2YyI6MX0.c2ln",
              "credential": {"name": "Công dân học tập năm 2026"}}


def download(method_name, path, http, role="citizen"):
    service = Service(FakePortal(http), signed_in(role))
    response = open_page(service, method_name, path, cookies={COOKIE: "s" * 40},
                         recognition_id=uuid.UUID(RECOGNITION))
    return response, http.sent


def test_the_certificate_is_passed_on_as_the_users_download():
    pdf = b"%PDF-1.7\n" + b"x" * 200_000
    http = FakeHttp({("GET", f"/recognitions/{RECOGNITION}/certificate.pdf"): Answer(
        200, None, {"Content-Type": "application/pdf", "Content-Length": str(len(pdf)),
                    "Content-Disposition": 'attachment; filename="chung-nhan-2026.pdf"',
                    "Set-Cookie": "theirs=1"}, content=pdf)})
    response, sent = download("certificate_pdf", f"/titles/{RECOGNITION}/certificate.pdf", http)
    assert response.status_code == 200 and b"".join(response.response) == pdf
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="chung-nhan-2026.pdf"'
    assert "Set-Cookie" not in response.headers  # only the file's own headers
    assert sent[0][2]["Authorization"] == "Bearer user-token"
    assert sent[0][3].get("stream") is True  # never held whole


def test_a_title_that_is_not_the_users_is_not_found():
    response, _ = download("certificate_pdf", f"/titles/{RECOGNITION}/certificate.pdf",
                           FakeHttp(), role="commune_staff")
    assert response.status_code == 404
    assert "Không tìm thấy" in response.get_data(as_text=True)


def test_the_digital_credential_is_the_signed_vc_jwt():
    http = FakeHttp({("GET", f"/recognitions/{RECOGNITION}/credential"): Answer(200, CREDENTIAL)})
    response, sent = download("credential_jwt", f"/titles/{RECOGNITION}/credential.jwt", http)
    assert response.status_code == 200
    assert response.mimetype == "application/vc+jwt"
    assert response.get_data(as_text=True) == CREDENTIAL["jwt"]
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="chung-nhan-so-cong-dan-hoc-tap-2026.jwt"')
    assert sent[0][2]["Authorization"] == "Bearer user-token"


def test_the_verification_link_opens_the_titles_public_page():
    http = FakeHttp({("GET", f"/recognitions/{RECOGNITION}/credential"): Answer(200, CREDENTIAL)})
    response, _ = download("verification_of", f"/titles/{RECOGNITION}/verification", http)
    assert response.status_code == 303 and response.headers["Location"] == f"/xac-minh/{CODE}"


def test_a_reviewer_has_no_download():
    response, sent = download("certificate_pdf", f"/titles/{RECOGNITION}/certificate.pdf",
                              FakeHttp(), role="reviewer")
    assert response.status_code == 403 and sent == []


def titles_pages(role):
    """The citizen's record and a staff's person page, with two titles: one in force, one
    revoked."""
    person = signed_in()["user"]["person_id"]
    revoked = str(uuid.uuid4())
    titles = {"items": [
        {"recognition_id": RECOGNITION, "person_id": person, "year": 2026,
         "granted_at": "2026-05-04T10:00:00+07:00", "criteria_version": "324/QĐ-KHVN",
         "total_score": 82, "digital_skills": "basic", "revoked_at": None},
        {"recognition_id": revoked, "person_id": person, "year": 2025,
         "granted_at": "2025-05-04T10:00:00+07:00", "criteria_version": "324/QĐ-KHVN",
         "total_score": 81, "digital_skills": "basic", "revoked_at": "2025-09-01T10:00:00+07:00",
         "revoke_reason": "nhầm hồ sơ"}], "total": 2}
    http = FakeHttp({
        ("GET", f"/people/{person}"): Answer(200, {
            "id": person, "full_name": "Nguyễn Thị Học", "unit_code": "AG.LX",
            "gender": "female", "target_group": "resident", "birth_year": 1985}),
        ("GET", "/assessments"): Answer(200, {"items": [], "total": 0}),
        ("GET", "/recognitions"): Answer(200, titles),
        ("GET", "/units/AG.LX"): Answer(200, {"code": "AG.LX", "name": "Phường Long Xuyên"}),
        ("GET", "/units"): Answer(200, {"items": [{"code": "AG.LX",
                                                    "name": "Phường Long Xuyên"}]})})
    session = signed_in(role) | {"user": signed_in(role)["user"] | {"person_id": person}}
    service = Service(FakePortal(http), session)
    if role == "citizen":
        response = open_page(service, "my_record", "/me", cookies={COOKIE: "s" * 40})
    else:
        response = open_page(service, "person", f"/people/{person}", cookies={COOKIE: "s" * 40},
                             person_id=uuid.UUID(person))
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return html_of(response), revoked


def test_the_holder_downloads_each_title_in_force_from_their_record():
    tree, revoked = titles_pages("citizen")
    links = {a.get("href"): " ".join(a.text_content().split()) for a in tree.cssselect("main a")}
    assert links[f"/titles/{RECOGNITION}/certificate.pdf"] == "Tải giấy chứng nhận (PDF)"
    assert links[f"/titles/{RECOGNITION}/credential.jwt"] == "Chứng nhận số (VC-JWT)"
    assert links[f"/titles/{RECOGNITION}/verification"] == "Mở trang xác minh"
    assert not [href for href in links if revoked in href]  # a revoked title has none
    labels = [a.get("aria-label") for a in tree.cssselect(".downloads a")]
    assert labels[0] == "Tải giấy chứng nhận (PDF) năm 2026"


def test_staff_download_the_certificate_from_a_persons_page():
    tree, revoked = titles_pages("commune_staff")
    hrefs = [a.get("href") for a in tree.cssselect("main a")]
    assert f"/titles/{RECOGNITION}/certificate.pdf" in hrefs
    assert not [h for h in hrefs if revoked in h or h.endswith(".jwt")]


# -- the limits -----------------------------------------------------------------------------
def test_a_bucket_lets_a_burst_through_then_one_at_its_pace():
    clock = Clock()
    bucket = TokenBucket(6, clock=clock)  # one every 10 s
    assert [bucket.take() for _ in range(6)] == [0] * 6
    assert bucket.take() == 10
    clock.now += 9.5
    assert bucket.take() == 1
    clock.now += 0.5
    assert bucket.take() == 0 and bucket.take() == 10
    clock.now += 3600
    assert bucket.full()
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_idle_clients_are_forgotten_before_memory_grows():
    clock = Clock()
    limits = ClientLimits(2, clock=clock, max_clients=4)
    for n in range(4):
        limits.take(f"10.0.0.{n}")
    assert len(limits) == 4
    clock.now += 60  # all full again
    limits.take("10.0.0.9")
    assert len(limits) == 1
    for n in range(8):  # all busy: the older half goes
        limits.take(f"10.0.1.{n}")
    assert len(limits) <= 4


@pytest.mark.parametrize("remote, forwarded, proxies, client", [
    ("203.0.113.7", None, 0, "203.0.113.7"),
    ("203.0.113.7", "1.2.3.4", 0, "203.0.113.7"),      # a header nobody vouches for
    ("10.0.0.2", "198.51.100.9", 1, "198.51.100.9"),   # what our proxy saw
    ("10.0.0.2", "1.2.3.4, 198.51.100.9", 1, "198.51.100.9"),  # the client's own words: no
    ("10.0.0.2", "198.51.100.9, 10.0.0.3", 2, "198.51.100.9"),
    ("10.0.0.2", "", 1, "10.0.0.2"),
])
def test_the_client_is_who_the_trusted_proxies_say(remote, forwarded, proxies, client):
    assert client_address(remote, forwarded, proxies) == client


def test_an_ipv6_client_is_its_slash_64():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == (
        "2001:db8:1:2::/64")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.7") == client_key("203.0.113.7") == "203.0.113.7"
