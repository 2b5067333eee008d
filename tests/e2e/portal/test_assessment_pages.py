"""The assessment and citizen pages through the real processes (provider, four services,
portal): a citizen self-assesses, a reviewer sends back, adjusts or accepts, the commune
association recognises or refuses with reasons, a paper self-assessment entered by staff,
a citizen's record and notification preferences. Each form: its success, its field errors in
Vietnamese with nothing written (checked through the API), and a double submit recorded
once."""
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.portal.client import pick_form, text_of

pytestmark = pytest.mark.e2e

YEAR = date.today().year
PASSING = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
           "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}           # 81 points
SHORT = PASSING | {"TC2.1": 6}                                        # 79 points


def fields_of(scores):
    return {f"scores.{code}": str(score) for code, score in scores.items()}


def assessments_of(portal, person_id):
    response = portal.api.get("assessment", "/assessments",
                              params={"person_id": person_id, "year": YEAR})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def one_assessment(portal, person_id):
    found = assessments_of(portal, person_id)
    assert len(found) == 1, found
    return found[0]


def errors_beside(tree, field_id):
    return text_of(tree, f"#{field_id}-error")


def tree_of(client):
    import lxml.html
    return lxml.html.fromstring(client.last.text, base_url=client.last.url)


@pytest.fixture(scope="module")
def clients(portal):
    return {name: portal.sign_in(name) for name in
            ("citizen", "citizen2", "reviewer", "commune", "province")}


def test_each_page_opens_for_its_roles_and_not_for_others(portal, clients):
    citizen, reviewer, commune = clients["citizen"], clients["reviewer"], clients["commune"]
    person = portal.people["citizen2"]
    for client, path in ((citizen, "/me"), (citizen, "/me/self-assessment"),
                         (citizen, "/me/preferences"), (reviewer, "/review"),
                         (commune, "/review"), (commune, "/decisions"),
                         (commune, f"/people/{person}/paper-assessment")):
        tree = client.page(path)
        assert client.last.status_code == 200, (path, client.last.text[:3000])
        assert len(tree.cssselect("h1")) == 1
    for client, path in ((citizen, "/review"), (citizen, "/decisions"),
                         (citizen, f"/people/{person}/paper-assessment"),
                         (reviewer, "/decisions"), (reviewer, "/me"),
                         (commune, "/me/self-assessment")):
        assert client.get(path).status_code == 403, path


def test_self_assessment_sent_back_resubmitted_adjusted_and_recognised(portal, clients):
    citizen, reviewer, commune = clients["citizen"], clients["reviewer"], clients["commune"]
    person = portal.people["citizen"]

    # the form: the ten indicators in the wording of a resident's form, on the set's scale
    tree = citizen.page("/me/self-assessment")
    labels = text_of(tree, "#scores-form label")
    assert len(labels) == 10 and labels[0].startswith("1.1. Đọc sách, báo, cập nhật thông tin")
    assert "Mẫu 1: Người dân ở xã, phường, đặc khu" in citizen.last.text
    assert text_of(tree, "#scores-TC1-1 option")[-1] == "10"

    # a score left out: said beside it in Vietnamese, nothing written
    missing = fields_of(PASSING) | {"scores.TC2.2": ""}
    response = citizen.submit("/me/self-assessment", missing, which="#scores-form")
    assert response.status_code == 422
    assert errors_beside(tree_of(citizen), "scores-TC2-2") == ["Chọn điểm từ 0 đến 10."]
    assert "Biểu mẫu có lỗi" in response.text
    assert assessments_of(portal, person) == []

    # sent, twice with the same form (a double click): one assessment
    form = pick_form(citizen.page("/me/self-assessment"), "#scores-form")
    first = citizen.send_form(form, fields_of(PASSING))
    second = citizen.send_form(form, fields_of(PASSING))
    assert first.url == second.url and "/assessments/" in first.url
    assert "Biểu mẫu này đã được gửi" in second.text
    assessment = one_assessment(portal, person)
    assert assessment["status"] == "submitted" and assessment["scores"] == PASSING
    page = first.text
    assert "Đã gửi bản tự đánh giá" in page and "Chờ thẩm định" in page
    assert "Tổng điểm: 81/100" in page and "Đạt tiêu chí danh hiệu Công dân học tập" in page
    path = f"/assessments/{assessment['assessment_id']}"

    # the reviewer's queue names the citizen and their ward
    queue = reviewer.page("/review")
    row = [r for r in text_of(queue, "tbody tr") if "Nguyễn Thị Học" in r]
    assert row and "Phường Long Xuyên" in row[0]

    # a send-back without a reason: refused in Vietnamese, the assessment untouched
    response = reviewer.submit(path, {"reason": ""}, which="#send-back-form")
    assert response.status_code == 422
    assert errors_beside(tree_of(reviewer), "reason") == [
        "Ghi lý do trả lại để người dân biết cần sửa gì."]
    assert one_assessment(portal, person)["status"] == "submitted"
    response = reviewer.submit(path, {"reason": "Chưa có minh chứng ngoại ngữ"},
                               which="#send-back-form")
    assert response.status_code == 200 and "Bị trả lại để sửa" in response.text
    assert one_assessment(portal, person)["status"] == "returned"

    # the citizen sees why, and resubmits (PUT scores) from the same page
    record = citizen.page("/me")
    said = " ".join(text_of(record, "tbody td"))
    assert "Bị trả lại để sửa" in said and "Chưa có minh chứng ngoại ngữ" in said
    tree = citizen.page("/me/self-assessment")
    assert "Chưa có minh chứng ngoại ngữ" in citizen.last.text
    assert tree.cssselect("#scores-TC2-2 option[selected]")[0].get("value") == "7"
    response = citizen.submit("/me/self-assessment", {"scores.TC2.2": "8"},
                              which="#scores-form")
    assert response.status_code == 200 and response.url.endswith(path)
    again = one_assessment(portal, person)
    assert again["status"] == "submitted" and again["scores"]["TC2.2"] == 8

    # an adjustment without its reason: refused, nothing written; with it: reviewed
    response = reviewer.submit(path, {"adjust.TC1.1": "10"}, which="#adjust-form")
    assert response.status_code == 422
    assert errors_beside(tree_of(reviewer), "why-TC1-1") == [
        "Ghi lý do điều chỉnh điểm chỉ số này."]
    assert one_assessment(portal, person)["status"] == "submitted"
    response = reviewer.submit(path, {"adjust.TC1.1": "10",
                                      "why.TC1.1": "Đọc sách đều đặn ở thư viện xã"},
                               which="#adjust-form")
    assert response.status_code == 200, response.text[:3000]
    assert "Chỉ số 1.1: 9 → 10 (Đọc sách đều đặn ở thư viện xã)" in response.text
    reviewed = one_assessment(portal, person)
    assert reviewed["status"] == "reviewed" and reviewed["scores"]["TC1.1"] == 10

    # the commune association's queue, then its decision
    decisions = commune.page("/decisions")
    assert any("Nguyễn Thị Học" in r for r in text_of(decisions, "tbody tr"))
    response = commune.submit(path, which="#recognise-form")
    assert response.status_code == 200 and "Đã công nhận" in response.text
    assert one_assessment(portal, person)["status"] == "recognised"
    record = citizen.page("/me")
    titles = text_of(record, "tbody tr")
    assert any(str(YEAR) in r and "Còn hiệu lực" in r for r in titles)


def test_a_paper_assessment_refused_with_reasons_in_words(portal, clients):
    reviewer, commune, citizen2 = clients["reviewer"], clients["commune"], clients["citizen2"]
    person = portal.people["citizen2"]
    paper = f"/people/{person}/paper-assessment"

    # staff who are not the association's officials cannot enter it: said on the form
    response = clients["province"].submit(paper, fields_of(SHORT), which="#scores-form")
    assert response.status_code == 422
    assert "không thể nhập thay" in response.text
    assert assessments_of(portal, person) == []

    response = commune.submit(paper, fields_of(SHORT), which="#scores-form")
    assert response.status_code == 200 and "/assessments/" in response.url
    assert "Tổng điểm 79, chưa đạt mức 80 điểm" in response.text
    assessment = one_assessment(portal, person)
    assert assessment["submitted_by"] == portal.people["commune"]
    path = f"/assessments/{assessment['assessment_id']}"
    assert reviewer.submit(path, which="#accept-form").status_code == 200
    assert one_assessment(portal, person)["status"] == "reviewed"

    tree = commune.page(path)
    assert not tree.cssselect("#recognise-form")  # it does not pass: refusal only
    response = commune.submit(path, {"reasons": "Chưa tham gia sinh hoạt khuyến học"},
                              which="#refuse-form")
    assert response.status_code == 200 and "Không được công nhận" in response.text
    refused = one_assessment(portal, person)
    assert refused["status"] == "refused"

    record = citizen2.page("/me")
    said = " ".join(text_of(record, "tbody td"))
    assert "Tổng điểm 79, chưa đạt mức 80 điểm" in said
    assert "Chưa tham gia sinh hoạt khuyến học" in said
    assert "total 79" not in citizen2.last.text


def test_refusing_a_passing_assessment_needs_reasons(portal, clients):
    """The service's refusal (a 422 on ``reasons``) lands beside the field, in Vietnamese."""
    person = portal.people["citizen2"]
    assessments = portal.api.get("assessment", "/assessments",
                                 params={"person_id": person}).json()["items"]
    assert all(a["status"] == "refused" for a in assessments)
    submitted = portal.api.post("assessment", "/assessments", {
        "person_id": person, "year": YEAR, "scores": PASSING,
        "submitted_by": portal.people["commune"]})
    assert submitted.status_code == 201, submitted.text
    path = f"/assessments/{submitted.json()['assessment_id']}"
    assert clients["reviewer"].submit(path, which="#accept-form").status_code == 200
    commune = clients["commune"]
    response = commune.submit(path, {"reasons": ""}, which="#refuse-form")
    assert response.status_code == 422
    assert errors_beside(tree_of(commune), "reasons") == [
        "Hồ sơ đạt tiêu chí: muốn không công nhận, phải ghi lý do."]
    statuses = sorted(a["status"] for a in assessments_of(portal, person))
    assert statuses == ["refused", "reviewed"]


def test_notification_preferences(portal, clients):
    citizen = clients["citizen"]
    person = portal.people["citizen"]

    def opted_out():
        found = portal.api.get("notifications", f"/preferences/{person}").json()
        return sorted(c["name"] for c in found["categories"] if c["opted_out"])

    tree = citizen.page("/me/preferences")
    assert "Luôn nhận (bắt buộc)" in citizen.last.text
    assert tree.cssselect("#want-congratulations[checked]")
    form = pick_form(tree, "/me/preferences")
    values = {k: v for k, v in form.form_values() if k != "want.congratulations"}
    form_fields = dict(values)
    # untick "congratulations": sent twice, acted on once
    first = citizen._send("POST", citizen.url("/me/preferences"), data=form_fields)
    second = citizen._send("POST", citizen.url("/me/preferences"), data=form_fields)
    assert first.status_code == second.status_code == 200
    assert "Đã lưu lựa chọn nhận thông báo" in first.text
    assert opted_out() == ["congratulations"]
    tree = citizen.page("/me/preferences")
    assert not tree.cssselect("#want-congratulations[checked]")
    response = citizen.submit("/me/preferences", {"want.congratulations": "1"},
                              which="/me/preferences")
    assert response.status_code == 200
    assert opted_out() == []


def test_the_pages_in_english(portal, clients):
    citizen = clients["citizen"]
    citizen.get("/language/en?next=/me")
    try:
        tree = citizen.page("/me")
        assert text_of(tree, "h1") == ["My record"]
        assert "Recognised" in citizen.last.text
        assert citizen.last.text.count('lang="en"') >= 1
    finally:
        citizen.get("/language/vi?next=/")


def test_a_review_sent_after_the_session_ended_comes_back_with_what_was_typed(portal):
    """Last: it ends every session of this module's portal."""
    other = portal.api.post("assessment", "/assessments", {
        "person_id": portal.people["citizen2"], "year": YEAR - 1, "scores": PASSING,
        "submitted_by": portal.people["commune"]})
    assert other.status_code == 201, other.text
    path = f"/assessments/{other.json()['assessment_id']}"
    reviewer = portal.sign_in("reviewer")
    form = pick_form(reviewer.page(path), "#send-back-form")
    engine = create_engine(portal.env["PORTAL_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE sessions SET expires_at = now() - interval '1 second'"))
    engine.dispose()
    response = reviewer.send_form(form, {"reason": "Thiếu chữ ký của tổ trưởng"})
    assert response.url == portal.base_url + path + "/review", response.url
    tree = tree_of(reviewer)
    assert "Phiên làm việc đã hết hạn" in " ".join(text_of(tree, ".notice"))
    assert tree.get_element_by_id("send-back-reason").text == "Thiếu chữ ký của tổ trưởng"
    assert portal.api.get("assessment", path).json()["status"] == "submitted"
