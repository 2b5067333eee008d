"""Bearer tokens, roles and unit scope (docs/architecture.md §D8): pure functions, no nameko, no database.

A token is an Ed25519-signed JWT (``alg: EdDSA``). Only the operator's tooling holds the
private key (``AUTH_SIGNING_KEY``, ``cdht token``); a service holds public keys alone
(``AUTH_PUBLIC_KEYS``), so no service, nor anyone who reads its configuration, can mint a
token. Each key has an id (``kid``, in the token's header): verification looks the key up by
it, which is how a key is rotated without downtime and the shape an OpenID provider's JWKS
will have. Claims: ``sub`` (who: a registry person id for staff and citizens, any name for an
operator, a platform's id for a learning platform), ``role`` (one of ROLES), ``unit`` (the
unit whose subtree the caller works in; none for an admin or a learning platform),
``iss`` (ISSUER), ``aud`` (AUDIENCE, shared by the four services: one token serves a client
for all of them), ``jti`` (the id the minting audit records), ``iat``, ``nbf`` and ``exp``
(at most MAX_TTL after ``iat``).

Keys are written ``<kid>:<base64 DER>``: PKCS#8 for the signing key, SubjectPublicKeyInfo for
a public one (what ``openssl pkey -outform DER | base64 -w0`` prints), several public keys
separated by commas.

    signing = generate_signing_key()                 # "2026-05-a1b2c3:MC4CAQAw..."
    token = mint_token(signing, subject=person_id, role="commune_staff", unit_code="AG.LX")
    keys = load_public_keys(public_key_of(signing))  # what a service holds
    caller = verify_token(keys, token)               # Caller, or TokenError (-> 401)
    in_scope(caller, ["AG", "AG.LX", "AG.LX.K1"])    # the target is in the caller's subtree

Which role may call which HTTP route is declared with the route, by its ``@api`` decorator
(cdht.web), from the role groups below; README, "Security", prints the derived table. What a
role may do *inside* a route (only its subtree, a citizen only their own records) is checked
by each service with ``in_scope`` and ``Caller.person_id``.
"""
import base64
import binascii
import re
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# People's roles, then the machine clients': a learning platform (a MOOC, an LMS) posts xAPI
# statements and calls nothing else, so it is in no group below but the one its routes name.
PEOPLE_ROLES = ("admin", "province_staff", "commune_staff", "reviewer", "citizen")
MACHINE_ROLES = ("learning_platform",)
ROLES = PEOPLE_ROLES + MACHINE_ROLES
# Roles whose token names no unit: an operator sees everything, a platform no unit at all
# (its subject is its id in services/registry/xapi.yaml).
UNITLESS_ROLES = ("admin", "learning_platform")
ALGORITHM = "EdDSA"  # the only one accepted: never "none", never HS256 keyed by a public key
ISSUER = "cdht"
AUDIENCE = "cdht"
DEFAULT_TTL = 3600
MAX_TTL = 12 * 3600  # a stolen token is good for half a working day at most
LEEWAY = 60  # seconds a minter's clock may run ahead of a service's (iat, nbf)
REQUIRED_CLAIMS = ("sub", "role", "iss", "aud", "jti", "iat", "exp")
KID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Never in a service's configuration or environment: a service verifies, it does not sign.
SIGNING_SETTINGS = ("AUTH_SIGNING_KEY", "AUTH_SECRET")


class TokenError(Exception):
    """The request carries no usable token: missing, malformed, expired, badly signed, or
    naming an unknown role. The message says which, never the token's content."""


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str
    unit_code: str | None

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def is_citizen(self):
        return self.role == "citizen"

    @property
    def is_platform(self):
        """A learning platform's client: its subject is the platform's id."""
        return self.role == "learning_platform"

    @property
    def person_id(self):
        """The subject as a registry person id (citizens, staff), or None (an operator's
        name): what a citizen's own records are matched against."""
        try:
            return uuid.UUID(str(self.subject))
        except ValueError:
            return None


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: Ed25519PrivateKey


# -- keys ------------------------------------------------------------------------------------
def _entry(text, setting):
    """``<kid>:<base64 DER>`` -> (kid, DER bytes); ValueError naming the setting."""
    kid, sep, body = str(text).strip().partition(":")
    if not sep or not KID.fullmatch(kid):
        raise ValueError(f"{setting}: expected <kid>:<base64 DER key>, the kid of letters, "
                         "digits, '.', '_' or '-' (deploy/make_env.py makes them)")
    try:
        return kid, base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{setting}: the key of kid {kid!r} is not base64") from None


def _der(kid, key, private):
    if private:
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    else:
        der = key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"{kid}:{base64.b64encode(der).decode('ascii')}"


def generate_signing_key(kid=None):
    """A new signing key as AUTH_SIGNING_KEY takes it; its kid names the month it was made."""
    kid = kid or f"{time.strftime('%Y-%m')}-{secrets.token_hex(3)}"
    if not KID.fullmatch(kid):
        raise ValueError(f"invalid key id {kid!r}")
    return _der(kid, Ed25519PrivateKey.generate(), private=True)


def load_signing_key(text):
    """The SigningKey of an AUTH_SIGNING_KEY value; ValueError saying what is wrong."""
    if not text or not str(text).strip():
        raise ValueError("AUTH_SIGNING_KEY is empty: deploy/make_env.py makes one (or run "
                         "where bin/up made var/auth-signing-key)")
    kid, der = _entry(text, "AUTH_SIGNING_KEY")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise ValueError("AUTH_SIGNING_KEY is not a private key (PKCS#8 DER, base64); a "
                         "public key only verifies") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("AUTH_SIGNING_KEY: only Ed25519 keys are accepted")
    return SigningKey(kid, key)


def public_key_of(signing_key):
    """The AUTH_PUBLIC_KEYS entry that verifies what ``signing_key`` signs."""
    signing = load_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
    return _der(signing.kid, signing.key.public_key(), private=False)


def load_public_keys(text):
    """{kid: public key} of an AUTH_PUBLIC_KEYS value (comma-separated entries); ValueError
    when it is empty, malformed, repeats a kid or holds a private key."""
    entries = [e for e in re.split(r"[,\s]+", str(text or "")) if e]
    if not entries:
        raise ValueError("AUTH_PUBLIC_KEYS is empty: a service needs the public key(s) that "
                         "verify the tokens (deploy/make_env.py makes them)")
    keys = {}
    for entry in entries:
        kid, der = _entry(entry, "AUTH_PUBLIC_KEYS")
        try:
            key = serialization.load_der_public_key(der)
        except ValueError:
            try:
                serialization.load_der_private_key(der, password=None)
            except (ValueError, TypeError):
                raise ValueError(f"AUTH_PUBLIC_KEYS: the key of kid {kid!r} is not a public "
                                 "key (SubjectPublicKeyInfo DER, base64)") from None
            raise ValueError(f"AUTH_PUBLIC_KEYS holds a private key (kid {kid!r}): a service "
                             "gets the public key only; replace it, and make a new key pair "
                             "since this one has leaked") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"AUTH_PUBLIC_KEYS: kid {kid!r} is not an Ed25519 key")
        if kid in keys:
            raise ValueError(f"AUTH_PUBLIC_KEYS names kid {kid!r} twice")
        keys[kid] = key
    return keys


def service_keys(config, environ=None):
    """The public keys a service verifies with, from its config; ValueError (the service
    refuses to start) when it has none, or when the config or the environment holds a signing
    key or the old shared secret: whoever reads a service's settings must not be able to mint."""
    for source, values in (("configuration", config), ("environment", environ or {})):
        for name in SIGNING_SETTINGS:
            if str(values.get(name) or "").strip():
                raise ValueError(
                    f"{name} is set in the service's {source}: a service only verifies tokens "
                    "and gets AUTH_PUBLIC_KEYS alone; the signing key stays with the operator's "
                    "tooling (docs/operator-guide.md, Tokens). Remove it.")
    return load_public_keys(config.get("AUTH_PUBLIC_KEYS"))


# -- minting and verifying -------------------------------------------------------------------
def mint_token(signing_key, *, subject, role, unit_code, ttl_seconds=DEFAULT_TTL, now=None,
               jti=None):
    """A signed token for ``subject`` acting as ``role`` in ``unit_code``'s subtree."""
    signing = load_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not subject or not str(subject).strip():
        raise ValueError("a token needs a subject")
    if role not in UNITLESS_ROLES and not unit_code:
        raise ValueError(f"a {role} token needs a unit")
    if int(ttl_seconds) <= 0:
        raise ValueError("ttl_seconds must be positive")
    if int(ttl_seconds) > MAX_TTL:
        raise ValueError(f"a token lives at most {MAX_TTL} seconds ({MAX_TTL // 3600} h); "
                         "mint a new one when it expires")
    issued = int(time.time() if now is None else now)
    claims = {"sub": str(subject), "role": role, "unit": unit_code or None, "iss": ISSUER,
              "aud": AUDIENCE, "jti": jti or str(uuid.uuid4()), "iat": issued, "nbf": issued,
              "exp": issued + int(ttl_seconds)}
    return jwt.encode(claims, signing.key, algorithm=ALGORITHM, headers={"kid": signing.kid})


def _checked_claims(keys, token):
    """The claims of a token signed by one of ``keys`` (looked up by its kid, the algorithm
    pinned), before any time or content check."""
    if not token or not isinstance(token, str):
        raise TokenError("missing bearer token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"token algorithm not accepted (only {ALGORITHM})")
    key = keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
    if key is None:
        raise TokenError("token signed by an unknown key")
    known = _SIGNED.get(token)
    if known is not None and known[0] is key:
        return dict(known[1])
    claims = _signature_checked(token, key)
    if len(_SIGNED) >= SIGNED_KEPT:
        _SIGNED.clear()
    _SIGNED[token] = (key, claims)
    return dict(claims)


SIGNED_KEPT = 4096
_SIGNED = {}
"""Tokens whose signature was found good, with the key that checked it: a client sends the
same token with every call, and the signature of the same text under the same key does not
change, so it is checked once (the time and content checks of verify_token run at every
call). Bounded: emptied when full."""


def _signature_checked(token, key):
    try:
        return jwt.decode(token, key, algorithms=[ALGORITHM],
                          options={"verify_exp": False, "verify_iat": False,
                                   "verify_nbf": False, "verify_aud": False,
                                   "verify_iss": False, "require": list(REQUIRED_CLAIMS)})
    except jwt.InvalidSignatureError:
        raise TokenError("invalid token signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None


def _number(claims, name):
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError(f"malformed token ({name})")
    return float(value)


def verify_token(keys, token, now=None):
    """The Caller a token names; TokenError when it cannot be trusted. ``keys``: {kid: public
    key} (load_public_keys)."""
    claims = _checked_claims(keys, token)
    if claims["iss"] != ISSUER:
        raise TokenError("token from another issuer")
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if AUDIENCE not in audience:
        raise TokenError("token for another audience")
    if not isinstance(claims["jti"], str) or not claims["jti"].strip():
        raise TokenError("malformed token (jti)")
    moment = time.time() if now is None else now
    issued, expires = _number(claims, "iat"), _number(claims, "exp")
    if moment >= expires:
        raise TokenError("token expired")
    if issued > moment + LEEWAY:
        raise TokenError("token issued in the future")
    if "nbf" in claims and _number(claims, "nbf") > moment + LEEWAY:
        raise TokenError("token not valid yet")
    if expires - issued > MAX_TTL:
        raise TokenError(f"token lives longer than {MAX_TTL // 3600} h")
    role, unit = claims.get("role"), claims.get("unit")
    if role not in ROLES:
        raise TokenError("token names an unknown role")
    if unit is not None and not isinstance(unit, str):
        raise TokenError("malformed token")
    if role not in UNITLESS_ROLES and not unit:
        raise TokenError("token names no unit")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenError("malformed token")
    return Caller(subject=claims["sub"], role=role, unit_code=unit or None)


def bearer_token(authorization):
    """The token of an ``Authorization: Bearer <token>`` header value; TokenError if none."""
    if not authorization:
        raise TokenError("missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("expected Authorization: Bearer <token>")
    return token.strip()


def in_scope(caller, unit_path):
    """Whether the target (a unit, or a record placed at a unit, given by the unit's path
    from the province down) is in the caller's subtree. Admins see everything."""
    if caller.is_admin:
        return True
    return bool(caller.unit_code) and caller.unit_code in (unit_path or ())


# -- who may call which route: the role groups the routes' @api declarations name ------------
ADMIN = ("admin",)
PROVINCE = ("admin", "province_staff")
STAFF = ("admin", "province_staff", "commune_staff")
STAFF_AND_CITIZEN = ("admin", "province_staff", "commune_staff", "citizen")
REVIEWERS = ("admin", "province_staff", "commune_staff", "reviewer")
EVERYONE = PEOPLE_ROLES  # every person's role: a machine client only calls routes naming it
LEARNING_PLATFORM = ("learning_platform",)
