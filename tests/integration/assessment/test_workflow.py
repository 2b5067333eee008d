"""The individual workflow over HTTP against the real registry: self-assessment -> review ->
recognition or refusal, with the events seen on RabbitMQ, and every bad request a clear 4xx
that writes nothing."""
import uuid

import pytest

from tests.integration.assessment.conftest import FAILING, SCORES


def events(tap, wait_for, event_type, count=1):
    return wait_for(lambda: len(found := tap.of_type(event_type)) >= count and found,
                    message=f"{count} {event_type} on assessment.events")


def test_submit_review_adjust_recognise(assessment, commune, tap, wait_for):
    submitted = assessment.submit(commune.citizen)
    assert submitted["status"] == "submitted"
    assert submitted["criteria_version"] == "324/QĐ-KHVN"
    assert submitted["decision"]["passed"] is True  # provisional, before review
    assert submitted["decision"]["form"].startswith("Mẫu 1")  # a resident's form
    [announced] = events(tap, wait_for, "assessment_submitted")
    assert announced["data"]["assessment_id"] == submitted["assessment_id"]

    queue = assessment.get("/assessments?status=submitted&unit_code=AG.LX&year=2025")
    assert [a["assessment_id"] for a in queue["items"]] == [submitted["assessment_id"]]

    reviewed = assessment.review(submitted, commune.reviewer, "adjust", adjustments={
        "TC2.2": {"score": 6, "reason": "chứng chỉ A2, không phải B1"}})
    assert reviewed["status"] == "reviewed"
    assert reviewed["scores"]["TC2.2"] == 6 and reviewed["self_scores"]["TC2.2"] == 7
    assert reviewed["decision"]["total"] == 80

    decided = assessment.decide(submitted, commune.chair)
    assert decided["status"] == "recognised" and decided["recognition_id"]
    [granted] = events(tap, wait_for, "recognition_granted")
    assert granted["data"] | {"recognition_id": decided["recognition_id"]} == granted["data"]
    assert (granted["data"]["criteria_version"], granted["data"]["total_score"],
            granted["data"]["digital_skills"], granted["data"]["unit_path"]) == (
        "324/QĐ-KHVN", 80, "proficient", ["AG", "AG.LX"])
    assert granted["correlation_id"]

    history = assessment.get(f"/assessments/{submitted['assessment_id']}")["history"]
    assert [h["action"] for h in history] == ["submitted", "reviewed", "recognised"]
    assert history[1]["adjustments"] == ["TC2.2: 7 -> 6 (chứng chỉ A2, không phải B1)"]
    assert history[1]["actor_id"] == commune.reviewer["id"]
    assert history[2]["actor_id"] == commune.chair["id"]

    title = assessment.get(f"/recognitions/{decided['recognition_id']}")
    assert title["criteria_version"] == "324/QĐ-KHVN" and title["revoked_at"] is None
    criteria = {c["version"]: c for c in assessment.get("/criteria")}
    assert criteria["324/QĐ-KHVN"]["in_use"] and not criteria["244/QĐ-KHVN"]["in_use"]


def test_send_back_resubmit_and_refuse_with_reasons(assessment, commune, tap, wait_for):
    submitted = assessment.submit(commune.citizen, scores=FAILING)
    assert submitted["decision"]["summary"] == (
        "not passed under 324/QĐ-KHVN: total 77 is under 80; TC2.1: 4/10, under the minimum 5")
    returned = assessment.review(submitted, commune.reviewer, "send_back",
                                 reason="Thiếu minh chứng tin học")
    assert returned["status"] == "returned"
    assessment.decide(submitted, commune.chair, status=409)  # not reviewed

    path = f"/assessments/{submitted['assessment_id']}/scores"
    again = assessment.call("PUT", path, {"scores": FAILING | {"TC2.1": 5}}, 200).json()
    assert again["status"] == "submitted" and again["decision"]["total"] == 78
    assert len(events(tap, wait_for, "assessment_submitted", 2)) == 2
    assessment.call("PUT", path, {"scores": SCORES}, 409)  # only once sent back

    assessment.review(submitted, commune.reviewer)
    refused = assessment.decide(submitted, commune.chair, "recognise", status=409)
    assert "does not meet the criteria: total 78 is under 80" in refused["error"]
    refused = assessment.decide(submitted, commune.chair, "refuse",
                                reasons=["Chưa đạt tổng điểm"])
    assert refused["status"] == "refused" and refused["recognition_id"] is None
    assert refused["refusal_reasons"] == ["total 78 is under 80", "Chưa đạt tổng điểm"]
    assert [(r["kind"], r["total"], r["minimum"], r["note"])
            for r in refused["refusal_details"]] == [
        ("total_below", 78, 80, None), ("reviewer", None, None, "Chưa đạt tổng điểm")]
    v1, v2 = sorted(events(tap, wait_for, "recognition_refused", 2),
                    key=lambda e: e["schema_version"])
    assert v1["data"]["reasons"] == ["total 78 is under 80", "Chưa đạt tổng điểm"]
    assert v2["data"]["reasons"] == refused["refusal_details"]
    assert not tap.of_type("recognition_granted")


def test_staff_submit_on_behalf_but_only_in_their_unit(assessment, commune):
    by_staff = assessment.submit(commune.citizen, submitted_by=commune.reviewer["id"])
    assert by_staff["submitted_by"] == commune.reviewer["id"]
    response = assessment.submit(commune.citizen, year=2024,
                                 submitted_by=commune.outsider["id"], status=403)
    assert "submitted_by" in response["error"]


def test_only_the_persons_unit_reviews_and_its_commune_decides(assessment, commune, rows):
    submitted = assessment.submit(commune.citizen)
    before = rows()
    assert "reviewer" in assessment.review(submitted, commune.outsider, status=403)["error"]
    assessment.review(submitted, commune.citizen, status=403)  # not their own reviewer
    assert rows() == before
    assessment.review(submitted, commune.reviewer)
    before = rows()
    assessment.decide(submitted, commune.reviewer, status=403)  # a branch does not recognise
    assessment.decide(submitted, commune.outsider, status=403)  # another commune's official
    assert rows() == before
    assessment.decide(submitted, commune.chair)


@pytest.mark.parametrize("change, status, field", [
    ({"scores": SCORES | {"TC1.1": 11}}, 422, "scores"),
    ({"scores": SCORES | {"TC1.1": -1}}, 422, "scores"),
    ({"scores": SCORES | {"TC1.1": 7.5}}, 422, "scores"),
    ({"scores": {k: v for k, v in SCORES.items() if k != "TC3.2"}}, 422, "scores"),
    ({"scores": SCORES | {"TC9.9": 5}}, 422, "scores"),
    ({"scores": SCORES | {"TC1.1" * 5: 5}}, 422, "scores"),  # no indicator has such a code
    ({"criteria_version": "999/QĐ-KHVN"}, 422, "criteria_version"),
    ({"criteria_version": "24/2023/TT-BGDĐT"}, 422, "criteria_version"),  # a group set
    ({"year": 2021}, 422, "year"),  # no set in force
    ({"year": 2101}, 400, "year"),
    ({"person_id": str(uuid.uuid4())}, 422, "person_id"),
    ({"colour": "red"}, 400, "colour"),
])
def test_bad_submissions_are_4xx_and_write_nothing(assessment, commune, rows, change, status,
                                                   field):
    body = {"person_id": commune.citizen["id"], "year": 2025, "scores": SCORES} | change
    before = rows()
    response = assessment.post("/assessments", body, status=status)
    assert field in response["errors"], response
    assert rows() == before


def test_one_title_per_person_and_year_and_one_decision(assessment, commune, rows):
    decided = assessment.recognise(commune.citizen, commune.reviewer, commune.chair)
    before = rows()
    second = assessment.submit(commune.citizen, status=409)
    assert second["errors"]["year"] == ["this person already holds the title for this year"]
    again = assessment.decide(decided, commune.chair, status=409)
    assert "this one is recognised" in again["error"]
    assessment.review(decided, commune.reviewer, status=409)
    assert rows() == before
    assessment.submit(commune.citizen, year=2026)  # another year is another title
    assessment.submit(commune.citizen, year=2026, status=409)  # one open assessment per year


def test_revoke_publishes_and_frees_the_year(assessment, commune, tap, wait_for):
    decided = assessment.recognise(commune.citizen, commune.reviewer, commune.chair)
    path = f"/recognitions/{decided['recognition_id']}/revoke"
    assessment.post(path, {"reason": ""}, status=400)
    revoked = assessment.post(path, {"reason": "Hồ sơ không trung thực"}, status=200)
    assert revoked["revoked_at"]
    assessment.post(path, {"reason": "again"}, status=409)
    [event] = events(tap, wait_for, "recognition_revoked")
    assert event["data"]["reason"] == "Hồ sơ không trung thực"
    assessment.recognise(commune.citizen, commune.reviewer, commune.chair)  # may earn it again
    history = assessment.get(f"/assessments/{decided['assessment_id']}")["history"]
    assert history[-1]["action"] == "revoked"


def test_a_digital_skills_course_confirms_tc21(assessment, registry, commune, sql, wait_for):
    registry.post("/learning-activities", {
        "person_id": commune.citizen["id"], "kind": "digital_skills_proficient",
        "title": "Kỹ năng số nâng cao", "started_on": "2025-03-01", "ended_on": "2025-04-10"})
    wait_for(lambda: sql("SELECT 1 FROM evidence"), message="the evidence in assessment")
    filled = assessment.get(f"/people/{commune.citizen['id']}/prefill?year=2025")
    assert filled["scores"]["TC2.1"] == 8 and filled["digital_skills"] == "proficient"
    assert filled["evidence"] == {"TC2.1": ["digital_skills_proficient 2025-04-10"]}

    submitted = assessment.submit(commune.citizen, scores=SCORES | {"TC2.1": 6, "TC2.2": 9})
    tc21 = next(r for r in submitted["decision"]["results"] if r["code"] == "TC2.1")
    assert tc21["evidence"] == "confirmed by digital_skills_proficient 2025-04-10"
    assert submitted["decision"]["digital_skills"] == "proficient"  # TC2.1 6 alone: basic
    assessment.review(submitted, commune.reviewer)
    decided = assessment.decide(submitted, commune.chair)
    assert assessment.get(f"/recognitions/{decided['recognition_id']}")["digital_skills"] == \
        "proficient"


def test_re_evaluation_under_a_newer_version_is_traced(assessment, commune, tap, wait_for):
    old = assessment.recognise(commune.citizen, commune.reviewer, commune.chair, year=2022)
    assert old["criteria_version"] == "244/QĐ-KHVN"
    path = f"/assessments/{old['assessment_id']}/re-evaluate"
    assessment.post(path, {"criteria_version": "244/QĐ-KHVN", "reason": "x"}, status=409)
    assessment.post(path, {"criteria_version": "1/XX", "reason": "x"}, status=422)

    kept = assessment.post(path, {"criteria_version": "324/QĐ-KHVN",
                                  "reason": "Áp dụng bộ tiêu chí mới"}, status=201)
    assert kept["status"] == "recognised" and kept["supersedes_id"] == old["assessment_id"]
    assert [h["action"] for h in kept["history"]] == ["re-evaluated", "title_kept"]
    assert kept["history"][0]["from_version"] == "244/QĐ-KHVN"
    assert assessment.get(f"/assessments/{old['assessment_id']}")["status"] == "superseded"

    lost = assessment.post(f"/assessments/{kept['assessment_id']}/re-evaluate", {
        "criteria_version": "244/QĐ-KHVN", "reason": "Chấm lại", "scores": FAILING},
        status=201)
    assert lost["status"] == "refused"
    [revoked] = events(tap, wait_for, "recognition_revoked")
    assert revoked["data"]["reason"].startswith("re-evaluated under 244/QĐ-KHVN")
    assert events(tap, wait_for, "recognition_refused")


def test_openapi_documents_every_route(assessment):
    from cdht.openapi import entrypoint_routes, openapi_path
    from services.assessment.service import AssessmentService
    doc = assessment.get("/openapi.json")
    served = {(m.lower(), openapi_path(rule)[0])
              for m, rule in entrypoint_routes(AssessmentService)}
    assert {(m, p) for p, item in doc["paths"].items() for m in item} == served
    assert not any(item.get("x-undeclared") for path in doc["paths"].values()
                   for item in path.values())
    assert assessment.call("GET", "/docs", status=200).headers["Content-Type"].startswith(
        "text/html")


def test_a_course_after_the_title_raises_its_digital_level(assessment, registry, commune, tap,
                                                           wait_for):
    decided = assessment.recognise(commune.citizen, commune.reviewer, commune.chair,
                                   scores=SCORES | {"TC2.1": 5, "TC2.2": 10})
    first = assessment.get(f"/recognitions/{decided['recognition_id']}")
    assert first["digital_skills"] == "basic"
    registry.post("/learning-activities", {
        "person_id": commune.citizen["id"], "kind": "digital_skills_proficient",
        "title": "Kỹ năng số nâng cao", "started_on": "2025-09-01", "ended_on": "2025-10-01"})
    [revoked] = events(tap, wait_for, "recognition_revoked")
    assert revoked["data"]["recognition_id"] == decided["recognition_id"]
    regranted = events(tap, wait_for, "recognition_granted", 2)[1]
    assert regranted["data"]["digital_skills"] == "proficient"
    history = assessment.get(f"/assessments/{decided['assessment_id']}")["history"]
    assert history[-1]["action"] == "digital_confirmed"
    titles = assessment.get(f"/recognitions?person_id={commune.citizen['id']}")
    assert [(t["digital_skills"], t["revoked_at"] is None) for t in titles["items"]] == [
        ("basic", False), ("proficient", True)]


def test_exports_for_rebuilds_page_through_current_titles(assessment, commune, registry):
    from nameko.standalone.rpc import ServiceRpcProxy
    people = [registry.person(unit="AG.LX") for _ in range(3)]
    decided = [assessment.recognise(p, commune.reviewer, commune.chair) for p in people]
    assessment.post(f"/recognitions/{decided[0]['recognition_id']}/revoke", {"reason": "x"},
                    status=200)
    with ServiceRpcProxy("assessment", assessment.config) as rpc:
        first = rpc.export_recognitions(limit=1)
        second = rpc.export_recognitions(after_id=first["next_after"], limit=1)
        groups = rpc.export_group_recognitions()
    assert first["next_after"] and second["next_after"] is not None
    exported = {first["items"][0]["recognition_id"], second["items"][0]["recognition_id"]}
    assert exported == {d["recognition_id"] for d in decided[1:]}
    item = first["items"][0]
    assert set(item) == {"recognition_id", "assessment_id", "person_id", "target_group", "year",
                         "criteria_version", "total_score", "digital_skills", "unit_code",
                         "unit_path", "granted_at"}
    assert groups == {"items": [], "next_after": None}


def test_refusing_a_passing_assessment_without_reasons_is_a_422_that_writes_nothing(
        assessment, commune, rows, tap):
    submitted = assessment.submit(commune.citizen)
    assessment.review(submitted, commune.reviewer)
    before = rows()
    refused = assessment.decide(submitted, commune.chair, "refuse", status=422)
    assert "reasons" in refused["errors"]
    assert rows() == before
    refused = assessment.decide(submitted, commune.chair, "refuse",
                                reasons=["Khai sai chứng chỉ ngoại ngữ"])
    assert refused["refusal_details"] == [{
        "kind": "reviewer", "indicator": None, "score": None, "maximum": None,
        "minimum": None, "total": None, "note": "Khai sai chứng chỉ ngoại ngữ"}]
