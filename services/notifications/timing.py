"""When to try again, how fast to send, and when digests and summaries are due. Pure: the
clock and the randomness are passed in.
"""
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta, timezone

# -- retries ------------------------------------------------------------------------------------
def backoff_delay(attempt, base, cap, rand):
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): exponential
    (base, 2*base, 4*base, ... up to ``cap``) with "equal jitter": a random point in the
    upper half of that step, so retries of many deliveries spread out and never come at once,
    yet each waits at least half its step. ``rand()`` returns a float in [0, 1)."""
    step = min(float(cap), float(base) * 2 ** max(0, int(attempt) - 1))
    return step / 2 + rand() * step / 2


def retry_plan(max_attempts, base, cap):
    """The (lowest, highest) wait before each retry: documentation and tests of the schedule."""
    return [(backoff_delay(n, base, cap, lambda: 0.0),
             backoff_delay(n, base, cap, lambda: 1.0)) for n in range(1, max_attempts)]


# -- rate limits ----------------------------------------------------------------------------------
class TokenBucket:
    """At most ``per_minute`` sends a minute, in bursts of at most ``burst``. ``take(now)``
    returns 0 when a send may go now (and counts it), else the seconds to wait.
    ``per_minute`` 0 or less: no limit."""

    def __init__(self, per_minute, burst=None, now=0.0):
        self.rate = float(per_minute) / 60.0
        self.capacity = float(burst if burst is not None else max(1.0, self.rate))
        self.tokens = self.capacity
        self.stamp = now

    def _tokens_at(self, now):
        return min(self.capacity, self.tokens + (now - self.stamp) * self.rate)

    def take(self, now):
        if self.rate <= 0:
            return 0.0
        self.tokens = self._tokens_at(now)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def room(self, now):
        """How many sends may go now, without counting them; None: no limit."""
        if self.rate <= 0:
            return None
        return int(self._tokens_at(now))

    def ready_in(self, now):
        """The seconds ``take(now)`` would say to wait, without counting a send."""
        if self.rate <= 0:
            return 0.0
        tokens = self._tokens_at(now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


# -- local time -----------------------------------------------------------------------------------
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?$")


def parse_timezone(value):
    """A tzinfo from ``+07:00`` / ``UTC+7`` (Vietnam has kept UTC+7 without daylight saving
    since 1975) or an IANA name such as ``Asia/Ho_Chi_Minh`` (needs the tz database)."""
    text = str(value or "+07:00").strip()
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    from zoneinfo import ZoneInfo
    return ZoneInfo(text)


def local(now, tz):
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    return now.astimezone(tz)


# -- the daily digest -----------------------------------------------------------------------------
def digest_day(now, tz, hour):
    """The local day whose digest may be sent at ``now``, or None before ``hour`` o'clock
    (a digest goes out once a day, from that hour on)."""
    moment = local(now, tz)
    return moment.date() if moment.hour >= int(hour) else None


NAMESPACE = uuid.UUID("5b0a4c36-5f0f-4c5e-9a43-1b8d2f7c6e10")


def digest_id(template, person_id, day):
    """The id of one recipient's digest of one day: a second flush that day finds it (the
    delivery is unique per id, person and channel) and sends nothing more."""
    return uuid.uuid5(NAMESPACE, f"digest:{template}:{person_id}:{day.isoformat()}")


# -- the weekly summary ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Week:
    year: int
    week: int

    @property
    def key(self):
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self):
        return date.fromisocalendar(self.year, self.week, 1)


def iso_week(now, tz):
    year, week, _ = local(now, tz).isocalendar()
    return Week(year, week)


def weekly_due(now, tz, weekday, hour):
    """The ISO week whose summary is due at ``now`` (local time at or after ``weekday``
    (1 = Monday) ``hour`` o'clock of that week), else None."""
    moment = local(now, tz)
    _, _, today = moment.isocalendar()
    if (today, moment.hour) >= (int(weekday), int(hour)):
        return iso_week(now, tz)
    return None


def summary_id(province, week):
    return uuid.uuid5(NAMESPACE, f"weekly_summary:{province}:{week.key}")

