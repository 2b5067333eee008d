"""Signing in and out of the portal through the real OpenID provider: the session cookie,
a user the provider knows but CDHT does not, CSRF, the provider down, no token in any URL."""
import re

import lxml.html
import requests
from sqlalchemy import create_engine, text

from tests.e2e.portal.client import PortalClient, text_of


def test_a_citizen_signs_in_through_the_provider_and_sees_their_home(portal):
    client = PortalClient(portal.base_url)
    first = client.get("/signin")  # off to the provider's form
    assert first.url.startswith(portal.idp.issuer), first.url
    assert "Đăng nhập" in first.text
    response = client.sign_in("citizen", "citizen-mat-khau")
    assert response.url.startswith(portal.base_url)
    tree = client.page("/")
    assert text_of(tree, "h1") == ["Xin chào, Nguyễn Thị Học"]
    assert text_of(tree, ".who span") == ["Nguyễn Thị Học · Công dân · Phường Long Xuyên"]
    assert "Hồ sơ của tôi" in text_of(tree, "nav a")
    assert "Người dân" not in text_of(tree, "nav a")  # a staff entry
    cookie = next(c for c in client.http.cookies if c.name == "cdht_portal")
    assert cookie.has_nonstandard_attr("HttpOnly")
    set_cookie = [h for h in client.history_headers("Set-Cookie") if "cdht_portal=" in h]
    assert set_cookie and all("Secure" in h and "SameSite=Lax" in h for h in set_cookie)


def test_a_wrong_password_is_refused_by_the_provider(portal):
    client = PortalClient(portal.base_url)
    response = client.sign_in("citizen", "not-the-password")
    assert response.url.startswith(portal.idp.issuer)
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.text


def test_an_account_without_a_role_is_told_what_is_missing(portal):
    client = PortalClient(portal.base_url)
    response = client.sign_in("norole", "norole-mat-khau")
    assert response.status_code == 403
    assert "chưa được gán vai trò" in response.text
    assert client.get("/").text.count("Đăng xuất") == 0  # not signed in


def test_staff_pages_are_refused_to_a_citizen(portal):
    client = portal.sign_in("citizen")
    assert client.get("/people").status_code == 403


def test_a_form_without_the_session_csrf_token_writes_nothing(portal):
    client = portal.sign_in("citizen")
    response = client.post("/signout", {"csrf": "forged"})
    assert response.status_code == 403
    assert "Biểu mẫu đã cũ" in response.text
    assert client.get("/").status_code == 200 and "Đăng xuất" in client.last.text


def test_signing_out_ends_the_portal_and_the_provider_sessions(portal):
    client = portal.sign_in("citizen")
    tree = client.page("/")
    form = next(f for f in tree.forms if f.action.endswith("/signout"))
    response = client.send_form(form)
    # oidc-provider asks the user to confirm the logout: its own form
    if response.url.startswith(portal.idp.issuer):
        confirm = [f for f in client.page(response.url).forms][0]
        response = client.send_form(confirm, {"logout": "yes"})
    assert response.url == portal.base_url + "/signed-out"
    assert "Bạn đã đăng xuất" in response.text
    again = client.get("/signin")
    assert again.url.startswith(portal.idp.issuer)  # the provider asks for the password again
    assert "Mật khẩu" in again.text


def test_no_token_ever_appears_in_an_address(portal):
    client = portal.sign_in("commune")
    client.get("/")
    addresses = client.visited
    assert addresses
    jwt_like = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
    assert not [a for a in addresses if jwt_like.search(a) or "token=" in a]


def test_the_provider_down_gives_a_clear_page(portal):
    portal.idp.stop()
    try:
        client = PortalClient(portal.base_url)
        response = client.get("/signin")
        assert response.status_code == 503
        assert "Không kết nối được với máy chủ đăng nhập" in response.text
    finally:
        portal.idp.start()
    assert requests.get(portal.base_url + "/health", timeout=10).status_code == 200


def expire_sessions(portal):
    engine = create_engine(portal.env["PORTAL_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE sessions SET expires_at = now() - interval '1 second'"))
    engine.dispose()


def test_a_form_sent_after_the_session_ended_comes_back_after_sign_in_with_what_was_typed(
        portal):
    client = portal.sign_in("commune")
    form = client.form("/people/new", "/people/new")
    expire_sessions(portal)
    typed = {"full_name": "Hồ Thị Nhớ", "national_id": "089185000777",
             "birth_date": "02/04/1985", "gender": "female", "unit_code": "AG.LX",
             "target_group": "resident"}
    response = client.send_form(form, typed)
    # the provider still knows the user: straight back, to the form, with what was typed
    assert response.url == portal.base_url + "/people/new", response.url
    tree = lxml.html.fromstring(response.text)
    assert "Phiên làm việc đã hết hạn" in " ".join(text_of(tree, ".notice"))
    assert tree.get_element_by_id("full_name").value == "Hồ Thị Nhớ"
    assert tree.get_element_by_id("birth_date").value == "02/04/1985"
    # and nothing was written
    found = portal.api.get("registry", "/people", params={"q": "Hồ Thị Nhớ"}).json()
    assert not [p for p in found["items"] if p["full_name"] == "Hồ Thị Nhớ"]
