"""Scope follows the person, against the real registry: after the registry moves a person
(PATCH /people, an import's moved rows) or a unit (a merger, a new parent), the person's
assessments and titles, and the unit's groups, are placed where they are now. The old unit's
staff no longer reach them, the new unit's do, and each assessment's history says where it
was (services/assessment/moves.py)."""
import uuid

from cdht.contracts import make_envelope
from tests.integration.assessment.conftest import Assessment


def placed(sql, table, key, value):
    return {(code, tuple(path)) for code, path in sql(
        f"SELECT unit_code, unit_path FROM {table} WHERE {key} = :v", v=value)}


def staff_of(web_session, assessment, unit, subject, role="commune_staff"):
    return Assessment(web_session(assessment.config, role=role, unit_code=unit,
                                  subject=subject["id"]), assessment.config)


def test_a_moved_persons_assessments_and_titles_follow_them(assessment, registry, commune,
                                                             sql, wait_for, web_session):
    decided = assessment.recognise(commune.citizen, commune.reviewer, commune.chair, year=2024)
    open_one = assessment.submit(commune.citizen, year=2025)
    family = registry.group(unit="AG.LX")
    registry.join(commune.citizen, family, joined_on="2024-01-01")
    wait_for(lambda: sql("SELECT count(*) FROM group_members")[0][0] == 1,
             message="the membership in assessment")

    registry.patch(f"/people/{commune.citizen['id']}", {"unit_code": "AG.MB"})
    mb = {("AG.MB", ("AG", "AG.MB"))}
    wait_for(lambda: placed(sql, "assessments", "person_id", commune.citizen["id"]) == mb,
             message="the assessments moved")
    assert placed(sql, "recognitions", "person_id", commune.citizen["id"]) == mb
    # the family did not move: a group is placed by its own unit
    assert placed(sql, "group_members", "person_id", commune.citizen["id"]) == {
        ("AG.LX", ("AG", "AG.LX"))}

    old = staff_of(web_session, assessment, "AG.LX", commune.chair)
    new = staff_of(web_session, assessment, "AG.MB", commune.outsider)
    title = f"/recognitions/{decided['recognition_id']}"
    for path in (f"/assessments/{open_one['assessment_id']}",
                 f"/assessments/{decided['assessment_id']}", title):
        old.get(path, status=403)
        new.get(path, status=200)
    assert new.get("/assessments?year=2025")["total"] == 1
    assert old.get("/assessments?year=2025")["total"] == 0
    old.post(f"{title}/revoke", {"reason": "sai"}, status=403)

    history = assessment.get(f"/assessments/{decided['assessment_id']}")["history"]
    assert [h["action"] for h in history] == ["submitted", "reviewed", "recognised", "moved"]
    assert history[2]["actor_id"] == commune.chair["id"]  # decided by the old ward
    assert (history[3]["from_unit_path"], history[3]["unit_path"], history[3]["cause"]) == (
        ["AG", "AG.LX"], ["AG", "AG.MB"], "person_moved")

    revoked = new.post(f"{title}/revoke", {"reason": "hồ sơ sai"}, status=200)
    assert revoked["unit_code"] == "AG.MB"


def test_an_imports_moved_rows_move_the_people(assessment, commune, sql, wait_for, publish):
    submitted = assessment.submit(commune.citizen)
    person = {"person_id": commune.citizen["id"], "target_group": "resident", "roles": [],
              "birth_year": 1985}
    publish("registry", make_envelope("people_imported", {
        "import_id": str(uuid.uuid4()), "batch": 1, "people": [
            person | {"change": "moved", "unit_code": "AG.MB", "unit_path": ["AG", "AG.MB"],
                      "from_unit_path": ["AG", "AG.LX"]},
            person | {"person_id": str(uuid.uuid4()), "change": "registered",
                      "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"]}]},
        producer="registry").to_message())
    wait_for(lambda: placed(sql, "assessments", "id", submitted["assessment_id"]) == {
        ("AG.MB", ("AG", "AG.MB"))}, message="the imported move")


def test_a_merger_gives_the_new_unit_its_people_groups_and_titles(
        assessment, registry, commune, sql, wait_for, web_session):
    decided = assessment.recognise(commune.citizen, commune.reviewer, commune.chair)
    neighbour = registry.person(unit="AG.MB")
    other = assessment.submit(neighbour)
    family = registry.group(unit="AG.LX")
    registry.join(commune.citizen, family, joined_on="2024-01-01")
    wait_for(lambda: sql("SELECT count(*) FROM group_members")[0][0] == 1,
             message="the membership in assessment")
    sql_titles = "SELECT count(*) FROM group_recognitions"
    has_group_title = bool(sql(sql_titles)[0][0])

    registry.post("/units/merge", {
        "from_codes": ["AG.LX", "AG.MB"], "effective_on": "2025-07-01",
        "into": {"code": "AG.LM", "name": "Phường Long Mỹ", "kind": "ward",
                 "parent_code": "AG"}})
    lm = {("AG.LM", ("AG", "AG.LM"))}
    wait_for(lambda: placed(sql, "assessments", "person_id", commune.citizen["id"]) == lm,
             message="the merger in assessment")
    assert placed(sql, "assessments", "person_id", neighbour["id"]) == lm
    assert placed(sql, "recognitions", "person_id", commune.citizen["id"]) == lm
    assert placed(sql, "group_members", "group_id", family["id"]) == lm
    if has_group_title:
        assert placed(sql, "group_recognitions", "group_id", family["id"]) == lm

    new = staff_of(web_session, assessment, "AG.LM", commune.chair)
    new.get(f"/assessments/{other['assessment_id']}")
    new.get(f"/recognitions/{decided['recognition_id']}")
    assert new.get("/assessments?year=2025")["total"] == 2
    old = staff_of(web_session, assessment, "AG.LX", commune.chair)
    old.get(f"/recognitions/{decided['recognition_id']}", status=403)
    history = assessment.get(f"/assessments/{other['assessment_id']}")["history"]
    assert history[-1]["action"] == "moved" and history[-1]["cause"] == "units_merged"


def test_a_unit_under_another_parent_moves_its_subtree(assessment, registry, commune, sql,
                                                       wait_for):
    """The registry re-parents only a unit nobody is registered under: what stays there is
    the record of people since removed, which follows the unit."""
    registry.unit("AG.X")
    person = registry.person(unit="AG.X")
    submitted = assessment.submit(person)
    registry.delete(f"/people/{person['id']}")
    registry.post("/units", {"code": "CT", "name": "Thành phố Cần Thơ", "kind": "province"})
    registry.patch("/units/AG.X", {"parent_code": "CT"})
    wait_for(lambda: placed(sql, "assessments", "id", submitted["assessment_id"]) == {
        ("AG.X", ("CT", "AG.X"))}, message="the new parent in assessment")
    registry.patch("/units/AG.X", {"name": "Xã X mới"})  # no path changes
    history = assessment.get(f"/assessments/{submitted['assessment_id']}")["history"]
    assert [h["action"] for h in history] == ["submitted", "moved"]
    assert history[1]["cause"] == "unit_changed"
