"""The people import of a CSV file, whose plain rows the column-wise fast check takes, beside
the same rows as XLSX, which go through the row-by-row validator one by one, on the real
PostgreSQL: the same error rows, counts, people, people_imported events and audit rows."""
import csv

import openpyxl
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from services.registry.imports.runner import Importer
from tests.integration.registry.helpers import SMALL_TREE, insert_units
from tests.unit.registry.test_importing_fast import people_file

PEOPLE_COLUMNS = ("national_id, full_name, gender, birth_date, ethnicity, phone, email, "
                  "unit_code, target_group, roles")


def as_xlsx(csv_path, xlsx_path):
    book = openpyxl.Workbook()
    sheet = book.active
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        for cells in csv.reader(fh):
            sheet.append(cells)
    book.save(xlsx_path)
    return xlsx_path


def imported(engine, path, chunk_rows):
    """What an import of ``path`` into an empty people table did; the table emptied again."""
    summary = Importer(sessionmaker(engine, expire_on_commit=False),
                       chunk_rows=chunk_rows).run(path)
    with engine.begin() as conn:
        job = {"import_id": summary.import_id}
        errors = conn.execute(text(
            'SELECT "row", "column", field, code, reason_vi, reason_en FROM import_errors '
            'WHERE import_id = :import_id ORDER BY id'), job).all()
        people = conn.execute(text(
            f"SELECT {PEOPLE_COLUMNS} FROM people ORDER BY national_id")).all()
        ids = dict(conn.execute(text("SELECT id::text, national_id FROM people")).all())
        events = [{**p, "person_id": ids[p["person_id"]]}
                  for (payload,) in conn.execute(text(
                      "SELECT payload FROM outbox WHERE event_type = 'people_imported' "
                      "ORDER BY id")) for p in payload["data"]["people"]]
        audit = [(action, fields, count, sorted(ids[str(i)] for i in person_ids))
                 for action, fields, count, person_ids in conn.execute(text(
                     "SELECT action, fields, people, person_ids FROM personal_data_audit "
                     "WHERE import_id = :import_id ORDER BY id"), job)]
        conn.execute(text("DELETE FROM outbox"))
        conn.execute(text("DELETE FROM people"))
    return summary.counts(), errors, people, events, audit


def test_csv_checked_column_wise_imports_as_the_same_rows_one_by_one(engines, tmp_path):
    registry = engines["registry"]
    insert_units(registry, SMALL_TREE + (("AG.LX", "Xã cũ", "commune", "AG", "2025-06-30"),))
    path, plain = people_file(tmp_path)
    xlsx = as_xlsx(path, tmp_path / "people.xlsx")

    for chunk_rows in (5000, 7):
        by_column = imported(registry, path, chunk_rows)
        one_by_one = imported(registry, xlsx, chunk_rows)
        assert by_column == one_by_one
        counts, errors, people, events, audit = by_column
        assert counts["good"] == len(people) == len(events) > len(plain)
        assert counts["bad"] > 20 and counts["registered"] == counts["good"]
        assert {e.code for e in errors} >= {"national_id.duplicate", "email.invalid",
                                            "unit_code.expired", "birth_date.future"}
        assert sum(count for _, _, count, _ in audit) == counts["good"]
