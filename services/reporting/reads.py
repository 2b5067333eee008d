"""The figures every read shows (REST, dashboard, exports, the review report, the command
line), built once from the counters: each indicator against its period target and the
year's milestone, with the unit's name, the rule in force for the adults' indicator and the
other two beside it, and the association's own figures.
"""
from sqlalchemy import text

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


def breakdown(session, targets, config, unit_code, year, indicators=None, as_of=None):
    """(today's code, its name, {indicator: (total row, [child rows])}) of a unit and its
    children; with ``as_of``, as the figures stood at the end of that day."""
    from cdht.contracts.events import INDICATORS
    indicators = indicators or INDICATORS
    code, path = unit_of(session, unit_code)
    children = children_of(session, path)
    units = [code] + [c for c, _ in children]
    counters = ({u: proj.tallies_as_of(session, u, as_of) for u in units} if as_of
                else proj.tallies_of(session, units))
    names = names_of(session, units)
    adult_age, ratio = proj.adult_age_of(config), proj.warning_ratio_of(config)

    def rows(unit, unit_path):
        return {p.indicator: {"unit_code": unit, "unit_name": name_or_code(names, unit),
                              "numerator": p.numerator, "denominator": p.denominator,
                              "share": p.share, "target": p.target,
                              "target_year": p.target_year, "milestone": p.milestone,
                              "gap": p.gap, "status": p.status}
                for p in domain.unit_progress(targets, unit_path, year, counters[unit],
                                              adult_age, ratio, indicators)}
    total = rows(code, path)
    per_child = [rows(c, p) for c, p in children]
    found = {i: (total[i], [r[i] for r in per_child]) for i in indicators}
    extra = {"association": domain.association_summary(counters[code]),
             "populations": population_view(targets, counters[code], year, adult_age)}
    return code, name_or_code(names, code), found, extra
