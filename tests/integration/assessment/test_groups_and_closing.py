"""Group titles and closing a year, against the real registry: memberships come from the
registry's membership_changed events, titles from the workflow; closing decides what the
workflow allows (CLOSE_DECIDES: by default what was reviewed; the rest stays open, listed)
and every group, records who closed, resumes after an interruption, and never decides
twice."""
import os
import subprocess
import sys

from datetime import date

import pytest
import yaml
from sqlalchemy.orm import sessionmaker

from cdht.db import Transactions
from services.assessment import closing
from services.assessment import criteria as criteria_sets
from services.assessment.service import AssessmentService
from tests.integration.assessment.conftest import FAILING, SCORES, Assessment


def published(tap, wait_for, event_type, count=1):
    return wait_for(lambda: len(found := tap.of_type(event_type)) >= count and found,
                    message=f"{count} {event_type} on assessment.events")


def members(registry, sql, wait_for, group, people):
    for person in people:
        registry.join(person, group, joined_on="2024-01-01")
    wait_for(lambda: sql("SELECT count(*) FROM group_members WHERE group_id = :g",
                         g=group["id"])[0][0] == len(people),
             message="the memberships in assessment")


def close(assessment, wait_for, year=2025, unit="AG.LX"):
    started = assessment.post(f"/years/{year}/close", {"unit_code": unit}, status=202)
    return wait_for(lambda: (run := assessment.get(f"/closings/{started['closing_id']}"))
                    ["status"] == "finished" and run, timeout=30, message="the closing")


def test_closing_decides_submissions_and_groups(assessment, registry, commune, sql, tap,
                                                 wait_for):
    family = registry.group("family")
    people = [registry.person(unit="AG.LX") for _ in range(4)]
    members(registry, sql, wait_for, family, people)
    for person, scores in ((people[0], SCORES), (people[1], SCORES),  # pass: recognised
                           (people[2], FAILING)):                      # fails: refused
        assessment.review(assessment.submit(person, scores=scores), commune.reviewer)
    elsewhere = registry.person(unit="AG.MB")
    assessment.review(assessment.submit(elsewhere), commune.outsider)  # outside the scope

    run = close(assessment, wait_for)
    assert (run["to_decide"], run["decided"], run["recognised"], run["refused"]) == (3, 3, 2, 1)
    assert (run["groups_evaluated"], run["groups_granted"]) == (1, 1)  # 2 of 4: 50%
    [titles] = published(tap, wait_for, "group_recognitions_granted")  # a closing's, in bulk
    [group_title] = titles["data"]["titles"]
    assert titles["data"]["closing_id"] == run["closing_id"]
    assert group_title | {"group_id": family["id"], "group_kind": "family",
                                  "members": 4, "members_titled": 2, "level": None} \
        == group_title
    [granted] = published(tap, wait_for, "recognitions_granted")  # one event, both people
    assert granted["data"]["closing_id"] == run["closing_id"]
    assert sorted(r["person_id"] for r in granted["data"]["recognitions"]) == sorted(
        p["id"] for p in people[:2])
    # the refusal in recognitions_refused: a recognition_refused v2's data, reasons as data
    [refusals] = published(tap, wait_for, "recognitions_refused")
    [refusal] = refusals["data"]["refusals"]
    assert (refusals["data"]["closing_id"], refusal["person_id"]) == (
        run["closing_id"], people[2]["id"])
    assert [(r["kind"], r["indicator"], r["score"], r["total"]) for r in refusal["reasons"]] \
        == [("total_below", None, None, 77), ("indicator_below", "TC2.1", 4, None)]
    [decided] = assessment.get("/assessments?status=refused")["items"]
    assert decided["refusal_details"] == refusal["reasons"]
    assert decided["refusal_reasons"] == ["total 77 is under 80",
                                          "TC2.1: 4/10, under the minimum 5"]
    open_elsewhere = assessment.get("/assessments?unit_code=AG.MB&status=reviewed")
    assert open_elsewhere["total"] == 1

    again = close(assessment, wait_for)  # nothing left: nothing done twice
    assert (again["decided"], again["groups_granted"], again["groups_revoked"]) == (0, 0, 0)
    assert sql("SELECT count(*) FROM recognitions")[0][0] == 2

    # A member's title revoked after the year closed: the family is re-evaluated (1 of 4).
    [granted] = [g for g in assessment.get("/recognitions?year=2025")["items"]
                 if g["person_id"] == people[0]["id"]]
    assessment.post(f"/recognitions/{granted['recognition_id']}/revoke",
                    {"reason": "Khai man"}, status=200)
    [lost] = published(tap, wait_for, "group_recognition_revoked")
    assert lost["data"]["reason"] == "1 of 4 members titled (25.0%), under 50%"
    titles = assessment.get(f"/group-recognitions?group_id={family['id']}")["items"]
    assert [t["revoked_at"] is not None for t in titles] == [True]


def test_closings_are_listed_newest_first_within_the_callers_subtree(assessment, registry,
                                                                      commune, wait_for):
    """GET /closings: what staff look up to know whether (and when) a year was closed."""
    from tests.support import bearer
    assessment.review(assessment.submit(registry.person(unit="AG.LX")), commune.reviewer)
    assessment.review(assessment.submit(registry.person(unit="AG.MB")), commune.outsider)
    first = close(assessment, wait_for, unit="AG.LX")
    second = close(assessment, wait_for, unit="AG.MB")
    listed = assessment.get("/closings?year=2025")
    assert [c["closing_id"] for c in listed["items"]] == [second["closing_id"],
                                                        first["closing_id"]]
    assert listed["total"] == 2 and listed["items"][1]["recognised"] == 1
    assert assessment.get("/closings?year=2024")["total"] == 0
    assert [c["unit_code"] for c in assessment.get("/closings?unit_code=AG.MB")["items"]] \
        == ["AG.MB"]
    ward_staff = bearer(role="commune_staff", unit_code="AG.LX", subject="staff-lx")
    mine = assessment.get("/closings", headers=ward_staff)
    assert [c["unit_code"] for c in mine["items"]] == ["AG.LX"]   # not the other commune's
    reviewer = bearer(role="reviewer", unit_code="AG.LX", subject="reviewer-lx")
    assessment.get("/closings", status=403, headers=reviewer)
    assessment.get("/closings?limit=0", status=400)


def test_a_learning_unit_level_follows_its_members(assessment, registry, commune, sql, tap,
                                                   wait_for):
    agency = registry.group("learning_unit", name="UBND phường", level="commune")
    staff = [registry.person(unit="AG.LX") for _ in range(10)]
    members(registry, sql, wait_for, agency, staff)
    for person in staff[:9]:
        assessment.review(assessment.submit(person), commune.reviewer)
    run = close(assessment, wait_for)
    assert run["recognised"] == 9 and run["groups_granted"] == 1
    [title] = assessment.get(f"/group-recognitions?group_id={agency['id']}")["items"]
    assert (title["level"], title["members_titled"], title["criteria_version"]) == (
        1, 9, "24/2023/TT-BGDĐT")
    assert title["explanation"] == "9 of 10 members titled (90.0%), at least 90% for level 1"

    # The tenth member earns the title later: level 1 becomes level 3 (revoke, grant).
    assessment.recognise(staff[9], commune.reviewer, commune.chair)
    [level3] = published(tap, wait_for, "group_recognition_granted")  # one decision's
    assert level3["data"]["level"] == 3
    assert published(tap, wait_for, "group_recognition_revoked")[0]["data"]["reason"] \
        .startswith("level changed")

    # A member leaves (registry event): 9 of 9 still level 3 - no change; the group stays.
    [membership] = [m for m in registry.get(f"/memberships?group_id={agency['id']}&limit=50")
                    ["items"] if m["person_id"] == staff[0]["id"]]
    registry.patch(f"/memberships/{membership['id']}", {"left_on": "2025-06-30"})
    wait_for(lambda: sql("SELECT left_on FROM group_members WHERE membership_id = :m",
                         m=membership["id"])[0][0] is not None, message="the departure")
    current = assessment.get(f"/group-recognitions?group_id={agency['id']}")["items"]
    assert [(t["level"], t["revoked_at"] is None) for t in current] == [(1, False), (3, True)]


def test_an_interrupted_closing_resumes_without_deciding_twice(assessment, commune, registry,
                                                                engines, sql):
    people = [registry.person(unit="AG.LX") for _ in range(7)]
    for person in people:
        assessment.submit(person, scores=SCORES if people.index(person) % 2 else FAILING)
    db = closing_db(engines)
    sets = criteria_sets.load_criteria()
    with db.transaction() as session:  # a paper workflow without a reviewer step
        run = closing.start(session, 2025, "AG.LX", decides="submitted", closed_by="ops")

    def interrupt_after_first_batch(progress):
        if progress.decided:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        closing.run(db, sets, run.id, progress=interrupt_after_first_batch, batch_size=3)
    [(status, decided)] = sql("SELECT status, decided FROM year_closings")
    assert (status, decided) == ("interrupted", 3)

    with db.transaction() as session:
        resumed = closing.start(session, 2025, "AG.LX", decides="submitted",
                                closed_by="ops")
    assert resumed.id == run.id and resumed.to_decide == 7
    done = closing.run(db, sets, run.id, batch_size=3)
    assert (done.status, done.decided, done.recognised, done.refused) == ("finished", 7, 3, 4)
    assert sql("SELECT count(*) FROM recognitions")[0][0] == 3
    assert sql("SELECT sum(jsonb_array_length(payload->'data'->'recognitions')) FROM outbox "
               "WHERE event_type = 'recognitions_granted'")[0][0] == 3
    assert sql("SELECT sum(jsonb_array_length(payload->'data'->'refusals')) FROM outbox "
               "WHERE event_type = 'recognitions_refused'")[0][0] == 4
    assert "7 submissions decided (3 recognised, 4 refused)" in closing.summary(done)


def test_close_year_from_the_command_line(assessment, commune, registry, databases, sql):
    submitted = [assessment.submit(registry.person(unit="AG.LX")) for _ in range(3)]
    assessment.review(submitted[0], commune.reviewer)
    env = dict(os.environ, ASSESSMENT_DATABASE_URL=databases["assessment"])
    env.pop("CLOSE_DECIDES", None)
    result = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2025", "--unit",
                             "AG.LX", "--quiet", "--by", "Nguyễn Văn Quản"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "year 2025 closed for AG.LX: 1 submissions decided (1 recognised, 0 refused)" \
        in result.stdout
    assert "left open, not reviewed: 2 submitted, 0 returned" in result.stdout
    assert "by Nguyễn Văn Quản (operator of AG.LX)" in result.stdout
    assert sql("SELECT closed_by, authority->>'role', decides FROM year_closings") == [
        ("Nguyễn Văn Quản", "operator", "reviewed")]
    [(closer,)] = sql("SELECT detail->>'closed_by' FROM assessment_steps WHERE action = "
                      "'recognised'")
    assert closer == "Nguyễn Văn Quản"

    # a province without a reviewer step decides the rest; a year to come is refused
    paper = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2025", "--unit",
                            "AG.LX", "--quiet"], env=env | {"CLOSE_DECIDES": "submitted"},
                           capture_output=True, text=True, timeout=120)
    assert "2 submissions decided (2 recognised, 0 refused)" in paper.stdout, paper.stderr
    future = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2099", "--unit",
                             "AG.LX", "--quiet"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert future.returncode == 2 and "year_not_over" in future.stderr
    failed = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", "2025"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "--unit" in failed.stderr


def closing_db(engines):
    return Transactions(sessionmaker(engines["assessment"], expire_on_commit=False))


def test_a_province_set_in_a_criteria_directory_and_a_set_in_use_cannot_change(
        tmp_path, container_factory, service_config, web_session, registry, commune, engines):
    """A province supersedes 324 by dropping a file in CRITERIA_DIRS; once a decision was
    made under it, editing that file in place is refused (add a new version instead)."""
    raw = yaml.safe_load((criteria_sets.CRITERIA_DIR / "learning_citizen_324.yaml")
                         .read_text("utf-8"))
    province = raw | {"version": "AG-2025", "effective_from": date(2025, 1, 1),
                      "supersedes": "324/QĐ-KHVN",
                      "pass_rule": {"min_total": 82, "min_per_indicator": 5}}
    (tmp_path / "ag.yaml").write_text(yaml.safe_dump(province, allow_unicode=True), "utf-8")
    config = service_config("assessment", CRITERIA_DIRS=str(tmp_path))
    container_factory(AssessmentService, config).start()
    submitted = Assessment(web_session(config), config).submit(commune.citizen)  # 81 points
    assert submitted["criteria_version"] == "AG-2025"
    assert submitted["decision"]["summary"] == "not passed under AG-2025: total 81 is under 82"

    province["pass_rule"]["min_total"] = 70
    (tmp_path / "ag.yaml").write_text(yaml.safe_dump(province, allow_unicode=True), "utf-8")
    with pytest.raises(criteria_sets.CriteriaError, match="AG-2025 are in use"):
        container_factory(AssessmentService, config).start()


def test_members_of_one_family_decided_at_the_same_moment(assessment, registry, commune, sql,
                                                          wait_for):
    """Each decision re-evaluates the member's family: two at once must not both count the
    other's title as missing and both grant the family (a 409 for one of them, before)."""
    import eventlet
    families = [registry.group("family") for _ in range(6)]
    pairs = [[registry.person(unit="AG.LX") for _ in range(2)] for _ in families]
    for family, people in zip(families, pairs):
        members(registry, sql, wait_for, family, people)
    reviewed = [assessment.review(assessment.submit(person), commune.reviewer)
                for people in pairs for person in people]
    pool = eventlet.GreenPool(len(reviewed))
    answers = list(pool.imap(lambda a: assessment.post(
        f"/assessments/{a['assessment_id']}/decision",
        {"decided_by": commune.chair["id"], "decision": "recognise"}, status=None),
        reviewed))
    assert all(a.get("status") == "recognised" for a in answers), answers
    titles = sql("SELECT group_id, count(*) FROM group_recognitions WHERE revoked_at IS NULL "
                 "GROUP BY group_id")
    assert sorted(str(g) for g, n in titles if n == 1) == sorted(f["id"] for f in families)


def test_closing_leaves_what_nobody_reviewed_open_and_names_the_closer(
        assessment, registry, commune, sql, web_session, wait_for):
    """A citizen's own scores are no title until a reviewer accepted them: the closing
    decides the reviewed submission, leaves the submitted and the sent back ones open (counted
    and listed), and every step it writes names the commune staff who closed."""
    unreviewed = assessment.submit(registry.person(unit="AG.LX"),
                                   scores={code: 10 for code in SCORES})
    sent_back = assessment.review(assessment.submit(registry.person(unit="AG.LX")),
                                  commune.reviewer, action="send_back", reason="Thiếu minh chứng")
    reviewed = assessment.review(assessment.submit(registry.person(unit="AG.LX")),
                                 commune.reviewer)
    staff = Assessment(web_session(assessment.config, role="commune_staff", unit_code="AG.LX",
                                   subject=commune.chair["id"]), assessment.config)
    run = close(staff, wait_for)
    assert (run["to_decide"], run["decided"], run["recognised"]) == (1, 1, 1)
    assert run["left_open"] == {"submitted": 1, "returned": 1}
    assert (run["decides"], run["closed_by"]) == ("reviewed", commune.chair["id"])
    assert run["authority"] == {"role": "commune_staff", "unit_code": "AG.LX",
                                "approval_level": "commune"}
    assert sorted(run["left_open_ids"]) == sorted([unreviewed["assessment_id"],
                                                   sent_back["assessment_id"]])

    still = assessment.get(f"/assessments/{unreviewed['assessment_id']}")
    assert still["status"] == "submitted" and [s["action"] for s in still["history"]] \
        == ["submitted"]
    assert assessment.get(f"/assessments/{sent_back['assessment_id']}")["status"] == "returned"
    decided = assessment.get(f"/assessments/{reviewed['assessment_id']}")
    assert decided["status"] == "recognised" and decided["decided_by"] == commune.chair["id"]
    last = decided["history"][-1]
    assert (last["action"], last["actor_id"], last["closed_by"], last["closing"]) == (
        "recognised", commune.chair["id"], commune.chair["id"], run["closing_id"])

    # once reviewed, the next closing decides it; the first closing's list shrinks
    assessment.review(unreviewed, commune.reviewer)
    assert close(staff, wait_for)["recognised"] == 1
    first = assessment.get(f"/closings/{run['closing_id']}")
    assert first["left_open_ids"] == [sent_back["assessment_id"]]
    assert first["left_open"] == {"submitted": 1, "returned": 1}  # as it closed


def test_a_year_to_come_cannot_be_closed(assessment, registry, commune, rows, sql):
    assessment.review(assessment.submit(registry.person(unit="AG.LX"), year=2099),
                      commune.reviewer)
    before = rows()
    refused = assessment.call("POST", "/years/2099/close", {"unit_code": "AG.LX"}, 409).json()
    assert refused["errors"]["code"] == "year_not_over" and "2099" in refused["error"]
    assert rows() == before and sql("SELECT count(*) FROM year_closings") == [(0,)]


def test_without_a_reviewer_step_the_closing_decides_every_submission(
        container_factory, service_config, web_session, registry, commune, sql, wait_for):
    """CLOSE_DECIDES=submitted: a province whose paper workflow has no reviewer step."""
    config = service_config("assessment", REGISTRY_TIMEOUT=5, CLOSE_DECIDES="submitted")
    container_factory(AssessmentService, config).start()
    paper = Assessment(web_session(config), config)
    submitted = paper.submit(commune.citizen)
    run = close(paper, wait_for)
    assert (run["decides"], run["decided"], run["recognised"], run["left_open"]) == (
        "submitted", 1, 1, {})
    assert run["closed_by"] == "test-admin" and run["left_open_ids"] == []
    step = paper.get(f"/assessments/{submitted['assessment_id']}")["history"][-1]
    assert (step["action"], step["actor_id"], step["closed_by"]) == (
        "recognised", None, "test-admin")
