"""A province starts from the titles it already holds: the generator's pre-merger profile (An
Giang as its association describes it, at a small scale of the same shape) loaded through the
four real processes — units and association bodies over HTTP, people and then families, clans
and communities with their paper titles through the imports — and reporting's figures equal
what the generator wrote, year by year."""
import csv
import time

import pytest

from cdht_tools.generator.profiles import generate_pre_merger

pytestmark = pytest.mark.e2e

SCALE = 0.01
INDICATORS = {"family": "families_recognised", "clan": "clans_recognised",
              "community": "communities_recognised"}


def rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def run_import(system, route, path):
    response = system.post("registry", route, None, data=path.read_bytes(),
                           params={"filename": path.name}, headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    deadline = time.monotonic() + 600
    while (status := system.get("registry", f"/imports/{import_id}").json())["status"] \
            not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "done" and status["counts"]["bad"] == 0, status
    return status


@pytest.fixture(scope="module")
def loaded(system, tmp_path_factory):
    out = tmp_path_factory.mktemp("pre-merger")
    manifest = generate_pre_merger(out, seed=11, scale=SCALE)
    for unit in rows(out / "units.csv"):
        body = {k: v for k, v in unit.items() if v}
        response = system.post("registry", "/units", body)
        assert response.status_code == 201, response.text
    body_ids = {}
    for item in rows(out / "associations.csv"):  # parents come first in the file
        body = {"kind": item["kind"], "name": item["name"], "unit_code": item["unit_code"]}
        if item["parent_code"]:
            body["parent_id"] = body_ids[item["parent_code"]]
        response = system.post("registry", "/association/bodies", body)
        assert response.status_code == 201, response.text
        body_ids[item["code"]] = response.json()["id"]
    people = run_import(system, "/imports", out / "people.csv")
    assert people["counts"]["registered"] == manifest["people"]
    groups = run_import(system, "/imports/groups", out / "groups.csv")
    assert groups["counts"]["titles_recorded"] == sum(
        n for years in manifest["titles"].values() for n in years.values())
    return manifest


def progress(system, year):
    response = system.get("reporting", "/units/AG/progress", params={"year": year})
    assert response.status_code == 200, response.text
    return response.json()


def test_reporting_counts_the_recorded_titles_year_by_year(system, loaded, until):
    for year in map(int, loaded["titles"]["family"]):
        expected = {INDICATORS[kind]: (years[str(year)], loaded["groups"][kind])
                    for kind, years in loaded["titles"].items()}

        def found(year=year):
            figures = {i["indicator"]: (i["numerator"], i["denominator"])
                       for i in progress(system, year)["indicators"]}
            return {name: figures[name] for name in expected}
        until(lambda: found() == expected, timeout=180,
              message=f"reporting's {year} group figures to equal the generator's {expected}")
    # every family holds one title, each in one year: over the years they add up to all
    assert sum(loaded["titles"]["family"].values()) == loaded["groups"]["family"]


def test_the_associations_own_figures_are_the_bodies_registered(system, loaded, until):
    expected = {kind: n for kind, n in loaded["association_bodies"].items()}
    until(lambda: {k: progress(system, 2025)["association"][k] for k in expected} == expected,
          timeout=60, message=f"the association's bodies {expected} in reporting")
    assert progress(system, 2025)["people"] == loaded["people"]
