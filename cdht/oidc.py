"""Access tokens of an OpenID provider (the portal's sign-in), verified against its JWKS: pure
of nameko and the database, as cdht.auth.

The provider is found by its issuer URL (``<issuer>/.well-known/openid-configuration``, read
once); its keys (``jwks_uri``) are kept and read again after ``refresh_after`` seconds, or at
once when a token names a kid they do not hold (a rotation), but not more often than
``min_refetch_interval``: a flood of made-up kids cannot make a service hammer the provider.

    provider = Provider("https://id.example.vn/realms/cdht", audience="cdht")
    claims = provider.verify(token)              # TokenError (-> 401) when not trusted
    caller = caller_from_claims(claims)          # auth.Caller, as an operator's token gives

Only asymmetric signatures (RS256, PS256, ES256, EdDSA) are accepted: never ``none``, never
an HMAC keyed by something public. The role and unit come from claims named by the caller
(``cdht_role``/``cdht_unit`` by default; dotted paths such as ``realm_access.roles`` reach
into nested claims, Keycloak's way).
"""
import json
import threading
import time
from dataclasses import dataclass

import jwt

from cdht import auth

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
KEY_TYPES = {"RS256": ("RSA", None), "PS256": ("RSA", None), "ES256": ("EC", "P-256"),
             "EdDSA": ("OKP", "Ed25519")}  # (kty, crv) of the key each may be verified with
MAX_LEEWAY = 300  # seconds: more would keep an expired token alive too long
TIMEOUT = 5  # seconds to wait for the provider's discovery document or keys


class ProviderUnavailable(auth.TokenError):
    """The provider's discovery document or keys could not be read: the token cannot be
    checked now (a 503, not the caller's fault)."""


class MissingClaims(auth.TokenError):
    """A valid token that does not say who the caller is in CDHT: ``missing`` lists what
    ("role", "unit")."""

    def __init__(self, missing):
        self.missing = list(missing)
        super().__init__("token lacks the CDHT " + " and ".join(self.missing) +
                         " claim" + ("s" if len(self.missing) > 1 else ""))


def _default_http(url):
    import requests
    response = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    response.raise_for_status()
    return response.json()


class Provider:
    """One OpenID provider, by its issuer URL. ``http(url) -> parsed JSON`` reads its
    documents (default: requests, with a timeout); ``clock`` times the key cache (monotonic
    seconds), ``verify``'s ``now`` the tokens (epoch seconds): tests give their own."""

    def __init__(self, issuer, *, audience="cdht", leeway=60, http=None, refresh_after=300,
                 min_refetch_interval=30, clock=time.monotonic):
        if not issuer:
            raise ValueError("an OpenID provider needs its issuer URL")
        if not 0 <= float(leeway) <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds (got {leeway})")
        self.issuer = str(issuer)
        self.audience = audience
        self.leeway = float(leeway)
        self.http = http or _default_http
        self.refresh_after = refresh_after
        self.min_refetch_interval = min_refetch_interval
        self.clock = clock
        self._metadata = None
        self._keys = None  # {kid: (JWK as given, PyJWK)}
        self._fetched_at = None  # when the keys were read
        self._refetched_at = None  # when an unknown kid last made them be read again
        self._lock = threading.Lock()

    # -- the provider's documents ------------------------------------------------------------
    def _get(self, url, what):
        try:
            document = self.http(url)
        except Exception as exc:  # any failure to read is the same to the caller
            raise ProviderUnavailable(f"the identity provider's {what} could not be read "
                                      f"({type(exc).__name__})") from None
        if isinstance(document, (str, bytes)):
            try:
                document = json.loads(document)
            except ValueError:
                document = None
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"the identity provider's {what} is not a JSON object")
        return document

    def metadata(self):
        """The discovery document, read once and kept."""
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = self._get(url, "discovery document")
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable("the identity provider's discovery document names "
                                          "another issuer")
            if not isinstance(document.get("jwks_uri"), str):
                raise ProviderUnavailable("the identity provider's discovery document has no "
                                          "jwks_uri")
            self._metadata = document
        return self._metadata

    def _fetch_keys(self):
        document = self._get(self.metadata()["jwks_uri"], "keys (JWKS)")
        keys = {}
        for entry in document.get("keys") or []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key of a kind we do not verify with (or malformed): skipped
            if key.key_id:
                keys[key.key_id] = (entry, key)
        self._keys = keys
        self._fetched_at = self.clock()

    def _key(self, kid):
        """The (JWK, PyJWK) of ``kid``, or None: from the kept keys, read again when they
        are old, or once (rate-limited) when they lack it."""
        with self._lock:
            now = self.clock()
            if self._keys is None or now - self._fetched_at >= self.refresh_after:
                self._fetch_keys()
            elif kid not in self._keys and (
                    self._refetched_at is None
                    or now - self._refetched_at >= self.min_refetch_interval):
                self._refetched_at = now
                self._fetch_keys()
            return self._keys.get(kid)

    # -- tokens ------------------------------------------------------------------------------
    def verify(self, token, *, audience=None, nonce=None, now=None):
        """The claims of a token this provider signed for ``audience`` (default: the
        provider's), within its lifetime (give or take the leeway); TokenError otherwise."""
        if not token or not isinstance(token, str):
            raise auth.TokenError("missing bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise auth.TokenError("malformed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise auth.TokenError(f"token algorithm not accepted (only {', '.join(ALGORITHMS)})")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise auth.TokenError("token names no key (kid)")
        found = self._key(kid)
        if found is None:
            raise auth.TokenError("token signed by an unknown key")
        entry, key = found
        named = entry.get("alg", alg)  # a JWK may name its algorithm, Ed25519 for EdDSA
        if (entry.get("kty"), entry.get("crv")) != KEY_TYPES[alg] or \
                named not in (alg, "Ed25519" if alg == "EdDSA" else alg):
            raise auth.TokenError("token algorithm does not match its key")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], options={
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "verify_aud": False, "verify_iss": False,
                "require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.InvalidSignatureError:
            raise auth.TokenError("invalid token signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise auth.TokenError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise auth.TokenError("malformed token") from None
        self._check(claims, audience or self.audience, nonce,
                    time.time() if now is None else now)
        return claims

    def _check(self, claims, audience, nonce, now):
        if claims["iss"] != self.issuer:
            raise auth.TokenError("token from another issuer")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if audience not in audiences:
            raise auth.TokenError("token for another audience")
        if nonce is not None and claims.get("nonce") != nonce:
            raise auth.TokenError("token for another sign-in (nonce)")
        times = {}
        for name in ("exp", "iat", "nbf"):
            if name in claims:
                value = claims[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise auth.TokenError(f"malformed token ({name})")
                times[name] = float(value)
        if now >= times["exp"] + self.leeway:
            raise auth.TokenError("token expired")
        if times["iat"] > now + self.leeway:
            raise auth.TokenError("token issued in the future")
        if "nbf" in times and times["nbf"] > now + self.leeway:
            raise auth.TokenError("token not valid yet")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise auth.TokenError("malformed token (sub)")


# -- who the caller is -----------------------------------------------------------------------
def claim_values(claims, path):
    """The values at a dotted ``path`` of the claims, as a list: a string claim gives one, a
    list its strings, a missing one none."""
    node = claims
    for part in str(path).split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    if isinstance(node, str):
        return [node] if node else []
    if isinstance(node, (list, tuple)):
        return [value for value in node if isinstance(value, str) and value]
    return []


def caller_from_claims(claims, *, role_claim="cdht_role", unit_claim="cdht_unit",
                       subject_claim="sub"):
    """The auth.Caller a provider's verified claims name: the role is the first of the role
    claim's values that is a CDHT role, the unit the unit claim's first value (required
    unless the role is admin or learning_platform, as for an operator's token);
    MissingClaims names what lacks."""
    role = next((value for value in claim_values(claims, role_claim) if value in auth.ROLES),
                None)
    units = claim_values(claims, unit_claim)
    missing = []
    if role is None:
        missing.append("role")
    if role not in auth.UNITLESS_ROLES and not units:
        missing.append("unit")
    if missing:
        raise MissingClaims(missing)
    # who the caller is: the person claim where the provider gives one (a registry person id
    # kept as a user attribute), else ``sub`` (an operator's account has no registry record)
    subject = (claim_values(claims, subject_claim) or [claims["sub"]])[0]
    return auth.Caller(subject=subject, role=role, unit_code=units[0] if units else None)


# -- a service's settings ---------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """A service's OIDC_* settings."""
    issuer: str
    audience: str
    role_claim: str
    unit_claim: str
    subject_claim: str
    leeway: float


def settings_from_config(config):
    """The OpenID provider whose access tokens the service accepts (OIDC_ISSUER empty: none);
    ValueError (the service does not start) for a leeway that is not a number of seconds up
    to MAX_LEEWAY."""
    issuer = str(config.get("OIDC_ISSUER") or "").strip()
    if not issuer:
        return None
    given = config.get("OIDC_LEEWAY")
    try:
        leeway = 60.0 if given in (None, "") else float(given)
    except (TypeError, ValueError):
        raise ValueError(f"OIDC_LEEWAY must be a number of seconds, not "
                         f"{given!r}") from None
    settings = Settings(
        issuer=issuer, audience=str(config.get("OIDC_AUDIENCE") or auth.AUDIENCE),
        role_claim=str(config.get("OIDC_ROLE_CLAIM") or "cdht_role"),
        unit_claim=str(config.get("OIDC_UNIT_CLAIM") or "cdht_unit"),
        subject_claim=str(config.get("OIDC_PERSON_CLAIM") or "sub"), leeway=leeway)
    provider_for(settings)  # checks the leeway now, not at the first request
    return settings


_providers = {}


def provider_for(settings):
    """One Provider per process and settings: its discovery document and keys are read
    once for every entrypoint of every service the process runs."""
    key = (settings.issuer, settings.audience, settings.leeway)
    if key not in _providers:
        _providers[key] = Provider(settings.issuer, audience=settings.audience,
                                   leeway=settings.leeway)
    return _providers[key]


def unverified_issuer(token):
    """The ``iss`` a token claims, before any check (to pick who verifies it), or None."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None
