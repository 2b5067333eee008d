"""What the service's parts (events.py, sending.py, schedules.py, deliveries_api.py) share
besides the store: the routing rules, loaded once and checked against the event contracts;
the timer whose interval is configuration; the per-channel rate limits.
"""
import time

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from cdht.contracts.events import EVENT_SCHEMAS
from services.notifications import rules, timing

RULES = rules.load_rules(known_events={name for name, _ in EVENT_SCHEMAS})


class ConfigTimer(Timer):
    """nameko's timer with its interval (seconds) read from the config at start."""

    def __init__(self, key, default, **kwargs):
        self.key = key
        self.default = default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(self.container.config.get(self.key) or self.default)


config_timer = ConfigTimer.decorator


class RateLimits(DependencyProvider):
    """One token bucket per channel for the whole service process (RATE_LIMIT_*_PER_MINUTE;
    0: no limit). ``self.limits.wait(channel)``: 0 when a send may go now, else seconds."""

    def setup(self):
        config = self.container.config
        start = time.monotonic()
        self.buckets = {
            "email": timing.TokenBucket(float(config.get("RATE_LIMIT_EMAIL_PER_MINUTE") or 0),
                                        now=start),
            "sms": timing.TokenBucket(float(config.get("RATE_LIMIT_SMS_PER_MINUTE") or 0),
                                      now=start),
        }

    def wait(self, channel):
        return self.buckets[channel].take(time.monotonic())

    def ready_in(self, channel):
        """Seconds until a send may go on ``channel`` (0: now), nothing counted."""
        return self.buckets[channel].ready_in(time.monotonic())

    def room(self, channel):
        """How many sends may go on ``channel`` now, nothing counted; None: no limit."""
        return self.buckets[channel].room(time.monotonic())

    def get_dependency(self, worker_ctx):
        return self
