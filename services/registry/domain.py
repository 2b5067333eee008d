"""Registry rules: who a person is, where in the unit tree they count, which groups and
association bodies they belong to, and what they learnt.

Pure functions; the service module calls them before anything is written. Every rule that
rejects well-formed input raises ``Invalid`` (a 422: the rule is one the OpenAPI document
cannot state) or ``Conflict`` (a 409) with one message per field, and no message ever repeats
a national ID number.
"""
import unicodedata
from datetime import date, timedelta

from cdht.contracts.events import ACTIVITY_KINDS, GROUP_KINDS  # noqa: F401  (one source)

ADULT_AGE = 18  # default only: the service reads ADULT_AGE from its config

# The 4th digit of a 12-digit citizen ID (căn cước công dân) encodes century and gender:
# 0/1 = born 1900-1999 male/female, 2/3 = 2000-2099, 4/5 = 2100-2199, ...
_CENTURY_BASE = 1900

UNIT_KINDS = ("province", "district", "commune", "ward", "special_zone")
COMMUNE_LEVEL = ("commune", "ward", "special_zone")  # xã, phường, đặc khu
# Which kind of unit may sit under which: districts existed until 1 July 2025 only.
UNIT_PARENTS = {
    "province": (None,),
    "district": ("province",),
    "commune": ("province", "district"),
    "ward": ("province", "district"),
    "special_zone": ("province", "district"),
}
MAX_MERGED_UNITS = 100  # the units_merged contract carries at most 100 paths

GROUP_ROLES = ("head", "member")  # chủ hộ / trưởng họ / trưởng ấp ... or an ordinary member
LEARNING_UNIT_LEVELS = ("commune", "province", "other")

# The association's own structure (Hội Khuyến học): commune association, branch (chi hội),
# learning board (ban khuyến học); which body may hang under which.
BODY_KINDS = ("commune_association", "branch", "learning_board")
BODY_PARENTS = {
    "commune_association": (None,),
    "branch": ("commune_association",),
    "learning_board": ("commune_association", "branch"),
}
ASSOCIATION_ROLES = ("official", "member")  # cán bộ hội, hội viên

# Roles on a person that follow from where they belong: counted by the targets.
ROLE_OF_POSITION = {
    ("association", "official"): "association_official",
    ("association", "member"): "association_member",
    ("group", "learning_unit"): "unit_staff",
}

MAX_ACTIVITY_HOURS = 10000


class Invalid(ValueError):
    """Field-level problems: ``errors`` maps field -> [messages]. The caller's mistake: well
    formed, but against a rule between fields or against what is recorded (422)."""

    status = 422

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class Conflict(Invalid):
    """The input is well-formed but clashes with what is recorded (409)."""

    status = 409


class InvalidPerson(Invalid):
    """Kept for callers of the first version (the import pipeline)."""


def _raise_if(errors, cls=Invalid):
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise cls(errors)


# -- people ----------------------------------------------------------------------------------
def normalise_name(name):
    """Vietnamese names arrive in both composed and decomposed Unicode; store NFC, one space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def _fold_char(char):
    if char in "đĐ":
        return "d"
    return unicodedata.normalize("NFD", char)[0].lower()


# Every Vietnamese letter with a diacritic, and what it folds to: the migration uses the pair
# with SQL translate() for a stored search column that every writer (HTTP, import) keeps
# current without knowing about it.
_VIETNAMESE_LETTERS = (
    "àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ")
FOLD_FROM = _VIETNAMESE_LETTERS + _VIETNAMESE_LETTERS.upper()
FOLD_TO = "".join(_fold_char(c) for c in FOLD_FROM)
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text):
    """Text without Vietnamese diacritics, lower case ("Nguyễn Văn Ân" -> "nguyen van an"),
    so that a search typed without accents finds the name. Same as the SQL column."""
    return normalise_name(text).translate(_FOLD_TABLE).lower()


def mask_national_id(national_id):
    """What an API response may show of a national ID: its last four digits."""
    return "*" * 8 + (national_id or "")[-4:]


def national_id_problems(national_id, birth_date=None, gender=None):
    """Why ``national_id`` is not a valid 12-digit citizen ID for this person ([] if valid).

    Messages never repeat the number itself: it must not reach logs or error reports.
    """
    if len(national_id) != 12 or not national_id.isascii() or not national_id.isdigit():
        return ["must be exactly 12 digits"]
    province = int(national_id[:3])
    if not 1 <= province <= 96:
        return ["first three digits must be a province code from 001 to 096"]
    if birth_date is None:
        return []
    century_gender = int(national_id[3])
    century = _CENTURY_BASE + (century_gender // 2) * 100
    problems = []
    if century + int(national_id[4:6]) != birth_date.year:
        problems.append("digits 4-6 do not match the birth year")
    if gender in ("male", "female") and (century_gender % 2 == 1) != (gender == "female"):
        problems.append("digit 4 does not match the gender")
    return problems


def national_id_for(province_code, birth_date, gender, serial):
    """A well-formed ID for a person (synthetic data and tests)."""
    century_digit = (birth_date.year - _CENTURY_BASE) // 100 * 2 + (gender == "female")
    return f"{province_code:03d}{century_digit}{birth_date.year % 100:02d}{serial:06d}"


def age_on(birth_date, reference):
    return reference.year - birth_date.year - (
        (reference.month, reference.day) < (birth_date.month, birth_date.day))


def is_adult(birth_date, reference, adult_age=ADULT_AGE):
    return age_on(birth_date, reference) >= adult_age


def latest_adult_birth_date(reference, adult_age=ADULT_AGE):
    """The last birth date of someone adult on ``reference``: a list filter's bound that
    agrees with is_adult (a reference of 29 February maps to 28 February ``adult_age`` years
    earlier when that year has no 29 February). A reference so early that the bound would
    fall before year 1 gives date.min: nobody recorded is an adult then."""
    year = reference.year - adult_age
    if year < 1:
        return date.min
    try:
        return reference.replace(year=year)
    except ValueError:  # reference is 29 February, the target year has none
        return date(year, 2, 28)


def check_new_person(national_id, birth_date, gender, today=None):
    """Cross-field checks a schema can't express; raises InvalidPerson."""
    today = today or date.today()
    errors = {}
    if birth_date > today:
        errors["birth_date"] = ["must not be in the future"]
    problems = national_id_problems(national_id, birth_date, gender)
    if problems:
        errors["national_id"] = problems
    _raise_if(errors, InvalidPerson)


def check_person_change(current, changes, today=None):
    """Checks of a partial update against the person as recorded; raises InvalidPerson.

    The national ID is checked against birth date and gender only when one of the three
    changes, so an unrelated edit never fails on an old record.
    """
    if not {"national_id", "birth_date", "gender"} & set(changes):
        return
    merged = current | changes
    check_new_person(merged["national_id"], merged["birth_date"], merged["gender"], today)


PERSON_FACTS = ("target_group", "roles", "birth_year")


def changed_fields(before, after):
    """Names of the fields whose value differs, in a stable order (values never leave)."""
    return sorted(k for k in after if before.get(k) != after[k])


def person_events(changed):
    """Which events a change of these fields publishes, in order.

    A unit change is a move (person_moved), anything else an update (person_updated); both
    at once publish the update first, at the old place, then the move with the new facts,
    so a consumer that counts per unit and birth year never misses the previous values.
    """
    events = []
    if set(changed) - {"unit_code"}:
        events.append("person_updated")
    if "unit_code" in changed:
        events.append("person_moved")
    return events


def roles_after(roles, granted_before, granted_after):
    """A person's roles once their positions changed: roles that a position grants are added
    when it opens and dropped when the last position granting them closes; roles set by hand
    (or by an import) and not tied to a position are left alone. Sorted, so equal sets are
    equal lists."""
    lost = set(granted_before) - set(granted_after)
    gained = set(granted_after) - set(granted_before)
    return sorted((set(roles) - lost) | gained)


def granted_roles(positions):
    """Roles granted by open positions: ``positions`` are (scope, kind) pairs, e.g.
    ("association", "official") or ("group", "learning_unit")."""
    return {ROLE_OF_POSITION[p] for p in positions if p in ROLE_OF_POSITION}


# -- units -----------------------------------------------------------------------------------
def unit_path(parents, code):
    """Codes from the root down to ``code``, given ``parents`` (code -> parent code or None)."""
    path = [code]
    while parents.get(path[-1]):
        path.append(parents[path[-1]])
        if len(path) > 16:
            raise ValueError(f"unit tree has a cycle at {code!r}")
    return list(reversed(path))


def valid_on(valid_from, valid_to, day):
    """Whether a unit valid from/to these dates (both inclusive, None = open) exists on day."""
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


def check_unit(kind, parent_kind, valid_from=None, valid_to=None, *, parent_known=True):
    """A unit's place in the tree and its validity; raises Invalid."""
    errors = {}
    if not parent_known:
        errors["parent_code"] = ["unknown unit"]
    elif parent_kind not in UNIT_PARENTS.get(kind, ()):
        allowed = [k for k in UNIT_PARENTS.get(kind, ()) if k]
        errors["parent_code"] = ([f"a {kind} has no parent unit"] if not allowed else
                                 [f"a {kind} must be under a {' or a '.join(allowed)}"])
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = ["must not be before valid_from"]
    _raise_if(errors)


def check_children(kind, child_kinds):
    """A unit's kind must still suit the units under it; raises Invalid."""
    misplaced = sorted(c for c in set(child_kinds) if kind not in UNIT_PARENTS.get(c, ()))
    if misplaced:
        raise Invalid({"kind": [f"a {', '.join(misplaced)} cannot be under a {kind}"]})


def check_reparent(code, new_parent, parents):
    """Moving ``code`` under ``new_parent`` must not make a cycle; raises Invalid."""
    node, seen = new_parent, 0
    while node is not None:
        if node == code:
            raise Invalid({"parent_code": ["would make the unit its own ancestor"]})
        node, seen = parents.get(node), seen + 1
        if seen > 16:
            raise Invalid({"parent_code": ["the unit tree has a cycle"]})


def closing_date(effective_on):
    """A unit merged on ``effective_on`` existed until the day before."""
    return effective_on - timedelta(days=1)


def check_merge(from_units, target, effective_on, *, target_is_new):
    """A merge of ``from_units`` into ``target`` on ``effective_on``; raises Invalid/Conflict.

    ``from_units`` maps code -> dict(valid_from, valid_to, open_children) or None when
    unknown; ``target`` is a dict(code, valid_from, valid_to) (None when it is unknown).
    """
    errors = {}
    codes = list(from_units)
    if not codes:
        errors["from_codes"] = ["name at least one unit"]
    if len(codes) > MAX_MERGED_UNITS:
        errors["from_codes"] = [f"at most {MAX_MERGED_UNITS} units at once"]
    unknown = [c for c, u in from_units.items() if u is None]
    if unknown:
        errors.setdefault("from_codes", []).append("unknown unit(s): " + ", ".join(unknown))
    if target is not None and target["code"] in from_units:
        errors["into"] = ["a unit cannot be merged into itself"]
    elif target is None:
        errors["into"] = ["unknown unit"]
    elif not target_is_new and not valid_on(target["valid_from"], target["valid_to"],
                                           effective_on):
        errors["into"] = ["the unit is not valid on effective_on"]
    for code, unit in from_units.items():
        if unit is None or (target and code == target["code"]):
            continue
        if unit["valid_to"] is not None and unit["valid_to"] < effective_on:
            errors.setdefault("from_codes", []).append(
                f"{code} was already closed on {unit['valid_to'].isoformat()}")
        elif unit["valid_from"] is not None and unit["valid_from"] >= effective_on:
            errors.setdefault("effective_on", []).append(
                f"must be after {code} became valid ({unit['valid_from'].isoformat()})")
        if unit.get("open_children"):
            errors.setdefault("from_codes", []).append(
                f"{code} still has units under it: merge or close them first")
    _raise_if(errors)


# -- groups and memberships --------------------------------------------------------------------
def check_group(kind, level):
    """Only a Learning Unit (an agency) has a level: commune, province or other."""
    if kind == "learning_unit" and level is None:
        raise Invalid({"level": ["a learning unit needs a level: " +
                                 ", ".join(LEARNING_UNIT_LEVELS)]})
    if kind != "learning_unit" and level is not None:
        raise Invalid({"level": ["only a learning unit has a level"]})


def check_period(joined_on, left_on, today=None, *, field="left_on"):
    """A membership runs from ``joined_on`` (a member that day) until ``left_on`` (no longer
    a member from that day on); both are past or today. Raises Invalid."""
    today = today or date.today()
    errors = {}
    if joined_on > today:
        errors["joined_on"] = ["must not be in the future"]
    if left_on is not None:
        if left_on < joined_on:
            errors[field] = ["must not be before joined_on"]
        elif left_on > today:
            errors[field] = ["must not be in the future"]
    _raise_if(errors)


def overlaps(start_a, end_a, start_b, end_b):
    """Whether two half-open periods [start, end) overlap; end None = still open."""
    return (end_b is None or start_a < end_b) and (end_a is None or start_b < end_a)


def check_single_family(periods, joined_on, left_on):
    """A person belongs to at most one family at a time: ``periods`` are the (joined_on,
    left_on) of their other family memberships. Raises Conflict."""
    for other_joined, other_left in periods:
        if overlaps(joined_on, left_on, other_joined, other_left):
            message = ("already belongs to a family" if other_left is None else
                       f"belonged to another family from {other_joined.isoformat()} to "
                       f"{other_left.isoformat()}")
            raise Conflict({"person_id": [message]})


def check_not_twice(periods, joined_on, left_on, field, what):
    """The same person twice in one group or body at once: ``periods`` are their other
    (joined_on, left_on) there. Raises Conflict."""
    for other_joined, other_left in periods:
        if overlaps(joined_on, left_on, other_joined, other_left):
            raise Conflict({field: [f"the person is already {what} for part of this period"]})


def check_body(kind, parent_kind, *, parent_known=True, parent_above=True):
    """Where an association body may hang: under a body of an allowed kind, in the same unit
    or one above it. Raises Invalid."""
    if not parent_known:
        raise Invalid({"parent_id": ["unknown association body"]})
    allowed = BODY_PARENTS.get(kind, ())
    if parent_kind not in allowed:
        names = [k for k in allowed if k]
        raise Invalid({"parent_id": [f"a {kind} has no parent body" if not names else
                                     f"a {kind} must be under a {' or a '.join(names)}"]})
    if not parent_above:
        raise Invalid({"parent_id": ["the parent body must be in the same unit or above it"]})


# -- learning activities ---------------------------------------------------------------------
def check_activity(started_on, ended_on, hours, today=None):
    """A learning activity already under way or done; raises Invalid."""
    today = today or date.today()
    errors = {}
    if started_on > today:
        errors["started_on"] = ["must not be in the future"]
    if ended_on is not None and ended_on < started_on:
        errors["ended_on"] = ["must not be before started_on"]
    if hours is not None and not 0 <= hours <= MAX_ACTIVITY_HOURS:
        errors["hours"] = [f"must be between 0 and {MAX_ACTIVITY_HOURS}"]
    _raise_if(errors)
