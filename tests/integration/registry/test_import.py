"""The bulk-import pipeline on real PostgreSQL and RabbitMQ.

The headline: a generated province of 100,000 people with 1% broken rows, uploaded to the
registry running as a nameko container, yields exactly the error report the generator's truth
predicts; the good rows are the people table; reporting (a second container) counts exactly
the good rows per unit and for the province; importing the file again changes nothing and
writes no event. Then XLSX, updates and moves, the command line, and broken files.
"""
import csv
import io
import os
from collections import Counter

import eventlet
import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from cdht_tools import cli, generator
from services.registry.imports.files import ImportFileError
from services.registry.imports.runner import Importer
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from tests.integration.registry.helpers import SMALL_TREE, insert_units, nid, wait_done

# generator's truth (kind, detail) -> the error code the importer must report
EXPECTED_CODE = {
    "duplicate_national_id": "national_id.duplicate",
    "future_birth_date": "birth_date.future",
    "unknown_unit": "unit_code.unknown",
    "empty_name": "required",
    "malformed_email": "email.invalid",
    "bad_gender": "gender.unknown",
}
NATIONAL_ID_CODE = {
    "11 digits": "national_id.format", "13 digits": "national_id.format",
    "a letter among the digits": "national_id.format",
    "unknown province code": "national_id.province",
    "birth year digits differ from the birth date": "national_id.birth_year",
    "gender digit differs from the gender": "national_id.gender",
}
REGISTRY_KIND = {"district_city": "district", "district_town": "district"}


def expected_report(bad_rows):
    """(sheet row, column, code) for each broken row: data row n is the sheet's row n + 1."""
    return sorted((b.row + 1, b.column, EXPECTED_CODE.get(b.kind) or NATIONAL_ID_CODE[b.detail])
                  for b in bad_rows)


def add_units(engine, units):
    with engine.begin() as conn:
        for u in units:
            conn.execute(text(
                "INSERT INTO units (code, name, kind, parent_code, valid_from, valid_to) "
                "VALUES (:code, :name, :kind, :parent, :valid_from, :valid_to)"),
                {"code": u.code, "name": u.full_name, "kind": REGISTRY_KIND.get(u.kind, u.kind),
                 "parent": u.parent_code, "valid_from": u.valid_from, "valid_to": u.valid_to})


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.scalar(text(sql), params)


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def importer(engine, **kwargs):
    return Importer(sessionmaker(engine, expire_on_commit=False), **kwargs)


@pytest.fixture(scope="module")
def province_100k(tmp_path_factory):
    """people.csv (100,000 rows, 1% broken), bad_rows truth and manifest, generated once."""
    out = tmp_path_factory.mktemp("province")
    manifest = generator.generate(out, 100_000, seed=11, bad_fraction=0.01)
    with open(out / "bad_rows.csv", encoding="utf-8-sig", newline="") as fh:
        bad_rows = [generator.BadRow(int(r["row"]), r["column"], r["kind"], r["detail"])
                    for r in csv.DictReader(fh)]
    return out / "people.csv", bad_rows, manifest


@pytest.fixture
def services(container_factory, service_config, web_session):
    """The registry and reporting as nameko containers on this test's vhost and databases."""
    registry_config = service_config("registry")
    container_factory(RegistryService, registry_config).start()
    container_factory(ReportingService, service_config("reporting")).start()
    return web_session(registry_config)


def population(engine, unit=None):
    """People reporting counts per unit (its ``people`` tallies, by birth year)."""
    if unit is None:
        return dict(rows(engine, "SELECT unit_code, sum(n)::int FROM tallies "
                                 "WHERE metric = 'people' GROUP BY unit_code HAVING sum(n) > 0"))
    return scalar(engine, "SELECT coalesce(sum(n), 0)::int FROM tallies "
                          "WHERE metric = 'people' AND unit_code = :u", u=unit)


def test_a_generated_province_of_100000_people(services, engines, province_100k, wait_for):
    path, bad_rows, manifest = province_100k
    registry, reporting = engines["registry"], engines["reporting"]
    add_units(registry, generator.unit_tree())
    assert len(bad_rows) == 1000 and manifest["good_rows"] == 99_000

    with open(path, "rb") as fh:
        response = services.post("/imports", data=fh, params={"filename": "people.csv"},
                                 headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    status = wait_done(services, import_id, timeout=600, pause=0.2)
    assert status["status"] == "done", status
    assert status["counts"] == {"total": 100_000, "good": 99_000, "bad": 1000,
                                "registered": 99_000, "updated": 0, "moved": 0,
                                "unchanged": 0, "errors": 1000, "events": 20}

    # exactly the report the generator's truth predicts: one error per broken row
    report = rows(registry, 'SELECT "row", "column", code FROM import_errors '
                            'WHERE import_id = :i ORDER BY "row", id', i=import_id)
    assert sorted(tuple(r) for r in report) == expected_report(bad_rows)
    downloaded = services.get(f"/imports/{import_id}/errors", params={"format": "csv"})
    lines = list(csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig"))))[1:]
    assert [(int(r[0]), r[1]) for r in lines] == [(r[0], r[1]) for r in report]
    assert all(r[2] and r[3] for r in lines)  # both languages, every line

    # the good rows are the people table
    assert scalar(registry, "SELECT count(*) FROM people") == 99_000
    by_unit = dict(rows(registry, "SELECT unit_code, count(*)::int FROM people "
                                  "GROUP BY unit_code"))
    assert by_unit == {u: n for u, n in manifest["good_rows_by_unit"].items() if n}
    events = rows(registry, "SELECT payload FROM outbox WHERE event_type = 'people_imported' "
                            "ORDER BY id")
    assert len(events) == 20
    people = [p for (e,) in events for p in e["data"]["people"]]
    assert len(people) == 99_000 and {p["change"] for p in people} == {"registered"}
    assert len({p["person_id"] for p in people}) == 99_000
    assert all(len(e["data"]["people"]) <= 5000 for (e,) in events)
    assert sorted(e["data"]["batch"] for (e,) in events) == list(range(1, 21))

    # reporting counts exactly the good rows, per unit and for the province
    wait_for(lambda: population(reporting, "AG") == 99_000, timeout=120,
             message="reporting to count every imported person")
    counted = population(reporting)
    for unit, n in manifest["good_rows_by_unit"].items():
        assert counted.get(unit, 0) == n, unit
    assert counted["AG"] == 99_000

    # the same file again: no row updated, no event
    versions = scalar(registry, "SELECT sum(xmin::text::bigint) FROM people")
    outbox_rows = scalar(registry, "SELECT count(*) FROM outbox")
    with open(path, "rb") as fh:
        again = services.post("/imports", data=fh, params={"filename": "people.csv"},
                              headers={"Content-Type": "text/csv"})
    status = wait_done(services, again.json()["import_id"], timeout=600, pause=0.2)
    assert status["counts"] == {"total": 100_000, "good": 99_000, "bad": 1000,
                                "registered": 0, "updated": 0, "moved": 0,
                                "unchanged": 99_000, "errors": 1000, "events": 0}
    assert scalar(registry, "SELECT sum(xmin::text::bigint) FROM people") == versions
    assert scalar(registry, "SELECT count(*) FROM outbox") == outbox_rows
    assert scalar(registry, "SELECT count(*) FROM people WHERE updated_at IS NOT NULL") == 0
    eventlet.sleep(0.5)
    assert population(reporting, "AG") == 99_000


def test_a_generated_xlsx_with_date_cells_yields_the_truth(engines, tmp_path):
    registry = engines["registry"]
    add_units(registry, generator.unit_tree())
    province = generator.build_province(seed=5, population=3000)
    stream = generator.PeopleStream(province, 3000, seed=5, bad_fraction=0.02)
    path = tmp_path / "people.xlsx"
    generator.write_people_xlsx(path, stream, native_dates=True)

    summary = importer(registry).run(path, filename="people.xlsx")
    assert (summary.format, summary.good, summary.bad) == ("xlsx", 2940, 60)
    report = rows(registry, 'SELECT "row", "column", code FROM import_errors '
                            'WHERE import_id = :i', i=summary.import_id)
    assert sorted(tuple(r) for r in report) == expected_report(stream.bad_rows)
    assert scalar(registry, "SELECT count(*) FROM people") == 2940


# -- changes -----------------------------------------------------------------------------------
HEADER = ["STT", "Số định danh cá nhân", "Họ và tên", "Giới tính", "Ngày sinh", "Số điện thoại",
          "Email", "Mã đơn vị", "Đối tượng", "Vai trò"]


def person(serial, unit="AG.001", name="Nguyễn Văn An", born="02/04/1985", phone="0912345678",
           email="", group="Người dân", roles="Hội viên"):
    return [str(serial), nid(serial), name, "Nam", born, phone, email, unit, group, roles]


def write(tmp_path, people, header=HEADER, name="xa.csv"):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(people)
    return path


@pytest.fixture
def small_tree(engines):
    return insert_units(engines["registry"], SMALL_TREE + (
        ("AG.OLD", "Huyện cũ", "district", "AG", "2025-06-30"),))


def people_imported(engine):
    return [p for (payload,) in rows(engine, "SELECT payload FROM outbox WHERE event_type = "
                                             "'people_imported' ORDER BY id")
            for p in payload["data"]["people"]]


def test_reimport_with_changes_updates_and_moves(container_factory, service_config, small_tree,
                                                 engines, tmp_path, wait_for):
    container_factory(RegistryService, service_config("registry")).start()  # its relay
    container_factory(ReportingService, service_config("reporting")).start()
    first = write(tmp_path, [person(1), person(2), person(3, roles="")])
    assert importer(small_tree).run(first).registered == 3

    second = write(tmp_path, [
        person(1, unit="AG.002"),                                   # moved
        person(2, name="Nguyễn Văn Ân", phone="0987654321",         # updated: personal facts
               group="Người lao động", roles="Hội viên; Cán bộ hội"),  # and countable ones
        person(3, roles=""),                                        # unchanged
        person(4, unit="AG.002", born="15/08/1985")], name="xa-2.csv")  # registered
    summary = importer(small_tree).run(second)
    assert (summary.registered, summary.updated, summary.moved, summary.unchanged) == \
        (1, 1, 1, 1)
    events = people_imported(small_tree)[3:]
    by_change = {p["change"]: p for p in events}
    assert sorted(by_change) == ["moved", "registered", "updated"]
    moved = by_change["moved"]
    assert moved["from_unit_path"] == ["AG", "AG.001"] and moved["unit_path"] == ["AG", "AG.002"]
    assert moved["previous"] == {"target_group": "resident", "roles": ["association_member"],
                                 "birth_year": 1985}
    updated = by_change["updated"]
    assert updated["target_group"] == "worker"
    assert updated["roles"] == ["association_official", "association_member"]
    assert updated["previous"]["target_group"] == "resident"
    for p in events:  # countable facts only
        assert set(p) <= {"person_id", "unit_code", "unit_path", "target_group", "roles",
                          "birth_year", "change", "from_unit_path", "previous"}
    stored = rows(small_tree, "SELECT full_name, phone, updated_at IS NOT NULL FROM people "
                              "WHERE national_id = :n", n=nid(2))
    assert stored == [("Nguyễn Văn Ân", "0987654321", True)]

    wait_for(lambda: population(engines["reporting"], "AG") == 4, timeout=20,
             message="reporting to apply both imports")
    wait_for(lambda: population(engines["reporting"], "AG.002") == 2, timeout=20,
             message="the move to reach reporting")
    assert population(engines["reporting"], "AG.001") == 2

    third = importer(small_tree).run(second)  # again: nothing
    assert (third.unchanged, third.events) == (4, 0)


def test_a_removed_person_in_the_file_is_registered_again_only_when_asked(small_tree,
                                                                          tmp_path):
    path = write(tmp_path, [person(1), person(2)])
    importer(small_tree).run(path)
    with small_tree.begin() as conn:
        conn.execute(text("UPDATE people SET deleted_at = now() WHERE national_id = :n"),
                     {"n": nid(1)})
    refused = importer(small_tree).run(path)
    assert (refused.registered, refused.unchanged, refused.bad) == (0, 1, 1)
    summary = importer(small_tree, restore=True).run(path)
    assert (summary.registered, summary.unchanged) == (1, 1)
    assert people_imported(small_tree)[-1]["change"] == "registered"
    assert scalar(small_tree, "SELECT count(*) FROM people WHERE deleted_at IS NULL") == 2


def test_columns_absent_from_the_file_keep_their_values(small_tree, tmp_path):
    importer(small_tree).run(write(tmp_path, [person(1, email="an@example.org")]))
    short = [h for h in HEADER if h not in ("Email", "Số điện thoại")]
    row = [c for h, c in zip(HEADER, person(1, name="Nguyễn Văn Ân")) if h in short]
    summary = importer(small_tree).run(write(tmp_path, [row], header=short, name="b.csv"))
    assert summary.updated == 1
    assert rows(small_tree, "SELECT full_name, email, phone FROM people") == \
        [("Nguyễn Văn Ân", "an@example.org", "0912345678")]


def test_a_unit_closed_by_the_merger_is_refused(small_tree, tmp_path):
    summary = importer(small_tree).run(write(tmp_path, [person(1, unit="AG.OLD")]))
    assert summary.bad == 1
    assert rows(small_tree, "SELECT code FROM import_errors") == [("unit_code.expired",)]


def test_chunks_commit_on_their_own_and_events_stay_within_the_contract(small_tree, tmp_path):
    path = write(tmp_path, [person(i, unit="AG.001" if i % 3 else "AG.002")
                            for i in range(1, 1201)])
    summary = importer(small_tree, chunk_rows=500).run(path)
    assert (summary.registered, summary.events) == (1200, 3)
    batches = [len(p["data"]["people"]) for (p,) in rows(
        small_tree, "SELECT payload FROM outbox ORDER BY id")]
    assert batches == [500, 500, 200]
    job = rows(small_tree, "SELECT status, rows_read, rows_total, good, events FROM "
                           "import_jobs")
    assert job == [("done", 1200, 1200, 1200, 3)]


# -- broken files and the command line ---------------------------------------------------------
def test_a_file_with_wrong_headers_fails_the_job_and_writes_nothing_else(small_tree, tmp_path):
    path = write(tmp_path, [["1", "2"]], header=["Tên", "Tuổi"])
    with pytest.raises(ImportFileError):
        importer(small_tree).run(path, filename="sai.csv")
    [(status, failure)] = rows(small_tree, "SELECT status, failure FROM import_jobs")
    assert status == "failed" and failure["code"] == "missing_columns"
    assert "Thiếu cột bắt buộc" in failure["reason_vi"]
    for table in ("people", "outbox", "import_errors"):
        assert scalar(small_tree, f"SELECT count(*) FROM {table}") == 0


@pytest.fixture
def registry_env(databases, monkeypatch):
    """The CLI reads services/registry/config.yaml: point it at this test's database."""
    monkeypatch.setenv("REGISTRY_DATABASE_URL", databases["registry"])


def test_cli_imports_prints_a_summary_and_writes_the_report(small_tree, registry_env, tmp_path,
                                                           capsys):
    path = write(tmp_path, [person(1), person(2), person(3, unit="AG.404"),
                            person(4, roles="[/b] sếp")])  # no markup reaches the terminal
    report = tmp_path / "loi.xlsx"
    assert cli.main(["import", "people", str(path), "--errors", str(report)]) == 0
    out = capsys.readouterr().out
    assert "registered" in out and "2 / 2" in out and "Mã đơn vị không tồn tại" in out
    assert "[/b] sếp" in out
    assert scalar(small_tree, "SELECT count(*) FROM people") == 2
    assert report.exists()
    import openpyxl
    sheet = openpyxl.load_workbook(report).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1] == \
        [4, "Mã đơn vị", "Mã đơn vị không tồn tại", "unknown unit code"]


def test_cli_dry_run_counts_and_writes_nothing(small_tree, registry_env, tmp_path, capsys):
    path = write(tmp_path, [person(1), person(2, born="99/99/1985")])
    assert cli.main(["import", "people", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out.lower() and "1 / 1" in out and "dd/mm/yyyy" in out
    for table in ("people", "outbox", "import_jobs", "import_errors"):
        assert scalar(small_tree, f"SELECT count(*) FROM {table}") == 0


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02 binary", "Tên;Tuổi\nAn;3\n".encode()])
def test_cli_exits_non_zero_on_a_malformed_file(small_tree, registry_env, tmp_path, capsys,
                                                content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert cli.main(["import", "people", str(path)]) == 2
    assert "error" in capsys.readouterr().err
    assert scalar(small_tree, "SELECT count(*) FROM people") == 0
    assert cli.main(["import", "people", str(tmp_path / "missing.csv")]) == 2


def test_cli_runs_as_a_process(small_tree, databases, tmp_path):
    import subprocess
    import sys
    path = write(tmp_path, [person(1)])
    env = dict(os.environ, REGISTRY_DATABASE_URL=databases["registry"], EVENTLET_TESTS="1")
    done = subprocess.run([sys.executable, "-m", "cdht_tools", "import", "people", str(path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Import of xa.csv" in done.stdout
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    done = subprocess.run([sys.executable, "-m", "cdht_tools", "import", "people", str(bad)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "the file is empty" in done.stderr
    assert Counter(r[0] for r in rows(small_tree, "SELECT status FROM import_jobs")) == \
        {"done": 1, "failed": 1}


def refuse_people(engine, when):
    """A trigger on people that refuses each inserted row ``when`` (SQL on NEW) holds."""
    with engine.begin() as conn:
        conn.execute(text(f"""
            CREATE OR REPLACE FUNCTION refuse_import_row() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
            CREATE TRIGGER refuse_import_row BEFORE INSERT ON people FOR EACH ROW
            WHEN ({when}) EXECUTE FUNCTION refuse_import_row();"""))


def drop_refusal(engine):
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_import_row ON people"))


def test_a_chunk_the_database_refuses_fails_the_job_and_a_second_run_completes_it(small_tree,
                                                                                 tmp_path):
    """The chunks are read and checked ahead (pipeline.ReadAhead), and chunks 1 and 2 written
    at once: when PostgreSQL refuses chunk 2, chunk 1 stays committed with its event,
    nothing of chunks 2 and 3 is written, the job is failed with chunk 1's counts;
    importing again completes it."""
    path = write(tmp_path, [person(i) for i in range(1, 7)])
    refuse_people(small_tree, f"NEW.national_id = '{nid(4)}'")
    try:
        with pytest.raises(Exception, match="refused by the test"):
            importer(small_tree, chunk_rows=2).run(path, filename="xa.csv")
    finally:  # (the test database outlives the test)
        drop_refusal(small_tree)
    [(status, failure, rows_read, good, events)] = rows(
        small_tree, "SELECT status, failure, rows_read, good, events FROM import_jobs")
    assert (status, failure["code"], rows_read, good, events) == ("failed", "internal", 2, 2, 1)
    assert [n for (n,) in rows(small_tree, "SELECT national_id FROM people ORDER BY 1")] == \
        [nid(1), nid(2)]
    assert len(people_imported(small_tree)) == 2
    assert scalar(small_tree, "SELECT count(*) FROM import_errors") == 0

    again = importer(small_tree, chunk_rows=2).run(path, filename="xa.csv")
    assert (again.registered, again.unchanged, again.events) == (4, 2, 2)
    assert len(people_imported(small_tree)) == 6
    assert scalar(small_tree, "SELECT count(*) FROM people") == 6



def test_chunks_written_at_once_commit_on_their_own_when_one_is_refused(small_tree, tmp_path):
    """Chunks 1 and 2 are written at once: when PostgreSQL refuses chunk 1, chunk 2 still
    commits, with its event and its counts in the job; chunk 3 is never written, and
    importing again completes the file."""
    path = write(tmp_path, [person(i) for i in range(1, 7)])
    refuse_people(small_tree, f"NEW.national_id = '{nid(1)}'")
    try:
        with pytest.raises(Exception, match="refused by the test"):
            importer(small_tree, chunk_rows=2, writers=2).run(path, filename="xa.csv")
    finally:
        drop_refusal(small_tree)
    [(status, rows_read, good, events)] = rows(
        small_tree, "SELECT status, rows_read, good, events FROM import_jobs")
    assert (status, rows_read, good, events) == ("failed", 2, 2, 1)
    assert [n for (n,) in rows(small_tree, "SELECT national_id FROM people ORDER BY 1")] == \
        [nid(3), nid(4)]
    [(batch,)] = rows(small_tree, "SELECT payload->'data'->'batch' FROM outbox")
    assert batch == 2  # the chunk's place in the file, not the order of the commits

    again = importer(small_tree, chunk_rows=2, writers=2).run(path, filename="xa.csv")
    assert (again.registered, again.unchanged, again.events) == (4, 2, 2)
    assert scalar(small_tree, "SELECT count(*) FROM people") == 6


def test_every_chunk_is_written_under_the_lock_that_keeps_other_imports_out(small_tree,
                                                                            tmp_path):
    """The runner holds the imports' advisory lock in a transaction of its own while chunks
    are written at once: a chunk's transaction finds it held (by another session), and an
    import waits while someone else holds it."""
    from services.registry.imports.chunks import LOCK_KEY
    with small_tree.begin() as conn:
        conn.execute(text(f"""
            CREATE OR REPLACE FUNCTION refuse_import_row() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN
              IF pg_try_advisory_xact_lock({LOCK_KEY}) THEN
                RAISE EXCEPTION 'written without the imports lock';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_import_row BEFORE INSERT ON people FOR EACH ROW
            EXECUTE FUNCTION refuse_import_row();"""))
    try:
        summary = importer(small_tree, chunk_rows=2, writers=2).run(
            write(tmp_path, [person(i) for i in range(1, 7)]))
    finally:
        drop_refusal(small_tree)
    assert summary.registered == 6

    with small_tree.connect() as other_import:
        other_import.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        waiting = eventlet.spawn(importer(small_tree, chunk_rows=2).run,
                                 write(tmp_path, [person(i) for i in range(7, 11)],
                                       name="b.csv"))
        eventlet.sleep(0.5)
        assert scalar(small_tree, "SELECT count(*) FROM people") == 6
        other_import.rollback()
    assert waiting.wait().registered == 4


def test_two_imports_at_once_naming_the_same_people_tell_the_truth(small_tree, tmp_path):
    """Two imports run at once, each writing two chunks at a time, on a pool the size
    ``connections`` gives for two: neither waits for a connection the other holds, their
    chunks never interleave, and each person the two files share is registered by one and
    moved by the other, its last event naming the unit it is in."""
    from sqlalchemy import create_engine

    from services.registry.imports.runner import connections
    ours = write(tmp_path, [person(i) for i in range(1, 7)], name="a.csv")
    theirs = write(tmp_path, [person(i, unit="AG.002") for i in range(4, 10)], name="b.csv")
    engine = create_engine(small_tree.url, pool_size=2 * connections(), max_overflow=0,
                           pool_timeout=5)
    try:
        runs = [eventlet.spawn(importer(engine, chunk_rows=2, writers=2).run, path)
                for path in (ours, theirs)]
        summaries = [run.wait() for run in runs]
    finally:
        engine.dispose()
    assert sum(s.registered for s in summaries) == 9
    assert sum(s.moved for s in summaries) == 3
    assert sum(s.updated for s in summaries) == 0
    stored = dict(rows(small_tree, "SELECT id::text, unit_code FROM people"))
    assert len(stored) == 9
    last_unit = {}
    for (payload,) in rows(small_tree, "SELECT payload FROM outbox ORDER BY id"):
        for p in payload["data"]["people"]:
            last_unit[p["person_id"]] = p["unit_code"]
    assert last_unit == stored
