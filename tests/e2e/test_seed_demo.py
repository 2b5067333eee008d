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


def refusal_mails(inbox):
    """The addresses told of a refusal (a Vietnamese or an English subject)."""
    return {to for (to,), mail in inbox.mails
            if mail["Subject"].startswith(("Kết quả xét công nhận", "Your Learning Citizen"))}


def submit_failing(system):
    """A seeded adult with an address and no assessment yet submits scores the closing will
    refuse (the demo's open submissions all pass); the person."""
    assessed = {a["person_id"] for a in system.get("assessment", "/assessments", params={
        "year": YEAR, "limit": 500}).json()["items"]}
    people = system.get("registry", "/people", params={"unit_code": "AG", "limit": 500})
    person = next(p for p in people.json()["items"]
                  if p["email"] and p["id"] not in assessed and p["birth_date"] < "2000")
    weak = {code: 6 for code in ("TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2",
                                 "TC2.3", "TC2.4", "TC3.1", "TC3.2")}  # 60 points
    response = system.post("assessment", "/assessments",
                           {"person_id": person["id"], "year": YEAR, "scores": weak})
    assert response.status_code == 201, response.text
    return person


def refused(system):
    return system.get("assessment", "/assessments", params={
        "year": YEAR, "status": "refused", "limit": 500}).json()["items"]


def test_close_year_decides_what_the_demo_left_open(system, seeded, smtp, until):
    _, inbox = smtp
    open_before = system.get("assessment", "/assessments",
                             params={"year": YEAR, "status": "submitted"}).json()["total"]
    assert open_before > 0  # the demo leaves some for the closing
    refused_before, told_before = {a["person_id"] for a in refused(system)}, refusal_mails(inbox)
    failing = submit_failing(system)
    # the demo's open submissions are not reviewed: a province without a reviewer step
    result = cdht(system, "close-year", str(YEAR), "--unit", "AG", "--quiet",
                  env={"CLOSE_DECIDES": "submitted"})
    assert result.returncode == 0, result.stderr
    assert f"year {YEAR} closed for AG: {open_before + 1} submissions decided" in result.stdout
    assert system.get("assessment", "/assessments", params={
        "year": YEAR, "status": "submitted"}).json()["total"] == 0
    granted = system.get("assessment", "/recognitions",
                         params={"year": YEAR, "limit": 500}).json()["total"]
    until(lambda: progress(system)["titled"] == granted, timeout=30,
          message="the closing's titles in the figures")
    # each person the closing refused (recognitions_refused) is told, as one decided alone is
    closed = {a["person_id"] for a in refused(system)} - refused_before
    emails = {system.get("registry", f"/people/{person}").json()["email"]
              for person in closed} - {None}
    assert closed >= {failing["id"]} and failing["email"] in emails
    assert not emails & told_before
    until(lambda: refusal_mails(inbox) == told_before | emails, timeout=30,
          message="a refusal mail to each person the closing refused")


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
