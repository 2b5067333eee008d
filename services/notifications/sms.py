"""SMS text rules: GSM-7 or UCS-2, segment counting, diacritics folding, fitting a message
into the parts allowed, phone numbers, and what a gateway's HTTP answer means. Pure.

- GSM 03.38 (GSM-7): 160 characters in one SMS, 153 per part of a longer one; the extension
  characters (``^ { } \\ [ ] ~ | €``) take two. Vietnamese with diacritics is not GSM-7.
- UCS-2: 70 characters in one SMS, 67 per part; a character outside the BMP (emoji) takes two.
- Many Vietnamese gateways (and brandname routes) accept GSM-7 only: ``fold_to_gsm7`` writes
  "Chúc mừng Nguyễn Thị Hoa" as "Chuc mung Nguyen Thi Hoa".
"""
import re
import unicodedata

TRANSIENT = "transient"
PERMANENT = "permanent"

GSM7 = "gsm7"
UCS2 = "ucs2"

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXTENDED = set("^{}\\[~]|€\f")

SINGLE = {GSM7: 160, UCS2: 70}
PER_PART = {GSM7: 153, UCS2: 67}
ELLIPSIS = {GSM7: "...", UCS2: "…"}

# Letters that NFD does not decompose, and punctuation a phone shows badly.
_FOLD = {"đ": "d", "Đ": "D", "ð": "d", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O",
         "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...",
         "\u00a0": " ", "«": '"', "»": '"'}


def is_gsm7(text):
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text)


def fold_to_gsm7(text):
    """``text`` in the GSM-7 alphabet: every diacritic stripped (ă â ê ô ơ ư đ and the five
    tones; à and é too, although GSM-7 has them, so a name is not half-folded), typographic
    punctuation made plain, anything else unknown as ``?``."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in _FOLD:
            out.append(_FOLD[ch])
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        if len(decomposed) > 1:  # a letter with marks (à, ế, ự...): its base letter
            base = "".join(c for c in decomposed if not unicodedata.combining(c))
            base = "".join(_FOLD.get(c, c) for c in base)
            if base and is_gsm7(base):
                out.append(base)
                continue
        if ch in _GSM7_BASIC or ch in _GSM7_EXTENDED:
            out.append(ch)
        elif unicodedata.category(ch).startswith("Z"):
            out.append(" ")
        else:
            out.append("?")
    return "".join(out)


def encoding(text):
    return GSM7 if is_gsm7(text) else UCS2


def _units(ch, enc):
    if enc == GSM7:
        return 2 if ch in _GSM7_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1


def length(text, enc=None):
    """Length in the encoding's units (septets, or UTF-16 code units)."""
    enc = enc or encoding(text)
    return sum(_units(ch, enc) for ch in text)


def parts(text):
    """How many SMS ``text`` takes."""
    enc = encoding(text)
    size = length(text, enc)
    if size <= SINGLE[enc]:
        return 1
    return -(-size // PER_PART[enc])


def capacity(enc, max_parts):
    return SINGLE[enc] if max_parts <= 1 else PER_PART[enc] * max_parts


def one_line(text):
    return " ".join(str(text).split())


def fit(text, *, gsm7_only=True, max_parts=1):
    """The text to send: whitespace collapsed, folded to GSM-7 when the gateway needs it, and
    cut (with an ellipsis) to fit in ``max_parts`` SMS. Never longer than allowed."""
    max_parts = max(1, int(max_parts))
    text = one_line(unicodedata.normalize("NFC", text))
    if gsm7_only:
        text = fold_to_gsm7(text)
    enc = encoding(text)
    limit = capacity(enc, max_parts)
    if length(text, enc) <= limit:
        return text
    ellipsis = ELLIPSIS[enc]
    budget = limit - length(ellipsis, enc)
    kept, used = [], 0
    for ch in text:
        cost = _units(ch, enc)
        if used + cost > budget:
            break
        kept.append(ch)
        used += cost
    return "".join(kept).rstrip() + ellipsis


# -- phone numbers ------------------------------------------------------------------------------
_PHONE = re.compile(r"^\+?[0-9]{9,15}$")


def normalise_phone(phone, country_code="84"):
    """E.164 (``+84912345678``) from what the registry keeps (``0912345678``, ``84912...``,
    ``+84...``, spaces, dots or dashes); None when it is not a phone number."""
    if not phone:
        return None
    digits = re.sub(r"[\s.\-()]", "", str(phone))
    if not _PHONE.match(digits):
        return None
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return f"+{country_code}{digits[1:]}"
    if digits.startswith(country_code):
        return "+" + digits
    return None


def mask_phone(phone):
    """``+84912345678`` -> ``***78``: as cdht.redact masks numbers in logs."""
    digits = re.sub(r"\D", "", str(phone or ""))
    return "***" + digits[-2:] if digits else ""


# -- gateway answers ----------------------------------------------------------------------------
# 401/403: our credentials or account, not this message: retried (and visible in the log)
# rather than failing every SMS for good; 408/425/429: try later.
_TRANSIENT_4XX = frozenset({401, 403, 408, 425, 429})


def classify_http_status(status):
    """None for a success (2xx); else TRANSIENT (5xx, throttling, our credentials) or
    PERMANENT (the gateway refuses this message: bad number, bad content)."""
    if 200 <= status <= 299:
        return None
    if status >= 500 or status in _TRANSIENT_4XX:
        return TRANSIENT
    return PERMANENT
