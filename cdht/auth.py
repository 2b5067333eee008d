"""Bearer tokens, roles and unit scope (docs/architecture.md §D8): pure functions, no nameko, no database.

A token is an HS256 JWT signed with the services' shared ``AUTH_SECRET``, with the claims
``sub`` (who: a registry person id for staff and citizens, any name for an operator),
``role`` (one of ROLES), ``unit`` (the unit whose subtree the caller works in), ``iat`` and
``exp``. ``cdht token`` (cdht_tools) mints one for operators.

    token = mint_token(secret, subject=person_id, role="commune_staff", unit_code="AG.LX")
    caller = verify_token(secret, token)            # Caller, or TokenError (-> 401)
    in_scope(caller, ["AG", "AG.LX", "AG.LX.K1"])   # the target is in the caller's subtree

Which role may call which HTTP route is declared with the route, by its ``@api`` decorator
(cdht.web), from the role groups below; README, "Security", prints the derived table. What a
role may do *inside* a route (only its subtree, a citizen only their own records) is checked
by each service with ``in_scope`` and ``Caller.person_id``.
"""
import time
import uuid
from dataclasses import dataclass

import jwt

ROLES = ("admin", "province_staff", "commune_staff", "reviewer", "citizen")
ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32  # HS256 keys shorter than the hash are weak (RFC 7518 §3.2)
MIN_DISTINCT_CHARACTERS = 8  # 32 random hex digits (openssl rand -hex 16) have more
DEFAULT_TTL = 3600


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
    def person_id(self):
        """The subject as a registry person id (citizens, staff), or None (an operator's
        name): what a citizen's own records are matched against."""
        try:
            return uuid.UUID(str(self.subject))
        except ValueError:
            return None


def check_secret(secret):
    """The secret, or ValueError with what is wrong with it (a service refuses to start)."""
    if not secret or not str(secret).strip():
        raise ValueError("AUTH_SECRET is empty: set it to a random string of at least "
                         f"{MIN_SECRET_LENGTH} characters (deploy/make_env.py makes one)")
    if len(str(secret)) < MIN_SECRET_LENGTH:
        raise ValueError(f"AUTH_SECRET is too short: use at least {MIN_SECRET_LENGTH} "
                         "characters")
    if len(set(str(secret))) < MIN_DISTINCT_CHARACTERS:
        # "aaaa…", "abababab…", "0000…1111…": long, yet guessable in no time
        raise ValueError(f"AUTH_SECRET is too repetitive: it has fewer than "
                         f"{MIN_DISTINCT_CHARACTERS} different characters (deploy/make_env.py "
                         "makes a random one)")
    return str(secret)


def mint_token(secret, *, subject, role, unit_code, ttl_seconds=DEFAULT_TTL, now=None):
    """A signed token for ``subject`` acting as ``role`` in ``unit_code``'s subtree."""
    secret = check_secret(secret)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not subject or not str(subject).strip():
        raise ValueError("a token needs a subject")
    if role != "admin" and not unit_code:
        raise ValueError(f"a {role} token needs a unit")
    if int(ttl_seconds) <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = int(time.time() if now is None else now)
    claims = {"sub": str(subject), "role": role, "unit": unit_code or None, "iat": issued,
              "exp": issued + int(ttl_seconds)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret, token, now=None):
    """The Caller a token names; TokenError when it cannot be trusted."""
    if not token:
        raise TokenError("missing bearer token")
    try:
        claims = jwt.decode(token, check_secret(secret), algorithms=[ALGORITHM],
                            options={"verify_exp": False, "verify_iat": False,
                                     "require": ["sub", "role", "exp", "iat"]})
    except jwt.InvalidSignatureError:
        raise TokenError("invalid token signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    moment = time.time() if now is None else now
    try:
        expires = float(claims["exp"])
    except (TypeError, ValueError):
        raise TokenError("malformed token") from None
    if moment >= expires:
        raise TokenError("token expired")
    role, unit = claims.get("role"), claims.get("unit")
    if role not in ROLES:
        raise TokenError("token names an unknown role")
    if unit is not None and not isinstance(unit, str):
        raise TokenError("malformed token")
    if role != "admin" and not unit:
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
EVERYONE = ROLES
