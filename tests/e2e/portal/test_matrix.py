"""The portal's security matrix, read off the ``@page`` declarations: every page without
an argument, opened by each role (signed in through the provider) is shown to the roles it
names and to admins, refused (403) to the others; every page but the public ones sends a
stranger to sign in; no POST is acted on without the session's CSRF token."""
import pytest
import requests

from services.portal.pages import PageHandler
from services.portal.service import PortalService
from tests.e2e.portal.client import PortalClient

ROLES = {"admin": "admin", "province": "province_staff", "commune": "commune_staff",
         "reviewer": "reviewer", "citizen": "citizen", "platform": "learning_platform"}


def declared():
    found = []
    for name in dir(PortalService):
        for entrypoint in getattr(getattr(PortalService, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, PageHandler):
                found.append(entrypoint)
    return found


PLAIN_GETS = sorted(p.url for p in declared()
                    if p.method == "GET" and not p.public and "<" not in p.url)
PRIVATE = sorted({(p.method, p.url) for p in declared() if not p.public})
POSTS = sorted(p.url for p in declared() if p.method == "POST" and "<" not in p.url)


def test_the_matrix_sees_the_pages():
    """Control: the declarations are read (a change that hid them would empty the matrix)."""
    assert {"/me", "/people", "/review", "/decisions", "/dashboard", "/imports"} <= set(
        PLAIN_GETS)
    assert ("POST", "/signout") in PRIVATE


@pytest.fixture(scope="module")
def signed_in(portal):
    return {username: portal.sign_in(username) for username in ROLES}


@pytest.mark.parametrize("username", ROLES)
def test_each_role_opens_its_pages_and_is_refused_the_others(portal, signed_in, username):
    role = ROLES[username]
    pages = {p.url: p for p in declared() if p.method == "GET"}
    wrong = {}
    for url in PLAIN_GETS:
        allowed = role in pages[url].roles or (
            role == "admin" and any(r != "citizen" for r in pages[url].roles))
        status = signed_in[username].get(url).status_code
        if (status == 200) != allowed or (not allowed and status != 403):
            wrong[url] = status
    assert wrong == {}, f"{username}: unexpected answers {wrong}"


@pytest.mark.parametrize("method, url", PRIVATE)
def test_a_stranger_is_sent_to_sign_in(portal, method, url):
    path = url
    for part in ("<uuid:person_id>", "<uuid:assessment_id>", "<uuid:import_id>",
                 "<uuid:group_id>", "<uuid:closing_id>", "<uuid:recognition_id>"):
        path = path.replace(part, "6f1c2a9e-4b7d-4c1e-9a55-0d6b7f1e2a33")
    path = path.replace("<path:route>", "units")
    response = requests.request(method, portal.base_url + path, allow_redirects=False,
                                timeout=10, data={"x": "y"} if method == "POST" else None)
    assert response.status_code == 303, (method, url, response.status_code)
    assert response.headers["Location"].startswith(portal.idp.issuer)


@pytest.mark.parametrize("url", POSTS)
def test_no_form_is_acted_on_without_the_csrf_token(portal, signed_in, url):
    roles = next(p.roles for p in declared() if p.method == "POST" and p.url == url)
    client = signed_in["citizen" if roles == ("citizen",) else "admin"]
    response = client.post(url, {"form_id": "a" * 24, "csrf": "not-the-session-one"})
    assert response.status_code == 403, (url, response.status_code)
    assert "Biểu mẫu đã cũ" in response.text


def test_a_machine_clients_account_gets_no_pages_but_signs_out(portal, signed_in):
    """A learning platform's role opens no page (the matrix above refuses it every one);
    signed in, it sees no menu and may still sign out."""
    client = signed_in["platform"]
    home = client.page("/")
    assert home.cssselect("nav a[href='/people']") == []
    assert home.cssselect("nav a[href='/me']") == []
    assert "Nền tảng học tập" in client.last.text
    assert any(f.action.endswith("/signout") for f in home.forms)


def test_every_answer_carries_the_security_headers(portal, signed_in):
    response = signed_in["commune"].get("/people")
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_address_is_a_page_in_vietnamese(portal):
    response = PortalClient(portal.base_url).get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert "Không tìm thấy trang này" in response.text
