"""The issuers' keys: encrypted at rest under the key-encryption secret and bound to their
issuer and key id, published as JWKs, and the compact JWS they sign."""
import pytest

from services.assessment import issuer_keys

SECRET = issuer_keys.new_secret()
SECRETS = issuer_keys.load_secrets(SECRET)


def test_a_private_key_is_stored_encrypted_and_opens_only_for_its_issuer_and_key():
    stored, public = issuer_keys.generate(SECRETS, "AG.LX", "key-1")
    assert len(public) == 32 and stored.startswith(SECRETS.current[0] + ".")
    private = issuer_keys.decrypt(SECRETS, stored, "AG.LX", "key-1")
    assert private.public_key().public_bytes_raw() == public
    for unit, key in (("AG.MB", "key-1"), ("AG.LX", "key-2")):
        with pytest.raises(issuer_keys.UnreadableKey, match="does not decrypt"):
            issuer_keys.decrypt(SECRETS, stored, unit, key)
    other = issuer_keys.load_secrets(issuer_keys.new_secret())
    with pytest.raises(issuer_keys.UnreadableKey, match="does not hold"):
        issuer_keys.decrypt(other, stored, "AG.LX", "key-1")
    tampered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(issuer_keys.UnreadableKey):
        issuer_keys.decrypt(SECRETS, tampered, "AG.LX", "key-1")


def test_the_secret_can_be_replaced_new_first_old_still_decrypting():
    stored, _ = issuer_keys.generate(SECRETS, "AG", "key-1")
    both = issuer_keys.load_secrets(f"{issuer_keys.new_secret()},{SECRET}")
    assert issuer_keys.decrypt(both, stored, "AG", "key-1")  # made under the old one
    made, _ = issuer_keys.generate(both, "AG", "key-2")
    assert made.split(".")[0] == both.current[0] != stored.split(".")[0]
    new_only = issuer_keys.Secrets(both.keys[:1])
    assert issuer_keys.decrypt(new_only, made, "AG", "key-2")


@pytest.mark.parametrize("value, message", [
    (None, "CREDENTIAL_KEY_SECRET is empty"), (" , ", "CREDENTIAL_KEY_SECRET is empty"),
    ("c2hvcnQ", "secret number 1 is not 32 bytes"),
    (f"{SECRET},!!!", "secret number 2 is not 32 bytes"),
    (f"{SECRET},{SECRET}", "the same secret twice")])
def test_a_missing_or_malformed_secret_is_refused_saying_how_to_make_one(value, message):
    with pytest.raises(issuer_keys.SecretError, match=message):
        issuer_keys.load_secrets(value)


def test_a_jws_verifies_with_its_key_only_and_not_once_changed():
    stored, public = issuer_keys.generate(SECRETS, "AG", "key-1")
    private = issuer_keys.decrypt(SECRETS, stored, "AG", "key-1")
    keys = [issuer_keys.jwk(public, "https://x/issuers/AG#key-1")]
    token = issuer_keys.sign(private, {"kid": keys[0]["kid"], "typ": "vc+jwt"},
                             {"name": "Công dân học tập"})
    header, payload = issuer_keys.verify(token, keys)
    assert header == {"alg": "EdDSA", "kid": keys[0]["kid"], "typ": "vc+jwt"}
    assert payload == {"name": "Công dân học tập"}
    head, body, signature = token.split(".")
    changed = issuer_keys.b64url(issuer_keys.unb64url(body).replace(b"h", b"H", 1))
    with pytest.raises(issuer_keys.BadSignature, match="does not hold"):
        issuer_keys.verify(f"{head}.{changed}.{signature}", keys)
    with pytest.raises(issuer_keys.BadSignature, match="no Ed25519 key"):
        issuer_keys.verify(token, [dict(keys[0], kid="other")])
    none = issuer_keys.b64url(b'{"alg":"none","kid":"https://x/issuers/AG#key-1"}')
    with pytest.raises(issuer_keys.BadSignature, match="alg"):
        issuer_keys.verify(f"{none}.{body}.", keys)


def test_a_retired_key_is_published_marked():
    _, public = issuer_keys.generate(SECRETS, "AG", "key-1")
    active = issuer_keys.jwk(public, "k")
    assert (active["kty"], active["crv"], active["alg"], active["status"]) == (
        "OKP", "Ed25519", "EdDSA", "active")
    from datetime import datetime, timezone
    retired = issuer_keys.jwk(public, "k", datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert retired["status"] == "retired" and retired["retired_at"].startswith("2026-01-02")
