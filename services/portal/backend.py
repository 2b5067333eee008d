"""The other services, called on the signed-in user's behalf with the user's access token
(or with none, for the few public answers: a certificate's verification).

Each answer is data, or one of three errors the pages turn into what a person can act on:
``Refused`` (a 4xx: the form's errors, or "not yours to see"), ``SignInAgain`` (a 401: the
token ended or was revoked) and ``Unavailable`` (no answer, or a 5xx: a clear page, never the
service's body).
"""
import logging

import requests

from cdht.observability import current_correlation_id

log = logging.getLogger(__name__)

SERVICES = ("registry", "assessment", "reporting", "notifications")


class Refused(Exception):
    def __init__(self, status, message, errors=None, code=None, retry_after=None):
        super().__init__(message)
        self.status, self.message, self.errors, self.code = status, message, errors or {}, code
        self.retry_after = retry_after  # a 429's Retry-After, as the service said it


class SignInAgain(Exception):
    """The service no longer accepts the session's token."""


class Unavailable(Exception):
    def __init__(self, service):
        super().__init__(f"{service} did not answer")
        self.service = service


class Backend:
    """``backend.get("registry", "/people", params={...})`` and so on; ``raw=True`` gives the
    response itself (with ``stream=True``, a file to pass on without holding it)."""

    def __init__(self, urls, token, timeout=15.0, http=None):
        self.urls, self.token, self.timeout = urls, token, float(timeout)
        self.http = http or requests

    def call(self, method, service, path, *, raw=False, **kwargs):
        headers = {"X-Purpose": "portal", **kwargs.pop("headers", {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        corr = current_correlation_id()
        if corr:
            headers["X-Correlation-Id"] = corr
        try:
            response = self.http.request(method, self.urls[service].rstrip("/") + path,
                                         headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            log.warning("%s %s %s: no answer (%s)", service, method, path, type(exc).__name__)
            raise Unavailable(service) from None
        if response.status_code == 401:
            raise SignInAgain()
        if response.status_code >= 500:
            log.warning("%s %s %s answered %s", service, method, path, response.status_code)
            raise Unavailable(service)
        if response.status_code >= 400:
            body = _json(response)
            raise Refused(response.status_code, body.get("error") or response.reason,
                          body.get("errors"), body.get("code"),
                          response.headers.get("Retry-After"))
        if raw:
            return response
        return response.json() if response.content else None

    def get(self, service, path, **kwargs):
        return self.call("GET", service, path, **kwargs)

    def post(self, service, path, body=None, **kwargs):
        return self.call("POST", service, path, json=body, **kwargs)

    def put(self, service, path, body=None, **kwargs):
        return self.call("PUT", service, path, json=body, **kwargs)

    def patch(self, service, path, body=None, **kwargs):
        return self.call("PATCH", service, path, json=body, **kwargs)

    def delete(self, service, path, **kwargs):
        return self.call("DELETE", service, path, **kwargs)


def _json(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"items": body}
