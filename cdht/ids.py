"""Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random
bits. Rows written one after another get ids that sort after each other, so a B-tree index
on them grows at its right edge, where its pages are in memory, instead of taking each new
id at a random page: closing a year writes a million titles and events, and with random
(version 4) ids their indexes outgrew PostgreSQL's cache. An id gives nothing away but the
millisecond it was made."""
import os
import time
import uuid


def _v7(millis, random):
    """The UUID's integer: ``millis`` (48 bits), version 7, 12 random bits, variant 10, 62
    random bits (``random``: 80 random bits, 74 of them used)."""
    return (millis << 80) | (0x7 << 76) | (((random >> 68) & 0xFFF) << 64) \
        | (0b10 << 62) | (random & 0x3FFF_FFFF_FFFF_FFFF)


def _now_millis():
    return time.time_ns() // 1_000_000


def time_ordered_id():
    """One version 7 UUID."""
    return uuid.UUID(int=_v7(_now_millis(), int.from_bytes(os.urandom(10), "big")))


def time_ordered_ids(n):
    """``n`` version 7 UUIDs as text, in increasing order, from one read of randomness."""
    millis, randomness = _now_millis(), os.urandom(10 * n)
    values = sorted(_v7(millis, int.from_bytes(randomness[i:i + 10], "big"))
                    for i in range(0, 10 * n, 10))
    return [str(uuid.UUID(int=value)) for value in values]
