"""The sign-in rules (services/portal/signin.py) against a fake provider: PKCE, state, nonce,
the two tokens' audiences, where the browser may be sent back to, logout."""
import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from cdht import auth, oidc
from services.portal import signin

CLIENT = signin.Client(issuer="https://id.example.vn", client_id="cdht-portal",
                       client_secret="s3cret", redirect_uri="https://cdht.example.vn/signin/callback",
                       scopes="openid profile cdht", audience="cdht", role_claim="cdht_role",
                       unit_claim="cdht_unit")
PERSON = "6f1c2a9e-4b7d-4c1e-9a55-0d6b7f1e2a33"


class FakeProvider:
    def __init__(self, claims=None, fail=None):
        self.verified = []
        self.claims = claims or {}
        self.fail = fail

    def metadata(self):
        return {"authorization_endpoint": "https://id.example.vn/auth",
                "token_endpoint": "https://id.example.vn/token",
                "end_session_endpoint": "https://id.example.vn/session/end"}

    def verify(self, token, *, audience=None, nonce=None, now=None):
        self.verified.append((token, audience, nonce))
        if self.fail:
            raise self.fail
        base = {"sub": PERSON, "exp": 2_000_000_000}
        if token == "id-token":
            return base | {"name": "Nguyễn Thị Học"}
        return base | self.claims


class FakeHttp:
    def __init__(self, status=200, body=None):
        self.status, self.body, self.sent = status, body, []

    def post(self, url, data=None, auth=None, timeout=None):
        self.sent.append((url, data, auth))
        outer = self

        class Answer:
            status_code = outer.status

            def json(self):
                return outer.body if outer.body is not None else {
                    "access_token": "access-token", "id_token": "id-token"}
        return Answer()


def started(return_to="/review"):
    return signin.begin(FakeProvider(), CLIENT, return_to)


def test_the_authorization_request_carries_pkce_state_and_nonce():
    url, pending = started()
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith("https://id.example.vn/auth?")
    assert query["code_challenge_method"] == "S256"
    expected = base64.urlsafe_b64encode(
        hashlib.sha256(pending["verifier"].encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == expected
    assert query["state"] == pending["state"] and query["nonce"] == pending["nonce"]
    assert query["redirect_uri"] == CLIENT.redirect_uri and query["response_type"] == "code"
    assert "verifier" not in url and pending["verifier"] not in url
    assert pending["return_to"] == "/review"
    assert started()[1]["state"] != pending["state"]  # never twice the same


@pytest.mark.parametrize("given, kept", [
    ("/people?unit=AG.LX", "/people?unit=AG.LX"), ("https://evil.example/", "/"),
    ("//evil.example/x", "/"), ("/\\evil", "/"), ("", "/"), (None, "/")])
def test_the_way_back_is_a_path_of_this_site_only(given, kept):
    assert signin.safe_return(given) == kept


def test_a_good_callback_gives_the_session_its_user_and_tokens():
    _, pending = started()
    provider = FakeProvider({"cdht_role": "citizen", "cdht_unit": "AG.LX"})
    http = FakeHttp()
    session = signin.finish(provider, CLIENT, pending, {"state": pending["state"],
                                                        "code": "the-code"}, http=http)
    assert session["user"] == {"subject": PERSON, "role": "citizen", "unit": "AG.LX",
                               "name": "Nguyễn Thị Học", "person_id": PERSON}
    assert session["access_token"] == "access-token" and session["expires_at"] == 2_000_000_000
    url, form, basic = http.sent[0]
    assert form["code_verifier"] == pending["verifier"] and form["code"] == "the-code"
    assert basic == ("cdht-portal", "s3cret") and "client_secret" not in form
    # the ID token is for this client with our nonce; the access token for the services
    assert provider.verified == [("id-token", "cdht-portal", pending["nonce"]),
                                 ("access-token", "cdht", None)]


@pytest.mark.parametrize("args, reason", [
    ({"state": "forged", "code": "c"}, "state_mismatch"),
    ({"code": "c"}, "state_mismatch"),
    ({"error": "access_denied", "error_description": "user said no"}, "provider_refused"),
])
def test_a_callback_that_is_not_ours_is_refused(args, reason):
    _, pending = started()
    with pytest.raises(signin.SignInFailed) as refused:
        signin.finish(FakeProvider(), CLIENT, pending, args, http=FakeHttp())
    assert refused.value.reason == reason


def test_a_callback_without_a_sign_in_under_way_is_refused():
    with pytest.raises(signin.SignInFailed) as refused:
        signin.finish(FakeProvider(), CLIENT, None, {"state": "x", "code": "c"}, http=FakeHttp())
    assert refused.value.reason == "no_pending_sign_in"


def test_a_code_the_provider_refuses_is_said_so():
    _, pending = started()
    http = FakeHttp(400, {"error": "invalid_grant"})
    with pytest.raises(signin.SignInFailed) as refused:
        signin.finish(FakeProvider(), CLIENT, pending, {"state": pending["state"], "code": "c"},
                      http=http)
    assert refused.value.reason == "code_refused" and "invalid_grant" in refused.value.detail


def test_a_token_that_fails_verification_is_refused():
    _, pending = started()
    provider = FakeProvider(fail=auth.TokenError("token for another audience"))
    with pytest.raises(signin.SignInFailed) as refused:
        signin.finish(provider, CLIENT, pending, {"state": pending["state"], "code": "c"},
                      http=FakeHttp())
    assert refused.value.reason == "token_rejected"


def test_an_account_without_a_role_is_missing_claims():
    _, pending = started()
    with pytest.raises(oidc.MissingClaims) as missing:
        signin.finish(FakeProvider({"cdht_unit": "AG.LX"}), CLIENT, pending,
                      {"state": pending["state"], "code": "c"}, http=FakeHttp())
    assert "role" in missing.value.missing


def test_logout_goes_through_the_provider_and_comes_back():
    url = signin.logout_url(FakeProvider(), CLIENT, "id-token", "https://cdht.example.vn/signed-out")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith("https://id.example.vn/session/end?")
    assert query == {"client_id": "cdht-portal", "id_token_hint": "id-token",
                     "post_logout_redirect_uri": "https://cdht.example.vn/signed-out"}
