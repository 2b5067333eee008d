"""The review (sơ kết) of a period, 2021-2025 or 2026-2030, as the province reports it: per
unit and indicator, the baseline, each year's figure and the period's last year against its
target. As JSON for the dashboard and as XLSX (``/units/<code>/review-report.xlsx``).

Each year's figure is read from today's counters: titles and group titles by their year,
populations as they stand today (the counters keep no population per past year).
"""
from datetime import date

from cdht.auth import REVIEWERS
from cdht.contracts.events import INDICATORS
from cdht.web import api, attachment, query_of
from services.reporting import (
    domain, export, milestones as ms, projection as proj, reads, rules, words as words_,
)
from services.reporting.schemas import ReviewQuerySchema
from services.reporting.unit_events import names_of

WORDS = {
    "vi": {"sheet": "Sơ kết {period}",
           "title": "SƠ KẾT THỰC HIỆN XÂY DỰNG MÔ HÌNH CÔNG DÂN HỌC TẬP GIAI ĐOẠN {period}",
           "unit": "Đơn vị báo cáo: {unit}",
           "note": "Tỷ lệ từng năm tính trên số người, số nhóm hiện có trong hệ thống.",
           "columns": ["STT", "Đơn vị", "Mã đơn vị", "Chỉ số", "Ban đầu (%)"],
           "year": "Năm {year} (%)", "target": "Chỉ tiêu {year} (%)",
           "last": "Số đạt / Tổng số năm {year}", "status": "Tình trạng năm {year}"},
    "en": {"sheet": "Review {period}",
           "title": "LEARNING CITIZEN PROGRAMME: REVIEW OF {period}",
           "unit": "Reporting unit: {unit}",
           "note": "Each year's share is taken over the people and groups registered today.",
           "columns": ["No.", "Unit", "Unit code", "Indicator", "Baseline (%)"],
           "year": "{year} (%)", "target": "{year} target (%)",
           "last": "Achieved / population {year}", "status": "Status {year}"},
}


def period_years(targets, period):
    """(first year, last year) of a period "2021-2025": the first period starts at the
    baseline year, the next one the year after the previous period's end."""
    first, last = (int(y) for y in period.split("-"))
    return max(first, rules.baseline_year(targets)), last


def review_rows(targets, path, counters, first, last, adult_age=domain.ADULT_AGE,
                this_year=None):
    """``[{indicator, baseline, years: [{year, numerator, denominator, share}], target,
    status, status_year}]`` of one unit for the period ``first``..``last``: the status of
    its last year, or of this year while the period runs."""
    until = min(last, this_year or date.today().year)
    population = rules.population_rule(targets)
    yearly = {y: domain.figures(counters, y, adult_age, population)
              for y in range(first - 1, last + 1)}
    base_figures = domain.figures(counters, rules.baseline_year(targets), adult_age, population)
    rows = []
    for indicator in INDICATORS:
        if first <= rules.baseline_year(targets):
            baseline = domain.baseline_of(targets, indicator, base_figures)
        else:  # the next period starts where the previous one ended
            num, den = yearly[first - 1][indicator]
            baseline = num / den if den else None
        years = [{"year": y, "numerator": n, "denominator": d, "share": n / d if d else None}
                 if y <= until else  # a year still to come has no figure yet
                 {"year": y, "numerator": None, "denominator": None, "share": None}
                 for y in range(first, last + 1) for n, d in [yearly[y][indicator]]]
        target_year, target = domain.milestone_for(targets, indicator, last, path)
        base_share = domain.baseline_of(targets, indicator, base_figures)
        milestone = domain.yearly_milestones(targets, indicator, path, base_share,
                                             [until])[until]
        end = years[until - first] if until >= first else years[0]
        rows.append({"indicator": indicator, "baseline": baseline, "years": years,
                     "target": target, "target_year": target_year, "status_year": end["year"],
                     "status": ms.status(end["numerator"], end["denominator"], target,
                                         milestone)})
    return rows


def review_sheet(units, period, first, last, lang="vi"):
    """The XLSX sheet: ``units`` [(code, name, rows)], the unit itself first."""
    words, labels = WORDS[lang], words_.LABELS[lang]
    shown = units[0][1] if units[0][1] == units[0][0] else f"{units[0][1]} ({units[0][0]})"
    columns = words["columns"] + [words["year"].format(year=y) for y in range(first, last + 1)]
    until = units[0][2][0]["status_year"]
    columns += [words["target"].format(year=last), words["last"].format(year=until),
                words["status"].format(year=until)]
    rows, n = [], 0
    for code, name, found in units:
        for row in found:
            n += 1
            end = next(y for y in row["years"] if y["year"] == row["status_year"])
            rows.append([n, name, code, labels[row["indicator"]], _pct(row["baseline"]),
                         *[_pct(y["share"]) for y in row["years"]], _pct(row["target"]),
                         f"{end['numerator']} / {end['denominator']}",
                         words_.STATUS_WORDS[lang].get(row["status"]) or ""])
    return {"name": words["sheet"].format(period=period),
            "title": [words["title"].format(period=period), words["unit"].format(unit=shown),
                      words["note"]],
            "columns": columns, "rows": rows, "total": None}


def _pct(value):
    return None if value is None else round(value * 100, 2)


class ReviewReport:
    """Mixed into ReportingService: the review of a period, JSON and XLSX."""

    def _review(self, request, unit_code, children=True):
        query = query_of(request, ReviewQuerySchema())
        first, last = period_years(self.targets, query["period"])
        with self.db.read() as session:
            self._in_scope(request, session, unit_code)
            code, path = self._unit(session, unit_code)
            units = [(code, path)] + (reads.children_of(session, path) if children else [])
            counters = proj.tallies_of(session, [u for u, _ in units])
            names = names_of(session, [u for u, _ in units])
        found = [(u, reads.name_or_code(names, u),
                  review_rows(self.targets, p, counters[u], first, last, self.adult_age))
                 for u, p in units]
        return query, first, last, found

    @api("GET", "/units/<string:unit_code>/review",
         roles=REVIEWERS,
         summary="The review (sơ kết) of a period: baseline, each year, the last year against "
                 "its target, per indicator of the unit",
         query=ReviewQuerySchema)
    def unit_review(self, request, unit_code):
        query, first, last, found = self._review(request, unit_code, children=False)
        code, name, rows = found[0]
        return {"unit_code": code, "unit_name": name, "period": query["period"],
                "first_year": first, "last_year": last, "indicators": rows}

    @api("GET", "/units/<string:unit_code>/review-report.xlsx",
         roles=REVIEWERS,
         summary="The review (sơ kết) of a period for the unit and its children (XLSX)",
         query=ReviewQuerySchema,
         tag="exports",
         media_type=export.XLSX_TYPE)
    def review_xlsx(self, request, unit_code):
        query, first, last, found = self._review(request, unit_code)
        sheet = review_sheet(found, query["period"], first, last, query["lang"])
        return attachment(export.to_xlsx([sheet]),
                          f"cdht-so-ket-{found[0][0]}-{query['period']}.xlsx", export.XLSX_TYPE)
