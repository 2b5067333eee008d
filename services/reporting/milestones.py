"""Yearly milestones: where an indicator should stand each year on the way to its targets,
and the status of a year's figure against them.

The programme sets targets for 2025 and 2030 only; measuring 2026 against the 2030 target
marks nearly every unit behind. A year is measured against its own milestone instead: a
straight line from the baseline (the share counted in the first year, or 0) to the 2025
target, then to the 2030 one, bending through any year the targets file gives.

Statuses: ``reached`` (đạt: the period's target met), ``on_track`` (đúng tiến độ: at or
above the year's milestone), ``behind`` (chậm tiến độ: below it). Pure functions.
"""


def needed(target, denominator):
    """People (or groups) needed to reach ``target`` of ``denominator``: ceil, float-safe."""
    return -(-int(round(target * denominator * 1_000_000)) // 1_000_000)


def period_of(shares, year, periods):
    """(period year, target share): the first period year at or after ``year`` that has a
    target; (None, None) after all of them."""
    for period in periods:
        if period >= year and period in shares:
            return period, shares[period]
    return None, None


def path_points(shares, base_year, base_share):
    """``[(year, share)]``: the baseline, then every year given after it, in year order."""
    points = {base_year: base_share}
    points.update({y: s for y, s in shares.items() if y > base_year})
    return sorted(points.items())


def milestone_at(points, year):
    """The share the straight path between ``points`` reaches in ``year`` (flat before the
    first point and after the last)."""
    if not points:
        return None
    if year <= points[0][0]:
        return points[0][1]
    for (y0, s0), (y1, s1) in zip(points, points[1:]):
        if y0 <= year <= y1:
            return round(s0 + (s1 - s0) * (year - y0) / (y1 - y0), 6)
    return points[-1][1]


def milestones(shares, base_year, base_share, years):
    """``{year: milestone}`` for ``years``."""
    points = path_points(shares, base_year, base_share)
    return {y: milestone_at(points, y) for y in years}


def status(numerator, denominator, target, milestone):
    """reached / on_track / behind; None when there is nothing to measure."""
    if target is None or not denominator:
        return None
    if numerator >= needed(target, denominator):
        return "reached"
    if milestone is not None and numerator >= needed(milestone, denominator):
        return "on_track"
    return "behind"


def alert(numerator, denominator, target, warning_line):
    """The state target events follow: reached, on_track, or at_risk under the warning
    line (the year's milestone x REPORTING_WARNING_RATIO)."""
    if target is None or not denominator:
        return None
    if numerator >= needed(target, denominator):
        return "reached"
    if warning_line is not None and numerator < needed(warning_line, denominator):
        return "at_risk"
    return "on_track"
