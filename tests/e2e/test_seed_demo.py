"""``cdht seed demo`` against the four running services: the demo province is made over the
HTTP APIs, reporting's province figures show its recognitions, notifications mails the people
decided, and a second run refuses to seed twice. Then the operator's other commands on the
seeded system: ``status``, ``report export``, ``close-year`` and ``rebuild reporting``."""
import os
import subprocess
import sys

import openpyxl
import pytest

from cdht.config import ROOT
from tests.support import TEST_SIGNING_KEY

pytestmark = pytest.mark.e2e

PEOPLE = 60
YEAR = 2025


def cdht(system, *args, env=None, timeout=600):
    """The operator's command line, holding the key that signs tokens (the services hold
    only its public half); its mintings are recorded beside the services' logs."""
    operator = {"AUTH_SIGNING_KEY": TEST_SIGNING_KEY,
                "AUTH_AUDIT_DIR": str(system.log_dir / "token-audit")}
    return subprocess.run([sys.executable, "-m", "cdht_tools", *args], cwd=ROOT,
                          env=os.environ | system.env | operator | (env or {}),
                          capture_output=True, text=True, timeout=timeout)


def progress(system, unit="AG"):
    response = system.get("reporting", f"/units/{unit}/progress", params={"year": YEAR})
    assert response.status_code == 200, response.text
    return response.json()


def indicator(figures, name):
    return next(i for i in figures["indicators"] if i["indicator"] == name)


@pytest.fixture(scope="module")
def seeded(system):
    result = cdht(system, "seed", "demo", "--people", str(PEOPLE), "--seed", "3",
                  "--year", str(YEAR))
    print(result.stdout)
    return result


def test_seed_demo_fills_the_province(system, seeded, smtp, until):
    _, inbox = smtp
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "Traceback" not in seeded.stderr

    units = system.get("registry", "/units", params={"limit": 100}).json()
    assert {u["code"] for u in units["items"]} >= {"AG", "AG.001", "AG.002"}
    assert len(units["items"]) == 6
    people = system.get("registry", "/people", params={"unit_code": "AG", "limit": 500}).json()
    assert people["total"] == PEOPLE
    assert all(p["full_name"] and " " in p["full_name"] for p in people["items"])
    officials = system.get("registry", "/people", params={
        "role": "association_official", "limit": 500}).json()
    assert officials["total"] == 5  # one per commune-level unit
    families = system.get("registry", "/groups", params={"kind": "family"}).json()
    assert families["total"] >= 5

    granted = system.get("assessment", "/recognitions",
                         params={"year": YEAR, "limit": 500}).json()["total"]
    refused = system.get("assessment", "/assessments",
                         params={"year": YEAR, "status": "refused"}).json()["total"]
    assert granted > refused > 0  # most recognised, some refused
    figures = until(lambda: (f := progress(system)) and f["titled"] == granted and f,
                    timeout=30, message="the demo's recognitions in the province's figures")
    adults = indicator(figures, "adults_titled")
    assert 0 < adults["numerator"] <= adults["denominator"] < PEOPLE
    assert indicator(figures, "titled_with_digital_skills")["numerator"] > 0  # TC2.1 courses
    assert indicator(figures, "briefed_members")["numerator"] > 0
    until(lambda: len(inbox.mails) >= granted + refused, timeout=30,
          message="the mails of the seeded decisions")


def test_seed_demo_refuses_to_seed_twice(system, seeded):
    again = cdht(system, "seed", "demo", "--people", str(PEOPLE), "--seed", "3",
                 "--year", str(YEAR))
    assert again.returncode == 0, again.stderr
    assert "already has unit AG" in again.stdout
    assert system.get("registry", "/people", params={"unit_code": "AG"}).json()["total"] == \
        PEOPLE


def test_status_shows_every_service_healthy(system, seeded):
    result = cdht(system, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("registry", "assessment", "reporting", "notifications"):
        row = next(line for line in result.stdout.splitlines() if f" {service} " in line)
        assert system.processes[service].base_url in row and " ok " in row


def test_report_export_of_the_seeded_province(system, seeded, tmp_path):
    out = tmp_path / "bao-cao-AG.xlsx"
    result = cdht(system, "report", "export", "--unit", "AG", "--year", str(YEAR),
                  "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out} (xlsx, 12 sheets, ")
    summary = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    rows = {row[1]: row for row in summary.iter_rows(values_only=True) if row and row[1]}
    adults = indicator(progress(system), "adults_titled")
    assert rows["Người lớn đạt danh hiệu Công dân học tập"][3:5] == (
        adults["numerator"], adults["denominator"])


def test_close_year_decides_what_the_demo_left_open(system, seeded, until):
    open_before = system.get("assessment", "/assessments",
                             params={"year": YEAR, "status": "submitted"}).json()["total"]
    assert open_before > 0  # the demo leaves some for the closing
    # the demo's open submissions are not reviewed: a province without a reviewer step
    result = cdht(system, "close-year", str(YEAR), "--unit", "AG", "--quiet",
                  env={"CLOSE_DECIDES": "submitted"})
    assert result.returncode == 0, result.stderr
    assert f"year {YEAR} closed for AG: {open_before} submissions decided" in result.stdout
    assert system.get("assessment", "/assessments", params={
        "year": YEAR, "status": "submitted"}).json()["total"] == 0
    granted = system.get("assessment", "/recognitions",
                         params={"year": YEAR, "limit": 500}).json()["total"]
    until(lambda: progress(system)["titled"] == granted, timeout=30,
          message="the closing's titles in the figures")


def test_rebuild_reporting_of_the_seeded_province(system, seeded):
    result = cdht(system, "rebuild", "reporting", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"Fetched {PEOPLE} people" in result.stdout
    assert "(dry run: nothing changed)" in result.stdout


def test_seed_demo_says_which_service_does_not_answer(system):
    from tests.support import free_port
    closed = free_port()
    result = cdht(system, "seed", "demo", env={"REGISTRY_HTTP_ADDRESS": f"127.0.0.1:{closed}"},
                  timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: registry does not answer at "
                                     f"http://127.0.0.1:{closed}: is the system running "
                                     "(bin/up)?")
