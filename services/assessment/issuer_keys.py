"""The issuing associations' signing keys: Ed25519 key pairs made when an association first
signs, their private halves kept encrypted under the key-encryption secret only this service
holds (``CREDENTIAL_KEY_SECRET``), their public halves published as a JWKS, and compact JWS
(RFC 7515) made and checked with them. Pure apart from ``cryptography``: no nameko, no
database.

A private key is stored as ``<secret id>.<base64url(nonce + AES-256-GCM ciphertext)>``, the
associated data binding it to its issuer and key id: a row copied onto another issuer or key
does not decrypt. ``CREDENTIAL_KEY_SECRET`` is one or more comma-separated secrets of 32
random bytes in base64url (``python -m services.assessment.issuer_keys``): the first
encrypts, any of them decrypts. To replace the secret: list the new one first, rotate every
issuer's key (the new keys are encrypted with it; a retired key is never decrypted again),
then drop the old one.
"""
import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_SETTING = "CREDENTIAL_KEY_SECRET"
ALGORITHM = "EdDSA"
NONCE_BYTES = 12


class SecretError(ValueError):
    """The key-encryption secret is missing or malformed: the message says how to make one."""


class UnreadableKey(ValueError):
    """A stored private key that does not decrypt under any secret given."""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    text = str(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret():
    """A fresh key-encryption secret, as CREDENTIAL_KEY_SECRET takes it."""
    return b64url(os.urandom(32))


@dataclass(frozen=True)
class Secrets:
    """The key-encryption secrets by id (the first encrypts)."""
    keys: tuple  # ((id, 32 bytes), ...)

    @property
    def current(self):
        return self.keys[0]

    def find(self, secret_id):
        return next((key for sid, key in self.keys if sid == secret_id), None)


def _secret_id(raw):
    return hashlib.sha256(b"cdht-credential-key-secret" + raw).hexdigest()[:8]


def load_secrets(value):
    """Secrets from CREDENTIAL_KEY_SECRET's value; SecretError naming what is wrong."""
    how = (f"set {SECRET_SETTING} to 32 random bytes in base64url (make one with: "
           f"python -m services.assessment.issuer_keys)")
    entries = [part.strip() for part in str(value or "").split(",") if part.strip()]
    if not entries:
        raise SecretError(f"{SECRET_SETTING} is empty: the assessment service encrypts the "
                          f"issuing associations' signing keys with it; {how}")
    keys = []
    for number, entry in enumerate(entries, 1):
        try:
            raw = unb64url(entry)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise SecretError(f"{SECRET_SETTING}: secret number {number} is not 32 bytes in "
                              f"base64url; {how}")
        keys.append((_secret_id(raw), raw))
    if len({sid for sid, _ in keys}) != len(keys):
        raise SecretError(f"{SECRET_SETTING} names the same secret twice")
    return Secrets(tuple(keys))


def _bound_to(unit_code, key_id):
    return f"cdht-issuer-key|{unit_code}|{key_id}".encode()


def generate(secrets, unit_code, key_id):
    """A new key pair for an issuer: (encrypted private key, public key as raw bytes)."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    return encrypt(secrets, raw, unit_code, key_id), public


def encrypt(secrets, raw_private, unit_code, key_id):
    secret_id, key = secrets.current
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, raw_private, _bound_to(unit_code, key_id))
    return f"{secret_id}.{b64url(nonce + sealed)}"


def decrypt(secrets, stored, unit_code, key_id):
    """The Ed25519 private key of a stored row; UnreadableKey if no secret given opens it."""
    secret_id, _, body = str(stored).partition(".")
    key = secrets.find(secret_id)
    if key is None:
        raise UnreadableKey(f"the signing key {key_id} of {unit_code} was encrypted with a secret "
                        f"({secret_id}) that {SECRET_SETTING} does not hold")
    try:
        sealed = unb64url(body)
        raw = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                  _bound_to(unit_code, key_id))
    except (InvalidTag, binascii.Error, ValueError):
        raise UnreadableKey(f"the signing key {key_id} of {unit_code} does not decrypt: altered, "
                        f"or stored for another issuer or key") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


# -- JWK and JWS ---------------------------------------------------------------------------------
def jwk(public_raw, kid, retired_at=None):
    """The public key as a JWK (OKP, Ed25519); a retired one says so (``status``,
    ``retired_at``): it signs nothing new, and still verifies what it signed."""
    key = {"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(public_raw)), "kid": kid,
           "alg": ALGORITHM, "use": "sig", "status": "retired" if retired_at else "active"}
    if retired_at:
        key["retired_at"] = retired_at.isoformat() if hasattr(retired_at, "isoformat") \
            else str(retired_at)
    return key


def _segment(value):
    return b64url(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                  .encode("utf-8"))


def sign(private_key, header, payload):
    """A compact JWS of ``payload`` (a dict) under ``header`` (``alg`` EdDSA is added)."""
    signing_input = f"{_segment({'alg': ALGORITHM, **header})}.{_segment(payload)}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


class BadSignature(ValueError):
    """A JWS that is malformed, names no known key, or whose signature does not hold."""


def verify(token, keys):
    """(header, payload) of a compact JWS signed by one of ``keys`` (a JWKS's ``keys``: the
    key is chosen by the header's ``kid``); BadSignature otherwise."""
    try:
        head, body, signature = str(token).split(".")
        header = json.loads(unb64url(head))
        payload = json.loads(unb64url(body))
        raw_signature = unb64url(signature)
    except (ValueError, binascii.Error):
        raise BadSignature("not a compact JWS") from None
    if header.get("alg") != ALGORITHM:
        raise BadSignature(f"alg {header.get('alg')!r} is not {ALGORITHM}")
    key = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if key is None or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        raise BadSignature(f"no Ed25519 key with kid {header.get('kid')!r}")
    try:
        Ed25519PublicKey.from_public_bytes(unb64url(key["x"])).verify(
            raw_signature, f"{head}.{body}".encode("ascii"))
    except (InvalidSignature, ValueError):
        raise BadSignature("the signature does not hold") from None
    return header, payload


if __name__ == "__main__":  # python -m services.assessment.issuer_keys: a new secret
    print(new_secret())
