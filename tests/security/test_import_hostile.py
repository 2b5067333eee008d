"""Hostile input to the bulk import, through both doors: the registry's
``POST /imports`` (in a nameko container on real PostgreSQL and RabbitMQ) and the operator's
``cdht import people FILE``. An oversized file, a wrong content type or bytes that are not
UTF-8 are refused with a clear 4xx (the CLI: exit 2 and a message) and write nothing;
SQL-ish text in cells is data: a row error where a field's format forbids it, stored as typed
where it is allowed, and never anything else.
"""
import csv
import io

import pytest
from sqlalchemy import text

from cdht_tools import cli
from services.registry.service import RegistryService
from tests.integration.registry.helpers import SMALL_TREE, insert_units, nid

HEADER = ["Số CCCD", "Họ và tên", "Giới tính", "Ngày sinh", "Mã đơn vị", "Đối tượng", "Vai trò"]
TABLES = ("people", "outbox", "import_jobs", "import_errors", "audit_log")
SQLISH = ("Robert'); DROP TABLE people;--", "' OR '1'='1", "1; SELECT pg_sleep(10)",
          "\\x27 UNION SELECT * FROM units --")


def good(serial, name="Nguyễn Văn An", unit="AG.001"):
    return [nid(serial), name, "Nam", "02/04/1985", unit, "Người dân", "Hội viên"]


def people_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def counts(engine):
    found = {}
    with engine.connect() as conn:
        for table in TABLES:
            exists = conn.scalar(text("SELECT to_regclass(:t)"), {"t": table})
            if exists:
                found[table] = conn.scalar(text(f"SELECT count(*) FROM {table}"))
    return found


@pytest.fixture
def tree(engines):
    return insert_units(engines["registry"], SMALL_TREE[:2])


@pytest.fixture
def http(container_factory, service_config, web_session, tree):
    config = service_config("registry", IMPORT_MAX_BYTES=50_000)
    container_factory(RegistryService, config).start()
    return web_session(config)


def upload(http, body, content_type="text/csv"):
    return http.post("/imports", data=body, params={"filename": "xa.csv"},
                     headers={"Content-Type": content_type})


# -- POST /imports --------------------------------------------------------------------------------
NOT_UTF8 = [
    # a spreadsheet saved as Windows-1258 (the legacy Vietnamese code page)
    ",".join(HEADER).encode("utf-8") + b"\n" +
    ",".join(good(1, name="Lê Văn Bình")).encode("cp1258", errors="replace"),
    # a valid header, then a stray byte sequence that is no UTF-8 at all
    people_csv([good(1)]) + b"\xff\xfe\xc3\x28," + b"\n",
]


@pytest.mark.parametrize("body", NOT_UTF8, ids=["cp1258", "stray-bytes"])
def test_bytes_that_are_not_utf8_are_refused_and_nothing_is_written(http, tree, body):
    before = counts(tree)
    response = upload(http, body)
    assert response.status_code in (400, 415), response.text
    assert "UTF-8" in response.text
    assert counts(tree) == before


@pytest.mark.parametrize("content_type", ["text/html", "application/xml", "image/png",
                                          "multipart/form-data; boundary=x"])
def test_wrong_content_types_are_refused_and_nothing_is_written(http, tree, content_type):
    before = counts(tree)
    response = upload(http, people_csv([good(1)]), content_type)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]
    assert counts(tree) == before


def test_an_oversized_file_is_a_413_and_nothing_is_written(http, tree):
    before = counts(tree)
    response = upload(http, people_csv([good(i) for i in range(1, 5_000)]))
    assert response.status_code == 413, response.text
    assert response.json()["error"]
    assert counts(tree) == before


def test_an_xlsx_bomb_is_a_413_and_nothing_is_written(http, tree, tmp_path):
    """Some 30 KB that unpack to 9 MB (about 700 to 1): refused before openpyxl unpacks it."""
    import openpyxl
    workbook = openpyxl.Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(good(1))
    for i in range(300):
        workbook.active.append(["A" * 30_000 + str(i)])
    path = tmp_path / "bomb.xlsx"
    workbook.save(path)
    before = counts(tree)
    response = http.post("/imports", data=path.read_bytes(), params={"filename": "xa.xlsx"},
                         headers={"Content-Type": "application/vnd.openxmlformats-"
                                                  "officedocument.spreadsheetml.sheet"})
    assert response.status_code == 413, response.text
    assert response.json()["errors"]["code"] == "xlsx_too_large"
    assert "giải nén" in response.json()["errors"]["file_vi"][0]
    assert counts(tree) == before


def test_sql_ish_cells_are_row_errors_or_plain_text(http, tree, wait_for):
    rows = [good(1, name=SQLISH[0]), good(2, unit=SQLISH[1]), [SQLISH[2]] + good(3)[1:],
            good(4, name="Lê Thị Hoa"), good(5, name=SQLISH[3])]
    response = upload(http, people_csv(rows))
    assert response.status_code == 202, response.text
    status = wait_for(lambda: (lambda s: s if s["status"] in ("done", "failed") else None)(
        http.get(f"/imports/{response.json()['import_id']}").json()), timeout=60,
        message="the import to finish")
    assert status["status"] == "done"
    errors = http.get(f"/imports/{status['import_id']}/errors",
                      params={"format": "json"}).json()["errors"]
    refused = {e["row"] for e in errors}
    assert {3, 4} <= refused  # the unit code and the national id have formats: row errors
    with tree.connect() as conn:
        names = set(conn.scalars(text("SELECT full_name FROM people")))
        units = conn.scalar(text("SELECT count(*) FROM units"))
    assert "Lê Thị Hoa" in names
    for row, name in ((2, SQLISH[0]), (6, SQLISH[3])):  # stored as typed, or refused
        assert name in names or row in refused
    assert units == 2  # nothing but people was touched


# -- cdht import people -----------------------------------------------------------------------
@pytest.fixture
def registry_env(databases, monkeypatch):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", databases["registry"])


@pytest.mark.parametrize("body", NOT_UTF8, ids=["cp1258", "stray-bytes"])
def test_cli_refuses_bytes_that_are_not_utf8(tree, registry_env, tmp_path, capsys, body):
    path = tmp_path / "xa.csv"
    path.write_bytes(body)
    assert cli.main(["import", "people", str(path)]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert counts(tree)["people"] == 0 and counts(tree)["outbox"] == 0


def test_cli_treats_sql_ish_cells_as_data(tree, registry_env, tmp_path, capsys):
    path = tmp_path / "xa.csv"
    path.write_bytes(people_csv([good(1, name=SQLISH[0]), good(2, unit=SQLISH[1]),
                                 good(3, name="Lê Thị Hoa")]))
    assert cli.main(["import", "people", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Mã đơn vị không tồn tại" in out  # the SQL-ish unit code: an unknown unit
    with tree.connect() as conn:
        names = set(conn.scalars(text("SELECT full_name FROM people")))
        assert conn.scalar(text("SELECT count(*) FROM units")) == 2
    assert "Lê Thị Hoa" in names and SQLISH[1] not in names
