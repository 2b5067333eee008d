"""Closing a year decides only what the workflow allows, and names who closed; nobody makes
themselves an official. Through the four services as real processes (conftest.py).

The reproduction: a citizen submits 10/10 everywhere and commune staff close the ward's year
at once. The submission nobody reviewed stays open (listed by the closing); a reviewed one is
decided, and its history names the staff who closed. Staff cannot make themselves an official
of a body, nor staff a body they created; a year still to come cannot be closed."""
import pytest

from tests.security.conftest import person_body
from tests.support import wait_for

YEAR = 2024  # over; the seeded submissions are of 2025
TENS = {code: 10 for code in ("TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2", "TC2.3",
                              "TC2.4", "TC3.1", "TC3.2")}


def ok(response, status):
    assert response.status_code == status, (response.request.method, response.url,
                                            response.text)
    return response.json()


def close(client, unit="AG.LX", year=YEAR):
    started = ok(client.call("POST", "assessment", f"/years/{year}/close",
                             {"unit_code": unit}), 202)
    return wait_for(lambda: (run := ok(client.call(
        "GET", "assessment", f"/closings/{started['closing_id']}"), 200))["status"]
        == "finished" and run, timeout=30, message="the closing")


@pytest.fixture(scope="module")
def staff(as_role):
    return as_role("commune_staff")


def test_a_citizens_own_scores_are_no_title_when_staff_close_the_year(secured, as_role,
                                                                       staff):
    citizen = as_role("citizen")
    submitted = ok(citizen.call("POST", "assessment", "/assessments", {
        "person_id": secured.people["AG.LX"]["id"], "year": YEAR, "scores": TENS}), 201)
    run = close(staff)
    assert run["decided"] == 0 and run["recognised"] == 0
    assert run["left_open"] == {"submitted": 1, "returned": 0}
    assert run["left_open_ids"] == [submitted["assessment_id"]]
    still = ok(citizen.call("GET", "assessment",
                            f"/assessments/{submitted['assessment_id']}"), 200)
    assert still["status"] == "submitted"
    assert [step["action"] for step in still["history"]] == ["submitted"]
    titles = ok(secured.admin.call("GET", "assessment", "/recognitions", params={
        "person_id": secured.people["AG.LX"]["id"], "year": YEAR}), 200)
    assert titles["total"] == 0


def test_a_reviewed_submission_is_decided_in_the_name_of_who_closed(secured, as_role, staff):
    admin, closer = secured.admin, secured.officials["AG.LX"]["id"]
    person = ok(admin.call("POST", "registry", "/people", person_body("AG.LX")), 201)
    submitted = ok(admin.call("POST", "assessment", "/assessments", {
        "person_id": person["id"], "year": YEAR, "scores": TENS}), 201)
    ok(as_role("reviewer").call("POST", "assessment",
                                f"/assessments/{submitted['assessment_id']}/review",
                                {"action": "accept"}), 200)
    run = close(staff)
    assert (run["decided"], run["recognised"]) == (1, 1)
    assert run["closed_by"] == closer
    assert run["authority"] == {"role": "commune_staff", "unit_code": "AG.LX",
                                "approval_level": "commune"}
    decided = ok(admin.call("GET", "assessment",
                            f"/assessments/{submitted['assessment_id']}"), 200)
    assert decided["status"] == "recognised" and decided["decided_by"] == closer
    last = decided["history"][-1]
    assert (last["action"], last["actor_id"], last["closed_by"]) == ("recognised", closer,
                                                                     closer)


def test_a_year_still_to_come_cannot_be_closed(staff):
    refused = staff.call("POST", "assessment", "/years/2099/close", {"unit_code": "AG.LX"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"]["code"] == "year_not_over"
    listed = ok(staff.call("GET", "assessment", "/closings", params={"year": 2099}), 200)
    assert listed["total"] == 0


def test_staff_cannot_make_themselves_officials_nor_staff_a_body_they_created(secured, staff):
    me = secured.officials["AG.LX"]["id"]
    branch = ok(staff.call("POST", "registry", "/association/bodies", {
        "kind": "branch", "name": "Chi hội khóm 9", "unit_code": "AG.LX",
        "parent_id": secured.bodies["AG.LX"]}), 201)
    other = ok(secured.admin.call("POST", "registry", "/people", person_body("AG.LX")), 201)

    def appoint(client, person_id, body_id, role="official"):
        return client.call("POST", "registry", "/association/members", {
            "person_id": person_id, "body_id": body_id, "role": role,
            "joined_on": "2024-01-01"})
    for person_id, body_id, code in ((me, branch["id"], "self_appointment"),
                                     (me, secured.bodies["AG.MB"], None),  # out of scope
                                     (other["id"], branch["id"], "own_body")):
        refused = appoint(staff, person_id, body_id)
        assert refused.status_code == 403, refused.text
        if code:
            assert refused.json()["errors"]["code"] == code
    positions = ok(secured.admin.call("GET", "registry", "/association/members",
                                      params={"body_id": branch["id"]}), 200)
    assert positions["total"] == 0  # nothing written
    ok(appoint(staff, other["id"], branch["id"], role="member"), 201)  # a member decides nothing
    ok(appoint(secured.admin, me, branch["id"]), 201)  # someone else appoints them
