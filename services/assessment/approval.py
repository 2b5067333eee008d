"""Who recognises titles, and over which cycle: settings where the documents leave room.

The project reads the Learning Citizen title (324/QĐ-KHVN) as recognised by the commune-level
association (xã, phường, đặc khu) over a calendar year; we could not confirm either point in
a text we could read, so both are configuration, marked unconfirmed in the operator guide:
- ``APPROVAL_LEVEL``: ``commune`` (default) or ``province``: the association that decides
  (and closes a year); notifications signs its mails with the same body;
- ``ASSESSMENT_CYCLE``: ``calendar_year`` (default, 1 January - 31 December), the only cycle
  built so far: another one (a school year) would change how evidence and group memberships
  are dated, and is refused at start rather than half applied;
- ``CLOSE_DECIDES``: what closing a year decides: ``reviewed`` (default: only what a reviewer
  accepted; the rest stays open, listed) or ``submitted`` (every open submission, for a
  province whose paper workflow has no reviewer step).

Pure: no nameko, no database.
"""
from dataclasses import dataclass

COMMUNE, PROVINCE = "commune", "province"
LEVELS = (COMMUNE, PROVINCE)
CALENDAR_YEAR = "calendar_year"
CYCLES = (CALENDAR_YEAR,)
REVIEWED_ONLY, ALL_SUBMITTED = "reviewed", "submitted"
CLOSE_DECIDES = (REVIEWED_ONLY, ALL_SUBMITTED)
DECIDING_BODY = "commune_association"  # the registry's kind of an association (any level)


class SettingError(ValueError):
    """A setting the service cannot honour: names it and the values it takes."""


@dataclass(frozen=True)
class Approval:
    level: str = COMMUNE
    cycle: str = CALENDAR_YEAR
    close_decides: str = REVIEWED_ONLY

    @property
    def deciding_body(self):
        """How people-facing text names the deciding body."""
        return "Hội Khuyến học tỉnh" if self.level == PROVINCE else "Hội Khuyến học cấp xã"


def from_config(config):
    """The settings from the service's config; SettingError for a value it does not know."""
    level = str(config.get("APPROVAL_LEVEL") or COMMUNE).strip().lower()
    cycle = str(config.get("ASSESSMENT_CYCLE") or CALENDAR_YEAR).strip().lower()
    close_decides = str(config.get("CLOSE_DECIDES") or REVIEWED_ONLY).strip().lower()
    if level not in LEVELS:
        raise SettingError(f"APPROVAL_LEVEL={level!r}: must be one of {', '.join(LEVELS)}")
    if cycle not in CYCLES:
        raise SettingError(f"ASSESSMENT_CYCLE={cycle!r}: must be one of {', '.join(CYCLES)}")
    if close_decides not in CLOSE_DECIDES:
        raise SettingError(f"CLOSE_DECIDES={close_decides!r}: must be one of "
                           f"{', '.join(CLOSE_DECIDES)}")
    return Approval(level, cycle, close_decides)


def deciding_units(unit_path, level):
    """Units whose association may decide for a person at ``unit_path``: the person's unit or
    any above it (commune level: in practice the commune's association, or the province's
    acting for it), or the province only."""
    path = list(unit_path)
    return path[:1] if level == PROVINCE else path


def may_close(unit_path, level):
    """Closing a year decides the submissions left under the unit: only the deciding
    association may do it, so at province level only for the whole province."""
    return level != PROVINCE or len(list(unit_path)) == 1


def year_closable(year, today):
    """A year can be closed once it has begun (calendar year: from 1 January): a year still
    to come has nothing to decide yet, and closing it would only block its groups early."""
    return year <= today.year
