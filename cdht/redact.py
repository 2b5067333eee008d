"""Masking of personal data in text that may reach logs, headers or error reports.

National ID numbers, phone numbers and email addresses must never appear there (docs/architecture.md
§D8); exception messages from drivers and libraries sometimes quote them. Every log line of
every service goes through ``redact`` (cdht.observability's formatters), so dates, UUIDs and
IPv4 addresses, which log lines are full of, are left whole: none is an ID number or a phone
number (an address's first number never starts with 0, a Vietnamese phone number always
does, or with +84).
"""
import re

# Linear on any input: a local part is taken whole, from where a run of its characters starts
# (begun anywhere in the run, a run with no "@" was rescanned from each of its characters:
# quadratic, seconds on 32 KB), and a domain's labels are taken whole between its dots.
_LOCAL = r"A-Za-z0-9._%+-"
_DOMAIN = r"(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,}"
_EMAIL = re.compile(rf"(?<![{_LOCAL}])([{_LOCAL}])[{_LOCAL}]*+@({_DOMAIN})")
# _EMAIL is tried at every character of what it is given, so it is given only the stretches
# around an "@" a domain follows, found from the "@" (a literal first character: the regex
# engine finds it in C) together with those less than 80 characters apart, each stretch from
# where the local part before its first "@" starts (read backwards, from the reversed text).
_AT_DOMAINS = re.compile(rf"@{_DOMAIN}(?:[\s\S]{{0,80}}?@{_DOMAIN})*")
_LOCAL_RUN = re.compile(rf"[{_LOCAL}]*+")

# Long numbers, and the UUIDs, dates and IPv4 addresses kept whole among them. The pattern
# starts with a character class, a digit, "+" or "-": the regex engine skips every other
# character in C and tries the pattern only there (begun with a lookbehind, it was tried at
# every character: 100 ms for a megabyte of letters). So each branch looks behind the
# character it has just taken ("(?<![0-9].)": the one before it is not a digit). A UUID is kept from its first dash on (its first group has been passed
# over by then: a number starting inside that group is refused).
_HEX = "[0-9A-Fa-f]"
_UUID_AFTER_FIRST_DASH = rf"{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?!{_HEX})"
_IN_UUID_FIRST_GROUP = (  # the digit just taken is the (j+1)-th of a UUID's first group
    rf"(?={_HEX}{{0,7}}-)(?:"
    + "|".join(rf"(?<=(?<!{_HEX}){_HEX}{{{j + 1}}}){_HEX}{{{7 - j}}}-{_UUID_AFTER_FIRST_DASH}"
               for j in range(8))
    + ")")
_KEEP = (
    rf"(?<={_HEX}-)(?<=(?<!{_HEX}){_HEX}{{8}}-){_UUID_AFTER_FIRST_DASH}"
    r"|(?<=[0-9])(?=[0-9.])(?:"
    r"(?<![0-9].)(?:(?<=1)9|(?<=2)0)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)?(?![0-9])"
    r"|(?<=[1-9])(?<![0-9+].)(?<![0-9]\..)(?:(?<=2)5[0-5]|(?<=2)[0-4][0-9]|(?<=1)[0-9]{2}|[0-9]?)"
    r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}(?![0-9]|\.[0-9])"
    r")"
)
# Nine characters or more from the first digit (or "+") to the last, digits among spaces,
# dots and dashes, not inside a longer run of digits.
_LONG_NUMBER = (rf"(?<![0-9].)(?:(?<=\+)[0-9]|(?<=[0-9])(?=[0-9 .-]{{7}})(?!{_IN_UUID_FIRST_GROUP}))"
                r"[0-9 .-]{7,}[0-9](?![0-9])")
# Refused before the alternatives are tried (trying them costs more than these checks): a dash
# not after eight hex digits, a digit followed by anything but a digit, space, dot or dash, a "+"
# not followed by a digit.
_HOPELESS = r"(?<!(?<![0-9A-Fa-f]{8})-)(?<![0-9](?![0-9 .-]))(?<!\+(?![0-9]))"
# At each place a UUID or a date wins over a long number (the leftmost match is taken).
_NUMBER_OR_KEPT = re.compile(f"[0-9+-]{_HOPELESS}(?:(?P<keep>{_KEEP})|{_LONG_NUMBER})", re.DOTALL)


def _mask_number(match):
    if match.group("keep") is not None:
        return match.group(0)
    number = match.group(0)  # ends with a digit; the one before is the last of the rest
    return f"***{number[:-1].rstrip(' .-')[-1]}{number[-1]}"


def redact(text):
    """``text`` with emails as ``n***@domain`` and 9+ digit numbers as ``***``+last 2
    (dates like 2025-06-30 12:00:00, UUIDs and IPv4 addresses are not: they stay)."""
    return _NUMBER_OR_KEPT.sub(_mask_number, _mask_emails(str(text)))


def _mask_emails(text):
    stretches, backwards = [], None
    for found in _AT_DOMAINS.finditer(text):
        if backwards is None:
            backwards = text[::-1]
        from_at = len(text) - found.start()  # the "@" at position p is at len - 1 - p backwards
        start = found.start() - (_LOCAL_RUN.match(backwards, from_at).end() - from_at)
        if stretches and start <= stretches[-1][1]:  # its local part touches the previous one
            stretches[-1][1] = found.end()
        else:
            stretches.append([start, found.end()])
    parts, done = [], 0
    for start, end in stretches:
        parts += (text[done:start], _EMAIL.sub(_mask_email, text[start:end]))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _mask_email(match):
    return f"{match.group(1)}***@{match.group(2)}"
