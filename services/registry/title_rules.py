"""Rules of a group title recorded from its paper decision (pure: no database, no nameko).

Used by ``POST /groups/<id>/titles`` and by the groups import, so that a title typed in by
hand and one read from a spreadsheet are held to the same rules.
"""
from datetime import date

from services.registry.domain import Conflict, Invalid

FIRST_YEAR = 2000  # the contract's lower bound; no Learning titles were granted before


def title_problems(year, decision_number, decision_date, issued_by, today=None):
    """{field: [problem code]} of a title: empty when it can be recorded.

    Codes (stable, translated by the callers): ``required``, ``year.range`` (2000 to this
    year), ``decision_date.future``, ``decision_date.before_year`` (a decision of the year's
    title is not dated before the year began), ``too_long``.
    """
    today = today or date.today()
    problems = {}
    if year is None:
        problems["year"] = ["required"]
    elif not FIRST_YEAR <= year <= today.year:
        problems["year"] = ["year.range"]
    if not (decision_number or "").strip():
        problems["decision_number"] = ["required"]
    elif len(decision_number.strip()) > 50:
        problems["decision_number"] = ["too_long"]
    if not (issued_by or "").strip():
        problems["issued_by"] = ["required"]
    elif len(issued_by.strip()) > 200:
        problems["issued_by"] = ["too_long"]
    if decision_date is None:
        problems["decision_date"] = ["required"]
    elif decision_date > today:
        problems["decision_date"] = ["decision_date.future"]
    elif year is not None and "year" not in problems and decision_date < date(year, 1, 1):
        problems["decision_date"] = ["decision_date.before_year"]
    return problems


MESSAGES_EN = {
    "required": "must not be empty",
    "year.range": "must be between {first} and {this_year}",
    "decision_date.future": "must not be in the future",
    "decision_date.before_year": "must not be before 1 January of the title's year",
    "too_long": "is too long",
}


def check_title(year, decision_number, decision_date, issued_by, today=None):
    """Raises Invalid (422) with a message per field when the title cannot be recorded."""
    today = today or date.today()
    problems = title_problems(year, decision_number, decision_date, issued_by, today)
    if problems:
        raise Invalid({field: [MESSAGES_EN[code].format(first=FIRST_YEAR, this_year=today.year)
                               for code in codes] for field, codes in problems.items()})


def check_one_per_year(recorded_years, year):
    """A group holds at most one recorded title per year: 409 for a second."""
    if year in set(recorded_years):
        raise Conflict({"year": [f"the group already has a recorded title for {year}: "
                                 "withdraw it first"]})
