"""What a message says of places, of who signs it and of why a title was refused, in the
reader's language. Pure: the names come in as plain data (``Places``), kept by places.py from
the registry's events.

- A unit is named by its name ("Phường Long Xuyên"); its code only when no name is known.
- A decision is signed by the association that decides (APPROVAL_LEVEL): by default the
  commune-level one of the person's xã, phường or đặc khu. Its own name when the registry
  announced the body, else "Hội Khuyến học " + the unit's name, its kind word lower-cased
  ("Hội Khuyến học phường Long Xuyên").
- A refusal's reasons are data (recognition_refused v2): each is written here in the reader's
  language; the reviewer's note is passed as written.
"""
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INDICATORS_FILE = Path(__file__).resolve().parent / "indicators.yaml"
ASSOCIATION = "Hội Khuyến học"
ASSOCIATION_EN = "Association for Promoting Education"
COMMUNE_KINDS = ("commune", "ward", "special_zone")
COMMUNE, PROVINCE = "commune", "province"
# The words a unit's name starts with, by kind; the first is the one put before a bare name.
KIND_WORDS = {
    "province": ("Tỉnh", "Thành phố"),
    "district": ("Huyện", "Quận", "Thị xã", "Thành phố"),
    "commune": ("Xã", "Thị trấn"),
    "ward": ("Phường",),
    "special_zone": ("Đặc khu",),
}


def _nfc(text):
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def load_indicator_names(path=INDICATORS_FILE):
    """{code: {"vi": name, "en": name}} of indicators.yaml."""
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return {str(code): {lang: _nfc(name) for lang, name in names.items()}
            for code, names in raw.items()}


INDICATOR_NAMES = load_indicator_names()


@dataclass(frozen=True)
class Places:
    """What is known of the units a message mentions: ``units`` {code: {"unit_name", "kind"}},
    ``bodies`` {unit_code: the name of its commune association}, and the approval level."""
    units: dict = field(default_factory=dict)
    bodies: dict = field(default_factory=dict)
    level: str = COMMUNE

    def name(self, code):
        """The unit's name, or its code when no name is known."""
        unit = self.units.get(code)
        return _nfc(unit["unit_name"]) if unit and unit.get("unit_name") else code

    def signing_unit(self, unit_path):
        """The unit whose association decides for someone at ``unit_path``: the province
        (its first unit) at province level, else the commune-level unit on the path (the
        province when the path has none, e.g. a province-wide summary)."""
        path = [code for code in (unit_path or ()) if code]
        if not path:
            return None
        if self.level != PROVINCE:
            for code in reversed(path):
                if (self.units.get(code) or {}).get("kind") in COMMUNE_KINDS:
                    return code
        return path[0]

    def association(self, unit_path):
        """The deciding association's name ("Hội Khuyến học phường Long Xuyên"); just
        "Hội Khuyến học" when nothing is known of the unit."""
        code = self.signing_unit(unit_path)
        if code is None:
            return ASSOCIATION
        if self.bodies.get(code):
            return _nfc(self.bodies[code])
        unit = self.units.get(code)
        if not unit or not unit.get("unit_name"):
            return ASSOCIATION
        return f"{ASSOCIATION} {lowered_kind(unit['unit_name'], unit.get('kind'))}"

    def signature(self, unit_path, language):
        """The line a mail ends with: the association's name (with what it is, in English)."""
        name = self.association(unit_path)
        return name if language == "vi" else f"{name} ({ASSOCIATION_EN})"


def lowered_kind(unit_name, kind):
    """"Phường Long Xuyên" -> "phường Long Xuyên"; a name without its kind word gets it:
    ("Long Xuyên", ward) -> "phường Long Xuyên"."""
    name = _nfc(unit_name)
    words = KIND_WORDS.get(kind, ())
    for word in sorted({w for ws in KIND_WORDS.values() for w in ws}, key=len, reverse=True):
        if name.lower().startswith(word.lower() + " "):
            return word.lower() + name[len(word):]
    return f"{words[0].lower()} {name}" if words else name


def common_path(paths):
    """The longest path every one of ``paths`` starts with (a digest's common place)."""
    paths = [list(p) for p in paths if p]
    if not paths:
        return []
    common = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(common), len(path)) and common[n] == path[n]:
            n += 1
        common = common[:n]
    return common


# -- refusal reasons ---------------------------------------------------------------------------
def indicator_number(code):
    """"TC1.3" -> "1.3": the indicator's number as the forms print it."""
    code = str(code)
    return code[2:] if code.upper().startswith("TC") and code[2:3].isdigit() else code


def indicator_name(code, language, names=None):
    entry = (INDICATOR_NAMES if names is None else names).get(str(code)) or {}
    return entry.get(language) or entry.get("vi")


def reason_text(reason, language, names=None):
    """One reason in ``language`` (vi or en). A sentence (a refusal announced before reasons
    were data) is shown as it came."""
    if isinstance(reason, str):
        return reason
    kind = reason.get("kind")
    if kind == "total_below":
        if language == "vi":
            return f"Tổng điểm {reason['total']}, chưa đạt mức {reason['minimum']} điểm"
        return f"Total {reason['total']} is under the required {reason['minimum']}"
    if kind == "indicator_below":
        number = indicator_number(reason["indicator"])
        name = indicator_name(reason["indicator"], language, names)
        named = f"{number} ({name})" if name else number
        if language == "vi":
            return (f"Chỉ số {named} đạt {reason['score']}/{reason['maximum']}, dưới mức tối "
                    f"thiểu {reason['minimum']}")
        return (f"Indicator {named} scored {reason['score']}/{reason['maximum']}, under the "
                f"minimum of {reason['minimum']}")
    return _nfc(reason.get("note") or "")


def reason_texts(reasons, language, names=None):
    return [text for text in (reason_text(r, language, names) for r in reasons or ()) if text]
