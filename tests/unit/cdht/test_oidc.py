"""cdht.oidc: a provider's access tokens, checked against its keys read through a fake http
(the discovery document and a JWKS made here); the real provider is in
tests/security/test_provider_tokens.py."""
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from cdht import auth, oidc

ISSUER = "https://id.example.vn/realms/cdht"
JWKS_URI = ISSUER + "/protocol/openid-connect/certs"
NOW = 1_800_000_000


class Key:
    """A signing key and its public JWK."""

    def __init__(self, kid, kind="ES256"):
        self.kid, self.alg = kid, kind
        if kind == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif kind in ("RS256", "PS256"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk |= {"kid": kid, "use": "sig"}

    def sign(self, **claims):
        body = {"iss": ISSUER, "aud": "cdht", "sub": "f0e1d2c3-0000-4000-8000-000000000001",
                "iat": NOW, "exp": NOW + 600, "cdht_role": "commune_staff",
                "cdht_unit": "AG.LX"} | claims
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.private,
                          algorithm=self.alg, headers={"kid": self.kid})


class FakeHttp:
    """The provider's two documents; counts the JWKS reads."""

    def __init__(self, *keys):
        self.keys = list(keys)
        self.jwks_reads = 0
        self.down = False

    def __call__(self, url):
        if self.down:
            raise ConnectionError("refused")
        if url == ISSUER + "/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": JWKS_URI}
        assert url == JWKS_URI, url
        self.jwks_reads += 1
        return {"keys": [key.jwk for key in self.keys]}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def key():
    return Key("k1")


@pytest.fixture
def http(key):
    return FakeHttp(key)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def provider(http, clock):
    return oidc.Provider(ISSUER, http=http, clock=clock)


def refused(provider, token, message, **kwargs):
    with pytest.raises(auth.TokenError) as caught:
        provider.verify(token, now=kwargs.pop("now", NOW), **kwargs)
    assert str(caught.value) == message
    return caught.value


# -- good tokens ----------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "EdDSA"])
def test_a_good_token_gives_its_claims_and_its_caller(alg):
    key = Key("k-" + alg.lower(), alg)
    provider = oidc.Provider(ISSUER, http=FakeHttp(key))
    claims = provider.verify(key.sign(), now=NOW + 10)
    assert claims["sub"] == "f0e1d2c3-0000-4000-8000-000000000001"
    caller = oidc.caller_from_claims(claims)
    assert caller == auth.Caller("f0e1d2c3-0000-4000-8000-000000000001", "commune_staff",
                                 "AG.LX")
    assert str(caller.person_id) == claims["sub"]


def test_the_discovery_document_and_the_keys_are_read_once(provider, http, key):
    for _ in range(5):
        provider.verify(key.sign(), now=NOW)
    assert http.jwks_reads == 1
    assert provider.metadata()["jwks_uri"] == JWKS_URI


def test_audience_may_be_a_list_and_a_nonce_is_checked(provider, key):
    token = key.sign(aud=["portal", "cdht"], nonce="n-1")
    assert provider.verify(token, now=NOW, nonce="n-1")["nonce"] == "n-1"
    refused(provider, token, "token for another sign-in (nonce)", nonce="n-2")
    assert provider.verify(key.sign(aud="portal"), now=NOW, audience="portal")


# -- refused --------------------------------------------------------------------------------
def test_another_issuer_is_refused(provider, key):
    refused(provider, key.sign(iss=ISSUER + "/"), "token from another issuer")
    refused(provider, key.sign(iss="https://evil.example"), "token from another issuer")


def test_another_audience_is_refused(provider, key):
    refused(provider, key.sign(aud="other"), "token for another audience")
    refused(provider, key.sign(aud=["a", "b"]), "token for another audience")


def test_expiry_counts_with_the_leeway(provider, key):
    token = key.sign(exp=NOW + 600)
    assert provider.verify(token, now=NOW + 600 + 59)  # within the 60 s leeway
    refused(provider, token, "token expired", now=NOW + 600 + 60)
    strict = oidc.Provider(ISSUER, http=FakeHttp(key), leeway=0)
    refused(strict, token, "token expired", now=NOW + 600)


def test_not_yet_valid_or_issued_in_the_future_is_refused(provider, key):
    refused(provider, key.sign(nbf=NOW + 120), "token not valid yet")
    assert provider.verify(key.sign(nbf=NOW + 30), now=NOW)
    refused(provider, key.sign(iat=NOW + 120, exp=NOW + 900), "token issued in the future")


def test_required_claims(provider, key):
    refused(provider, key.sign(exp=None), "token lacks the 'exp' claim")
    refused(provider, key.sign(sub=None), "token lacks the 'sub' claim")
    refused(provider, key.sign(exp="tomorrow"), "malformed token (exp)")


def test_alg_none_and_hmac_are_refused(provider, key):
    body = {"iss": ISSUER, "aud": "cdht", "sub": "x", "iat": NOW, "exp": NOW + 600,
            "cdht_role": "admin"}
    unsigned = jwt.encode(body, None, algorithm="none", headers={"kid": "k1"})
    refused(provider, unsigned, "token algorithm not accepted (only RS256, PS256, ES256, EdDSA)")
    # an HMAC keyed by the provider's public key: whoever reads the JWKS could make it
    hmac = jwt.encode(body, key.jwk["x"], algorithm="HS256", headers={"kid": "k1"})
    refused(provider, hmac, "token algorithm not accepted (only RS256, PS256, ES256, EdDSA)")


def test_a_bad_signature_or_a_key_of_another_kind_is_refused(provider, key):
    impostor = Key("k1")  # the provider's kid, another key
    refused(provider, impostor.sign(), "invalid token signature")
    rsa_with_known_kid = Key("k1", "RS256")
    refused(provider, rsa_with_known_kid.sign(), "token algorithm does not match its key")
    refused(provider, "not.a.token", "malformed token")
    refused(provider, "", "missing bearer token")


# -- keys: unknown kid, rotation, rate limit, refresh ---------------------------------------
def test_an_unknown_kid_makes_one_refetch_then_is_refused(provider, http, key, clock):
    provider.verify(key.sign(), now=NOW)
    assert http.jwks_reads == 1
    stranger = Key("k-unknown")
    refused(provider, stranger.sign(), "token signed by an unknown key")
    assert http.jwks_reads == 2


def test_rotation_a_new_key_is_found_by_the_refetch_and_the_old_one_goes(provider, http, key,
                                                                        clock):
    provider.verify(key.sign(), now=NOW)
    new = Key("k2")
    http.keys = [new]  # the provider rotated: the old key is gone from its JWKS
    assert provider.verify(new.sign(), now=NOW)["sub"]
    assert http.jwks_reads == 2
    refused(provider, key.sign(), "token signed by an unknown key")


def test_refetches_for_unknown_kids_are_rate_limited(provider, http, key, clock):
    provider.verify(key.sign(), now=NOW)
    for n in range(20):  # a flood of made-up kids
        refused(provider, Key(f"bogus-{n}").sign(), "token signed by an unknown key")
    assert http.jwks_reads == 2  # the first load and one refetch
    clock.now += 29
    refused(provider, Key("bogus-late").sign(), "token signed by an unknown key")
    assert http.jwks_reads == 2
    clock.now += 1  # min_refetch_interval (30 s) after the refetch
    new = Key("k2")
    http.keys.append(new)
    assert provider.verify(new.sign(), now=NOW)
    assert http.jwks_reads == 3


def test_keys_are_read_again_after_refresh_after(provider, http, key, clock):
    provider.verify(key.sign(), now=NOW)
    http.keys = [Key("k2")]
    clock.now += 299
    assert provider.verify(key.sign(), now=NOW)  # still the kept keys
    clock.now += 1
    refused(provider, key.sign(), "token signed by an unknown key")
    assert http.jwks_reads == 2


def test_a_provider_that_does_not_answer(http, key, clock):
    http.down = True
    provider = oidc.Provider(ISSUER, http=http, clock=clock)
    error = refused(provider, key.sign(), "the identity provider's discovery document could "
                                          "not be read (ConnectionError)")
    assert isinstance(error, oidc.ProviderUnavailable)
    http.down = False
    assert provider.verify(key.sign(), now=NOW)


def test_a_discovery_document_of_another_issuer_is_not_trusted(key):
    def http(url):
        return {"issuer": "https://evil.example", "jwks_uri": JWKS_URI}
    provider = oidc.Provider(ISSUER, http=http)
    with pytest.raises(oidc.ProviderUnavailable, match="another issuer"):
        provider.verify(key.sign(), now=NOW)


# -- who the caller is ----------------------------------------------------------------------
def test_missing_role_or_unit_names_what_is_missing():
    with pytest.raises(oidc.MissingClaims) as caught:
        oidc.caller_from_claims({"sub": "x"})
    assert caught.value.missing == ["role", "unit"]
    assert str(caught.value) == "token lacks the CDHT role and unit claims"
    with pytest.raises(oidc.MissingClaims) as caught:
        oidc.caller_from_claims({"sub": "x", "cdht_role": "reviewer"})
    assert caught.value.missing == ["unit"]
    with pytest.raises(oidc.MissingClaims) as caught:
        oidc.caller_from_claims({"sub": "x", "cdht_role": "superuser", "cdht_unit": "AG"})
    assert caught.value.missing == ["role"]
    assert isinstance(caught.value, auth.TokenError)
    assert oidc.caller_from_claims({"sub": "ops", "cdht_role": "admin"}) == auth.Caller(
        "ops", "admin", None)
    # a learning platform's client (client credentials at the provider) has no unit either
    assert oidc.caller_from_claims({"sub": "lms-ag", "cdht_role": "learning_platform"}) == \
        auth.Caller("lms-ag", "learning_platform", None)


def test_dotted_claim_paths_and_lists():
    keycloak = {"sub": "u1", "realm_access": {"roles": ["offline_access", "uma_authorization",
                                                         "reviewer", "citizen"]},
                "attributes": {"unit": ["AG.LX"]}}
    caller = oidc.caller_from_claims(keycloak, role_claim="realm_access.roles",
                                     unit_claim="attributes.unit")
    assert (caller.role, caller.unit_code) == ("reviewer", "AG.LX")
    with pytest.raises(oidc.MissingClaims) as caught:
        oidc.caller_from_claims(keycloak, role_claim="resource_access.cdht.roles",
                                unit_claim="attributes.unit")
    assert caught.value.missing == ["role"]
    assert oidc.claim_values({"a": {"b": 3}}, "a.b") == []
    assert oidc.claim_values({"a": "x"}, "a.b") == []


def test_the_leeway_is_capped():
    with pytest.raises(ValueError, match="leeway"):
        oidc.Provider(ISSUER, leeway=301)
    with pytest.raises(ValueError, match="leeway"):
        oidc.Provider(ISSUER, leeway=-1)
    assert oidc.Provider(ISSUER, leeway=300).leeway == 300
    with pytest.raises(ValueError, match="leeway"):
        oidc.settings_from_config({"OIDC_ISSUER": ISSUER, "OIDC_LEEWAY": 3600})


def test_settings_from_config():
    assert oidc.settings_from_config({"OIDC_ISSUER": ""}) is None
    assert oidc.settings_from_config({}) is None
    settings = oidc.settings_from_config({"OIDC_ISSUER": ISSUER, "OIDC_LEEWAY": 0})
    assert settings == oidc.Settings(ISSUER, "cdht", "cdht_role", "cdht_unit", "sub", 0.0)
    assert oidc.provider_for(settings) is oidc.provider_for(settings)
    with pytest.raises(ValueError, match="OIDC_LEEWAY"):
        oidc.settings_from_config({"OIDC_ISSUER": ISSUER, "OIDC_LEEWAY": "soon"})


def test_unverified_issuer(key):
    assert oidc.unverified_issuer(key.sign()) == ISSUER
    assert oidc.unverified_issuer("garbage") is None
    assert oidc.unverified_issuer(key.sign(iss=None)) is None


def test_real_clock_by_default(key):
    now = int(time.time())
    provider = oidc.Provider(ISSUER, http=FakeHttp(key))
    assert provider.verify(key.sign(iat=now, exp=now + 60))


def test_the_person_comes_from_the_person_claim_where_the_provider_gives_one():
    """Keycloak's sub is its own user id: the registry person id is a mapped attribute."""
    person = "6f1c2a9e-4b7d-4c1e-9a55-0d6b7f1e2a33"
    claims = {"sub": "kc-user-1", "cdht_role": "citizen", "cdht_unit": "AG.LX",
              "cdht_person": person}
    caller = oidc.caller_from_claims(claims, subject_claim="cdht_person")
    assert caller.subject == person and str(caller.person_id) == person
    admin = {"sub": "kc-admin", "cdht_role": "admin"}
    assert oidc.caller_from_claims(admin, subject_claim="cdht_person").subject == "kc-admin"
    assert oidc.caller_from_claims(claims).subject == "kc-user-1"  # the default: sub
