"""Masking of personal data in text that may reach logs, headers or error reports.

National ID numbers, phone numbers and email addresses must never appear there (docs/architecture.md
§D8); exception messages from drivers and libraries sometimes quote them. Every log line of
every service goes through ``redact`` (cdht.observability's formatters), so dates, UUIDs and
IPv4 addresses, which log lines are full of, are left whole: none is an ID number or a phone
number (an address's first number never starts with 0, a Vietnamese phone number always
does, or with +84).
"""
import re

# Linear time on any input: a local part is tried only where a run of its characters starts
# (without the lookbehind, a long run with no "@" was rescanned from each of its characters:
# quadratic, seconds on 32 KB), and a domain's labels are taken whole between its dots.
_LOCAL = r"A-Za-z0-9._%+-"
_EMAIL = re.compile(rf"(?<![{_LOCAL}])([{_LOCAL}])[{_LOCAL}]*+@"
                    r"((?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,})")
_KEEP = (
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
    r"|(?<![0-9])(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?(?![0-9])"
    r"|(?<![0-9+])(?<![0-9]\.)(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]?)"
    r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}(?![0-9]|\.[0-9])"
)
_LONG_NUMBER = r"(?<![0-9])\+?[0-9][0-9 .-]{7,}[0-9](?![0-9])"
# At each place a UUID or a date wins over a long number (the leftmost match is taken).
_NUMBER_OR_KEPT = re.compile(f"(?P<keep>{_KEEP})|{_LONG_NUMBER}")


def _mask_number(match):
    if match.group("keep"):
        return match.group(0)
    return "***" + re.sub(r"\D", "", match.group(0))[-2:]


def redact(text):
    """``text`` with emails as ``n***@domain`` and 9+ digit numbers as ``***``+last 2
    (dates like 2025-06-30 12:00:00, UUIDs and IPv4 addresses are not: they stay)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", str(text))
    return _NUMBER_OR_KEPT.sub(_mask_number, text)
