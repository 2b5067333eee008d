"""The staff pages through the real processes (provider, four services, portal): finding and
registering people, a person's record, imports with their error report, group titles,
closing a year, and the dashboard with no token in the browser. Each form: its success, its
field errors in Vietnamese with nothing written (checked through the API), and a double
submit recorded once."""
import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import lxml.html
import pytest

from services.registry.domain import national_id_for
from tests.e2e.portal.client import pick_form, text_of

pytestmark = pytest.mark.e2e

YEAR = date.today().year
_serial = iter(range(900000, 10**6))


def new_id(born, gender):
    return national_id_for(89, born, gender, next(_serial))


def tree_of(client):
    return lxml.html.fromstring(client.last.text, base_url=client.last.url)


def errors_beside(tree, field_id):
    return text_of(tree, f"#{field_id}-error")


def people_named(portal, name):
    response = portal.api.get("registry", "/people", params={"q": name})
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def clients(portal):
    return {name: portal.sign_in(name) for name in
            ("province", "commune", "reviewer", "citizen")}


def test_each_page_opens_for_its_roles_and_not_for_others(portal, clients):
    province, commune = clients["province"], clients["commune"]
    reviewer, citizen = clients["reviewer"], clients["citizen"]
    person = portal.people["citizen"]
    for client, path in ((commune, "/people"), (commune, "/people/new"),
                         (commune, f"/people/{person}"), (commune, "/group-titles"),
                         (commune, "/closing"), (province, "/imports"),
                         (province, "/people"), (reviewer, "/dashboard")):
        tree = client.page(path)
        assert client.last.status_code == 200, (path, client.last.text[:3000])
        assert len(tree.cssselect("h1")) == 1, path
        assert tree.get("lang") == "vi", path
    for client, path in ((commune, "/imports"), (reviewer, "/people"),
                         (reviewer, "/closing"), (citizen, "/people"),
                         (citizen, "/group-titles"), (citizen, "/dashboard"),
                         (citizen, "/dashboard/data/units")):
        assert client.get(path).status_code == 403, path


def test_finding_people_by_name_national_id_and_unit(portal, clients):
    commune, province = clients["commune"], clients["province"]
    tree = commune.page("/people?q=hoc")  # without diacritics
    rows = text_of(tree, "tbody tr")
    assert any("Nguyễn Thị Học" in r and "Phường Long Xuyên" in r for r in rows), rows
    assert not any("Đỗ Thị Khác" in r for r in text_of(commune.page("/people?q=Khác"),
                                                      "tbody tr"))  # another commune
    found = province.page("/people?unit_code=AG.MB")
    assert [r for r in text_of(found, "tbody tr") if "Đỗ Thị Khác" in r]
    assert "Xã Mỹ Hòa Hưng" in " ".join(text_of(found, "tbody td"))

    response = commune.get("/people?national_id=0891")
    assert response.status_code == 422
    assert errors_beside(tree_of(commune), "national_id") == [
        "Số định danh cá nhân gồm đúng 12 chữ số."]

    born = date(1979, 3, 14)
    national_id = new_id(born, "female")
    body = {"national_id": national_id, "full_name": "Huỳnh Thị Tìm", "gender": "female",
            "birth_date": born.isoformat(), "unit_code": "AG.LX", "target_group": "worker"}
    assert portal.api.post("registry", "/people", body).status_code == 201
    rows = text_of(commune.page(f"/people?national_id={national_id}"), "tbody tr")
    assert len(rows) == 1 and "Huỳnh Thị Tìm" in rows[0]
    assert national_id not in rows[0] and national_id[-4:] in rows[0]  # shown masked


def test_registering_a_person(portal, clients):
    commune = clients["commune"]
    born = date(1990, 11, 2)
    national_id = new_id(born, "male")
    fields = {"full_name": "Trần Văn Đăng Ký", "national_id": national_id,
              "birth_date": "02/11/1990", "gender": "male", "unit_code": "AG.LX",
              "target_group": "worker", "phone": "0912345002"}

    # what a person gets wrong: said beside the fields, in Vietnamese; nothing written
    response = commune.submit("/people/new", fields | {"birth_date": "1990-11-02",
                                                       "national_id": "12345",
                                                       "target_group": ""})
    assert response.status_code == 422
    tree = tree_of(commune)
    assert errors_beside(tree, "birth_date") == [
        "Ngày không hợp lệ: viết theo dạng ngày/tháng/năm, ví dụ 04/05/1980."]
    assert errors_beside(tree, "national_id") == ["Số định danh cá nhân gồm đúng 12 chữ số."]
    assert errors_beside(tree, "target_group") == ["Xin chọn một mục trong danh sách."]
    assert "Biểu mẫu có lỗi" in response.text
    assert tree.cssselect("#full_name")[0].get("value") == "Trần Văn Đăng Ký"  # kept
    assert people_named(portal, "Đăng Ký") == []

    # sent twice with the same form (a double click): one person
    form = pick_form(commune.page("/people/new"), "/people/new")
    first = commune.send_form(form, fields)
    second = commune.send_form(form, fields)
    assert first.status_code == 200, first.text[:3000]
    assert first.url == second.url and "/people/" in first.url
    assert "Biểu mẫu này đã được gửi" in second.text
    registered = people_named(portal, "Đăng Ký")
    assert len(registered) == 1 and first.url.endswith(registered[0]["id"])
    record = lxml.html.fromstring(first.text)
    assert "Đã đăng ký người dân." in first.text
    assert "Người lao động" in " ".join(text_of(record, "dl.record dd"))
    assert "Phường Long Xuyên" in " ".join(text_of(record, "dl.record dd"))
    assert record.cssselect(f'a[href="/people/{registered[0]["id"]}/paper-assessment"]')
    assert "Chưa có lần đánh giá nào." in first.text

    # the same national ID again: the registry's refusal, beside the field in Vietnamese
    response = commune.submit("/people/new", fields | {"full_name": "Người Trùng Số"})
    assert response.status_code == 422
    tree = tree_of(commune)
    assert errors_beside(tree, "national_id") == [
        "Số định danh này đã được đăng ký cho một người khác."]
    assert tree.cssselect(f'a[href="/people/{registered[0]["id"]}"]')
    assert people_named(portal, "Người Trùng Số") == []


def test_a_person_record_shows_assessments_and_titles(portal, clients):
    commune = clients["commune"]
    person = portal.people["citizen2"]
    scores = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
              "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}
    response = portal.api.post("assessment", "/assessments",
                               {"person_id": person, "year": YEAR, "scores": scores})
    assert response.status_code == 201, response.text
    tree = commune.page(f"/people/{person}")
    assert commune.last.status_code == 200
    rows = text_of(tree, "tbody tr")
    assert any(str(YEAR) in r and "Đã nộp, chờ thẩm định" in r for r in rows), rows
    assessment = response.json()["assessment_id"]
    assert tree.cssselect(f'a[href="/assessments/{assessment}"]')
    # another commune's person is not this commune's to see
    assert commune.get(f"/people/{portal.people['other_commune']}").status_code in (403, 404)


def csv_of(*rows):
    header = ("Số định danh cá nhân,Họ và tên,Giới tính,Ngày sinh,Dân tộc,Số điện thoại,"
              "Email,Mã đơn vị,Đối tượng,Vai trò")
    return ("\n".join((header,) + rows) + "\n").encode("utf-8")


def imports_total(portal):
    response = portal.api.get("registry", "/imports", params={"limit": 200})
    assert response.status_code == 200, response.text
    return len(response.json()["imports"])


def test_importing_a_list_and_downloading_its_error_report(portal, clients, until):
    province = clients["province"]
    before = imports_total(portal)

    # no file, then a file that is no table: beside the file field, nothing imported
    response = province.submit("/imports", {}, which="/imports")
    assert response.status_code == 422
    assert errors_beside(tree_of(province), "file") == ["Xin chọn tệp CSV hoặc XLSX."]
    response = province.submit("/imports", {}, which="/imports",
                               files={"file": ("anh.png", b"\x89PNG\r\n\x1a\n\0\0\0",
                                               "image/png")})
    assert response.status_code == 422, response.text[:2000]
    assert errors_beside(tree_of(province), "file")[0].startswith("Tệp ")  # the registry's
    # reason, in Vietnamese
    assert imports_total(portal) == before

    good = new_id(date(1979, 3, 14), "female")
    content = csv_of(f"{good},Nguyễn Thị Nhập,Nữ,14/03/1979,Kinh,0912345001,,AG.LX,Người dân,",
                     "089090950002,Trần Văn Sai,Nam,31/02/1990,Kinh,,,AG.LX,Người dân,")
    form = pick_form(province.page("/imports"), "/imports")
    first = province.send_form(form, {}, files={"file": ("danh-sach.csv", content,
                                                         "text/csv")})
    second = province.send_form(form, {}, files={"file": ("danh-sach.csv", content,
                                                          "text/csv")})
    assert first.status_code == 200, first.text[:3000]
    assert "/imports/" in first.url and first.url == second.url
    assert imports_total(portal) == before + 1
    path = first.url[len(portal.base_url):]

    def finished():
        tree = province.page(path)
        return [tree] if "Đã xong" in " ".join(text_of(tree, "#import-status")) else None
    tree = until(finished, timeout=60, interval=0.5)[0]
    assert text_of(tree, 'dd[data-count="registered"]') == ["1"]
    assert text_of(tree, 'dd[data-count="bad"]') == ["1"]
    assert "Refresh" not in province.last.headers  # done: no more refreshing
    assert len(people_named(portal, "Nguyễn Thị Nhập")) == 1

    report = province.get(path + "/errors?format=csv")
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in report.headers["Content-Disposition"]
    assert "Ngày sinh" in report.content.decode("utf-8-sig")
    assert "Authorization" not in report.headers
    xlsx = province.get(path + "/errors?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    listing = province.page("/imports")
    assert any("danh-sach.csv" in r and "Đã xong" in r for r in text_of(listing, "tbody tr"))


def titles_of(portal, group_id):
    response = portal.api.get("registry", f"/groups/{group_id}/titles")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_recording_a_groups_title(portal, clients):
    commune = clients["commune"]
    group = portal.api.post("registry", "/groups", {
        "kind": "family", "unit_code": "AG.LX", "name": f"Gia đình ông Ba {uuid.uuid4().hex[:4]}"})
    assert group.status_code == 201, group.text
    group = group.json()
    listing = commune.page(f"/group-titles?q={group['name']}")
    rows = text_of(listing, "tbody tr")
    assert any(group["name"] in r and "Gia đình học tập" in r for r in rows), rows
    path = f"/group-titles/{group['id']}"
    assert listing.cssselect(f'a[href="{path}"]')
    year = YEAR - 1
    fields = {"year": str(year), "decision_number": "12/QĐ-UBND",
              "decision_date": f"15/01/{YEAR}", "issued_by": "UBND phường Long Xuyên"}

    response = commune.submit(path, fields | {"year": "1999", "decision_date": "15-01"},
                              which=path)
    assert response.status_code == 422
    tree = tree_of(commune)
    assert errors_beside(tree, "year") == ["Năm phải từ 2000 đến năm nay."]
    assert errors_beside(tree, "decision_date") == [
        "Ngày không hợp lệ: viết theo dạng ngày/tháng/năm, ví dụ 04/05/1980."]
    assert titles_of(portal, group["id"]) == []

    form = pick_form(commune.page(path), path)
    first = commune.send_form(form, fields)
    second = commune.send_form(form, fields)
    assert first.status_code == 200 and first.url == second.url, first.text[:2000]
    assert "Biểu mẫu này đã được gửi" in second.text
    titles = titles_of(portal, group["id"])
    assert [(t["year"], t["decision_number"]) for t in titles] == [(year, "12/QĐ-UBND")]
    assert any(str(year) in r and "12/QĐ-UBND" in r
               for r in text_of(lxml.html.fromstring(first.text), "tbody tr"))

    # a second title for the same year: the registry's 409, beside the year in Vietnamese
    response = commune.submit(path, fields | {"decision_number": "13/QĐ-UBND"}, which=path)
    assert response.status_code == 422
    assert errors_beside(tree_of(commune), "year") == [
        "Nhóm đã có danh hiệu ghi nhận cho năm này; hãy rút bản ghi cũ trước."]
    assert len(titles_of(portal, group["id"])) == 1


def closings(portal):
    response = portal.api.get("assessment", "/closings")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_closing_a_year(portal, clients, until):
    commune = clients["commune"]
    fields = {"year": str(YEAR), "unit_code": "AG.LX", "confirm": "yes"}

    response = commune.submit("/closing", fields | {"year": str(YEAR + 1)}, which="/closing")
    assert response.status_code == 422, response.text[:2000]
    assert errors_beside(tree_of(commune), "year") == [
        "Năm này chưa bắt đầu nên chưa thể khóa sổ."]
    response = commune.submit("/closing", fields | {"confirm": ""}, which="/closing")
    assert response.status_code == 422
    assert errors_beside(tree_of(commune), "confirm") == ["Xin đánh dấu để xác nhận."]
    response = commune.submit("/closing", fields | {"unit_code": "AG.MB"}, which="/closing")
    assert response.status_code == 422  # another commune: not in the form's list, nor allowed
    assert closings(portal) == []

    form = pick_form(commune.page("/closing"), "/closing")
    first = commune.send_form(form, fields)
    second = commune.send_form(form, fields)
    assert first.status_code == 200 and first.url == second.url, first.text[:2000]
    assert "/closing/" in first.url
    assert len(closings(portal)) == 1
    path = first.url[len(portal.base_url):]

    def finished():
        tree = commune.page(path)
        return [tree] if "Đã xong" in " ".join(text_of(tree, "#closing-status")) else None
    tree = until(finished, timeout=60, interval=0.5)[0]
    assert text_of(tree, "h1") == [f"Khóa sổ năm {YEAR} · Phường Long Xuyên"]
    assert text_of(tree, 'dd[data-count="groups_evaluated"]')
    assert any(str(YEAR) in r and "Đã xong" in r
               for r in text_of(commune.page("/closing"), "tbody tr"))


def test_the_dashboards_data_goes_through_the_portal(portal, clients):
    reviewer, province = clients["reviewer"], clients["province"]
    response = reviewer.get("/dashboard")
    assert response.status_code == 200
    assert '<body data-api="/dashboard/data">' in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy.split(
        "style-src")[0]
    assert "eyJ" not in response.text  # no token (a JWT) anywhere in the page

    units = reviewer.get("/dashboard/data/units")
    assert units.status_code == 200
    assert {u["unit_code"] for u in units.json()["items"]} == {"AG.LX"}
    progress = reviewer.get(f"/dashboard/data/units/AG.LX/progress?year={YEAR}")
    assert progress.status_code == 200 and progress.json()["unit_code"] == "AG.LX"
    assert reviewer.get(f"/dashboard/data/units/AG/progress?year={YEAR}").status_code == 403
    assert reviewer.get("/dashboard/data/lag").status_code == 404  # not forwarded
    assert province.get("/dashboard/data/lag").status_code == 404
    report = province.get(f"/dashboard/data/units/AG/report.csv?year={YEAR}")
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    assert province.get(f"/dashboard/data/units/AG/report.xlsx?year={YEAR}").content[:2] == b"PK"


def test_the_pages_in_english(portal, clients):
    commune = clients["commune"]
    commune.get("/language/en?next=/closing")
    try:
        tree = commune.page("/closing")
        assert tree.get("lang") == "en"
        assert text_of(tree, "h1") == ["Close a year"]
        assert "Year *" in text_of(tree, "label")
        response = commune.submit("/closing", {"year": "1999", "unit_code": "AG.LX",
                                               "confirm": "yes"}, which="/closing")
        assert response.status_code == 422
        assert errors_beside(tree_of(commune), "year") == ["The year must be 2021 to 2100."]
        listing = commune.get("/group-titles").text
        assert "Learning family" in listing and "Gia đình học tập" not in listing
    finally:
        commune.get("/language/vi?next=/")


CHROMIUM = os.environ.get("CDHT_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.skipif(not shutil.which(CHROMIUM) and os.environ.get("CI") != "true",
                    reason=f"no Chromium at {CHROMIUM}")
def test_the_dashboard_in_a_browser_shows_figures_with_no_token_in_it(portal):
    """The dashboard's own script, in Chromium, fetching its figures through the portal
    (the session is signed in through the provider by the test's client, then handed to the
    browser as its cookie)."""
    from tests.integration.reporting.test_dashboard import Page
    signed_in = portal.sign_in("reviewer")
    cookie = next(c for c in signed_in.http.cookies if c.name == "cdht_portal")
    page = Page()
    try:
        page.add_cookie("cdht_portal", cookie.value, portal.base_url)
        page.goto(f"{portal.base_url}/dashboard?unit=AG.LX")
        page.wait_for_function("document.body.dataset.loaded === '1'", timeout=15000)
        assert page.attribute("body", "data-api") == "/dashboard/data"
        assert page.inner_text("[data-testid=unit]") == "Phường Long Xuyên"
        assert page.attribute("#login", "hidden") is not None  # never asks for a token
        assert page.attribute("#home", "hidden") is None       # the way back to the portal
        assert page.wait_for_function(
            "sessionStorage.length === 0 && localStorage.length === 0 && "
            "!document.cookie.includes('cdht_portal')")  # HttpOnly: not readable
        assert page.wait_for_function(  # every call went to the portal, none with a token
            "performance.getEntriesByType('resource').every(e => "
            "!e.name.includes('token') && new URL(e.name).origin === location.origin)")
        assert page.wait_for_function(
            "performance.getEntriesByType('resource').some(e => "
            "e.name.includes('/dashboard/data/units/AG.LX/progress'))")
    finally:
        page.close()


AXE = Path(__file__).resolve().parents[2] / "browser" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(not shutil.which(CHROMIUM) or not AXE.exists(),
                    reason="needs Chromium and axe-core (npm ci --prefix tests/browser)")
def test_the_pages_pass_axe_at_a_phones_and_a_desktops_size(portal):
    """No serious or critical axe-core violation on any page, staff's, citizens' and a
    stranger's, error pages and English included (runs after the tests above, so their
    imports, titles and closings are on the pages; tests/e2e/portal/test_browser.py checks
    the pages of the workflow it drives)."""
    from tests.integration.reporting.test_dashboard import Page
    imports = portal.api.get("registry", "/imports").json()["imports"]
    runs = portal.api.get("assessment", "/closings").json()["items"]
    groups = portal.api.get("registry", "/groups", params={"unit_code": "AG.LX"}).json()
    person = portal.people["citizen2"]
    pages = {"commune": ["/people?q=a", "/people?national_id=1", "/people/new",
                         f"/people/{person}", "/group-titles", "/closing"]
             + [f"/group-titles/{g['id']}" for g in groups["items"][:1]]
             + [f"/closing/{r['closing_id']}" for r in runs[:1]]
             + [f"/people/{person}/paper-assessment", "/review", "/decisions"],
             "province": ["/imports"] + [f"/imports/{i['import_id']}" for i in imports[:1]],
             "reviewer": ["/dashboard?unit=AG.LX"],
             "citizen": ["/", "/me", "/me/self-assessment", "/me/preferences",
                         "/people", "/language/en?next=/me", "/me/preferences"],
             None: ["/", "/signed-out", "/khong-co-trang-nay", "/xac-minh",
                    "/xac-minh/ma-khong-co-trong-he-thong-0000"]}
    found = {}
    for username, paths in pages.items():
        page = Page()
        try:
            if username:
                signed_in = portal.sign_in(username)
                cookie = next(c for c in signed_in.http.cookies if c.name == "cdht_portal")
                page.add_cookie("cdht_portal", cookie.value, portal.base_url)
            for path in paths:
                page.goto(portal.base_url + path)
                if path.startswith("/dashboard"):
                    page.wait_for_function("document.body.dataset.loaded === '1'")
                for width, height in ((390, 844), (1280, 900)):
                    page.viewport(width, height)
                    violations = page.axe()
                    if violations:
                        found[f"{path} at {width}x{height}"] = violations
        finally:
            page.close()
    assert not found, found
