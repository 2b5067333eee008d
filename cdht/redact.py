"""Masking of personal data in text that may reach logs, headers or error reports.

National ID numbers, phone numbers and email addresses must never appear there (DESIGN.md
§2.6); exception messages from drivers and libraries sometimes quote them.
"""
import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_LONG_NUMBER = re.compile(r"(?<![0-9])\+?[0-9][0-9 .-]{7,}[0-9](?![0-9])")


def redact(text):
    """``text`` with emails as ``n***@domain`` and 9+ digit numbers as ``***``+last 2."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", str(text))
    return _LONG_NUMBER.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)
