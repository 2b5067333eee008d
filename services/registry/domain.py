"""Registry rules: who a person is, and where in the unit tree they count.

Pure functions; the service module calls them before anything is written.
"""
import unicodedata
from datetime import date

ADULT_AGE = 18

# The 4th digit of a 12-digit citizen ID (căn cước công dân) encodes century and gender:
# 0/1 = born 1900-1999 male/female, 2/3 = 2000-2099, 4/5 = 2100-2199, ...
_CENTURY_BASE = 1900


class InvalidPerson(ValueError):
    """Field-level problems with a person's data: ``errors`` maps field -> [messages]."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def normalise_name(name):
    """Vietnamese names arrive in both composed and decomposed Unicode; store NFC, one space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def national_id_problems(national_id, birth_date=None, gender=None):
    """Why ``national_id`` is not a valid 12-digit citizen ID for this person ([] if valid).

    Messages never repeat the number itself: it must not reach logs or error reports.
    """
    if len(national_id) != 12 or not national_id.isdigit():
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


def check_new_person(national_id, birth_date, gender, today=None):
    """Cross-field checks a schema can't express; raises InvalidPerson."""
    today = today or date.today()
    errors = {}
    if birth_date > today:
        errors["birth_date"] = ["must not be in the future"]
    problems = national_id_problems(national_id, birth_date, gender)
    if problems:
        errors["national_id"] = problems
    if errors:
        raise InvalidPerson(errors)


def unit_path(parents, code):
    """Codes from the root down to ``code``, given ``parents`` (code -> parent code or None)."""
    path = [code]
    while parents.get(path[-1]):
        path.append(parents[path[-1]])
        if len(path) > 16:
            raise ValueError(f"unit tree has a cycle at {code!r}")
    return list(reversed(path))
