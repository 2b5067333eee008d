"""The bulk import over HTTP, on real PostgreSQL and RabbitMQ with the registry in a nameko
container: upload (CSV, XLSX, multipart) -> 202 at once, status and progress, the error
report as CSV / XLSX / JSON, and every file that can't be imported refused with a 4xx that
writes nothing."""
import csv
import io
import time

import eventlet
import openpyxl
import pytest
from sqlalchemy import text

from cdht_tools import generator
from services.registry.imports.files import XLSX_MIME
from services.registry.service import RegistryService
from tests.integration.registry.helpers import insert_units, nid, wait_done

HEADER = ["Số định danh cá nhân", "Họ và tên", "Giới tính", "Ngày sinh", "Mã đơn vị", "Đối tượng",
          "Vai trò"]


@pytest.fixture
def service(container_factory, service_config, web_session, engines):
    config = service_config("registry", IMPORT_MAX_BYTES=2_000_000)
    container = container_factory(RegistryService, config)
    container.start()
    insert_units(engines["registry"])
    return web_session(config)


def people_csv(rows, header=HEADER, delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def good(serial, unit="AG.001", name="Nguyễn Văn An"):
    return [nid(serial), name, "Nam", "02/04/1985", unit, "Người dân", "Hội viên"]


def upload(http, body, content_type="text/csv", filename="xa-my-hoa.csv", headers=None):
    return http.post("/imports", data=body, params={"filename": filename},
                     headers={"Content-Type": content_type, **(headers or {})})


def count(engine, table):
    with engine.connect() as conn:
        return conn.scalar(text(f"SELECT count(*) FROM {table}"))


def test_upload_status_and_error_report(service, engines):
    rows = [good(1), good(2, "AG.002"), good(1, name="Trần Văn Bình"),      # row 4: duplicate
            [nid(3), "Lê Thị Cúc", "X", "02/04/1985", "AG.009", "Người dân", ""],  # row 5
            good(4)]
    response = upload(service, people_csv(rows), headers={"X-Correlation-ID": "import-7"})
    assert response.status_code == 202, response.text
    body = response.json()
    import_id = body["import_id"]
    assert response.headers["Location"] == f"/imports/{import_id}"
    assert body["status"] == "queued" and body["format"] == "csv"

    status = wait_done(service, import_id)
    assert status["status"] == "done", status
    assert status["filename"] == "xa-my-hoa.csv"
    assert status["progress"] == {"rows_read": 5, "rows_total": 5, "percent": 100.0}
    assert status["counts"] == {"total": 5, "good": 3, "bad": 2, "registered": 3,
                                "updated": 0, "moved": 0, "unchanged": 0, "errors": 3,
                                "events": 1}
    assert status["layout"]["columns"]["national_id"] == "Số định danh cá nhân"
    assert count(engines["registry"], "people") == 3

    report = service.get(f"/imports/{import_id}/errors", params={"format": "csv"})
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in report.headers["Content-Disposition"]
    parsed = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert parsed[0] == ["Dòng / Row", "Cột / Column", "Lý do", "Reason"]
    assert [r[:2] for r in parsed[1:]] == [["4", "Số định danh cá nhân"], ["5", "Giới tính"],
                                           ["5", "Mã đơn vị"]]
    assert parsed[1][2:] == ["Số định danh cá nhân trùng với dòng 2 trong tệp",
                             "same national ID as row 2 of the file"]
    assert nid(1) not in report.content.decode("utf-8-sig")

    workbook = service.get(f"/imports/{import_id}/errors", params={"format": "xlsx"})
    assert workbook.status_code == 200 and workbook.headers["Content-Type"] == XLSX_MIME
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1:] == \
        [[int(r[0]), *r[1:]] for r in parsed[1:]]

    page = service.get(f"/imports/{import_id}/errors",
                       params={"format": "json", "offset": 1, "limit": 1}).json()
    assert page["errors"] == [{"row": 5, "column": "Giới tính",
                               "reason_vi": "Giới tính phải là Nam, Nữ hoặc Khác",
                               "reason_en": "must be Nam, Nữ or Khác (male, female, other)"}]

    listed = service.get("/imports").json()["imports"]
    assert [j["import_id"] for j in listed] == [import_id]

    with engines["registry"].connect() as conn:
        event = conn.execute(text("SELECT payload FROM outbox WHERE event_type = "
                                  "'people_imported'")).scalar_one()
    assert event["correlation_id"] == "import-7"
    assert event["data"]["import_id"] == import_id and len(event["data"]["people"]) == 3


def test_xlsx_and_multipart_uploads(service, engines, tmp_path):
    province = generator.build_province(seed=3, population=300)
    stream = generator.PeopleStream(province, 300, seed=3, bad_fraction=0.05)
    path = tmp_path / "people.xlsx"
    generator.write_people_xlsx(path, stream, native_dates=True)
    with engines["registry"].begin() as conn:  # the generated province's own units
        for unit in generator.unit_tree(include_history=False)[1:]:
            conn.execute(text("INSERT INTO units (code, name, kind, parent_code) "
                              "VALUES (:c, :n, :k, 'AG') ON CONFLICT DO NOTHING"),
                         {"c": unit.code, "n": unit.full_name, "k": unit.kind})
    response = upload(service, path.read_bytes(), XLSX_MIME, "people.xlsx")
    assert response.status_code == 202, response.text
    status = wait_done(service, response.json()["import_id"])
    assert status["format"] == "xlsx"
    assert status["counts"]["bad"] == len(stream.bad_rows) == 15
    assert status["counts"]["good"] == 285 == status["counts"]["registered"]
    report = service.get(f"/imports/{status['import_id']}/errors",
                         params={"format": "json", "limit": 1000}).json()["errors"]
    assert sorted({(e["row"], e["column"]) for e in report}) == \
        sorted((b.row + 1, b.column) for b in stream.bad_rows)

    form = service.post("/imports", files={
        "file": ("ấp-3.csv", people_csv([good(50)]), "text/csv")})
    assert form.status_code == 202, form.text
    status = wait_done(service, form.json()["import_id"])
    assert status["filename"] == "ấp-3.csv" and status["counts"]["registered"] == 1


@pytest.mark.parametrize("body, content_type, status, code", [
    (b"", "text/csv", 422, "empty"),
    (b"\xef\xbb\xbf\r\n", "text/csv", 422, "empty"),
    ("Họ tên,Tuổi\nAn,30\n".encode(), "text/csv", 422, "missing_columns"),
    (",".join(HEADER).encode() + b"\n", "text/csv", 422, "no_rows"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\x00\x00", "application/octet-stream", 415, "not_a_table"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/octet-stream", 415,
     "xls_unsupported"),
    (b"PK\x03\x04 broken", XLSX_MIME, 415, "bad_xlsx"),
    (",".join(HEADER).encode("utf-16"), "text/csv", 415, "not_a_table"),
])
def test_files_that_cannot_be_imported_are_4xx_and_write_nothing(
        service, engines, body, content_type, status, code):
    response = upload(service, body, content_type)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["errors"]["code"] == code
    assert error["errors"]["file"] and error["errors"]["file_vi"]
    for table in ("import_jobs", "import_errors", "people", "outbox"):
        assert count(engines["registry"], table) == 0


def test_wrong_content_types_sizes_and_ids(service, engines):
    response = upload(service, b'{"a": 1}', "application/json")
    assert response.status_code == 415
    xlsx_said_csv = upload(service, people_csv([good(1)]), XLSX_MIME)
    assert xlsx_said_csv.status_code == 415
    assert "the file is csv" in xlsx_said_csv.json()["errors"]["file"][0]
    too_big = upload(service, people_csv([good(i) for i in range(40_000)]))
    assert too_big.status_code == 413
    assert count(engines["registry"], "import_jobs") == 0

    missing = "00000000-0000-4000-8000-000000000000"
    assert service.get(f"/imports/{missing}").status_code == 404
    assert service.get(f"/imports/{missing}/errors").status_code == 404
    response = upload(service, people_csv([good(1)]))
    import_id = response.json()["import_id"]
    wait_done(service, import_id)
    assert service.get(f"/imports/{import_id}/errors",
                       params={"format": "pdf"}).status_code == 400
    assert service.get("/imports/not-a-uuid").status_code == 404


def test_the_service_answers_while_a_long_import_runs(service, engines):
    rows = [good(i, "AG.001" if i % 2 else "AG.002") for i in range(1, 15_001)]
    response = upload(service, people_csv(rows, delimiter=";"))
    assert response.status_code == 202
    import_id = response.json()["import_id"]
    slowest, seen_running = 0.0, False
    while True:
        started = time.monotonic()
        health = service.get("/health")
        slowest = max(slowest, time.monotonic() - started)
        assert health.status_code == 200
        status = service.get(f"/imports/{import_id}").json()
        if status["status"] == "running" and 0 < status["progress"]["rows_read"] < 15_000:
            seen_running = True
            assert 0 < status["progress"]["percent"] < 100
        if status["status"] == "done":
            break
        eventlet.sleep(0.02)
    assert seen_running, "progress was never seen between 0 and the total"
    assert slowest < 3.0, f"/health took {slowest:.2f}s during the import"
    assert status["counts"]["registered"] == 15_000 and status["counts"]["events"] == 3
