"""Proof of a title through the real processes (provider, four services, portal) and a real
browser: a citizen with a granted title downloads the certificate from their record; the QR
code read from the PDF's image opens the public verification page in Chromium, which says
"Còn hiệu lực"; staff revoke the title and the same page says "Đã thu hồi". An unknown code
gets the 404 page, a client past its limit the 429 page. Every state is checked with axe-core
at a phone's and a desktop's size and photographed (CDHT_PORTAL_SCREENSHOTS, as in
test_browser.py: xac-minh-phone.png, xac-minh-desktop.png for the staff guide)."""
import base64
import io
import json
from datetime import date

import lxml.html
import pytest
from PIL import Image, ImageOps

from tests.e2e.portal.client import text_of
from tests.e2e.portal.browsing import sign_in
from tests.e2e.portal.test_browser import SCORES_PASS

pytestmark = pytest.mark.e2e

YEAR = date.today().year


@pytest.fixture(scope="module")
def title(portal):
    """The citizen's title of this year: self-assessed, accepted by the reviewer and
    recognised by the commune's official (the admin records their acts)."""
    api, people = portal.api, portal.people
    submitted = api.post("assessment", "/assessments", {
        "person_id": people["citizen"], "year": YEAR, "scores": SCORES_PASS})
    assert submitted.status_code == 201, submitted.text
    assessment = submitted.json()["assessment_id"]
    reviewed = api.post("assessment", f"/assessments/{assessment}/review",
                        {"reviewer_id": people["reviewer"], "action": "accept"})
    assert reviewed.status_code == 200, reviewed.text
    decided = api.post("assessment", f"/assessments/{assessment}/decision",
                       {"decided_by": people["commune"], "decision": "recognise"})
    assert decided.status_code == 200, decided.text
    found = api.get("assessment", "/recognitions", params={"person_id": people["citizen"]})
    assert found.status_code == 200, found.text
    return next(t for t in found.json()["items"] if t["year"] == YEAR)


def qr_code_of(pdf):
    """The text of the QR code drawn as an image in the PDF (pypdf takes the image out,
    zxing-cpp reads it, enlarged and with a quiet zone as a phone's camera would see it)."""
    import pypdf
    import zxingcpp
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for embedded in page.images:
            image = embedded.image.convert("L")
            scale = max(1, 600 // max(image.size))
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
            found = zxingcpp.read_barcodes(ImageOps.expand(image, border=8 * scale, fill=255))
            if found:
                return found[0].text
    raise AssertionError("no QR code in the PDF's images")


def links_of(response):
    tree = lxml.html.fromstring(response.text, base_url=response.url)
    return {" ".join(a.text_content().split()): a.get("href") for a in tree.cssselect("main a")}


def test_staff_download_the_certificate_from_the_persons_page(portal, title):
    commune = portal.sign_in("commune")
    links = links_of(commune.get(f"/people/{portal.people['citizen']}"))
    assert links["Tải giấy chứng nhận (PDF)"] == (
        f"/titles/{title['recognition_id']}/certificate.pdf")
    pdf = commune.get(links["Tải giấy chứng nhận (PDF)"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = portal.sign_in("citizen2")  # not theirs
    assert other.get(links["Tải giấy chứng nhận (PDF)"]).status_code in (403, 404)


def test_the_holder_downloads_the_certificate_and_its_qr_code_opens_the_page(
        portal, title, browser, checked):
    citizen = portal.sign_in("citizen")
    record = citizen.get("/me")
    assert record.status_code == 200
    links = links_of(record)
    pdf_link = links["Tải giấy chứng nhận (PDF)"]
    assert pdf_link == f"/titles/{title['recognition_id']}/certificate.pdf"

    pdf = citizen.get(pdf_link)
    assert pdf.status_code == 200, pdf.text[:2000]
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert pdf.content.startswith(b"%PDF")
    url = qr_code_of(pdf.content)
    assert url.startswith(f"{portal.base_url}/xac-minh/"), url
    code = url.rsplit("/", 1)[1]

    # the digital credential: the signed VC-JWT; the verification link: the same page
    vc = citizen.get(links["Chứng nhận số (VC-JWT)"])
    assert vc.status_code == 200 and vc.headers["Content-Type"] == "application/vc+jwt"
    assert "attachment" in vc.headers["Content-Disposition"]
    header, payload, _ = vc.text.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "EdDSA"
    assert "VerifiableCredential" in json.loads(base64.urlsafe_b64decode(payload + "==="))[
        "type"]
    opened = citizen.get(links["Mở trang xác minh"])
    assert opened.url == url and "Còn hiệu lực" in opened.text

    # the record with its downloads, in Chromium (checked with axe like every page)
    sign_in(browser, portal, "citizen", "/me")
    assert browser.count(f'a[href="{pdf_link}"]') == 1
    checked("citizen-record-titles")

    # what anyone scanning the code sees: in Chromium, with no session at all
    browser.fresh()
    browser.goto(url)
    assert browser.text("#verdict .verdict-label").strip().endswith("Còn hiệu lực")
    holder, name, year, issuer, status = browser.texts("#certificate dd")
    assert (holder, name, year, status) == ("Nguyễn Thị Học", "Công dân học tập", str(YEAR),
                                            "Còn hiệu lực")
    assert issuer == "Hội Khuyến học phường Long Xuyên"
    assert browser.attr(["html", "lang"]) == "vi"
    assert browser.attr(['meta[name="robots"]', "content"]).startswith("noindex")
    shown = browser.text("main")
    assert code not in shown and "AG." not in shown  # no code, no id on the page
    assert title["recognition_id"] not in browser.html()
    checked("xac-minh")

    # staff revoke the title: the same address now says so
    revoked = portal.api.post("assessment", f"/recognitions/{title['recognition_id']}/revoke",
                              {"reason": "Hồ sơ khai sai", "revoked_by": portal.people["commune"]})
    assert revoked.status_code == 200, revoked.text
    browser.goto(url)
    assert browser.text("#verdict .verdict-label").strip().endswith("Đã thu hồi")
    assert browser.attr(["#verdict", "data-status"]) == "revoked"
    checked("xac-minh-da-thu-hoi")
    # and a revoked title offers its holder no certificate any more
    assert "Tải giấy chứng nhận (PDF)" not in links_of(citizen.get("/me"))


def test_an_unknown_code_and_a_client_past_its_limit(portal, browser, checked):
    browser.fresh()
    browser.goto(f"{portal.base_url}/xac-minh/khong-co-ma-nay-trong-he-thong-00")
    assert browser.text("h1") == "Không tìm thấy giấy chứng nhận"
    checked("xac-minh-khong-tim-thay")
    stranger = portal.sign_in("citizen3").http  # signed in or not: the same answers
    answers = [stranger.get(f"{portal.base_url}/xac-minh/ma-sai-{n:030d}", timeout=30)
               for n in range(12)]
    statuses = [a.status_code for a in answers]
    assert set(statuses[:3]) == {404} and statuses[-1] == 429, statuses
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-Robots-Tag"].startswith("noindex")
    assert "Xin thử lại sau" in " ".join(text_of(lxml.html.fromstring(refused.text), "main"))
    browser.goto(f"{portal.base_url}/xac-minh/ma-sai-{0:030d}")  # the browser: same address
    assert browser.text("h1") == "Xin chờ một chút"
    checked("xac-minh-qua-nhieu")
