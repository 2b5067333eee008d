"""The generator's ``pre-merger`` profile: An Giang before the 1 July 2025 merger, shaped as
its association describes itself, with the group titles a province already holds on paper.

At ``scale`` 1: 11 districts, 156 communes (each with its commune association), about 4,150
branches (chi hội) and 740 learning boards (ban khuyến học), and 300,000 recognised Learning
Families, 500 Learning Clans and 3,900 Learning Communities, each with one title from a paper
decision (years 2022 to 2025, decision number and date, issued by the commune's People's
Committee). ``scale`` 0.01 gives a small province of the same shape for tests.

Files (``generate_pre_merger``):
- ``units.csv``, ``associations.csv``: the structure (every unit open: the province as it
  stood, loadable into a fresh registry today);
- ``people.csv``: every member, in the people import layout (services/registry/imports/layout.py);
- ``groups.csv``: one row per member in the groups import layout (imports/group_rows.py), the
  title repeated on each row. A family lists its whole household; a clan or a community
  lists the heads of the households that belong to it (a household takes part through its
  head), which keeps a province near 1.2 million member rows;
- ``manifest.json``: what was written, counted, for comparing with what a service counts.

Same seed, same scale: same bytes. Pure Python; no database.
"""
import csv
import json
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from cdht_tools.generator.files import format_date, open_csv
from cdht_tools.generator.people import NationalIds, minus_years
from cdht_tools.generator.province import REFERENCE_DATE
from cdht_tools.names import FAMILY_CHOICE, Choice, age_between, person_name
from cdht_tools.places import DISTRICTS, HAMLET_FIRST, HAMLET_SECOND, PROVINCE_NAME, nfc
from services.registry.imports.layout import GENDER_LABELS, IMPORT_HEADERS, TARGET_GROUP_LABELS

PROFILES = ("merged", "pre-merger")
# An Giang's association before the merger (its own report): the shape at scale 1
PRE_MERGER = {"districts": 11, "communes": 156, "branches": 4150, "learning_boards": 740,
              "families": 300_000, "clans": 500, "communities": 3900}
TITLE_YEARS = (2022, 2023, 2024, 2025)
GROUP_HEADERS = ("Mã nhóm", "Loại nhóm", "Tên nhóm", "Mã đơn vị", "Số định danh cá nhân",
                 "Vai trò trong nhóm", "Năm công nhận", "Số quyết định", "Ngày quyết định",
                 "Cơ quan công nhận")
KIND_LABELS = {"family": "Gia đình", "clan": "Dòng họ", "community": "Cộng đồng"}
ROLE_LABELS = {"head": "Chủ hộ", "member": "Thành viên", "clan_head": "Trưởng họ",
               "community_head": "Trưởng ấp"}
_HOUSEHOLD = Choice([(1, 7), (2, 14), (3, 25), (4, 28), (5, 16), (6, 10)])  # mean ~3.8


def _split(rng, total, parts):
    """``total`` spread over ``parts`` shares of similar size (sums exactly)."""
    weights = [0.75 + rng.random() / 2 for _ in range(parts)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in rng.sample(range(parts), total - sum(counts)):
        counts[i] += 1
    return counts


def _scaled(name, scale):
    return max(1, round(PRE_MERGER[name] * scale))


def _unit_names(rng, count):
    names, seen = [], set()
    while len(names) < count:
        name = nfc(f"{rng.choice(HAMLET_FIRST)} {rng.choice(HAMLET_SECOND)}")
        if name not in seen and name.split()[0] != name.split()[1]:
            seen.add(name)
            names.append(name)
    return names


def pre_merger_structure(seed, scale):
    """(units, associations, communes): the tree and the association's bodies, as dicts."""
    rng = random.Random(f"pre-merger:{seed}")
    n_communes = _scaled("communes", scale)
    n_districts = min(PRE_MERGER["districts"], n_communes)
    units = [{"code": "AG", "name": PROVINCE_NAME, "kind": "province", "parent_code": ""}]
    districts = [(code, name) for code, _, name in DISTRICTS if code.startswith("AG.")]
    districts = districts[:n_districts]
    for code, name in districts:
        units.append({"code": code, "name": nfc(f"Huyện {name}"), "kind": "district",
                      "parent_code": "AG"})
    names = _unit_names(rng, n_communes)
    per_district = _split(rng, n_communes, n_districts)
    communes, k = [], 0
    for (district, _), count in zip(districts, per_district):
        for _ in range(count):
            name = names[k]
            k += 1
            commune = {"code": f"{district}.X{k:03d}", "name": nfc(f"Xã {name}"),
                       "kind": "commune", "parent_code": district, "short": name}
            units.append({key: commune[key] for key in ("code", "name", "kind",
                                                        "parent_code")})
            communes.append(commune)
    bodies = []
    branches = _split(rng, _scaled("branches", scale), n_communes)
    boards = _split(rng, _scaled("learning_boards", scale), n_communes)
    for commune, n_branches, n_boards in zip(communes, branches, boards):
        association = f"{commune['code']}.HKH"
        bodies.append({"code": association, "kind": "commune_association",
                       "name": nfc(f"Hội Khuyến học xã {commune['short']}"),
                       "unit_code": commune["code"], "parent_code": ""})
        for j in range(1, n_branches + 1):
            bodies.append({"code": f"{commune['code']}.CH{j:03d}", "kind": "branch",
                           "name": nfc(f"Chi hội khuyến học ấp {j} xã {commune['short']}"),
                           "unit_code": commune["code"], "parent_code": association})
        for j in range(1, n_boards + 1):
            bodies.append({"code": f"{commune['code']}.BKH{j:03d}", "kind": "learning_board",
                           "name": nfc(f"Ban khuyến học số {j} xã {commune['short']}"),
                           "unit_code": commune["code"], "parent_code": association})
    return units, bodies, communes


def _title(rng, issuer, serials):
    year = rng.choice(TITLE_YEARS)
    decided = date(year, 11, 1) + timedelta(days=rng.randrange(50))
    serials[year] = serials.get(year, 0) + 1
    return (str(year), f"{serials[year]}/QĐ-UBND", format_date(decided), issuer)


class _People:
    """Households of the pre-merger province: people rows and their national IDs."""

    def __init__(self, rng):
        self.rng = rng
        self.ids = NationalIds(rng)
        self.reference = REFERENCE_DATE

    def person(self, unit_code, gender, age, family_name):
        rng = self.rng
        born = minus_years(self.reference, age) - timedelta(days=rng.randrange(1, 365))
        name, family_name = person_name(rng, gender, born.year, "Kinh", family_name)
        nid = self.ids.allocate(89, born, gender)
        target = "student" if age < 22 else rng.choice(("resident", "resident", "worker"))
        row = [nid, name, GENDER_LABELS[gender], format_date(born), "Kinh", "", "",
               unit_code, TARGET_GROUP_LABELS[target], ""]
        return row, family_name

    def household(self, unit_code):
        """The rows of one household, its head first."""
        rng = self.rng
        size = _HOUSEHOLD(rng)
        head_gender = "male" if rng.random() < 0.72 else "female"
        head_age = age_between(rng, 28, 80)
        head, family_name = self.person(unit_code, head_gender, head_age, None)
        rows = [head]
        if size > 1:
            spouse = "female" if head_gender == "male" else "male"
            rows.append(self.person(unit_code, spouse, max(20, head_age + rng.randint(-6, 4)),
                                    None)[0])
        for _ in range(size - 2):
            child_age = age_between(rng, 0, max(0, min(head_age - 20, 40)))
            gender = "male" if rng.random() < 0.51 else "female"
            rows.append(self.person(unit_code, gender, child_age,
                                    family_name if head_gender == "male" else None)[0])
        return rows


def generate_pre_merger(out_dir, seed=0, scale=1.0):
    """Write the pre-merger province to ``out_dir``; returns the manifest."""
    if not 0 < scale <= 1:
        raise ValueError("scale must be above 0 and at most 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    units, bodies, communes = pre_merger_structure(seed, scale)
    for name, rows, columns in (("units", units, ("code", "name", "kind", "parent_code")),
                                ("associations", bodies, ("code", "kind", "name", "unit_code",
                                                          "parent_code"))):
        with open(out / f"{name}.csv", "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(columns)
            writer.writerows([row[c] for c in columns] for row in rows)
    rng = random.Random(f"pre-merger-groups:{seed}")
    people = _People(random.Random(f"pre-merger-people:{seed}"))
    n = len(communes)
    families = _split(rng, _scaled("families", scale), n)
    communities = _split(rng, _scaled("communities", scale), n)
    clans = _split(rng, _scaled("clans", scale), n)
    titles, member_rows, people_rows = Counter(), Counter(), 0
    with open_csv(out / "people.csv") as people_fh, \
            open_csv(out / "groups.csv") as groups_fh:
        people_csv = csv.writer(people_fh, lineterminator="\r\n")
        groups_csv = csv.writer(groups_fh, lineterminator="\r\n")
        people_csv.writerow(IMPORT_HEADERS)
        groups_csv.writerow(GROUP_HEADERS)
        for commune, n_families, n_communities, n_clans in zip(communes, families,
                                                               communities, clans):
            code, issuer = commune["code"], nfc(f"UBND xã {commune['short']}")
            serials = {}
            hamlets = [(f"{code}.CD{j:03d}", nfc(f"Cộng đồng ấp {j}"), [])
                       for j in range(1, max(1, n_communities) + 1)]
            heads = []
            for f in range(1, n_families + 1):
                rows = people.household(code)
                people_csv.writerows(rows)
                people_rows += len(rows)
                family_code = f"{code}.HGD{f:06d}"
                title = _title(rng, issuer, serials)
                titles["family", title[0]] += 1
                head_name = rows[0][1]
                for i, row in enumerate(rows):
                    groups_csv.writerow((family_code, KIND_LABELS["family"],
                                         nfc(f"Gia đình {head_name}"), code, row[0],
                                         ROLE_LABELS["head" if i == 0 else "member"], *title))
                member_rows["family"] += len(rows)
                heads.append(rows[0][0])
                hamlets[f % len(hamlets)][2].append(rows[0][0])
            for hamlet_code, hamlet_name, members in hamlets[:n_communities]:
                if not members:  # a hamlet needs a household to be a community
                    continue
                title = _title(rng, issuer, serials)
                titles["community", title[0]] += 1
                for i, nid in enumerate(members):
                    groups_csv.writerow((hamlet_code, KIND_LABELS["community"],
                                         nfc(f"{hamlet_name} xã {commune['short']}"),
                                         code, nid, ROLE_LABELS["community_head" if i == 0
                                                                else "member"], *title))
                member_rows["community"] += len(members)
            for j in range(1, n_clans + 1):
                members = rng.sample(heads, min(len(heads), rng.randint(8, 40)))
                if not members:
                    continue
                surname = FAMILY_CHOICE["Kinh"](rng)
                title = _title(rng, issuer, serials)
                titles["clan", title[0]] += 1
                for i, nid in enumerate(members):
                    groups_csv.writerow((f"{code}.DH{j:03d}", KIND_LABELS["clan"],
                                         nfc(f"Dòng họ {surname} xã {commune['short']}"),
                                         code, nid, ROLE_LABELS["clan_head" if i == 0
                                                                else "member"], *title))
                member_rows["clan"] += len(members)
    groups = Counter(kind for kind, _ in titles.elements())
    manifest = {
        "generator": "cdht_tools.generator", "profile": "pre-merger", "seed": seed,
        "scale": scale,
        "units": dict(Counter(u["kind"] for u in units)),
        "association_bodies": dict(Counter(b["kind"] for b in bodies)),
        "groups": {kind: groups[kind] for kind in ("family", "clan", "community")},
        "titles": {kind: {year: titles[kind, year] for year in map(str, TITLE_YEARS)}
                   for kind in ("family", "clan", "community")},
        "people": people_rows, "member_rows": dict(member_rows),
        "files": {name: f"{name}.csv" for name in ("units", "associations", "people",
                                                   "groups")},
    }
    with open(out / "manifest.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return manifest


def print_summary(manifest, out_dir):
    """What the command line says after writing the profile."""
    m = manifest
    print(f"An Giang before the merger, seed {m['seed']}, scale {m['scale']}: "
          f"{m['units'].get('commune', 0)} communes, "
          f"{m['association_bodies'].get('branch', 0):,} branches, "
          f"{m['association_bodies'].get('learning_board', 0):,} learning boards; "
          f"{m['groups']['family']:,} families, {m['groups']['clan']:,} clans, "
          f"{m['groups']['community']:,} communities (each titled); {m['people']:,} people, "
          f"{sum(m['member_rows'].values()):,} member rows")
    print(f"Wrote units.csv, associations.csv, people.csv, groups.csv, manifest.json to "
          f"{out_dir}")
    return 0
