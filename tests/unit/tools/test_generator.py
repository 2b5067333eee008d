"""The synthetic province generator: reproducible, realistic, valid, streaming (no DB/broker)."""
import csv
import json
import re
import subprocess
import sys
import tracemalloc
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from marshmallow import ValidationError
from marshmallow.validate import Email

from cdht_tools import generator as gen
from services.registry import domain

ROOT = Path(__file__).resolve().parents[3]
N = 20_000
PHONE = re.compile(r"^0[35789]\d{8}$")
_email = Email()


def email_ok(value):
    try:
        _email(value)
        return True
    except ValidationError:
        return False


@pytest.fixture(scope="module")
def province():
    return gen.build_province(seed=7, population=N)


@pytest.fixture(scope="module")
def crowd(province):
    """N good people (no bad rows) and their families."""
    families = []
    stream = gen.PeopleStream(province, N, seed=7, on_family=families.append)
    return list(stream), families


@pytest.fixture(scope="module")
def with_bad_rows(province):
    stream = gen.PeopleStream(province, N, seed=7, bad_fraction=0.01)
    return list(stream), stream.bad_rows


def age(person, province):
    return domain.age_on(person.birth_date, province.reference_date)


# --- the layout the importer relies on ------------------------------------------------------------

def test_import_layout_constants():
    assert gen.IMPORT_HEADERS == ("Số định danh cá nhân", "Họ và tên", "Giới tính", "Ngày sinh",
                                  "Dân tộc", "Số điện thoại", "Email", "Mã đơn vị", "Đối tượng",
                                  "Vai trò")
    assert gen.GENDER_LABELS == {"male": "Nam", "female": "Nữ", "other": "Khác"}
    assert gen.TARGET_GROUP_LABELS == {
        "resident": "Người dân", "worker": "Người lao động",
        "employee_business": "Cán bộ công nhân viên, doanh nhân",
        "student": "Học sinh, sinh viên"}
    assert gen.ROLE_LABELS == {"association_official": "Cán bộ hội",
                               "association_member": "Hội viên",
                               "unit_staff": "Cán bộ đơn vị học tập"}
    for text in (*gen.IMPORT_HEADERS, *gen.GENDER_LABELS.values(),
                 *gen.TARGET_GROUP_LABELS.values(), *gen.ROLE_LABELS.values()):
        assert unicodedata.is_normalized("NFC", text)
    assert gen.GENDER_CODES["Nữ"] == "female" and gen.ROLE_CODES["Hội viên"] == "association_member"


# --- the unit tree --------------------------------------------------------------------------------

def test_102_commune_level_units_of_the_right_kinds(province):
    communes = province.commune_units
    assert len(communes) == 102
    assert Counter(u.kind for u in communes) == {"commune": 85, "ward": 14, "special_zone": 3}
    assert {u.name for u in communes if u.kind == "special_zone"} == {"Phú Quốc", "Kiên Hải",
                                                                       "Thổ Châu"}
    assert [u.code for u in communes] == [f"AG.{i:03d}" for i in range(1, 103)]
    assert len({u.name for u in communes}) == 102
    assert all(u.parent_code == "AG" and u.valid_from == gen.MERGER_DATE for u in communes)
    assert abs(sum(u.population for u in communes) - N) < 1e-6


def test_history_districts_and_paths(province):
    by_code = {u.code: u for u in province.units}
    districts = [u for u in province.units if u.kind.startswith("district")]
    assert sum(1 for d in districts if d.parent_code == "AG") == 11   # old An Giang
    assert sum(1 for d in districts if d.parent_code == "KG") == 15   # old Kiên Giang
    assert all(d.valid_to == date(2025, 6, 30) for d in districts)
    assert by_code["KG"].merged_into == "AG"
    parents = {u.code: u.parent_code for u in province.units}
    for unit in province.commune_units:
        assert domain.unit_path(parents, unit.code) == ["AG", unit.code]
        assert all(by_code[f].kind.startswith("district") for f in unit.former_codes)
    assert gen.unit_tree(include_history=False)[1].code == "AG.001"


def test_groups_and_association_bodies(province):
    codes = [g.code for g in province.groups()] + [a.code for a in province.associations]
    assert len(codes) == len(set(codes))
    unit_codes = {u.code for u in province.units}
    assert all(g.unit_code in unit_codes for g in province.groups())
    per_unit = Counter(c.unit_code for c in province.communities)
    assert set(per_unit) == {u.code for u in province.commune_units}
    kinds = Counter(a.kind for a in province.associations)
    assert kinds["province_association"] == 1 and kinds["commune_association"] == 102
    assert kinds["branch"] >= len(province.communities)      # one per hamlet, plus some
    bodies = {a.code: a for a in province.associations}
    for a in province.associations:
        assert a.parent_code is None or a.parent_code in bodies
    lus = province.learning_units
    assert {g.level for g in lus} == {"province", "commune"}
    for unit in province.commune_units:   # every commune has its People's Committee
        assert any(g.unit_code == unit.code and g.name.startswith("Ủy ban nhân dân")
                   for g in lus)


def test_structure_scales_to_the_real_province():
    summary = gen.build_province(seed=1, population=3_700_000).summary()
    assert 3_600 <= summary["communities"] <= 4_600            # ~1 per 900 people
    assert 800 <= summary["clans"] <= 1_200                    # ~1 per 3,800 people
    assert 1.0 <= summary["branch"] / summary["communities"] <= 1.15


# --- people ---------------------------------------------------------------------------------------

def test_every_national_id_valid_and_unique(crowd):
    people, _ = crowd
    ids = [p.national_id for p in people]
    assert len(set(ids)) == len(ids) == N
    for p in people:
        assert domain.national_id_problems(p.national_id, p.birth_date, p.gender) == []
    provinces = Counter(int(i[:3]) for i in ids)
    assert provinces[89] + provinces[91] > 0.9 * N            # old An Giang / old Kiên Giang
    assert provinces[89] > 0.3 * N and provinces[91] > 0.3 * N


def test_every_good_row_passes_the_rules(crowd, province):
    people, _ = crowd
    communes = {u.code for u in province.commune_units}
    today = date.today()
    for p in people:
        domain.check_new_person(p.national_id, p.birth_date, p.gender, today=today)
        assert p.full_name and domain.normalise_name(p.full_name) == p.full_name
        assert p.unit_code in communes
        assert p.gender in gen.GENDER_LABELS and p.target_group in gen.TARGET_GROUP_LABELS
        assert set(p.roles) <= set(gen.ROLE_LABELS)
        assert not p.phone or PHONE.match(p.phone)
        assert not p.email or email_ok(p.email)


def test_distributions(crowd, province):
    people, families = crowd
    adults = [p for p in people if age(p, province) >= 18]
    share = lambda items, pred: sum(1 for i in items if pred(i)) / len(items)  # noqa: E731

    kinh = [p for p in people if p.ethnicity == "Kinh"]
    family_names = Counter(p.full_name.split()[0] for p in kinh)
    for name, expected, tolerance in (("Nguyễn", 0.38, 0.02), ("Trần", 0.11, 0.012),
                                      ("Lê", 0.095, 0.012), ("Phạm", 0.07, 0.01)):
        assert abs(family_names[name] / len(kinh) - expected) < tolerance, name
    assert family_names["Huỳnh"] > family_names["Hoàng"]       # the South's spelling
    assert len(family_names) >= 40

    assert 0.21 <= share(people, lambda p: age(p, province) < 18) <= 0.25
    assert 0.08 <= share(people, lambda p: age(p, province) >= 65) <= 0.13
    assert abs(share(people, lambda p: p.gender == "male") - 0.5) < 0.02
    assert 0.85 <= share(people, lambda p: p.ethnicity == "Kinh") <= 0.94
    assert 0.03 <= share(people, lambda p: p.ethnicity == "Khmer") <= 0.10
    assert 3.2 <= N / len(families) <= 3.8                     # people per family

    roles = Counter(r for p in adults for r in p.roles)
    assert abs(roles["association_member"] / len(adults) - 0.15) < 0.015
    assert abs(roles["association_official"] / len(adults) - 0.01) < 0.004
    assert abs(roles["unit_staff"] / len(adults) - 0.08) < 0.012
    assert all("association_member" in p.roles for p in adults
               if "association_official" in p.roles)
    assert not any(p.roles for p in people if age(p, province) < 18)

    assert all(p.target_group == "student" for p in people if age(p, province) < 18)
    groups = Counter(p.target_group for p in adults)
    assert groups["resident"] > groups["worker"] > groups["employee_business"] > \
        groups["student"] > 0
    assert all(p.target_group in ("employee_business", "worker") for p in adults
               if "unit_staff" in p.roles)
    assert share(adults, lambda p: bool(p.phone)) > 0.85
    assert 0.15 < share(adults, lambda p: bool(p.email)) < 0.5
    assert not any(p.phone for p in people if age(p, province) < 15)


def test_names_are_vietnamese_and_gendered(crowd):
    people, _ = crowd
    for p in people:
        assert unicodedata.is_normalized("NFC", p.full_name)
        parts = p.full_name.split()
        if p.ethnicity in ("Kinh", "Hoa"):
            assert len(parts) >= 3
            if "Thị" in parts[1:-1]:
                assert p.gender in ("female", "other")
            if parts[1] == "Văn":
                assert p.gender in ("male", "other")
    given = Counter(p.full_name.split()[-1] for p in people)
    assert len(given) > 150


def test_families_children_carry_the_fathers_name(crowd, province):
    people, families = crowd
    by_family = {}
    for p in people:
        by_family.setdefault(p.family_code, []).append(p)
    assert len(by_family) == len(families)
    assert sum(f.size for f in families) == N
    checked = 0
    for members in by_family.values():
        assert members[0].relation == "head"
        assert len({m.unit_code for m in members}) == 1
        father = next((m for m in members[:2] if m.gender == "male"
                       and m.relation in ("head", "spouse")), None)
        if father is not None and father.ethnicity == "Kinh":
            for child in (m for m in members if m.relation == "child"):
                assert child.full_name.split()[0] == father.full_name.split()[0]
                assert age(father, province) - age(child, province) >= 15
                checked += 1
    assert checked > N / 5


# --- reproducibility ------------------------------------------------------------------------------

def _tree_bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir())}


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        gen.generate(tmp_path / name, 1500, seed=seed, bad_fraction=0.02)
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert set(a) == {"units.csv", "groups.csv", "associations.csv", "people.csv",
                      "families.csv", "memberships.csv", "bad_rows.csv", "manifest.json"}
    assert a == b
    assert a["people.csv"] != c["people.csv"] and a["families.csv"] != c["families.csv"]
    tree = lambda raw: [line.rsplit(b",", 1)[0] for line in raw.splitlines()]  # noqa: E731
    assert tree(a["units.csv"]) == tree(c["units.csv"])   # one tree, populations vary


def test_xlsx_is_reproducible_too(tmp_path, province):
    for name in ("a.xlsx", "b.xlsx"):
        gen.write_people_xlsx(tmp_path / name, gen.PeopleStream(province, 300, seed=5))
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_bad_rows_leave_the_good_rows_alone(crowd, with_bad_rows):
    good, _ = crowd
    mixed, bad_rows = with_bad_rows
    broken = {b.row for b in bad_rows}
    assert len(mixed) == N
    for row, (g, m) in enumerate(zip(good, mixed), 1):
        if row not in broken:
            assert g == m


# --- bad rows -------------------------------------------------------------------------------------

def row_errors(rows, commune_codes, today):
    """An independent reading of the people file, as an importer would: (row, column, kind)."""
    errors, seen = set(), set()
    h = {name: i for i, name in enumerate(gen.IMPORT_HEADERS)}
    for n, row in enumerate(rows, 1):
        found = []
        gender = gen.GENDER_CODES.get(row[h["Giới tính"]])
        if gender is None:
            found.append(("Giới tính", "bad_gender"))
        born = datetime.strptime(row[h["Ngày sinh"]], "%d/%m/%Y").date()
        if born > today:
            found.append(("Ngày sinh", "future_birth_date"))
        nid = row[h["Số định danh cá nhân"]]
        if domain.national_id_problems(nid, born, gender):
            found.append(("Số định danh cá nhân", "invalid_national_id"))
        elif nid in seen:
            found.append(("Số định danh cá nhân", "duplicate_national_id"))
        else:
            seen.add(nid)
        if not domain.normalise_name(row[h["Họ và tên"]]):
            found.append(("Họ và tên", "empty_name"))
        if row[h["Mã đơn vị"]] not in commune_codes:
            found.append(("Mã đơn vị", "unknown_unit"))
        if row[h["Email"]] and not email_ok(row[h["Email"]]):
            found.append(("Email", "malformed_email"))
        assert row[h["Đối tượng"]] in gen.TARGET_GROUP_CODES
        roles = row[h["Vai trò"]]
        assert not roles or all(r.strip() in gen.ROLE_CODES for r in roles.split(";"))
        assert not row[h["Số điện thoại"]] or PHONE.match(row[h["Số điện thoại"]])
        errors.update((n, column, kind) for column, kind in found)
    return errors


def test_bad_rows_are_exactly_the_broken_rows(with_bad_rows, province):
    people, bad_rows = with_bad_rows
    assert len(bad_rows) == round(N * 0.01)
    assert [b.row for b in bad_rows] == sorted({b.row for b in bad_rows})
    assert Counter(b.kind for b in bad_rows).keys() == set(gen.BAD_KINDS)
    assert all(b.column == gen.HEADER_OF[gen.BAD_COLUMN[b.kind]] for b in bad_rows)
    assert all(people[b.row - 1].bad == b.kind for b in bad_rows)
    assert sum(1 for p in people if p.bad) == len(bad_rows)
    for b in bad_rows:   # never the ID itself in the notes
        assert not re.search(r"\d{9}", b.detail)
    communes = {u.code for u in province.commune_units}
    found = row_errors((gen.import_row(p) for p in people), communes, date.today())
    assert found == {(b.row, b.column, b.kind) for b in bad_rows}


def test_each_bad_row_is_invalid_per_domain(with_bad_rows, province):
    people, bad_rows = with_bad_rows
    communes = {u.code for u in province.commune_units}
    earlier = {}
    for row, p in enumerate(people, 1):
        earlier.setdefault(p.national_id, row)
    for b in bad_rows:
        p = people[b.row - 1]
        if b.kind == "invalid_national_id":
            assert domain.national_id_problems(p.national_id, p.birth_date, p.gender)
        elif b.kind == "duplicate_national_id":
            assert earlier[p.national_id] < b.row and people[earlier[p.national_id] - 1].bad is None
        elif b.kind == "future_birth_date":
            with pytest.raises(domain.InvalidPerson) as err:
                domain.check_new_person(p.national_id, p.birth_date, p.gender)
            assert set(err.value.errors) == {"birth_date"}
        elif b.kind == "unknown_unit":
            assert p.unit_code not in communes
        elif b.kind == "empty_name":
            assert domain.normalise_name(p.full_name) == ""
        elif b.kind == "malformed_email":
            assert not email_ok(p.email)
        elif b.kind == "bad_gender":
            assert p.gender not in gen.GENDER_LABELS and p.gender not in gen.GENDER_CODES


def test_every_bad_kind_at_full_rate():
    p = gen.build_province(1, 400)
    stream = gen.PeopleStream(p, 400, seed=1, bad_fraction=1.0)
    people = list(stream)
    assert all(x.bad for x in people) and len(stream.bad_rows) == 400
    assert stream.bad_rows[0].kind != "duplicate_national_id"   # nothing to copy yet
    communes = {u.code for u in p.commune_units}
    assert row_errors((gen.import_row(x) for x in people), communes, date.today()) == {
        (b.row, b.column, b.kind) for b in stream.bad_rows}


# --- files ----------------------------------------------------------------------------------------

def test_csv_round_trip(tmp_path, with_bad_rows):
    people = with_bad_rows[0][:3000]
    path = tmp_path / "people.csv"
    assert gen.write_people_csv(path, iter(people)) == len(people)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == gen.IMPORT_HEADERS
    assert rows[1:] == [gen.import_row(p) for p in people]
    assert list(gen.read_import_rows(path)) == rows


@pytest.mark.parametrize("native_dates", [False, True])
def test_xlsx_round_trip(tmp_path, with_bad_rows, native_dates):
    from openpyxl import load_workbook
    people = with_bad_rows[0][:1500]
    path = tmp_path / "people.xlsx"
    assert gen.write_people_xlsx(path, iter(people), native_dates=native_dates) == len(people)
    wb = load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    wb.close()
    assert rows[0] == gen.IMPORT_HEADERS
    for p, row in zip(people, rows[1:]):
        expected = gen.import_row(p)
        if native_dates:
            assert isinstance(row[3], datetime) and row[3].date() == p.birth_date
            expected[3] = row[3]
        row = ["" if v is None else v for v in row]
        assert row + [""] * (10 - len(row)) == expected   # trailing empty cells aren't stored
    assert len(rows) == len(people) + 1
    assert [r for r in gen.read_import_rows(path)][1:] == [gen.import_row(p) for p in people]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_structure_files(tmp_path, province, fmt):
    written = gen.write_structure(province, tmp_path, fmt)
    assert set(written) == {"units", "groups", "associations"}
    if fmt == "json":
        units = json.loads((tmp_path / "units.json").read_text(encoding="utf-8"))
    else:
        with open(tmp_path / "units.csv", encoding="utf-8-sig", newline="") as f:
            units = list(csv.DictReader(f))
    assert len(units) == len(province.units) == written["units"][1]
    assert sum(1 for u in units if u["kind"] in gen.COMMUNE_LEVEL_KINDS) == 102
    assert {u["code"]: u["valid_from"] for u in units}["AG.001"] == "2025-07-01"


def test_cli_writes_everything(tmp_path, capsys):
    out = tmp_path / "out"
    assert gen.main(["--people", "600", "--seed", "4", "--out", str(out), "--format", "xlsx",
                     "--bad-fraction", "0.05", "--structure-format", "json", "--quiet"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for info in manifest["files"].values():
        assert (out / info["path"]).stat().st_size == info["bytes"]
        assert info["path"] in printed
    assert manifest["bad_rows"] == 30 and manifest["good_rows"] == 570
    assert sum(manifest["good_rows_by_unit"].values()) == 570
    assert manifest["files"]["people"]["rows"] == 600
    with open(out / "bad_rows.csv", encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.DictReader(f))) == 30
    with open(out / "memberships.csv", encoding="utf-8-sig", newline="") as f:
        members = list(csv.DictReader(f))
    family_of = Counter(m["national_id"] for m in members if m["group_kind"] == "family")
    assert len(family_of) == 570 and set(family_of.values()) == {1}   # one family each


def test_cli_progress_without_a_terminal(tmp_path, capsys):
    assert gen.main(["--people", "2000", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "people.csv: 2,000/2,000 rows" in err and err.count("2,000/2,000") == 1


# --- memory ---------------------------------------------------------------------------------------

def _traced_peak(path, people):
    p = gen.build_province(2, people)
    tracemalloc.start()
    try:
        gen.write_people_csv(path, gen.PeopleStream(p, people, seed=2, bad_fraction=0.01))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow(tmp_path):
    small = _traced_peak(tmp_path / "small.csv", 2_000)
    large = _traced_peak(tmp_path / "large.csv", 12_000)
    assert large < 50e6
    assert large - small < 1e6    # six times the rows, (nearly) the same peak


def test_writing_200000_rows_stays_small(tmp_path):
    """Resident memory of a separate process writing 200,000 rows (tracemalloc would make this
    test ten times slower; the in-process check above covers what tracemalloc sees)."""
    script = (
        "import resource, sys\n"
        "from cdht_tools import generator as g\n"
        "n = int(sys.argv[1])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "p = g.build_province(3, n)\n"
        "rows = g.write_people_csv(sys.argv[2], g.PeopleStream(p, n, 3, 0.01))\n"
        "print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    result = subprocess.run([sys.executable, "-c", script, "200000", str(tmp_path / "p.csv")],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    rows, grown_kib = map(int, result.stdout.split())
    assert rows == 200_000
    assert grown_kib * 1024 < 50e6
    assert (tmp_path / "p.csv").stat().st_size > 15e6
