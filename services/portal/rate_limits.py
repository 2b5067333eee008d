"""How often a stranger may look a certificate up on the public verification page, and who
that stranger is: token buckets kept in this process's memory, per client address and for the
portal as a whole.

Why two: assessment limits its public ``/verifications/<code>`` per client address, and every
look-up made through the portal reaches it from the portal's one address. The portal says
whose look-up it is (X-Forwarded-For), which assessment believes only where its operator
named the portal a trusted proxy (assessment's VERIFY_TRUSTED_PROXIES). Either way the
portal limits each client itself (``per_client``), so that one visitor cannot spend the
allowance of all, and keeps its own calls to assessment under an overall rate (``overall``:
at or below assessment's per-address limit, for when assessment counts the portal as one
client), answering a 429 of its own instead of calling when that is spent. Each portal
process counts on its own, and a restart forgets: the limits slow a visitor down, they are
not a quota.
"""
import ipaddress
import math
import time

MAX_CLIENTS = 10_000  # buckets kept at most; idle (full) ones are forgotten first


class TokenBucket:
    """``capacity`` look-ups at once, then one every ``60 / per_minute`` seconds."""

    def __init__(self, per_minute, capacity=None, clock=time.monotonic):
        if per_minute <= 0:
            raise ValueError("a rate limit must allow at least one look-up a minute")
        self.rate = per_minute / 60.0
        self.capacity = float(capacity or per_minute)
        self.clock = clock
        self.tokens, self.at = self.capacity, clock()

    def _refill(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self):
        """0 when a look-up may go ahead now (and counts it), else the whole seconds to wait
        (at least 1: a Retry-After)."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.rate))

    def full(self):
        self._refill()
        return self.tokens >= self.capacity


class ClientLimits:
    """One bucket per client key, at most ``max_clients`` of them."""

    def __init__(self, per_minute, clock=time.monotonic, max_clients=MAX_CLIENTS):
        self.per_minute, self.clock, self.max_clients = per_minute, clock, max_clients
        TokenBucket(per_minute)  # refuse a bad setting at start, not at the first visitor
        self._buckets = {}

    def take(self, key):
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_idle()
            bucket = self._buckets[key] = TokenBucket(self.per_minute, clock=self.clock)
        return bucket.take()

    def _forget_idle(self):
        """Drop the buckets that are full again (their clients are as new); if every client
        is still busy, drop the older half (first seen first)."""
        for key in [k for k, b in self._buckets.items() if b.full()]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:
            for key in list(self._buckets)[:len(self._buckets) // 2 + 1]:
                del self._buckets[key]

    def __len__(self):
        return len(self._buckets)


class VerificationLimits:
    """The two limits of the verification page (module docstring)."""

    def __init__(self, per_client, overall, overall_burst=None, trusted_proxies=0,
                 clock=time.monotonic):
        self.clients = ClientLimits(per_client, clock=clock)
        self.overall = TokenBucket(overall, capacity=overall_burst, clock=clock)
        self.trusted_proxies = int(trusted_proxies)
        if self.trusted_proxies < 0:
            raise ValueError("TRUSTED_PROXIES cannot be negative")

    @classmethod
    def from_config(cls, config):
        return cls(per_client=float(config.get("VERIFY_PER_CLIENT_PER_MINUTE") or 10),
                   overall=float(config.get("VERIFY_PER_MINUTE") or 30),
                   overall_burst=int(config.get("VERIFY_BURST") or 10),
                   trusted_proxies=int(config.get("TRUSTED_PROXIES") or 0))

    def client(self, remote_addr, forwarded_for=None):
        """The address of the visitor (see ``client_address``)."""
        return client_address(remote_addr, forwarded_for, self.trusted_proxies)

    def wait(self, address):
        """0 when this client's look-up may reach assessment now (and counts it), else the
        seconds to wait. A client refused is not counted against the portal's allowance."""
        return self.clients.take(client_key(address)) or self.overall.take()


def client_address(remote_addr, forwarded_for, trusted_proxies):
    """The address of whoever sent the request: the connection's peer, or, behind
    ``trusted_proxies`` reverse proxies, the address the farthest trusted one saw (from the
    right of X-Forwarded-For: what is further left was written by the client and proves
    nothing)."""
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr or ""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    if len(hops) < trusted_proxies:
        return remote_addr or ""
    return hops[-trusted_proxies]


def client_key(address):
    """What one client is: an IPv4 address, or an IPv6 address's /64 (one household or
    machine is given a whole /64, and could otherwise take a new address per look-up)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return str(address)
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
