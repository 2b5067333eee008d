"""OpenID Connect sign-in, authorization code with PKCE (RFC 7636), and RP-initiated logout:
the rules, free of nameko and the database (the pages keep what ``begin`` returns in the
session and hand it back to ``finish``).

The provider is found by discovery and its keys by JWKS (cdht.oidc.Provider, which caches
them and follows a key rotation). The ID token proves who signed in (its audience is this
client, its nonce ours); the access token, whose audience is the services', is what every
page calls them with, and its claims give the user's role and unit, read as the services
read them, so the portal never shows a page the services would refuse wholesale.
"""
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from cdht import auth, oidc


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; ``reason`` is shown (Vietnamese)."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Client:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str
    audience: str
    role_claim: str
    unit_claim: str
    subject_claim: str = "sub"


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def begin(provider, client, return_to):
    """(the provider's authorization URL, what the session keeps until the callback)."""
    verifier = _b64(secrets.token_bytes(32))
    pending = {"state": _b64(secrets.token_bytes(16)), "nonce": _b64(secrets.token_bytes(16)),
               "verifier": verifier, "return_to": safe_return(return_to),
               "started": int(time.time())}
    query = {"response_type": "code", "client_id": client.client_id,
             "redirect_uri": client.redirect_uri, "scope": client.scopes,
             "state": pending["state"], "nonce": pending["nonce"],
             "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
             "code_challenge_method": "S256"}
    endpoint = provider.metadata()["authorization_endpoint"]
    return f"{endpoint}?{urlencode(query)}", pending


def safe_return(path):
    """Only a path of this site: never an address elsewhere (an open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def finish(provider, client, pending, args, http=None, now=None):
    """The signed-in user's session data from the callback's query ``args``; SignInFailed."""
    if not pending:
        raise SignInFailed("no_pending_sign_in")
    if args.get("error"):
        raise SignInFailed("provider_refused", str(args.get("error_description")
                                                    or args.get("error"))[:200])
    if not args.get("state") or not secrets.compare_digest(str(args.get("state")),
                                                          pending["state"]):
        raise SignInFailed("state_mismatch")
    if not args.get("code"):
        raise SignInFailed("no_code")
    tokens = _exchange(provider, client, pending, args["code"], http or requests)
    try:
        identity = provider.verify(tokens["id_token"], audience=client.client_id,
                                   nonce=pending["nonce"], now=now)
        access = provider.verify(tokens["access_token"], audience=client.audience, now=now)
    except oidc.ProviderUnavailable:
        raise
    except (auth.TokenError, KeyError) as exc:
        raise SignInFailed("token_rejected", str(exc)) from None
    caller = oidc.caller_from_claims(access, role_claim=client.role_claim,
                                     unit_claim=client.unit_claim,
                                     subject_claim=client.subject_claim)
    return {
        "user": {"subject": caller.subject, "role": caller.role, "unit": caller.unit_code,
                 "name": identity.get("name") or access.get("name") or
                 identity.get("preferred_username") or caller.subject,
                 "person_id": str(caller.person_id) if caller.person_id else None},
        "access_token": tokens["access_token"],
        "id_token": tokens["id_token"],
        "expires_at": int(access["exp"]),
    }


def _exchange(provider, client, pending, code, http):
    endpoint = provider.metadata()["token_endpoint"]
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": client.redirect_uri, "code_verifier": pending["verifier"]}
    auth = None
    if client.client_secret:
        auth = (client.client_id, client.client_secret)  # client_secret_basic
    else:
        form["client_id"] = client.client_id
    try:
        response = http.post(endpoint, data=form, auth=auth, timeout=10)
    except requests.RequestException as exc:
        raise oidc.ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise oidc.ProviderUnavailable(f"token endpoint answered {response.status_code}")
    try:
        tokens = response.json()
    except ValueError:
        tokens = {}
    if response.status_code != 200 or "access_token" not in tokens or "id_token" not in tokens:
        raise SignInFailed("code_refused", str(tokens.get("error_description")
                                               or tokens.get("error") or response.status_code))
    return tokens


def logout_url(provider, client, id_token, after):
    """Where the browser goes to end the provider's session too (RP-initiated logout), or
    ``after`` itself when the provider offers no end-session endpoint."""
    try:
        endpoint = provider.metadata().get("end_session_endpoint")
    except oidc.ProviderUnavailable:
        endpoint = None
    if not endpoint:
        return after
    query = {"client_id": client.client_id, "post_logout_redirect_uri": after}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(query)}"
