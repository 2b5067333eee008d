"""A rate limit per client address for public routes (the verification of a title's code):
a token bucket per address, in this process's memory (several processes: each its own, and
a restart forgets). Pure: the clock is passed in.

Behind a reverse proxy (the portal's public page asks on a visitor's behalf) every request
comes from the proxy: its address is named in the trusted proxies, and the client is then the
right-most address of X-Forwarded-For that is not itself a trusted proxy.
"""
import ipaddress
from dataclasses import dataclass, field


class SettingError(ValueError):
    """A rate or proxy setting the service cannot use."""


def trusted_networks(value, name="VERIFY_TRUSTED_PROXIES"):
    """The networks of a comma-separated list of addresses or CIDR blocks."""
    found = []
    for part in str(value or "").split(","):
        if part.strip():
            try:
                found.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingError(f"{name}: {part.strip()!r} is not an address or a CIDR "
                                   f"block") from None
    return tuple(found)


def _trusted(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(remote_addr, forwarded_for, networks):
    """Who is asking: ``remote_addr``, unless it is a trusted proxy: then the right-most
    X-Forwarded-For address not itself trusted (a client cannot pass for another by
    writing the header: only what the trusted proxies appended is believed)."""
    address = str(remote_addr or "")
    if not networks or not _trusted(address, networks):
        return address
    hops = [hop.strip() for hop in str(forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else address


@dataclass
class PerAddress:
    """At most ``per_minute`` requests a minute per address, in bursts of ``burst``.
    ``take(address, now)``: 0 when the request may go (and counts it), else the seconds
    to wait. Buckets that have refilled are dropped once ``max_tracked`` addresses are
    held, so memory stays bounded."""
    per_minute: float
    burst: int
    max_tracked: int = 100_000
    _buckets: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.per_minute <= 0 or self.burst < 1:
            raise SettingError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = float(self.per_minute) / 60.0

    def take(self, address, now):
        tokens, stamp = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._buckets[address] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_tracked:
                self._forget_idle(now)
            return 0.0
        self._buckets[address] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_idle(self, now):
        full = float(self.burst) / self.rate  # idle this long: the bucket is full again
        for address, (_, stamp) in list(self._buckets.items()):
            if now - stamp >= full:
                del self._buckets[address]
