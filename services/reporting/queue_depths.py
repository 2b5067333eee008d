"""How many messages wait in each of reporting's queues, asked of the broker at most once per
QUEUE_DEPTH_SECONDS per process.

``GET /lag`` and the open ``/metrics`` show them. Asking means an AMQP connection and a
passive declare per queue: done per scrape, anyone able to reach ``/metrics`` could make the
service open connections as fast as they send requests. So the figures are kept for a few
seconds, and while one worker asks, the others answer with the figures they have.
"""
import time

from kombu import Connection
from nameko.extensions import DependencyProvider

from cdht.consumer import event_handlers

DEFAULT_SECONDS = 10.0


class DepthCache:
    """The last figures and when they were read; ``fetch()`` reads new ones. Plain Python:
    the clock is passed in, so the rule is tested without a broker."""

    def __init__(self, fetch, max_age, clock=time.monotonic):
        self.fetch, self.max_age, self.clock = fetch, max_age, clock
        self.depths, self.read_at, self.reading = {}, None, False

    def get(self):
        """The figures, read again when older than ``max_age`` and nobody is reading them;
        {} when the broker has never answered."""
        fresh = self.read_at is not None and self.clock() - self.read_at < self.max_age
        if fresh or self.reading:
            return self.depths
        self.reading = True
        try:
            depths = self.fetch()
        finally:
            self.reading = False
        if depths:  # a broker that did not answer keeps the last figures (and is asked again)
            self.depths, self.read_at = depths, self.clock()
        return self.depths

    def age(self):
        """Seconds since the figures were read from the broker; None if never."""
        return None if self.read_at is None else round(self.clock() - self.read_at, 1)


def read_depths(amqp_uri, queues):
    """{queue: messages waiting} for ``queues``; {} when the broker does not answer."""
    depths = {}
    try:
        with Connection(amqp_uri, connect_timeout=2) as conn:
            channel = conn.channel()
            for queue in queues:
                try:
                    depths[queue] = channel.queue_declare(queue, passive=True).message_count
                except Exception:  # not declared yet: nothing waits in it
                    channel = conn.channel()
                    depths[queue] = 0
    except Exception:
        return {}
    return depths


class QueueDepths(DependencyProvider):
    """``self.queue_depths``: the DepthCache of the service's event queues (``.get()``,
    ``.age()``)."""

    def setup(self):
        config = self.container.config
        queues = [queue for _, queue in event_handlers(self.container.service_cls)]
        seconds = config.get("QUEUE_DEPTH_SECONDS")
        self.cache = DepthCache(lambda: read_depths(config["AMQP_URI"], queues),
                                float(DEFAULT_SECONDS if seconds in (None, "") else seconds))

    def get_dependency(self, worker_ctx):
        return self.cache
