"""The generator's files: the people file in the import layout (CSV as Excel saves it, or
XLSX), the structure (units, groups, association bodies), families, memberships and bad rows;
and a reader of people files for tests and tools.
"""
import csv
import json
import os
import shutil
import zipfile
from collections import Counter
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

from cdht_tools.generator.people import BadRow, Family, age_on
from cdht_tools.generator.province import REFERENCE_DATE
from cdht_tools.places import nfc
from services.registry.imports.layout import (GENDER_LABELS, IMPORT_HEADERS, ROLE_LABELS,
                                              ROLE_SEPARATOR, TARGET_GROUP_LABELS)

# Reverse look-ups (label -> code) for readers of the file.
GENDER_CODES = {label: code for code, label in GENDER_LABELS.items()}
TARGET_GROUP_CODES = {label: code for code, label in TARGET_GROUP_LABELS.items()}
ROLE_CODES = {label: code for code, label in ROLE_LABELS.items()}


def open_csv(path):
    """A text file for CSV, UTF-8 with a BOM (written once: the utf-8-sig codec is slower)."""
    f = open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)
    f.write("\ufeff")
    return f


def format_date(d):
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def import_row(p):
    """The person as the ten strings of ``IMPORT_HEADERS`` (unknown gender labels pass through)."""
    return [p.national_id, p.full_name, GENDER_LABELS.get(p.gender, p.gender),
            format_date(p.birth_date), p.ethnicity, p.phone, p.email, p.unit_code,
            TARGET_GROUP_LABELS[p.target_group],
            ROLE_SEPARATOR.join(ROLE_LABELS[r] for r in p.roles)]


def write_people_csv(path, people, batch=2000):
    """Stream ``people`` to ``path`` in the import layout: UTF-8 with BOM, CRLF, as Excel saves.

    Returns the number of data rows written.
    """
    count = 0
    with open_csv(path) as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(IMPORT_HEADERS)
        rows = []
        for p in people:
            rows.append(import_row(p))
            if len(rows) >= batch:
                w.writerows(rows)
                count += len(rows)
                rows.clear()
        w.writerows(rows)
        count += len(rows)
    return count


XLSX_SHEET_TITLE = nfc("Danh sách")
_XLSX_WIDTHS = (15, 28, 9, 12, 9, 14, 30, 11, 32, 40)
_FIXED_TIME = datetime(2025, 7, 1)


def write_people_xlsx(path, people, native_dates=False, reproducible=True):
    """Stream ``people`` to an XLSX workbook (openpyxl write-only mode), one sheet, the layout's
    headers on row 1. IDs and phones are text (leading zeros kept); birth dates are dd/mm/yyyy
    text, or date cells formatted dd/mm/yyyy with ``native_dates``.

    ``reproducible`` fixes the timestamps inside the file, so that one seed gives one file.
    Returns the number of data rows written.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.creator = "CDHT synthetic data generator"
    wb.properties.created = _FIXED_TIME
    ws = wb.create_sheet(XLSX_SHEET_TITLE)
    for i, width in enumerate(_XLSX_WIDTHS, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for h in IMPORT_HEADERS:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        header.append(c)
    ws.append(header)
    count = 0
    date_cell = None
    for p in people:
        row = [v or None for v in import_row(p)]   # an empty field is no cell, as in Excel
        if native_dates:
            if p.birth_date.year < 10000:
                date_cell = WriteOnlyCell(ws, value=p.birth_date)
                date_cell.number_format = "DD/MM/YYYY"
                row[3] = date_cell
        ws.append(row)
        count += 1
    if reproducible:   # what wb.save() does, minus the "now" timestamps
        from openpyxl.writer.excel import ExcelWriter
        wb.properties.modified = _FIXED_TIME
        ExcelWriter(wb, _FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    else:
        wb.save(path)
    return count


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed time (ZipFile stamps 'now' or file mtimes)."""

    def _info(self, name):
        info = zipfile.ZipInfo(name, date_time=_FIXED_TIME.timetuple()[:6])
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        return super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs):
        info = self._info(arcname or os.path.basename(filename))
        big = os.path.getsize(filename) > 1 << 30
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=big) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def read_import_rows(path):
    """Rows of a people file (CSV or XLSX) as lists of strings, header first. For tests and
    tools; dates read from native XLSX date cells come back as dd/mm/yyyy."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook
        wb = load_workbook(path, read_only=True)
        try:
            width = None
            for values in wb.worksheets[0].iter_rows(values_only=True):
                row = ["" if v is None else (format_date(v) if isinstance(v, (date, datetime))
                                             else str(v)) for v in values]
                width = width or len(row)
                yield row + [""] * (width - len(row))   # trailing empty cells are not stored
        finally:
            wb.close()
    else:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from csv.reader(f)


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ";".join(value)
    return value


UNIT_COLUMNS = ("code", "name", "full_name", "kind", "parent_code", "valid_from", "valid_to",
                "former_codes", "merged_into", "old_province", "slug", "population")
GROUP_COLUMNS = ("code", "kind", "name", "unit_code", "community_code", "level", "sector",
                 "family_name")
ASSOCIATION_COLUMNS = ("code", "kind", "name", "unit_code", "parent_code", "group_code")
FAMILY_COLUMNS = Family._fields
MEMBERSHIP_COLUMNS = ("group_code", "group_kind", "national_id", "role")
BAD_ROW_COLUMNS = BadRow._fields


def _unit_record(u):
    d = asdict(u)
    d["population"] = round(u.population)
    return d


def write_structure(province, out_dir, fmt="csv"):
    """Write units, groups (communities, clans, learning units) and association bodies.

    ``fmt`` is ``"csv"`` (UTF-8 with BOM) or ``"json"``. Returns {name: (path, records)}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "units": (UNIT_COLUMNS, [_unit_record(u) for u in province.units]),
        "groups": (GROUP_COLUMNS, [asdict(g) for g in province.groups()]),
        "associations": (ASSOCIATION_COLUMNS, [asdict(a) for a in province.associations]),
    }
    written = {}
    for name, (columns, records) in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "json":
            with open(path, "w", encoding="utf-8") as f:
                json.dump([{k: _plain(r[k]) for k in columns} for r in records], f,
                          ensure_ascii=False, indent=1)
                f.write("\n")
        elif fmt == "csv":
            with open(path, "w", encoding="utf-8-sig", newline="") as f:
                w = csv.writer(f, lineterminator="\r\n")
                w.writerow(columns)
                for r in records:
                    w.writerow(["" if r[k] is None else _plain(r[k]) for k in columns])
        else:
            raise ValueError(f"unknown structure format {fmt!r}")
        written[name] = (path, len(records))
    return written


class SideFiles:
    """families.csv and memberships.csv, written during the people pass.

    Use ``stream = PeopleStream(..., on_family=side.family)`` and iterate ``side.tap(stream)``.
    Bad rows get no memberships. ``counts`` tallies the good rows (by unit, gender, target group,
    adults on the reference date) for the manifest.
    """

    def __init__(self, out_dir, reference_date=REFERENCE_DATE):
        out_dir = Path(out_dir)
        self.paths = {"families": out_dir / "families.csv",
                      "memberships": out_dir / "memberships.csv"}
        self._files = {k: open_csv(p) for k, p in self.paths.items()}
        self._families = csv.writer(self._files["families"], lineterminator="\r\n")
        self._members = csv.writer(self._files["memberships"], lineterminator="\r\n")
        self._families.writerow(FAMILY_COLUMNS)
        self._members.writerow(MEMBERSHIP_COLUMNS)
        self.rows = {"families": 0, "memberships": 0}
        self.reference = reference_date
        self.counts = {"good_rows": 0, "adults": 0, "by_unit": Counter(), "by_gender": Counter(),
                       "by_target_group": Counter(), "by_role": Counter()}

    def family(self, fam):
        self._families.writerow(["" if v is None else v for v in fam])
        self.rows["families"] += 1

    def tap(self, people):
        write = self._members.writerow
        c = self.counts
        for p in people:
            if p.bad is None:
                nid = p.national_id
                write((p.family_code, "family", nid, p.relation))
                n = 1
                if p.clan_code:
                    write((p.clan_code, "clan", nid, "member"))
                    n += 1
                if p.branch_code:
                    write((p.branch_code, "association_body", nid,
                           "official" if "association_official" in p.roles else "member"))
                    n += 1
                if p.learning_unit_code:
                    write((p.learning_unit_code, "learning_unit", nid, "staff"))
                    n += 1
                self.rows["memberships"] += n
                c["good_rows"] += 1
                c["by_unit"][p.unit_code] += 1
                c["by_gender"][p.gender] += 1
                c["by_target_group"][p.target_group] += 1
                for r in p.roles:
                    c["by_role"][r] += 1
                if age_on(p.birth_date, self.reference) >= 18:
                    c["adults"] += 1
            yield p

    def close(self):
        for f in self._files.values():
            f.close()


def write_bad_rows(path, bad_rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(BAD_ROW_COLUMNS)
        w.writerows(bad_rows)
