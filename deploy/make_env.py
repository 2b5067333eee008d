"""Write a first .env from .env.example: random secrets, the token key pair, mail to the dev
mail catcher and sign-in at the idp profile's OpenID provider.

bin/up runs it when there is no .env, so a newcomer with a Docker engine needs no manual
step. Secrets use only URL-safe characters (they go into database and broker URLs). The
token key pair is Ed25519 (AUTH_SIGNING_KEY, AUTH_PUBLIC_KEYS, as cdht.auth reads them), made
with the standard library alone, since this runs on the host before any virtualenv. Mail
goes to SMTP_HOST=mailcatcher: while it does, bin/up adds docker-compose.dev.yml, whose mail
catcher keeps every mail (http://127.0.0.1:8025/messages); an operator sets SMTP_* and
MAIL_FROM for the real relay. Sign-in goes to the idp profile's provider (COMPOSE_PROFILES=idp,
OIDC_ISSUER=http://idp.localhost:<IDP_PORT>, its admin's password and the portal's client
secret generated) until an operator names their own provider. Lines given as KEY=VALUE
arguments replace those of the example (e.g. the images deploy/images/build.sh --env prints,
or other host ports).

    python3 deploy/make_env.py [.env.example] [KEY=VALUE ...] > .env
    python3 deploy/make_env.py --upgrade .env > .env.new     # a new release's keys added
"""
import base64
import hashlib
import secrets
import string
import sys
import time
from pathlib import Path

GENERATED = {
    "POSTGRES_PASSWORD": lambda: _secret(),
    "RABBITMQ_DEFAULT_PASS": lambda: _secret(),
    "MAIL_FROM": lambda: "khuyenhoc@localhost",
}
# Each service's own keys: its database run-time role, its database owner role (migrations)
# and its broker user (cdht provision; docs/operator-guide.md, "Credentials each part holds").
for _service in ("REGISTRY", "ASSESSMENT", "REPORTING", "NOTIFICATIONS"):
    for _kind in ("DB", "DB_OWNER", "AMQP"):
        GENERATED[f"{_service}_{_kind}_PASSWORD"] = lambda: _secret()
# The portal: its database roles (no broker user), its client secret at the provider, and the
# idp profile's admin account.
for _key in ("PORTAL_DB_PASSWORD", "PORTAL_DB_OWNER_PASSWORD", "PORTAL_OIDC_CLIENT_SECRET",
             "IDP_ADMIN_PASSWORD"):
    GENERATED[_key] = lambda: _secret()
# The assessment service's key-encryption secret (its issuers' signing keys): 32 random bytes,
# base64url without padding, as services/assessment/issuer_keys.py reads it.
GENERATED["CREDENTIAL_KEY_SECRET"] = lambda: base64.urlsafe_b64encode(
    secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
# Mail goes to the dev override's mail catcher until an operator configures the real relay.
MAIL_CATCHER = {"SMTP_HOST": "mailcatcher", "SMTP_PORT": "1025", "SMTP_STARTTLS": "false"}


def trial_issuer(port):
    """The idp profile's issuer: browsers and the containers both reach idp.localhost there
    (docker-compose.yml, the idp service)."""
    return f"http://idp.localhost:{port or 8080}"


def _secret(length=32):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


# Ed25519 (RFC 8032 §5.1): the public key of a private seed; DER as cdht.auth reads them.
_P = 2 ** 255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def _point_add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _base_point():
    y = 4 * pow(5, _P - 2, _P) % _P
    xx = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(xx, (_P + 3) // 8, _P)
    if (x * x - xx) % _P:
        x = x * _SQRT_M1 % _P
    if x & 1:
        x = _P - x
    return (x, y, 1, x * y % _P)


def ed25519_public_key(seed):
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    point, addend = (0, 1, 1, 0), _base_point()
    while scalar:
        if scalar & 1:
            point = _point_add(point, addend)
        addend, scalar = _point_add(addend, addend), scalar >> 1
    z_inv = pow(point[2], _P - 2, _P)
    x, y = point[0] * z_inv % _P, point[1] * z_inv % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def token_keys(kid=None):
    """{AUTH_SIGNING_KEY, AUTH_PUBLIC_KEYS} of a new key pair, ``<kid>:<base64 DER>``."""
    kid = kid or f"{time.strftime('%Y-%m')}-{secrets.token_hex(3)}"
    seed = secrets.token_bytes(32)
    b64 = base64.b64encode
    return {"AUTH_SIGNING_KEY": f"{kid}:{b64(PKCS8_PREFIX + seed).decode()}",
            "AUTH_PUBLIC_KEYS": f"{kid}:{b64(SPKI_PREFIX + ed25519_public_key(seed)).decode()}"}


def make_env(example_text, overrides=None):
    overrides = dict(overrides or {})
    keys = token_keys()  # one pair: the public key must verify what the signing key signs
    # Sign-in at the idp profile's provider until an operator names their own: the profile
    # is switched on (when empty) only while the issuer is that provider's.
    example = read_env(example_text)
    idp_port = overrides.get("IDP_PORT") or example.get("IDP_PORT")
    issuer = overrides.get("OIDC_ISSUER", example.get("OIDC_ISSUER")) or trial_issuer(idp_port)
    trial = {"OIDC_ISSUER": issuer,
             "COMPOSE_PROFILES": "idp" if issuer == trial_issuer(idp_port) else ""}
    lines = []
    for line in example_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            if key in overrides:
                line = f"{key}={overrides.pop(key)}"
            elif key in GENERATED and not value:
                line = f"{key}={GENERATED[key]()}"
            elif key in keys and not value:
                line = f"{key}={keys[key]}"
            elif key in trial and not value:
                line = f"{key}={trial[key]}"
            elif key in MAIL_CATCHER:
                line = f"{key}={MAIL_CATCHER[key]}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in overrides.items()]
    return "\n".join(lines) + "\n"


def read_env(text):
    """{key: value} of an env file's assignments."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[key.strip()] = value
    return found


def upgrade_env(example_text, current_text):
    """An existing .env brought to a new release's .env.example: every value it has is kept
    (keys the new release no longer reads too, at the end, so that going back to the previous
    release still works); keys it lacks are generated or taken from the example. The token
    key pair is made only when neither half is there. A generated key left empty is
    generated too (an empty secret or issuer stops compose anyway)."""
    current, example_keys = read_env(current_text), read_env(example_text)
    made = make_env(example_text, {k: v for k, v in current.items() if k in example_keys
                                   and (v or k not in GENERATED)})
    older = [f"{k}={v}" for k, v in current.items() if k not in example_keys]
    if older:
        made += ("# kept from the previous release's .env (no longer read by this one)\n"
                 + "\n".join(older) + "\n")
    return made


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--upgrade"]:  # python3 deploy/make_env.py --upgrade .env > .env.new
        current = Path(args[1] if len(args) > 1 else ".env").read_text(encoding="utf-8")
        example = Path(".env.example").read_text(encoding="utf-8")
        sys.stdout.write(upgrade_env(example, current))
        sys.exit(0)
    source = Path(args.pop(0) if args and "=" not in args[0] else ".env.example")
    pairs = dict(arg.split("=", 1) for arg in args)
    sys.stdout.write(make_env(source.read_text(encoding="utf-8"), pairs))
