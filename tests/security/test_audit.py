"""The personal data audit: who changed which fields of whose record, when, in the
transaction of the change; readable by admins only at GET /audit; one row per import.
The registry in a nameko container on real PostgreSQL and RabbitMQ."""
import json
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import text

from services.registry.service import RegistryService
from tests.integration.registry.helpers import person_body
from tests.integration.registry.test_import_http import good, people_csv, upload, wait_done


@pytest.fixture
def registry(container_factory, service_config, web_session, engines):
    config = service_config("registry")
    container_factory(RegistryService, config).start()
    admin = web_session(config)
    for body in ({"code": "AG", "name": "Tỉnh An Giang", "kind": "province"},
                 {"code": "AG.LX", "name": "Phường Long Xuyên", "kind": "ward",
                  "parent_code": "AG"},
                 {"code": "AG.MB", "name": "Xã Mỹ Bình", "kind": "commune",
                  "parent_code": "AG"}):
        assert admin.post("/units", json=body).status_code == 201
    return config


@pytest.fixture
def staff(registry, web_session):
    """Commune staff of AG.LX, identified by a person id of their own."""
    subject = str(uuid.uuid4())
    session = web_session(registry, role="commune_staff", unit_code="AG.LX", subject=subject)
    session.subject = subject
    return session


def audit_rows(engines):
    with engines["registry"].connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT actor, actor_role, action, person_id, import_id, fields, people, "
            "correlation_id FROM personal_data_audit ORDER BY id"))]


def test_each_change_of_a_person_is_audited_without_its_values(staff, registry, web_session,
                                                               engines):
    body = person_body("AG.LX", email="an.nguyen@example.org", phone="0912345678")
    created = staff.post("/people", json=body, headers={"X-Correlation-ID": "corr-1"})
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    changed = staff.patch(f"/people/{person_id}", json={"phone": "0987654321",
                                                        "ethnicity": "Kinh"})
    assert changed.status_code == 200, changed.text
    assert staff.patch(f"/people/{person_id}", json={"phone": "0987654321"}).status_code == 200
    assert staff.delete(f"/people/{person_id}").status_code == 200

    rows = audit_rows(engines)
    assert [(r["action"], r["fields"]) for r in rows] == [
        ("create", sorted(["national_id", "full_name", "gender", "birth_date", "phone", "email",
                           "language", "unit_code", "target_group"])),
        ("update", ["ethnicity", "phone"]),  # the unchanged PATCH after it: no row
        ("delete", []),
    ]
    assert {(r["actor"], r["actor_role"], str(r["person_id"])) for r in rows} == {
        (staff.subject, "commune_staff", person_id)}
    assert rows[0]["correlation_id"] == "corr-1" and rows[0]["people"] == 1

    listed = web_session(registry).get("/audit", params={"person_id": person_id}).json()
    assert listed["total"] == 3
    assert [e["action"] for e in listed["items"]] == ["delete", "update", "create"]  # newest
    dumped = json.dumps(listed)
    for value in (body["national_id"], "an.nguyen@example.org", "0912345678", "0987654321",
                  "Kinh"):
        assert value not in dumped


def test_a_refused_change_leaves_no_change_in_the_audit(staff, registry, web_session, engines):
    """Refused changes write nothing, and record nothing but the one probe that matters: a
    national ID held outside the caller's scope, as a refused attempt on its holder."""
    admin = web_session(registry)
    other_body = person_body("AG.MB")
    other = admin.post("/people", json=other_body).json()
    before = audit_rows(engines)
    assert staff.patch(f"/people/{other['id']}", json={"ethnicity": "Kinh"}).status_code == 403
    assert staff.post("/people", json=person_body("AG.MB")).status_code == 403
    taken = person_body("AG.LX", national_id=other_body["national_id"])
    refused = staff.post("/people", json=taken)
    assert refused.status_code == 409
    assert other_body["national_id"] not in refused.text  # the error names the field, not the value
    after = audit_rows(engines)
    assert after[:len(before)] == before
    [attempt] = after[len(before):]
    assert (attempt["action"], attempt["person_id"], attempt["fields"], attempt["people"]) == \
        ("refused", uuid.UUID(other["id"]), ["national_id"], 0)
    assert attempt["actor_role"] == "commune_staff"


def test_the_audit_log_is_for_admins_with_filters_and_paging(staff, registry, web_session):
    admin = web_session(registry)
    for _ in range(3):
        assert staff.post("/people", json=person_body("AG.LX")).status_code == 201
    assert admin.post("/people", json=person_body("AG.MB")).status_code == 201
    assert staff.get("/audit").status_code == 403
    assert web_session(registry, role="province_staff", unit_code="AG").get(
        "/audit").status_code == 403
    assert web_session(registry, auth=False).get("/audit").status_code == 401

    mine = admin.get("/audit", params={"actor": staff.subject, "limit": 2}).json()
    assert mine["total"] == 3 and len(mine["items"]) == 2
    assert admin.get("/audit", params={"actor": staff.subject, "limit": 2,
                                       "offset": 2}).json()["items"][0]["actor"] == staff.subject
    assert admin.get("/audit", params={"action": "create"}).json()["total"] == 4
    assert admin.get("/audit", params={"action": "delete"}).json()["total"] == 0
    assert admin.get("/audit", params={"since": "2999-01-01T00:00:00+00:00"}).json()[
        "total"] == 0
    assert admin.get("/audit", params={"action": "sneak"}).status_code == 400
    # an offset no clock has, which PostgreSQL refuses: a 400, not a 500
    assert admin.get("/audit", params={"since": "2025-01-01T00:00:00-22:41"}).status_code == 400


def test_an_import_writes_one_audit_row(registry, web_session, engines, wait_for):
    admin = web_session(registry)
    rows = [good(serial, unit="AG.LX") for serial in (1, 2, 3)]
    response = upload(admin, people_csv(rows), headers={"X-Correlation-ID": "imp-1"})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    assert wait_done(admin, import_id)["status"] == "done"
    found = wait_for(lambda: [r for r in audit_rows(engines) if r["action"] == "import"],
                     message="the import's audit row")
    assert len(found) == 1
    assert found[0]["people"] == 3 and str(found[0]["import_id"]) == import_id
    assert found[0]["person_id"] is None and found[0]["correlation_id"] == "imp-1"
    assert {"national_id", "full_name", "birth_date", "unit_code"} <= set(found[0]["fields"])
    assert found[0]["actor"] == "test-admin" and found[0]["actor_role"] == "admin"
    assert len(audit_rows(engines)) == 1  # not one per person


def test_only_province_wide_callers_import(registry, web_session):
    rows = people_csv([good(9, unit="AG.LX")])
    commune = web_session(registry, role="commune_staff", unit_code="AG.LX",
                          subject=str(uuid.uuid4()))
    assert upload(commune, rows).status_code == 403
    assert commune.get("/imports").status_code == 403
    province = web_session(registry, role="province_staff", unit_code="AG",
                           subject=str(uuid.uuid4()))
    assert upload(province, rows).status_code == 202


# -- reads, and every write per person; imports restore nobody unasked -----------------------
def audit_of(engines, action):
    with engines["registry"].connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT actor, actor_role, person_id, person_ids, people, fields, purpose "
            "FROM personal_data_audit WHERE action = :a ORDER BY id"), {"a": action})]


def restoring_upload(http, body, restore):
    return http.post("/imports", data=body, params={"filename": "xa.csv",
                                                    "restore_removed": restore},
                     headers={"Content-Type": "text/csv"})


def ids(row):
    return sorted(str(i) for i in row["person_ids"] or ())


def test_reads_of_personal_data_are_audited_once_per_request(staff, engines):
    body = person_body("AG.LX", email="an.nguyen@example.org", phone="0912345678")
    person_id = staff.post("/people", json=body).json()["id"]
    listed = staff.get("/people",
                       headers={"X-Purpose": quote("gọi điện mời họp")})
    assert listed.status_code == 200 and listed.json()["items"][0]["phone"]
    assert staff.get(f"/people/{person_id}").status_code == 200
    assert staff.get("/people", params={"q": "không có ai"}).json()["items"] == []

    [page] = audit_of(engines, "list")  # the empty page showed nobody: no row
    assert (page["actor"], page["actor_role"], ids(page), page["people"]) == (
        staff.subject, "commune_staff", [person_id], 1)
    assert {"phone", "email", "full_name"} <= set(page["fields"])
    assert page["purpose"] == "GET /people: gọi điện mời họp"
    [read] = audit_of(engines, "read")
    assert str(read["person_id"]) == person_id and read["purpose"] == f"GET /people/{person_id}"
    dumped = json.dumps(audit_of(engines, "list") + audit_of(engines, "read"), default=str)
    assert "0912345678" not in dumped and "an.nguyen" not in dumped


def test_the_contact_rpc_and_the_export_are_audited(registry, web_session, engines):
    from nameko.standalone.rpc import ServiceRpcProxy
    admin = web_session(registry)
    person_id = admin.post("/people", json=person_body("AG.LX", phone="0912345678")).json()["id"]
    with ServiceRpcProxy("registry", registry) as rpc:
        assert rpc.contact(person_id)["phone"] == "0912345678"
        assert rpc.contact(str(uuid.uuid4())) is None  # nobody's data: no row
        assert len(rpc.export_people()["items"]) == 1
    [contact] = audit_of(engines, "contact")
    assert (contact["actor"], contact["actor_role"], str(contact["person_id"])) == (
        "service:standalone_rpc_proxy", "service", person_id)
    assert {"email", "phone", "full_name"} <= set(contact["fields"])
    assert contact["purpose"] == "rpc contact"
    [export] = audit_of(engines, "export")
    assert ids(export) == [person_id] and export["purpose"] == "rpc export_people"


def test_role_changes_and_merges_are_audited_per_person(registry, web_session, engines):
    admin = web_session(registry)
    official = admin.post("/people", json=person_body("AG.MB")).json()["id"]
    resident = admin.post("/people", json=person_body("AG.MB")).json()["id"]
    body = admin.post("/association/bodies", json={
        "kind": "commune_association", "name": "Hội Khuyến học xã Mỹ Bình",
        "unit_code": "AG.MB"}).json()
    assert admin.post("/association/members", json={
        "person_id": official, "body_id": body["id"], "role": "official",
        "joined_on": "2020-01-01"}).status_code == 201
    [roles] = audit_of(engines, "roles")
    assert str(roles["person_id"]) == official and roles["fields"] == ["roles"]

    merged = admin.post("/units/merge", json={
        "from_codes": ["AG.LX", "AG.MB"], "effective_on": "2025-07-01",
        "into": {"code": "AG.LXMB", "name": "Phường Long Xuyên mới", "kind": "ward",
                 "parent_code": "AG"}})
    assert merged.status_code == 201, merged.text
    [merge] = audit_of(engines, "merge")
    assert ids(merge) == sorted([official, resident]) and merge["people"] == 2
    assert merge["fields"] == ["unit_code"]


def test_an_import_names_each_person_and_restores_only_when_asked(registry, web_session,
                                                                  engines):
    admin = web_session(registry)
    rows = [good(serial, unit="AG.LX") for serial in (41, 42)]
    first = upload(admin, people_csv(rows)).json()["import_id"]
    assert wait_done(admin, first)["status"] == "done"
    [imported] = audit_of(engines, "import")
    with engines["registry"].connect() as conn:
        people = sorted(str(i) for i in conn.scalars(text("SELECT id FROM people")))
    assert ids(imported) == people and imported["people"] == 2

    assert admin.delete(f"/people/{people[0]}").status_code == 200
    again = upload(admin, people_csv(rows)).json()["import_id"]
    assert wait_done(admin, again)["counts"]["bad"] == 1
    errors = admin.get(f"/imports/{again}/errors", params={"format": "json"}).json()["errors"]
    assert "đã bị xoá" in errors[0]["reason_vi"] and "restore" in errors[0]["reason_en"]
    assert admin.get(f"/people/{people[0]}").status_code == 404

    restoring = restoring_upload(admin, people_csv(rows), "true")
    assert wait_done(admin, restoring.json()["import_id"])["counts"]["bad"] == 0
    assert admin.get(f"/people/{people[0]}").status_code == 200
    [restore] = audit_of(engines, "restore")
    assert ids(restore) == [people[0]]
    assert restoring_upload(admin, people_csv(rows), "maybe").status_code == 400
