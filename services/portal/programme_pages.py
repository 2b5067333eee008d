"""Staff pages that run the programme: the groups' titles (recorded from paper decisions,
and the year's group recognitions), closing a year, and reporting's dashboard.

The dashboard is reporting's own page, served by the portal with its data calls sent back
here (``/dashboard/data/...``) and forwarded with the session's token: no token ever reaches
the browser, and only reporting's read-only routes the dashboard needs are forwarded.
"""
import json
from datetime import date
from pathlib import Path

from werkzeug.wrappers import Response

from cdht.auth import REVIEWERS, STAFF
from cdht.web import html_page
from services.portal import staff_forms as forms
from services.portal.backend import Refused, SignInAgain, Unavailable
from services.portal.pages import page
from services.portal.people_pages import refresh_while, unit_choices, unit_names

DASHBOARD = Path(__file__).resolve().parents[1] / "reporting" / "dashboard.html"
DATA_HEADERS = ("Content-Type", "Content-Disposition")
CLOSING_FIELDS = {"unit_code": "unit_code", "year": "year"}


def dashboard_html():
    """reporting's dashboard, its data calls pointed at the portal (read at each request:
    a small file, and the page always matches reporting's)."""
    return forms.portal_dashboard(DASHBOARD.read_text(encoding="utf-8"))


def this_year():
    return date.today().year


class ProgrammePages:
    # -- groups and their titles ---------------------------------------------------------------
    @page("GET", "/group-titles", roles=STAFF)
    def group_titles(self, visit, request):
        values = request.args.to_dict()
        try:
            page_number = max(1, int(values.get("page") or 1))
        except ValueError:
            page_number = 1
        params = {"limit": forms.PAGE_SIZE, "offset": (page_number - 1) * forms.PAGE_SIZE}
        if forms.clean(values, "q"):
            params["q"] = forms.clean(values, "q")[:200]
        if values.get("kind") in forms.GROUP_KINDS:
            params["kind"] = values["kind"]
        if forms.clean(values, "unit_code"):
            params["unit_code"] = forms.clean(values, "unit_code")
        year = forms.parse_year(values.get("year")) or this_year()
        groups = visit.api.get("registry", "/groups", params=params)
        recognitions = visit.api.get("assessment", "/group-recognitions",
                                     params={"year": year, "limit": forms.PAGE_SIZE})
        names = {g["id"]: g["name"] for g in groups.get("items", [])}
        for item in recognitions.get("items", []):
            if item["group_id"] not in names:
                try:
                    names[item["group_id"]] = visit.api.get(
                        "registry", f"/groups/{item['group_id']}")["name"]
                except Refused:
                    names[item["group_id"]] = None
        return visit.render("staff/group_titles.html", values=values, groups=groups,
                            paging=forms.pages(groups, params["limit"], params["offset"]),
                            query={k: v for k, v in values.items() if k != "page" and v},
                            units=unit_choices(visit), unit_names=unit_names(visit),
                            year=year, recognitions=recognitions, group_names=names)

    @page("GET", "/group-titles/<uuid:group_id>", roles=STAFF)
    def group(self, visit, request, group_id):
        return self._group_page(visit, group_id, visit.restored_form() or {}, {})

    def _group_page(self, visit, group_id, values, errors, status=200):
        group = visit.api.get("registry", f"/groups/{group_id}")
        titles = visit.api.get("registry", f"/groups/{group_id}/titles")
        assessed = visit.api.get("assessment", "/group-recognitions",
                                 params={"group_id": str(group_id), "limit": 100})
        return visit.render("staff/group.html", status=status, group=group,
                            titles=sorted(titles.get("items", []),
                                          key=lambda t: t.get("year") or 0, reverse=True),
                            assessed=assessed.get("items", []),
                            unit_name=unit_names(visit).get(group.get("unit_code")),
                            values=values, errors=errors, form_id=visit.form_id())

    @page("POST", "/group-titles/<uuid:group_id>", roles=STAFF)
    def record_title(self, visit, request, group_id):
        values = request.form.to_dict()
        body, problems = forms.title_body(values)
        if problems:
            return self._group_page(visit, group_id, values,
                                    forms.say(problems, visit.t), 422)

        def act():
            visit.api.post("registry", f"/groups/{group_id}/titles", body)
            visit.remember(notice="saved")
            return f"/group-titles/{group_id}"
        return visit.act(act, lambda errors: self._group_page(
            visit, group_id, values, forms.tidy_refusal(errors, visit.t), 422))

    # -- closing a year ------------------------------------------------------------------------
    @page("GET", "/closing", roles=STAFF)
    def closing(self, visit, request):
        values = visit.restored_form() or {}
        values.setdefault("year", str(this_year()))
        values.setdefault("unit_code", visit.user.get("unit") or "")
        return self._closing_page(visit, values, {})

    def _closing_page(self, visit, values, errors, status=200):
        closings = visit.api.get("assessment", "/closings", params={"limit": 50})
        items = closings.get("items", [])
        response = visit.render("staff/closing.html", status=status, values=values,
                                errors=errors, closings=items, units=unit_choices(visit),
                                unit_names=unit_names(visit), form_id=visit.form_id())
        return refresh_while(response, not errors and any(c["status"] == "running"
                                                          for c in items), 5)

    @page("POST", "/closing", roles=STAFF)
    def close_year(self, visit, request):
        values = request.form.to_dict()
        chosen, problems = forms.closing_request(values)
        if problems:
            return self._closing_page(visit, values, forms.say(problems, visit.t), 422)
        year, unit_code = chosen

        def act():
            try:
                run = visit.api.post("assessment", f"/years/{year}/close",
                                     {"unit_code": unit_code})
            except Refused as exc:
                if exc.status == 403:  # a unit outside the caller's subtree
                    raise Refused(422, exc.message, {"unit_code": [
                        visit.t("closing_err_scope")]}) from None
                raise
            visit.remember(notice="closing_started")
            return f"/closing/{run['closing_id']}"
        return visit.act(act, lambda errors: self._closing_page(
            visit, values, forms.tidy_refusal(errors, visit.t, CLOSING_FIELDS), 422))

    @page("GET", "/closing/<uuid:closing_id>", roles=STAFF)
    def one_closing(self, visit, request, closing_id):
        run = visit.api.get("assessment", f"/closings/{closing_id}")
        response = visit.render("staff/closing_one.html", run=run,
                                unit_name=unit_names(visit).get(run.get("unit_code")))
        return refresh_while(response, run["status"] == "running")

    # -- the dashboard -------------------------------------------------------------------------
    @page("GET", "/dashboard", roles=REVIEWERS)
    def dashboard(self, visit, request):
        """reporting's page as it is (its own script, allowed by hash): not a portal template."""
        return html_page(dashboard_html())

    @page("GET", "/dashboard/data/<path:route>", roles=REVIEWERS)
    def dashboard_data(self, visit, request, route):
        """One of reporting's read-only routes, with the session's token; answered as JSON
        errors (the page's script reads them), never a page."""
        if not forms.dashboard_route(route):
            return _json_error(404, "not a dashboard route")
        try:
            answer = visit.api.get("reporting", "/" + route, params=request.args.to_dict(),
                                   raw=True, stream=True)
        except Refused as exc:
            return _json_error(exc.status, exc.message)
        except SignInAgain:
            visit.end_session()
            return _json_error(401, "sign in again")
        except Unavailable:
            return _json_error(503, "reporting is not answering")
        headers = {k: answer.headers[k] for k in DATA_HEADERS if k in answer.headers}
        return Response(answer.iter_content(1 << 16), status=200, headers=headers,
                        direct_passthrough=True)


def _json_error(status, message):
    return Response(json.dumps({"error": str(message)}), status=status,
                    mimetype="application/json")
