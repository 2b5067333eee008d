"""The approval level as configuration, against the real registry: at province level only
the province's association decides and closes a year; the commune's official is refused with
nothing written."""
import os
import subprocess
import sys

import pytest

from services.assessment.service import AssessmentService
from tests.integration.assessment.conftest import FAILING, Assessment


@pytest.fixture
def province_level(container_factory, service_config, web_session, tap, registry):
    config = service_config("assessment", REGISTRY_TIMEOUT=5, APPROVAL_LEVEL="province")
    container_factory(AssessmentService, config).start()
    return Assessment(web_session(config), config)


@pytest.fixture
def province_chair(registry, commune):
    body = registry.post("/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học tỉnh An Giang",
        "unit_code": "AG"})
    person = registry.person(unit="AG")
    registry.post("/association/members", {"person_id": person["id"], "body_id": body["id"],
                                            "role": "official", "joined_on": "2020-01-01"})
    return person


def test_at_province_level_the_province_decides_and_closes(province_level, commune,
                                                           province_chair, rows, wait_for):
    submitted = province_level.submit(commune.citizen)
    province_level.review(submitted, commune.reviewer)
    before = rows()
    refused = province_level.decide(submitted, commune.chair, status=403)
    assert "Hội Khuyến học tỉnh" in refused["error"]
    refused = province_level.post("/years/2025/close", {"unit_code": "AG.LX"}, status=409)
    assert "khóa sổ năm" in refused["errors"]["unit_code"][0]
    assert rows() == before

    decided = province_level.decide(submitted, province_chair)
    assert decided["status"] == "recognised"
    province_level.review(province_level.submit(commune.outsider, scores=FAILING),
                          province_chair)
    started = province_level.post("/years/2025/close", {"unit_code": "AG"}, status=202)
    run = wait_for(lambda: (r := province_level.get(f"/closings/{started['closing_id']}"))
                   ["status"] == "finished" and r, timeout=30, message="the closing")
    assert (run["decided"], run["refused"]) == (1, 1)


def test_a_setting_it_cannot_honour_stops_the_service(container_factory, service_config):
    config = service_config("assessment", APPROVAL_LEVEL="district")
    with pytest.raises(ValueError, match="APPROVAL_LEVEL"):
        container_factory(AssessmentService, config).start()


def test_the_command_line_close_follows_the_approval_level(assessment, commune, databases):
    assessment.review(assessment.submit(commune.citizen), commune.reviewer)
    env = dict(os.environ, ASSESSMENT_DATABASE_URL=databases["assessment"],
               APPROVAL_LEVEL="province")
    refused = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2025", "--unit",
                              "AG.LX", "--quiet"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "khóa sổ năm" in refused.stderr
    assert assessment.get("/assessments?status=reviewed")["total"] == 1
    done = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2025", "--unit", "AG",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 submissions decided (1 recognised" in done.stdout
