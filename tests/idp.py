"""A real OpenID provider for the tests: deploy/idp/server.mjs (oidc-provider) as a local node
process, and the whole authorization code + PKCE flow a browser would go through, done with
requests.

    idp = IdentityProvider(tmp_dir, accounts=[...], clients=[...]).start()
    tokens = idp.sign_in("citizen", "mat-khau")     # access_token, id_token, ...
    idp.restart(keys=new_keys())                    # key rotation
    idp.stop()
"""
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from jwt.algorithms import ECAlgorithm

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
IDP_DIR = ROOT / "deploy" / "idp"
SERVER = IDP_DIR / "server.mjs"
CLIENT_ID = "cdht-tests"
CLIENT_SECRET = "cdht-tests-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never reached: the code is read off the redirect
DEFAULT_CLIENT = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                  "redirect_uris": [REDIRECT_URI],
                  "post_logout_redirect_uris": ["http://127.0.0.1:9/signed-out"]}
SCOPE = "openid profile email cdht"


def missing_requirement():
    """Why the provider cannot run here (no node, or deploy/idp not installed), or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        return "deploy/idp/node_modules is missing (bin/setup, or npm ci --prefix deploy/idp)"
    return None


def new_keys(count=1):
    """A private JWKS of ``count`` new P-256 keys (ES256), each with its own kid."""
    from cryptography.hazmat.primitives.asymmetric import ec
    keys = []
    for _ in range(count):
        jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
        keys.append(jwk | {"kid": f"idp-{secrets.token_hex(4)}", "alg": "ES256", "use": "sig"})
    return {"keys": keys}


class SignInFailed(Exception):
    """The flow stopped short of tokens: a wrong password, a refused request."""

    def __init__(self, message, response=None):
        super().__init__(message)
        self.response = response


class HtmlForm(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name"):
            self.fields.setdefault(attrs["name"], attrs.get("value") or "")


class IdentityProvider:
    """One provider process. ``accounts``: dicts of username, password, sub, claims;
    ``clients``: dicts of client_id, client_secret, redirect_uris, post_logout_redirect_uris
    (default: one confidential test client); ``ttl``: seconds per AccessToken, IdToken,
    Session, Interaction; ``keys``: a private JWKS (default: a new one)."""

    def __init__(self, tmp_dir, *, accounts=(), clients=None, audience="cdht", ttl=None,
                 keys=None, port=None):
        self.dir = Path(tmp_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.accounts = list(accounts)
        self.clients = list(clients) if clients is not None else [DEFAULT_CLIENT]
        self.audience = audience
        self.ttl = dict(ttl or {})
        self.keys = keys or new_keys()
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = self.dir / f"idp-{self.port}.log"

    # -- the process -------------------------------------------------------------------------
    def start(self, timeout=20):
        config = self.dir / f"idp-{self.port}.json"
        config.write_text(json.dumps({
            "issuer": self.issuer, "audience": self.audience, "clients": self.clients,
            "accounts": self.accounts, "keys": self.keys, "ttl": self.ttl}), encoding="utf-8")
        env = {**os.environ, "IDP_CONFIG": str(config), "IDP_PORT": str(self.port),
               "IDP_HOST": "127.0.0.1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(["node", str(SERVER)], cwd=IDP_DIR, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the identity provider exited ({self.process.returncode}):"
                                   f"\n{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(self.discovery_url, timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the identity provider did not answer in {timeout} s")
            time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, keys=None):
        """Stop and start again on the same port (the same issuer), with ``keys`` if given:
        a key rotation. Sessions and codes do not survive it."""
        self.stop()
        if keys is not None:
            self.keys = keys
        return self.start()

    @property
    def discovery_url(self):
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self):
        return requests.get(self.discovery_url, timeout=5).json()

    # -- the flow ----------------------------------------------------------------------------
    def sign_in(self, username, password, *, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                redirect_uri=REDIRECT_URI, scope=SCOPE, nonce=None, session=None):
        """The authorization code flow with PKCE (S256), as a browser and a confidential
        client do it: authorize, the sign-in form, the redirect with the code, the token
        endpoint. Returns the token response (access_token, id_token, ...); SignInFailed
        when any step refuses."""
        meta = self.metadata()
        browser = session or requests.Session()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(16), nonce or secrets.token_urlsafe(16)
        response = browser.get(meta["authorization_endpoint"], allow_redirects=False, timeout=10,
                               params={"client_id": client_id, "response_type": "code",
                                       "redirect_uri": redirect_uri, "scope": scope,
                                       "state": state, "nonce": nonce,
                                       "code_challenge": challenge,
                                       "code_challenge_method": "S256"})
        response = self._follow(browser, response, redirect_uri)
        if not self._at_redirect(response, redirect_uri):  # the sign-in page
            form = HtmlForm()
            form.feed(response.text)
            if response.status_code != 200 or not form.action:
                raise SignInFailed(f"no sign-in form ({response.status_code})", response)
            response = browser.post(urljoin(response.url, form.action), allow_redirects=False,
                                    data={**form.fields, "username": username,
                                          "password": password}, timeout=10)
            if response.status_code == 401:
                raise SignInFailed("wrong username or password", response)
            response = self._follow(browser, response, redirect_uri)
        if not self._at_redirect(response, redirect_uri):
            raise SignInFailed(f"no redirect to the client ({response.status_code})", response)
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        if "error" in query:
            raise SignInFailed(f"{query['error'][0]}: {query.get('error_description')}",
                               response)
        if query.get("state") != [state]:
            raise SignInFailed("the state came back changed", response)
        auth = (client_id, client_secret) if client_secret else None
        data = {"grant_type": "authorization_code", "code": query["code"][0],
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        if not client_secret:
            data["client_id"] = client_id
        token = requests.post(meta["token_endpoint"], data=data, auth=auth, timeout=10)
        if not token.ok:
            raise SignInFailed(f"token endpoint: {token.status_code} {token.text}", token)
        return token.json() | {"nonce": nonce}

    @staticmethod
    def _at_redirect(response, redirect_uri):
        return response.is_redirect and response.headers["Location"].startswith(redirect_uri)

    def _follow(self, browser, response, redirect_uri, limit=10):
        """Follow the provider's own redirects, stopping at the client's redirect URI."""
        for _ in range(limit):
            if not response.is_redirect or self._at_redirect(response, redirect_uri):
                return response
            response = browser.get(urljoin(response.url, response.headers["Location"]),
                                   allow_redirects=False, timeout=10)
        raise SignInFailed("too many redirects", response)


def account(username, role=None, unit=None, *, sub=None, name=None, password=None):
    """An account for IdentityProvider(accounts=...); its password is ``<username>-mat-khau``
    unless given."""
    claims = {"name": name or username, "email": f"{username}@example.org",
              "email_verified": True, "preferred_username": username}
    if role:
        claims["cdht_role"] = role
    if unit:
        claims["cdht_unit"] = unit
    return {"username": username, "password": password or f"{username}-mat-khau",
            "sub": str(sub or uuid.uuid4()), "claims": claims}
