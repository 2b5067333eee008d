"""The figures every read shows (REST, dashboard, exports, the review report, the command
line), built once from the counters: each indicator against its period target and the
year's milestone, with the unit's name, the rule in force for the adults' indicator and the
other two beside it, and the association's own figures.
"""
from sqlalchemy import text

from cdht.contracts.events import INDICATORS
from services.reporting import domain, projection as proj, rules
from services.reporting.unit_events import names_of


def unit_of(session, unit_code):
    """(today's code, path) of a unit reporting knows; LookupError otherwise."""
    if session.execute(text("SELECT 1 FROM unit_paths WHERE unit_code = :c"),
                       {"c": unit_code}).first() is None:
        raise LookupError(f"unit {unit_code}")
    return proj.placements(session, [unit_code])[unit_code]


def children_of(session, path):
    """``[(code, path)]`` of a unit's children under today's tree (merged and closed ones
    left out: their figures count under the unit they became, or nowhere now)."""
    return [(code, list(p)) for code, p in session.execute(text(
        "SELECT u.unit_code, u.path FROM unit_paths u "
        "LEFT JOIN unit_names n ON n.unit_code = u.unit_code "
        "WHERE u.merged_into IS NULL AND NOT coalesce(n.closed, false) "
        "AND cardinality(u.path) = :depth "
        "AND u.path[1:cardinality(u.path) - 1] = CAST(:parent AS varchar[]) "
        "ORDER BY u.unit_code"), {"depth": len(path) + 1, "parent": path})]


def name_or_code(names, code):
    return (names.get(code) or {}).get("unit_name") or code


def both_targets(targets, indicator, path):
    shares = domain.milestones_for(targets, indicator, path)
    return {"y2025": shares.get(2025), "y2030": shares.get(2030)}


def population_view(targets, counters, year, adult_age):
    """The adults' indicator under each rule, the one in force marked."""
    in_force = rules.population_rule(targets)
    return [{"rule": rule, "numerator": n, "denominator": d, "share": n / d if d else None,
             "in_force": rule == in_force}
            for rule, (n, d) in domain.population_figures(counters, year, adult_age).items()]


def progress_view(targets, config, code, path, year, counters, names=None):
    """GET /progress's payload of one unit (without as_of)."""
    adult_age, ratio = proj.adult_age_of(config), proj.warning_ratio_of(config)
    names = names or {}
    result = {"unit_code": code, "unit_name": name_or_code(names, code),
              "unit_kind": (names.get(code) or {}).get("kind"),
              "unit_path": path, "unit_path_names": [name_or_code(names, c) for c in path],
              "year": year, **domain.population_summary(counters, year, adult_age),
              "association": domain.association_summary(counters), "indicators": []}
    for p in domain.unit_progress(targets, path, year, counters, adult_age, ratio):
        item = p.__dict__ | {"targets": both_targets(targets, p.indicator, path),
                             "document": rules.document_of(targets, p.indicator)}
        if p.indicator == "adults_titled":
            item["population"] = rules.population_rule(targets)
            item["populations"] = population_view(targets, counters, year, adult_age)
        result["indicators"].append(item)
    return result


def figure_rows(targets, config, path, year, counters, indicators, unit=None, names=None):
    """``{indicator: row}`` of one unit's counters (a breakdown's row: numerator,
    denominator, share, target, milestone, gap, status), measured against the targets at
    ``path`` (the programme's when empty); ``unit``, when given, names the row."""
    adult_age, ratio = proj.adult_age_of(config), proj.warning_ratio_of(config)
    found = {}
    for p in domain.unit_progress(targets, path, year, counters, adult_age, ratio, indicators):
        row = {} if unit is None else {"unit_code": unit,
                                       "unit_name": name_or_code(names or {}, unit)}
        row.update(numerator=p.numerator, denominator=p.denominator, share=p.share,
                   target=p.target, target_year=p.target_year, milestone=p.milestone,
                   gap=p.gap, status=p.status)
        found[p.indicator] = row
    return found


ROW_ORDER = {"gap": lambda r: (-(r["gap"] or 0), r["unit_code"]),
             "share": lambda r: (r["share"] if r["share"] is not None else 2, r["unit_code"]),
             "unit": lambda r: r["unit_code"]}


def sorted_rows(rows, sort):
    """Child rows in a breakdown's order: ``gap`` (most still needed first), ``share``
    (lowest first), ``unit`` (by code)."""
    return sorted(rows, key=ROW_ORDER[sort])


def breakdown(session, targets, config, unit_code, year, indicators=None, as_of=None):
    """(today's code, its name, {indicator: (total row, [child rows])}) of a unit and its
    children; with ``as_of``, as the figures stood at the end of that day."""
    indicators = indicators or INDICATORS
    code, path = unit_of(session, unit_code)
    children = children_of(session, path)
    units = [code] + [c for c, _ in children]
    counters = ({u: proj.tallies_as_of(session, u, as_of) for u in units} if as_of
                else proj.tallies_of(session, units))
    names = names_of(session, units)
    adult_age = proj.adult_age_of(config)

    def rows(unit, unit_path):
        return figure_rows(targets, config, unit_path, year, counters[unit], indicators,
                           unit, names)
    total = rows(code, path)
    per_child = [rows(c, p) for c, p in children]
    found = {i: (total[i], [r[i] for r in per_child]) for i in indicators}
    extra = {"association": domain.association_summary(counters[code]),
             "populations": population_view(targets, counters[code], year, adult_age)}
    return code, name_or_code(names, code), found, extra


def national(session, targets, config, year, indicator):
    """The whole deployment: every province reporting holds today (top units, not merged
    or closed), each a row of ``indicator`` measured against its own targets (its
    overrides apply), and their counters summed (domain.sum_tallies) measured against the
    programme's (the targets file's ``national:``). Read from the counters: three statements
    whatever the number of provinces. Returns ``(totals {indicator: row} of every indicator, [province rows],
    summed counters)``."""
    provinces = children_of(session, [])
    codes = [c for c, _ in provinces]
    counters = proj.tallies_of(session, codes)
    names = names_of(session, codes)
    rows = [figure_rows(targets, config, path, year, counters[code], (indicator,), code,
                        names)[indicator] for code, path in provinces]
    summed = domain.sum_tallies(counters[c] for c in codes)
    return figure_rows(targets, config, [], year, summed, INDICATORS), rows, summed
