"""The column-wise fast check of CSV chunks (people_fast.py) against the row-by-row validator:
on a file of plain rows, unusual but good rows and every kind of bad row, both give the same
records, row numbers and errors, and the fast check takes exactly the plain rows."""
from datetime import date
from itertools import islice

import pytest

from services.registry.imports.files import read_rows
from services.registry.imports.people_fast import FastCheck
from services.registry.imports.people_rows import RowValidator, _roles, inspect
from tests.unit.registry.test_importing import (
    NID_COL, ROW_ERRORS, TODAY, UNITS, good_row, nid, write_csv,
)

# good rows the validator reads with some work (folding, trimming, another date form): the
# fast check leaves them to it
UNUSUAL = [
    {"Họ và tên": "Nguye\u0302\u0303n  Va\u0306n An"}, {"Họ và tên": " Lê Văn Bình"},
    {"Họ và tên": "Lê Văn-Bình"}, {"Giới tính": "nam"}, {"Giới tính": " Nam"},
    {"Số điện thoại": "0912 345.678"}, {"Số điện thoại": " "}, {"Email": "an@localhost"},
    {"Email": "an@xn--bcher-kva.example"}, {"Dân tộc": " Kinh"},
    {"Mã đơn vị": "AG.001 "}, {"Đối tượng": "hoc sinh, sinh vien"},
    {"Vai trò": "Cán bộ hội;Hội viên"}, {"Vai trò": "Hội viên; Cán bộ hội"},
    {"Vai trò": " "}, {NID_COL: " " + nid(serial=999)},
]
# good rows as the layout writes them (and dates as parse_date reads them): the fast check's
PLAIN = [
    {"Ngày sinh": "2/4/1985"}, {"Ngày sinh": "1985-04-02"}, {"Ngày sinh": " 02/04/1985"},
    {"Email": "An@Example.ORG"}, {"Email": "an@example.museum"},
    {}, {"Giới tính": "Nữ", NID_COL: nid(gender="female", serial=1)},
    {"Giới tính": "Khác"}, {"Giới tính": "male"}, {"Dân tộc": "", "Số điện thoại": "",
                                                   "Email": "", "Vai trò": ""},
    {"Số điện thoại": "+84912345678"}, {"Email": "tran.thi-b_2+x@mail.example.vn"},
    {"Vai trò": "Cán bộ hội; Hội viên; Cán bộ đơn vị học tập"},
    {"Đối tượng": "Cán bộ công nhân viên, doanh nhân"}, {"Đối tượng": "student"},
    {"Ngày sinh": "29/02/2000", NID_COL: nid(born=date(2000, 2, 29), serial=1)},
    {"Họ và tên": "Ê Ban Thị Hen"},
]


def people_file(tmp_path):
    """(path, row numbers of the plain rows): each row its own national ID unless the case
    sets one; duplicates of a plain row, of a slow one, and of a bad row with a good ID."""
    rows, plain, serial = [], set(), 100

    def add(changes, fast=False):
        nonlocal serial
        serial += 1
        changes = {NID_COL: nid(serial=serial), **changes}
        rows.append(good_row(**changes))
        if fast:
            plain.add(len(rows) + 1)  # (the header is row 1)
        return changes[NID_COL]

    for changes in PLAIN:
        add(changes, fast=True)
    for changes in UNUSUAL:
        add(changes)
    for changes, *_ in ROW_ERRORS:
        add(changes)
    first = add({}, fast=True)                                # plain, then its duplicates:
    add({NID_COL: first})                                     # plain-looking
    add({NID_COL: first, "Giới tính": "nam"})                 # slow
    held = add({"Email": "x@"})                               # bad row, good ID: it holds it
    add({NID_COL: held})                                      # so this plain row is a duplicate
    rows.append(good_row(**{NID_COL: nid(serial=serial + 1)})[:5])  # a short row
    rows.append([""] * len(rows[0]))                                 # a blank one
    return write_csv(tmp_path, rows), plain


def results(path, validator, chunk_rows, fast):
    rows = read_rows(path, validator.layout)
    out = ([], [], [])
    while chunk := list(islice(rows, chunk_rows)):
        if fast:
            found = validator.check_rows(chunk)
        else:
            found = ([], [], [])
            for number, cells in chunk:
                record, errors = validator.check(number, cells)
                if record is None:
                    found[2].extend(errors)
                else:
                    found[0].append(record)
                    found[1].append(number)
        for total, part in zip(out, found):
            total.extend(part)
    return out


@pytest.mark.parametrize("chunk_rows", [1, 7, 5000])
@pytest.mark.parametrize("scope", [None, "AG.002"])
def test_the_fast_check_and_the_row_validator_agree(tmp_path, chunk_rows, scope):
    path, plain = people_file(tmp_path)
    layout = inspect(path)
    in_scope = (lambda code: code == scope) if scope else None

    def validator():
        return RowValidator(layout, UNITS, today=TODAY, in_scope=in_scope)
    by_row = results(path, validator(), chunk_rows, fast=False)
    by_chunk = results(path, validator(), chunk_rows, fast=True)
    assert by_chunk == by_row
    records, numbers, errors = by_row
    assert len(numbers) > len(plain) if not scope else numbers == []
    assert {e.code for e in errors} >= {code for _, _, code, _, _ in ROW_ERRORS}

    fast = FastCheck(validator(), _roles)
    chunk = list(read_rows(path, layout))
    taken = {n for (n, _), record in zip(chunk, fast.records(c for _, c in chunk)) if record}
    assert taken == (plain | {max(plain) + 1, max(plain) + 4} if not scope else set())


def test_a_duplicate_of_a_bad_row_points_at_it_either_way(tmp_path):
    path = write_csv(tmp_path, [good_row(Email="x@"), good_row(), good_row()])
    validator = RowValidator(inspect(path), UNITS, today=TODAY)
    records, numbers, errors = validator.check_rows(list(read_rows(path, validator.layout)))
    assert records == [] and numbers == []
    assert [(e.row, e.code) for e in errors] == [
        (2, "email.invalid"), (3, "national_id.duplicate"), (4, "national_id.duplicate")]
    assert "dòng 2" in errors[1].reason_vi and "dòng 2" in errors[2].reason_vi


def test_the_fast_records_are_the_validators(tmp_path):
    path = write_csv(tmp_path, [good_row(**{"Vai trò": "Cán bộ hội; Hội viên"}),
                                good_row(**{NID_COL: nid(serial=5), "Dân tộc": "",
                                            "Email": ""})])
    layout = inspect(path)
    chunk = list(read_rows(path, layout))
    fast = FastCheck(RowValidator(layout, UNITS, today=TODAY), _roles)
    validator = RowValidator(layout, UNITS, today=TODAY)
    assert fast.records(c for _, c in chunk) == [validator.check(n, c)[0] for n, c in chunk]
    assert fast.records(c for _, c in chunk)[0] == (
        nid(), "Nguyễn Văn An", "male", date(1985, 4, 2), "Kinh", "0912345678",
        "an@example.org", "AG.001", "resident", ["association_official", "association_member"])
