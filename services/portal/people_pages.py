"""Staff pages about people: finding them, registering one, a person's record (with their
assessments and titles), and the province's imports of people from a commune's spreadsheet.

Every call goes to the registry or assessment with the signed-in user's token, so a commune's
staff find and register people of their commune only, and only province staff import.
"""
from werkzeug.wrappers import Response

from cdht.auth import PROVINCE, STAFF
from services.portal import staff_forms as forms
from services.portal.backend import Refused
from services.portal.pages import PageError, page
from services.portal.words import field_errors

# What of the registry's answer to an import download is passed on (never its other headers).
DOWNLOAD_HEADERS = ("Content-Type", "Content-Disposition", "X-Import-Status")
RUNNING = ("queued", "running")


def _units(visit):
    """The units the caller can see (the registry answers within the caller's subtree),
    asked once per page."""
    if not hasattr(visit, "staff_units"):
        visit.staff_units = visit.api.get("registry", "/units",
                                          params={"limit": 500}).get("items", [])
    return visit.staff_units


def unit_choices(visit):
    """[(code, name)] of the units the caller may work in, today, by name."""
    units = [(u["code"], u["name"]) for u in _units(visit) if not u.get("valid_to")]
    return sorted(units, key=lambda unit: (unit[1].casefold(), unit[0]))


def unit_names(visit):
    """{code: name} of every unit the caller can see (closed ones too: old records)."""
    return {u["code"]: u["name"] for u in _units(visit)}


def refresh_while(response, running, seconds=3):
    """Ask the browser to load the page again while a job runs (a header: no inline script)."""
    if running:
        response.headers["Refresh"] = str(seconds)
    return response


class PeoplePages:
    # -- finding people ------------------------------------------------------------------------
    @page("GET", "/people", roles=STAFF)
    def people(self, visit, request):
        values = request.args.to_dict()
        params, problems = forms.people_query(values)
        units = unit_choices(visit)
        found, errors = None, forms.say(problems, visit.t)
        if not errors:
            try:
                found = visit.api.get("registry", "/people", params=params)
            except Refused as exc:
                if exc.status not in (400, 422):
                    raise
                errors = forms.tidy_refusal(field_errors(exc.errors, visit.lang), visit.t)
        paging = forms.pages(found, params["limit"], params["offset"]) if found else None
        names = unit_names(visit)
        return visit.render("staff/people.html", status=422 if errors else 200,
                            values=values, errors=errors, found=found, paging=paging,
                            units=units, names=names,
                            query={k: v for k, v in values.items() if k != "page" and v})

    # -- registering a person ------------------------------------------------------------------
    @page("GET", "/people/new", roles=STAFF)
    def new_person(self, visit, request):
        values = visit.restored_form() or {}
        if "unit_code" not in values and visit.user.get("unit"):
            values["unit_code"] = visit.user["unit"]
        return self._person_form(visit, values, {})

    def _person_form(self, visit, values, errors, status=200):
        return visit.render("staff/person_new.html", status=status, values=values,
                            errors=errors, units=unit_choices(visit),
                            roles=values.get("roles_list") or [],
                            form_id=visit.form_id())

    @page("POST", "/people/new", roles=STAFF)
    def register_person(self, visit, request):
        values = request.form.to_dict()
        roles = request.form.getlist("roles")
        values["roles_list"] = roles
        body, problems = forms.person_body(values, roles)
        if problems:
            return self._person_form(visit, values, forms.say(problems, visit.t), 422)

        def act():
            person = visit.api.post("registry", "/people", body)
            visit.remember(notice="people_registered")
            return f"/people/{person['id']}"
        return visit.act(act, lambda errors: self._person_form(
            visit, values, forms.tidy_refusal(errors, visit.t), 422))

    # -- a person's record ---------------------------------------------------------------------
    @page("GET", "/people/<uuid:person_id>", roles=STAFF)
    def person(self, visit, request, person_id):
        person = visit.api.get("registry", f"/people/{person_id}")
        assessments = visit.api.get("assessment", "/assessments",
                                    params={"person_id": str(person_id), "limit": 100})
        titles = visit.api.get("assessment", "/recognitions",
                               params={"person_id": str(person_id), "limit": 100})
        return visit.render("staff/person.html", person=person,
                            unit_name=unit_names(visit).get(person.get("unit_code")),
                            assessments=sorted(assessments.get("items", []),
                                               key=lambda a: (a.get("year") or 0,
                                                              a.get("created_at") or ""),
                                               reverse=True),
                            titles=sorted(titles.get("items", []),
                                          key=lambda r: r.get("year") or 0, reverse=True))

    # -- imports -------------------------------------------------------------------------------
    @page("GET", "/imports", roles=PROVINCE)
    def imports(self, visit, request):
        return self._imports_page(visit, visit.restored_form() or {}, {})

    def _imports_page(self, visit, values, errors, status=200):
        latest = visit.api.get("registry", "/imports", params={"limit": 20})
        jobs = latest.get("imports", [])
        response = visit.render("staff/imports.html", status=status, values=values,
                                errors=errors, jobs=jobs, form_id=visit.form_id())
        return refresh_while(response, not errors and any(j["status"] in RUNNING
                                                          for j in jobs), 5)

    @page("POST", "/imports", roles=PROVINCE)
    def upload_import(self, visit, request):
        values = request.form.to_dict()
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._imports_page(visit, values, forms.say(
                {"file": ["imports_err_no_file"]}, visit.t), 422)
        params = {"restore_removed": "true"} if values.get("restore_removed") == "yes" else {}

        def act():
            try:
                started = visit.api.call(
                    "POST", "registry", "/imports", params=params,
                    files={"file": (upload.filename, upload.stream,
                                    upload.mimetype or "application/octet-stream")})
            except Refused as exc:
                raise file_refusal(exc, visit) from None
            visit.remember(notice="imports_started")
            return f"/imports/{started['import_id']}"
        return visit.act(act, lambda errors: self._imports_page(
            visit, values, forms.tidy_refusal(errors, visit.t), 422))

    @page("GET", "/imports/<uuid:import_id>", roles=PROVINCE)
    def one_import(self, visit, request, import_id):
        job = visit.api.get("registry", f"/imports/{import_id}")
        response = visit.render("staff/import.html", job=job)
        return refresh_while(response, job["status"] in RUNNING)

    @page("GET", "/imports/<uuid:import_id>/errors", roles=PROVINCE)
    def import_errors(self, visit, request, import_id):
        """The registry's error report, passed on as a file: the browser gets the file, never
        the token that fetched it."""
        fmt = request.args.get("format", "csv")
        if fmt not in ("csv", "xlsx"):
            raise PageError(404, "error_404")
        answer = visit.api.get("registry", f"/imports/{import_id}/errors",
                               params={"format": fmt}, raw=True, stream=True)
        headers = {k: answer.headers[k] for k in DOWNLOAD_HEADERS if k in answer.headers}
        return Response(answer.iter_content(1 << 16), status=200, headers=headers,
                        direct_passthrough=True)


def file_refusal(exc, visit):
    """The registry's refusal of an uploaded file (413, 415, 422; 429), as a 422 with its
    reason beside the file field in the reader's language (the registry says both)."""
    errors = exc.errors or {}
    if exc.status == 413:
        reason = visit.t("imports_err_too_large")
    else:
        said = errors.get("file_vi") if visit.lang != "en" else errors.get("file")
        reason = " ".join(said or errors.get("file") or [exc.message])
    details = errors.get("details") or []
    if details:
        reason += " (" + ", ".join(str(d) for d in details) + ")"
    if exc.status == 429 or errors.get("code") == "national_id_refusals_exhausted":
        return Refused(422, exc.message, {"code": "national_id_refusals_exhausted"})
    if exc.status in (413, 415, 422, 400):
        return Refused(422, exc.message, {"file": [reason]})
    return exc
