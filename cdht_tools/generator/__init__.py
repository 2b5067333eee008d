"""A synthetic, reproducible An Giang province: units, groups, association bodies and people.

It feeds the importer's tests, the benchmarks and the fault suite; it is developer tooling and
the production image leaves it out (``cdht seed demo`` takes its few names from
cdht_tools/places.py and cdht_tools/names.py instead). Pure Python (no nameko, no database);
``random.Random(seed)`` drives everything, so one seed always gives byte-identical files.

What is real and what is made up
--------------------------------
- The shape is real (cdht_tools/places.py): the merged province's 102 commune-level units
  since 1 July 2025, and the districts before it as their history. The exact list, the
  populations and the codes are ours; hamlets, schools, clans and people are invented.
- The distributions follow published orders of magnitude: Vietnamese family-name frequencies
  (cdht_tools/names.py), an age pyramid of the Mekong Delta (about 23% under 18), ethnicity
  (Kinh ~90%, Khmer, Hoa, Chăm), about 3.5 people per family, one community per ~900 people,
  one clan per ~3,800 people, association members ~15% of adults, officials ~1%,
  learning-unit staff ~8%.

Layout of the people file
-------------------------
The registry declares it once (services/registry/imports/layout.py): ``IMPORT_HEADERS``, and
``GENDER_LABELS``, ``TARGET_GROUP_LABELS`` and ``ROLE_LABELS`` mapping codes to the Vietnamese
labels of the file. Roles are joined with ``"; "``. Birth dates are ``dd/mm/yyyy`` text
(``native_dates=True`` writes real date cells in XLSX). Data rows are numbered from 1: data
row 1 is the line after the header (spreadsheet row 2).

Bad rows
--------
With ``bad_fraction`` > 0, exactly ``round(people * bad_fraction)`` rows are broken, each in one
field only (the rest of the row stays self-consistent, so an importer reports one error for it),
and :attr:`PeopleStream.bad_rows` lists them as :class:`BadRow` (row, column header, kind, detail).
Kinds: ``BAD_KINDS``. A duplicate national ID repeats the ID of an earlier good row; the later row
is the bad one. The good rows are identical with and without bad rows (a separate random stream
chooses and breaks the bad ones).

Modules: province.py (the structure), people.py (the people stream), files.py (writers and a
reader), command.py (``generate`` and the command line), profiles.py (the pre-merger profile).
Run ``python -m cdht_tools.generator --help`` for the command line.
"""
from cdht_tools.generator.command import generate, main
from cdht_tools.generator.files import (ASSOCIATION_COLUMNS, BAD_ROW_COLUMNS, FAMILY_COLUMNS,
                                        GENDER_CODES, GROUP_COLUMNS, MEMBERSHIP_COLUMNS,
                                        ROLE_CODES, TARGET_GROUP_CODES, UNIT_COLUMNS,
                                        XLSX_SHEET_TITLE, SideFiles, format_date, import_row,
                                        read_import_rows, write_bad_rows, write_people_csv,
                                        write_people_xlsx, write_structure)
from cdht_tools.generator.people import (BAD_COLUMN, BAD_KINDS, NID_PROVINCE, BadRow, Family,
                                         PeopleStream, Person)
from cdht_tools.generator.province import (PEOPLE_PER_CLAN, PEOPLE_PER_COMMUNITY,
                                           PEOPLE_PER_FAMILY, REFERENCE_DATE, AssociationBody,
                                           Group, Province, build_province)
from cdht_tools.names import AGE_BANDS, MAX_AGE, person_name
from cdht_tools.places import (COMMUNE_LEVEL_KINDS, MERGER_DATE, PROVINCE_CODE, PROVINCE_NAME,
                               UNIT_KIND_LABELS, Unit, slugify, unit_tree)
from services.registry.imports.layout import (DATE_FORMAT, GENDER_LABELS, IMPORT_HEADERS,
                                              ROLE_LABELS, ROLE_SEPARATOR, TARGET_GROUP_LABELS)
from services.registry.imports.layout import FIELDS as IMPORT_FIELDS
from services.registry.imports.layout import HEADERS as HEADER_OF

__all__ = [
    "AGE_BANDS", "ASSOCIATION_COLUMNS", "BAD_COLUMN", "BAD_KINDS", "BAD_ROW_COLUMNS",
    "COMMUNE_LEVEL_KINDS", "DATE_FORMAT", "FAMILY_COLUMNS", "GENDER_CODES", "GENDER_LABELS",
    "GROUP_COLUMNS", "HEADER_OF", "IMPORT_FIELDS", "IMPORT_HEADERS", "MAX_AGE",
    "MEMBERSHIP_COLUMNS", "MERGER_DATE", "NID_PROVINCE", "PEOPLE_PER_CLAN",
    "PEOPLE_PER_COMMUNITY", "PEOPLE_PER_FAMILY", "PROVINCE_CODE", "PROVINCE_NAME",
    "REFERENCE_DATE", "ROLE_CODES", "ROLE_LABELS", "ROLE_SEPARATOR", "TARGET_GROUP_CODES",
    "TARGET_GROUP_LABELS", "UNIT_COLUMNS", "UNIT_KIND_LABELS", "XLSX_SHEET_TITLE",
    "AssociationBody", "BadRow", "Family", "Group", "PeopleStream", "Person", "Province",
    "SideFiles", "Unit", "build_province", "format_date", "generate", "import_row", "main",
    "person_name", "read_import_rows", "slugify", "unit_tree", "write_bad_rows",
    "write_people_csv", "write_people_xlsx", "write_structure",
]
