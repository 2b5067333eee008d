"""Access tokens of a real OpenID provider (deploy/idp, oidc-provider, signed in through the
whole authorization code + PKCE flow) at real services: accepted with the account's role and
unit when the service names the provider as OIDC_ISSUER; refused with a 401 when they come
from another provider, are for another audience, have expired, were signed by a key the
provider has rotated out, or name no role; a 503 when the provider does not answer. And what
the portal relies on of the provider: its Vietnamese sign-in page, PKCE, the ID token, sign-out."""
import time

import pytest
import requests

from cdht import oidc
from services.assessment.service import AssessmentService
from services.registry.service import RegistryService
from tests import idp
from tests.security.conftest import person_body


@pytest.fixture(autouse=True)
def fresh_key_caches():
    """Each test's services read the providers' documents afresh (a port, hence an issuer,
    may come back in a later test)."""
    oidc._providers.clear()
    yield
    oidc._providers.clear()


@pytest.fixture
def start(container_factory, service_config, web_session):
    """``start(issuer, service="registry", **settings)``: the service, in this process,
    accepting the provider's tokens; returns its config."""
    def run(issuer, service="registry", **settings):
        config = service_config(service, OIDC_ISSUER=issuer, **settings)
        cls = {"registry": RegistryService, "assessment": AssessmentService}[service]
        container_factory(cls, config).start()
        return config
    return run


@pytest.fixture
def other_provider(tmp_path, identity_provider):
    """A second provider on another port (another issuer), with the same accounts."""
    def make(**options):
        provider = idp.IdentityProvider(tmp_path / f"idp-{len(made)}",
                                        accounts=identity_provider.people.values(), **options)
        made.append(provider.start())
        return provider
    made = []
    yield make
    for provider in made:
        provider.stop()


def access_token(provider, username):
    """A signed-in account's access token (tests.idp.account: the password is
    ``<username>-mat-khau``)."""
    return provider.sign_in(username, f"{username}-mat-khau")["access_token"]


def test_citizen_and_staff_tokens_are_accepted_with_their_role_and_scope(
        identity_provider, start, web_session):
    registry = start(identity_provider.issuer)
    assessment = start(identity_provider.issuer, "assessment")
    admin = web_session(registry)  # the operator's own token still works beside the provider
    for code, kind, parent in (("AG", "province", None), ("AG.LX", "ward", "AG"),
                               ("AG.MB", "commune", "AG")):
        assert admin.post("/units", json={"code": code, "name": f"Đơn vị {code}", "kind": kind,
                                          "parent_code": parent}).status_code == 201
    people = {unit: admin.post("/people", json=person_body(unit)).json()["id"]
              for unit in ("AG.LX", "AG.MB")}

    def listed(name):
        response = web_session(registry, auth=access_token(identity_provider, name)).get(
            "/people")
        assert response.status_code == 200, (name, response.text)
        return {item["id"] for item in response.json()["items"]}

    assert listed("admin") == set(people.values())
    assert listed("province_staff") == set(people.values())  # AG: both communes
    assert listed("commune_staff") == {people["AG.LX"]}  # its own unit's subtree only
    assert listed("citizen") == set()  # their own records only: none here
    citizen = web_session(registry, auth=access_token(identity_provider, "citizen"))
    refused = citizen.get("/units")  # reviewers and staff only
    assert refused.status_code == 403
    assert refused.json()["error"] == "the role citizen may not call GET /units"
    staff = web_session(registry, auth=access_token(identity_provider, "commune_staff"))
    assert staff.get("/units").status_code == 200
    assert staff.post("/units", json={"code": "AG.LX.K1", "name": "Khóm 1",
                                      "kind": "hamlet", "parent_code": "AG.LX"}
                      ).status_code == 403  # creating units: province staff and admins
    # one token serves every service
    for name in ("citizen", "reviewer"):
        token = access_token(identity_provider, name)
        response = web_session(assessment, auth=token).get("/criteria")
        assert response.status_code == 200, (name, response.text)
        assert web_session(registry, auth=token).get("/people").status_code == 200


def test_a_token_without_a_role_is_a_401_naming_the_missing_claim(identity_provider, start,
                                                                   web_session):
    registry = start(identity_provider.issuer)
    response = web_session(registry, auth=access_token(identity_provider, "norole")).get(
        "/people")
    assert response.status_code == 401
    assert response.json()["error"] == "token lacks the CDHT role claim"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cdht"'


def test_a_token_of_another_provider_is_a_401(identity_provider, other_provider, start,
                                              web_session):
    registry = start(identity_provider.issuer)
    stranger = other_provider()
    token = access_token(stranger, "admin")
    response = web_session(registry, auth=token).get("/people")
    assert response.status_code == 401, response.text
    # not the configured issuer: checked as an operator's token, which it is not
    assert response.json()["error"] == "token algorithm not accepted (only EdDSA)"
    assert web_session(registry, auth=access_token(identity_provider, "admin")).get(
        "/people").status_code == 200


def test_a_token_for_another_audience_is_a_401(other_provider, start, web_session):
    elsewhere = other_provider(audience="another-system")
    registry = start(elsewhere.issuer)  # OIDC_AUDIENCE: cdht
    response = web_session(registry, auth=access_token(elsewhere, "admin")).get("/people")
    assert response.status_code == 401
    assert response.json()["error"] == "token for another audience"
    accepting = start(elsewhere.issuer, OIDC_AUDIENCE="another-system")
    assert web_session(accepting, auth=access_token(elsewhere, "admin")).get(
        "/people").status_code == 200


def test_an_expired_token_is_a_401(other_provider, start, web_session):
    short = other_provider(ttl={"AccessToken": 2})
    registry = start(short.issuer, OIDC_LEEWAY=0)
    session = web_session(registry, auth=access_token(short, "commune_staff"))
    assert session.get("/people").status_code == 200
    time.sleep(3)
    response = session.get("/people")
    assert response.status_code == 401
    assert response.json()["error"] == "token expired"


def test_a_token_signed_by_a_rotated_out_key_is_a_401(other_provider, start, web_session):
    """The provider restarts with new keys: the service finds the new kid by reading the JWKS
    again, and that JWKS no longer holds the old key, so a token it signed is refused (before,
    the service's kept keys held it: it was accepted)."""
    rotating = other_provider()
    registry = start(rotating.issuer)
    old = access_token(rotating, "commune_staff")
    assert web_session(registry, auth=old).get("/people").status_code == 200
    rotating.restart(keys=idp.new_keys())
    new = access_token(rotating, "commune_staff")
    assert web_session(registry, auth=new).get("/people").status_code == 200
    response = web_session(registry, auth=old).get("/people")
    assert response.status_code == 401
    assert response.json()["error"] == "token signed by an unknown key"


def test_a_provider_that_does_not_answer_is_a_503(other_provider, start, web_session):
    gone = other_provider()
    token = access_token(gone, "admin")
    gone.stop()
    registry = start(gone.issuer)
    response = web_session(registry, auth=token).get("/people")
    assert response.status_code == 503
    assert response.json()["error"].startswith(
        "the identity provider's discovery document could not be read")


# -- the provider itself: what the portal relies on -------------------------------------------
def test_the_sign_in_page_is_vietnamese_and_a_wrong_password_is_refused(identity_provider):
    for username, password in (("citizen", "sai-mat-khau"), ("nobody", "citizen-mat-khau")):
        with pytest.raises(idp.SignInFailed) as caught:
            identity_provider.sign_in(username, password)
        page = caught.value.response
        assert page.status_code == 401
        assert '<html lang="vi">' in page.text and "<title>Đăng nhập</title>" in page.text
        assert '<label for="username">Tên đăng nhập</label>' in page.text
        assert '<label for="password">Mật khẩu</label>' in page.text
        assert '<p role="alert" id="login-error">Sai tên đăng nhập hoặc mật khẩu</p>' in page.text
        assert page.headers["Cache-Control"] == "no-store"


def test_pkce_is_required_and_only_s256(identity_provider):
    authorize = identity_provider.metadata()["authorization_endpoint"]
    asked = {"client_id": idp.CLIENT_ID, "response_type": "code", "scope": "openid",
             "redirect_uri": idp.REDIRECT_URI}
    for extra in ({}, {"code_challenge": "x" * 43, "code_challenge_method": "plain"}):
        response = requests.get(authorize, params=asked | extra, allow_redirects=False,
                                timeout=10)
        assert response.is_redirect
        assert "error=invalid_request" in response.headers["Location"]
    assert identity_provider.metadata()["code_challenge_methods_supported"] == ["S256"]


def test_the_id_token_names_the_role_and_unit_and_verifies_for_the_client(identity_provider):
    signed_in = identity_provider.sign_in("reviewer", "reviewer-mat-khau")
    provider = oidc.Provider(identity_provider.issuer, audience=idp.CLIENT_ID)
    claims = provider.verify(signed_in["id_token"], nonce=signed_in["nonce"])
    assert (claims["cdht_role"], claims["cdht_unit"]) == ("reviewer", "AG.LX")
    assert claims["sub"] == identity_provider.people["reviewer"]["sub"]
    with pytest.raises(oidc.auth.TokenError, match="nonce"):
        provider.verify(signed_in["id_token"], nonce="another")
    access = oidc.Provider(identity_provider.issuer).verify(signed_in["access_token"])
    assert access["scope"] == "cdht" and access["client_id"] == idp.CLIENT_ID


def test_sign_out_returns_to_the_client(identity_provider):
    browser = requests.Session()
    signed_in = identity_provider.sign_in("citizen", "citizen-mat-khau", session=browser)
    end = identity_provider.metadata()["end_session_endpoint"]
    page = browser.get(end, timeout=10, params={
        "id_token_hint": signed_in["id_token"], "client_id": idp.CLIENT_ID,
        "post_logout_redirect_uri": idp.DEFAULT_CLIENT["post_logout_redirect_uris"][0]})
    assert page.status_code == 200 and "Đăng xuất" in page.text
    form = idp.HtmlForm()
    form.feed(page.text)
    done = browser.post(form.action, data=form.fields | {"logout": "yes"},
                        allow_redirects=False, timeout=10)
    assert done.is_redirect
    assert done.headers["Location"].startswith("http://127.0.0.1:9/signed-out")
