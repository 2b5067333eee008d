"""The programme in a real browser (headless Chromium, Playwright), signed in through the
real OpenID provider: a citizen self-assesses, a reviewer accepts, the commune official
recognises, the dashboard shows the new figure and the congratulation mail arrives; a refusal
with reasons; a send-back and a resubmission. Every page met is checked with axe-core at a
phone's size (390x844) and a desktop's, and photographed for the staff guide."""
from datetime import date

import pytest

from tests.e2e.portal.browsing import sign_in

pytestmark = pytest.mark.e2e

SCORES_PASS = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
               "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}
SCORES_WEAK = SCORES_PASS | {"TC2.2": 4, "TC1.1": 10, "TC1.2": 10}


def self_assess(browser, scores):
    for code, score in scores.items():
        browser.select([f"#scores-{code.replace('.', '-')}", str(score)])
    return browser.follow("#scores-form button[type=submit]")


def open_from_list(browser, portal, path, name):
    browser.goto(portal.base_url + path)
    return browser.follow(f"main a:has-text('{name}')")


def mails_to(smtp, address):
    _, inbox = smtp
    return [mail for recipients, mail in inbox.mails if address in recipients]


def test_a_citizen_is_recognised_and_the_figure_and_the_mail_follow(
        portal, browser, checked, smtp, until):
    sign_in(browser, portal, "citizen", "/me/self-assessment")
    checked("citizen-self-assessment")
    landed = self_assess(browser, SCORES_PASS)
    assert "/assessments/" in landed
    checked("citizen-assessment-submitted")

    sign_in(browser, portal, "reviewer", "/review")
    checked("reviewer-queue")
    open_from_list(browser, portal, "/review", "Nguyễn Thị Học")
    checked("reviewer-assessment")
    browser.follow("#accept-form button[type=submit]")
    assert browser.count(".notice") == 1

    sign_in(browser, portal, "commune", "/decisions")
    checked("official-decisions")
    open_from_list(browser, portal, "/decisions", "Nguyễn Thị Học")
    checked("official-decision")
    browser.follow("#recognise-form button[type=submit]")
    assert browser.count(".notice") == 1

    mail = until(lambda: mails_to(smtp, portal.emails["citizen"]), timeout=30)[-1]
    assert mail["Subject"].startswith("Chúc mừng Nguyễn Thị Học đạt danh hiệu Công dân học tập")

    def titled_on_the_dashboard():
        browser.goto(portal.base_url + "/dashboard")
        browser.wait("document.body.dataset.loaded === '1'")
        summary = browser.text("#summary")
        return summary if f"Đạt danh hiệu {date.today().year}: 1" in summary else None
    until(titled_on_the_dashboard, timeout=30, interval=1.0,  # from the projection
          message="the new title on the commune's dashboard")
    checked("dashboard")
    assert "token" not in browser.url()

    sign_in(browser, portal, "citizen", "/me")
    checked("citizen-record")
    assert "Đã công nhận" in browser.text("main") or "Công nhận" in browser.text("main")


def test_a_refusal_reaches_the_citizen_with_its_reasons(portal, browser, checked, smtp, until):
    sign_in(browser, portal, "citizen2", "/me/self-assessment")
    self_assess(browser, SCORES_WEAK)
    sign_in(browser, portal, "reviewer", "/review")
    open_from_list(browser, portal, "/review", "Võ Văn Chăm")
    browser.follow("#accept-form button[type=submit]")
    sign_in(browser, portal, "commune", "/decisions")
    open_from_list(browser, portal, "/decisions", "Võ Văn Chăm")
    browser.fill(["#refuse-reasons", "Chưa có minh chứng tham gia sinh hoạt câu lạc bộ"])
    browser.follow("#refuse-form button[type=submit]")
    checked("official-refused")
    sign_in(browser, portal, "citizen2", "/me")
    page = browser.text("main")
    assert "Chưa có minh chứng tham gia sinh hoạt câu lạc bộ" in page
    mail = until(lambda: mails_to(smtp, portal.emails["citizen2"]), timeout=30)[-1]
    assert mail["Subject"].startswith("Kết quả xét công nhận danh hiệu Công dân học tập")


def test_a_send_back_is_answered_by_a_resubmission(portal, browser, checked):
    sign_in(browser, portal, "citizen3", "/me/self-assessment")
    self_assess(browser, SCORES_PASS)
    sign_in(browser, portal, "reviewer", "/review")
    open_from_list(browser, portal, "/review", "Lý Thị Siêng")
    browser.fill(["#send-back-reason", "Xin bổ sung giấy chứng nhận lớp tin học"])
    browser.follow("#send-back-form button[type=submit]")
    sign_in(browser, portal, "citizen3", "/me")
    assert "Xin bổ sung giấy chứng nhận lớp tin học" in browser.text("main")
    checked("citizen-sent-back")
    browser.goto(portal.base_url + "/me/self-assessment")
    checked("citizen-resubmit")
    landed = self_assess(browser, SCORES_PASS | {"TC3.2": 9})
    assert "/assessments/" in landed
    sign_in(browser, portal, "reviewer", "/review")
    assert "Lý Thị Siêng" in browser.text("main")
