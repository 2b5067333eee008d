"""Deadlines for RPC calls: nameko 2's RpcProxy waits forever for an answer that never comes,
and raises UnknownService when the other service is not running at all."""
from contextlib import contextmanager

import eventlet
from nameko.exceptions import UnknownService

DEFAULT_SECONDS = 10.0


class RpcUnavailable(Exception):
    """The other service is not running or did not answer in time. An Exception
    (eventlet.Timeout itself is a BaseException, which nameko would not treat as a worker
    error): event handlers retry it, HTTP handlers answer 503."""


@contextmanager
def deadline(seconds, what):
    """``with deadline(10, "registry.profile"): ...``: RpcUnavailable after ``seconds``, or
    at once when the service is not running."""
    seconds = float(seconds or DEFAULT_SECONDS)
    try:
        with eventlet.Timeout(seconds, RpcUnavailable(
                f"{what} did not answer within {seconds:g}s")):
            yield
    except UnknownService:
        raise RpcUnavailable(f"{what}: the service is not running") from None
