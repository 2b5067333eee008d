"""A person at the portal, as a browser without JavaScript: a requests session that signs in
through the provider's real sign-in form, follows redirects, and fills in and sends a page's
forms (their hidden CSRF token and form id included, as a browser sends them)."""
from urllib.parse import urljoin, urlsplit

import lxml.html
import requests


class PortalClient:
    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.last = None
        self.visited = []  # every address requested, redirects included
        self.responses = []

    def url(self, path):
        return path if path.startswith("http") else self.base_url + path

    # -- requests, redirects followed by hand ------------------------------------------------
    def _send(self, method, url, limit=15, **kwargs):
        self.visited.append(url)
        response = self.http.request(method, url, allow_redirects=False, timeout=30, **kwargs)
        for _ in range(limit):
            self.responses.append(response)
            self._loopback_cookies()
            if not response.is_redirect:
                break
            url = urljoin(response.url, response.headers["Location"])
            self.visited.append(url)
            response = self.http.get(url, allow_redirects=False, timeout=30)
        self.last = response
        return response

    def _loopback_cookies(self):
        """The portal's cookie is Secure; browsers send it to a loopback address over plain
        HTTP, Python's cookie jar does not: on loopback, send it as a browser would."""
        for cookie in self.http.cookies:
            if cookie.secure and urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost"):
                cookie.secure = False

    def history_headers(self, name):
        """Every value of a response header seen so far (Set-Cookie: each one)."""
        found = []
        for response in self.responses:
            raw = response.raw.headers.getlist(name) if hasattr(response.raw, "headers") else []
            found += raw or ([response.headers[name]] if name in response.headers else [])
        return found

    def get(self, path, **kwargs):
        return self._send("GET", self.url(path), **kwargs)

    def post(self, path, data, **kwargs):
        return self._send("POST", self.url(path), data=data, **kwargs)

    def page(self, path):
        """The page at ``path`` as an lxml tree (its response at ``.last``)."""
        response = self.get(path)
        return lxml.html.fromstring(response.text, base_url=response.url)

    # -- signing in --------------------------------------------------------------------------
    def sign_in(self, username, password, path="/signin"):
        """Through the provider's sign-in form; the response of the page reached after."""
        response = self.get(path)
        if urlsplit(response.url).netloc == urlsplit(self.base_url).netloc:
            return response  # already signed in at the provider
        tree = lxml.html.fromstring(response.text, base_url=response.url)
        form = tree.forms[0]
        fields = dict(form.form_values()) | {"username": username, "password": password}
        return self._send("POST", urljoin(response.url, form.action), data=fields)

    # -- forms -------------------------------------------------------------------------------
    def form(self, path, which=0):
        """The form of the page at ``path``: by index, or the first whose action ends with
        ``which`` (a string), or whose CSS selector matches."""
        tree = self.page(path)
        return pick_form(tree, which)

    def submit(self, path, fields=None, which=0, button=None, files=None):
        """Load ``path``, fill ``fields`` into its form, send it (with ``button``'s name and
        value, a (name, value) pair, when given); the response after the redirects."""
        form = self.form(path, which)
        return self.send_form(form, fields, button=button, files=files)

    def send_form(self, form, fields=None, button=None, files=None):
        values = dict(form.form_values())
        values.update(fields or {})
        if button:
            values[button[0]] = button[1]
        action = urljoin(form.base_url, form.action or "")
        return self._send(form.method.upper(), action, data=values, files=files)


def pick_form(tree, which=0):
    forms = [f for f in tree.forms if not (f.action or "").endswith("/signout")]
    if isinstance(which, int):
        return forms[which]
    for form in forms:
        if (form.action or "").endswith(which):
            return form
    found = tree.cssselect(which) if which.startswith((".", "#", "form")) else []
    if found:
        return found[0]
    raise LookupError(f"no form {which!r} on {tree.base_url}: "
                      f"{[f.action for f in forms]}")


def text_of(tree, selector):
    """The text of every element matching a CSS selector, whitespace folded."""
    return [" ".join(e.text_content().split()) for e in tree.cssselect(selector)]
