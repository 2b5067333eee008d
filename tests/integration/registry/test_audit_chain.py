"""The personal data audit on real PostgreSQL: append-only (UPDATE, DELETE and TRUNCATE refused,
even for the owner), chained by its trigger as Python recomputes it, also under concurrent
writers; ``cdht audit-verify`` names a row changed behind the trigger's back. Imports from the
command line are audited per person; a removed person is restored only when asked."""
import threading
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cdht_tools import cli
from services.registry.handlers import audit_row
from tests.integration.registry.test_import import importer, rows, scalar, small_tree, write
from tests.integration.registry.test_import import person as person_row

__all__ = ("small_tree",)  # a fixture this module uses


@pytest.fixture
def db(engines):
    return engines["registry"]


@pytest.fixture
def registry_env(databases, monkeypatch):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", databases["registry"])


def add(db, n=1, **fields):
    with Session(db) as session, session.begin():
        for _ in range(n):
            session.add(audit_row("test-admin", "admin", fields.get("action", "read"),
                                  person_id=uuid.uuid4(), fields=["phone"],
                                  purpose="GET /people/x", **{
                                      k: v for k, v in fields.items() if k != "action"}))


def verify(capsys):
    code = cli.main(["audit-verify"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("statement", [
    "UPDATE personal_data_audit SET actor = 'someone-else'",
    "DELETE FROM personal_data_audit",
    "TRUNCATE personal_data_audit",
    "UPDATE personal_data_audit_head SET hash = repeat('0', 64)",
    "DELETE FROM personal_data_audit_head",
])
def test_the_audit_cannot_be_rewritten_even_by_its_owner(db, statement):
    add(db, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin() as conn:
            conn.execute(text(statement))
    assert scalar(db, "SELECT count(*) FROM personal_data_audit") == 2


def test_the_trigger_chains_rows_as_python_recomputes_them(db, registry_env, capsys):
    add(db, 3, action="list", person_ids=[uuid.uuid4(), uuid.uuid4()], people=2)
    add(db, 1, action="import", import_id=uuid.uuid4(), correlation="imp-1")
    chain = rows(db, "SELECT id, prev_hash, hash FROM personal_data_audit ORDER BY id")
    assert chain[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:]))
    assert verify(capsys) == (0, "rows checked: 4\nthe chain is whole\n")


def test_concurrent_writers_never_fork_the_chain(db, registry_env, capsys):
    def write_some():
        for _ in range(10):
            add(db, 2)
    threads = [threading.Thread(target=write_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code, out = verify(capsys)
    assert (code, out.splitlines()[0]) == (0, "rows checked: 80")


def test_verify_names_a_row_changed_behind_the_triggers_back(db, registry_env, capsys):
    add(db, 5)
    third = rows(db, "SELECT id FROM personal_data_audit ORDER BY id")[2].id
    with db.begin() as conn:  # a superuser disables the trigger
        conn.execute(text("ALTER TABLE personal_data_audit "
                          "DISABLE TRIGGER personal_data_audit_append_only"))
        conn.execute(text("UPDATE personal_data_audit SET fields = '{}' WHERE id = :id"),
                     {"id": third})
        conn.execute(text("ALTER TABLE personal_data_audit "
                          "ENABLE TRIGGER personal_data_audit_append_only"))
    code, out = verify(capsys)
    assert code == 1
    assert "rows checked: 3" in out and f"first broken row: {third} " in out


def test_verify_names_rows_cut_off_the_end(db, registry_env, capsys):
    add(db, 4)
    last = scalar(db, "SELECT max(id) FROM personal_data_audit")
    with db.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM personal_data_audit WHERE id = :id"), {"id": last})
    code, out = verify(capsys)
    assert code == 1 and f"first broken row: {last} " in out


def test_cli_imports_are_audited_per_person_and_restore_only_when_asked(small_tree, db,
                                                                        tmp_path):
    path = write(tmp_path, [person_row(1), person_row(2)])
    done = importer(db, actor=("cli:ops", "operator")).run(path, filename="xa.csv")
    [row] = rows(db, "SELECT actor, actor_role, action, import_id, people, person_ids "
                     "FROM personal_data_audit")
    ids = {str(i) for (i,) in rows(db, "SELECT id FROM people")}
    assert (row.actor, row.actor_role, row.action, row.people) == (
        "cli:ops", "operator", "import", 2)
    assert row.import_id == done.import_id and {str(i) for i in row.person_ids} == ids

    removed = sorted(ids)[0]
    with db.begin() as conn:
        conn.execute(text("UPDATE people SET deleted_at = now() WHERE id = :id"),
                     {"id": removed})
    again = importer(db).run(path, filename="xa.csv")
    assert (again.good, again.bad, again.registered) == (1, 1, 0)
    [(code, vi)] = rows(db, "SELECT code, reason_vi FROM import_errors WHERE import_id = :i",
                        i=again.import_id)
    assert code == "national_id.removed" and "đã bị xoá" in vi and "khôi phục" in vi
    assert scalar(db, "SELECT deleted_at IS NOT NULL FROM people WHERE id = :id", id=removed)

    restored = importer(db, restore=True).run(path, filename="xa.csv")
    assert restored.registered == 1
    assert scalar(db, "SELECT deleted_at IS NULL FROM people WHERE id = :id", id=removed)
    assert [(r.action, [str(i) for i in r.person_ids]) for r in rows(
        db, "SELECT action, person_ids FROM personal_data_audit WHERE import_id = :i",
        i=restored.import_id)] == [("restore", [removed])]
