"""The generator's pre-merger profile: the association's shape at a small scale, the groups
file in the import layout with its titles, counts in the manifest, same seed same bytes."""
import csv
import json
from collections import Counter
from datetime import date, datetime

import pytest

from cdht_tools import generator as gen
from cdht_tools.generator.profiles import PRE_MERGER, generate_pre_merger
from services.registry.imports import group_rows as gi
from services.registry.domain import national_id_problems
from services.registry.imports.files import read_rows


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    out = tmp_path_factory.mktemp("pre-merger")
    return out, generate_pre_merger(out, seed=11, scale=0.02)


def rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_shape_scales_with_the_province(province):
    out, manifest = province
    assert manifest["units"] == {"province": 1, "district": 3, "commune": 3}
    assert manifest["association_bodies"] == {"commune_association": 3, "branch": 83,
                                              "learning_board": 15}
    assert manifest["groups"] == {"family": 6000, "clan": 10, "community": 78}
    assert json.loads((out / "manifest.json").read_text()) == manifest
    bodies = Counter(r["kind"] for r in rows(out / "associations.csv"))
    assert bodies == manifest["association_bodies"]
    assert [r["kind"] for r in rows(out / "units.csv")].count("commune") == 3
    full = {k: round(v * 0.02) for k, v in PRE_MERGER.items() if k not in ("districts",)}
    assert manifest["groups"]["family"] == full["families"]


def test_every_group_carries_one_title_and_the_groups_file_reads_as_the_importer_reads_it(
        province):
    out, manifest = province
    layout = gi.inspect(out / "groups.csv")
    units = {r["code"]: True for r in rows(out / "units.csv")}
    validator = gi.GroupRowValidator(layout, units, today=date(2026, 12, 2))
    titles, members, people = {}, Counter(), {r["Số định danh cá nhân"]
                                               for r in rows(out / "people.csv")}
    for number, cells in read_rows(out / "groups.csv", layout):
        record, errors = validator.check(number, cells)
        assert errors == [], errors
        assert record.national_id in people
        titles[record.kind, record.code] = record.year
        members[record.kind] += 1
        assert record.issued_by.startswith("UBND xã ")
        assert date(record.year, 1, 1) <= record.decision_date <= date(record.year, 12, 31)
    assert dict(members) == manifest["member_rows"]
    by_kind_year = Counter((kind, str(year)) for (kind, _), year in titles.items())
    assert by_kind_year == Counter({(k, y): n for k, years in manifest["titles"].items()
                                    for y, n in years.items() if n})
    assert {year for year in titles.values()} == {2022, 2023, 2024, 2025}
    assert manifest["people"] == len(people) == manifest["member_rows"]["family"]


def test_people_are_in_the_people_layout_and_valid(province):
    out, _ = province
    people = rows(out / "people.csv")
    assert list(people[0]) == list(gen.IMPORT_HEADERS)
    for person in people[:500]:
        born = datetime.strptime(person["Ngày sinh"], "%d/%m/%Y").date()
        gender = gen.GENDER_CODES[person["Giới tính"]]
        assert national_id_problems(person["Số định danh cá nhân"], born, gender) == []


def test_same_seed_same_bytes_and_the_command_line(tmp_path, province):
    out, _ = province
    again = tmp_path / "again"
    assert gen.main(["--profile", "pre-merger", "--scale", "0.02", "--seed", "11",
                     "--out", str(again)]) == 0
    for name in ("units.csv", "associations.csv", "people.csv", "groups.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    other = generate_pre_merger(tmp_path / "other", seed=12, scale=0.02)
    assert (tmp_path / "other" / "groups.csv").read_bytes() != (out / "groups.csv").read_bytes()
    assert other["groups"] == {"family": 6000, "clan": 10, "community": 78}
    with pytest.raises(SystemExit):
        gen.main(["--profile", "pre-merger", "--scale", "0", "--out", str(tmp_path / "x")])
