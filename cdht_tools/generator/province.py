"""The synthetic province's structure: units with populations, and every community, clan,
learning unit and association body in them, sized for the number of people asked for.

Communities follow one per ~900 people, clans one per ~3,800 people; learning units are the
commune's offices, schools, cooperatives and businesses, and the province's departments.
"""
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from cdht_tools.names import FAMILY_CHOICE, Choice
from cdht_tools.places import (COMMUNE_BASE_THOUSANDS, HAMLET_FIRST, HAMLET_SECOND,
                               PROVINCE_CODE, SCHOOL_PATRONS, UNIT_KIND_LABELS, base_populations,
                               nfc, unit_tree)

REFERENCE_DATE = date(2026, 1, 1)   # ages are drawn as of this date; keep it in the past

# Ethnic mix by former district (the rest is Kinh). Khmer live mostly in Tri Tôn, Tịnh Biên and
# the Kiên Giang rice districts, Chăm along the upper Hậu river, Hoa in the towns.
_ETHNIC_MIX_DEFAULT = {"Khmer": 0.03, "Hoa": 0.008, "Chăm": 0.001, "Tày": 0.0007,
                       "Mường": 0.0005}
_ETHNIC_MIX_BY_DISTRICT = {
    "AG.H08": {"Khmer": 0.36}, "AG.H04": {"Khmer": 0.25}, "KG.H07": {"Khmer": 0.12},
    "KG.H08": {"Khmer": 0.08}, "KG.H09": {"Khmer": 0.15}, "KG.H10": {"Khmer": 0.05},
    "KG.H04": {"Khmer": 0.08}, "KG.H14": {"Khmer": 0.10},
    "AG.H05": {"Chăm": 0.06}, "AG.H03": {"Chăm": 0.03},
    "AG.H01": {"Hoa": 0.03}, "AG.H02": {"Hoa": 0.03}, "KG.H01": {"Hoa": 0.04},
    "KG.H02": {"Hoa": 0.06}, "KG.H03": {"Hoa": 0.04},
}


@dataclass
class Group:
    """A family, clan, community (hamlet / residential group) or learning unit."""
    code: str
    kind: str              # family | clan | community | learning_unit
    name: str
    unit_code: str
    community_code: str | None = None
    level: str | None = None   # learning units: province | commune
    sector: str | None = None  # learning units: government, education, health, ...
    family_name: str | None = None  # clans


@dataclass
class AssociationBody:
    """The association's own tree: province / commune association, branch, learning board."""
    code: str
    kind: str              # province_association | commune_association | branch | learning_board
    name: str
    unit_code: str
    parent_code: str | None
    group_code: str | None = None   # the community / learning unit / clan it is attached to


# (sector, name pattern, people per unit or None for exactly one, staff weight)
_LOCAL_LEARNING_UNITS = (
    ("government", "Ủy ban nhân dân {unit}", None, 25),
    ("government", "Đảng ủy {unit}", None, 8),
    ("security", "Công an {unit}", None, 15),
    ("health", "Trạm Y tế {unit}", None, 10),
    ("education", "Trường Mầm non {name}", 8000, 20),
    ("education", "Trường Tiểu học {name}", 5000, 25),
    ("education", "Trường THCS {name}", 10000, 35),
    ("education", "Trường THPT {name}", 30000, 60),
    ("cooperative", "Hợp tác xã nông nghiệp {name}", 6000, 12),
    ("business", "Công ty TNHH {name}", 6000, 40),
)
_PROVINCE_LEARNING_UNITS = (
    ("government", "Văn phòng Ủy ban nhân dân tỉnh An Giang", 60),
    ("education", "Sở Giáo dục và Đào tạo tỉnh An Giang", 60),
    ("health", "Sở Y tế tỉnh An Giang", 50),
    ("government", "Sở Nội vụ tỉnh An Giang", 40),
    ("government", "Sở Tài chính tỉnh An Giang", 40),
    ("government", "Sở Nông nghiệp và Môi trường tỉnh An Giang", 60),
    ("government", "Sở Văn hóa, Thể thao và Du lịch tỉnh An Giang", 40),
    ("government", "Sở Khoa học và Công nghệ tỉnh An Giang", 30),
    ("government", "Sở Công Thương tỉnh An Giang", 30),
    ("government", "Sở Xây dựng tỉnh An Giang", 30),
    ("government", "Sở Tư pháp tỉnh An Giang", 20),
    ("government", "Sở Dân tộc và Tôn giáo tỉnh An Giang", 20),
    ("education", "Trường Đại học An Giang", 80),
    ("education", "Trường Cao đẳng Kiên Giang", 50),
    ("health", "Bệnh viện Đa khoa Trung tâm An Giang", 90),
    ("health", "Bệnh viện Đa khoa tỉnh Kiên Giang", 80),
    ("business", "Công ty Cổ phần Xuất nhập khẩu Thủy sản An Giang", 70),
)
PEOPLE_PER_FAMILY = 3.5
PEOPLE_PER_COMMUNITY = 900
PEOPLE_PER_CLAN = 3800
BRANCH_PER_LEARNING_UNIT = 0.08   # branches outside hamlets (schools, agencies)
BOARD_PER_LEARNING_UNIT = 0.4     # learning boards in agencies; every clan has one too


@dataclass
class Province:
    """Everything but the people: the unit tree and the groups and bodies in each unit."""
    seed: int
    population: int
    units: list
    communities: list
    clans: list
    learning_units: list
    associations: list
    reference_date: date = REFERENCE_DATE
    # look-ups for the people generator (not serialised)
    _communities_by_unit: dict = field(default_factory=dict, repr=False)
    _clans_by_unit: dict = field(default_factory=dict, repr=False)
    _staff_choice_by_unit: dict = field(default_factory=dict, repr=False)
    _branch_by_community: dict = field(default_factory=dict, repr=False)

    @property
    def commune_units(self):
        return [u for u in self.units if u.commune_level]

    def groups(self):
        return self.communities + self.clans + self.learning_units

    def summary(self):
        kinds = Counter(u.kind for u in self.commune_units)
        return {"commune_level_units": sum(kinds.values()), **kinds,
                "communities": len(self.communities), "clans": len(self.clans),
                "learning_units": len(self.learning_units),
                **Counter(a.kind for a in self.associations)}


def _stochastic_round(rng, x):
    whole = math.floor(x)
    return whole + (rng.random() < x - whole)


def _hamlet_names(rng, count, ward):
    if ward:   # residential groups in wards: "Khóm 1", "Khóm 2", ...
        return [nfc(f"Khóm {i}") for i in range(1, count + 1)]
    names, seen = [], set()
    while len(names) < count:
        if len(seen) > 300 or rng.random() < 0.15:
            name = f"Ấp {len(names) + 1}"
        else:
            name = f"Ấp {rng.choice(HAMLET_FIRST)} {rng.choice(HAMLET_SECOND)}"
        name = nfc(name)
        if name not in seen and name.split()[1] != (name.split() + [""])[2]:
            seen.add(name)
            names.append(name)
    return names


def build_province(seed=0, population=100_000, include_history=True,
                   reference_date=REFERENCE_DATE):
    """The unit tree and every group and association body, sized for ``population`` people.

    Communities, clans, learning units and branches scale with ``population`` (so a 20,000-person
    demo has small hamlets, and 3.7 million people give the province's real ~4,000 communities);
    every commune-level unit gets at least one community, its People's Committee and schools.
    """
    rng = random.Random(f"province:{seed}")
    units = unit_tree(include_history)
    communes = [u for u in units if u.commune_level]
    bases = [(b if b is not None else COMMUNE_BASE_THOUSANDS * math.exp(rng.gauss(0, 0.25)))
             for b in base_populations()]
    total = sum(bases)
    for unit, base in zip(communes, bases):
        unit.population = base / total * population
    units[0].population = population
    communities, clans, learning_units, associations = [], [], [], []
    province = Province(seed, population, units, communities, clans, learning_units,
                        associations, reference_date)
    associations.append(AssociationBody(f"{PROVINCE_CODE}.HKH",
                                        "province_association",
                                        nfc("Hội Khuyến học tỉnh An Giang"), PROVINCE_CODE,
                                        None))
    province_units = []
    for i, (sector, name, weight) in enumerate(_PROVINCE_LEARNING_UNITS, 1):
        g = Group(f"{PROVINCE_CODE}.DV{i:03d}", "learning_unit", nfc(name), PROVINCE_CODE,
                  level="province", sector=sector)
        learning_units.append(g)
        province_units.append((g.code, weight))
    province._province_staff_choice = Choice(province_units)

    surname_choice = {eth: FAMILY_CHOICE[eth] for eth in ("Kinh", "Hoa", "Khmer")}
    for unit in communes:
        pop = unit.population
        ward = unit.kind == "ward"
        hamlet_word = nfc("khóm") if ward else nfc("ấp")
        n_comm = max(1, round(pop / PEOPLE_PER_COMMUNITY))
        assoc_code = f"{unit.code}.HKH"
        associations.append(AssociationBody(
            assoc_code, "commune_association",
            nfc(f"Hội Khuyến học {unit.full_name[0].lower()}{unit.full_name[1:]}"),
            unit.code, f"{PROVINCE_CODE}.HKH"))
        unit_comms = []
        for j, hname in enumerate(_hamlet_names(rng, n_comm, ward), 1):
            c = Group(f"{unit.code}.CD{j:03d}", "community", hname, unit.code)
            unit_comms.append(c)
            b = AssociationBody(f"{unit.code}.CH{j:03d}", "branch",
                                nfc(f"Chi hội khuyến học {hname[0].lower()}{hname[1:]}"),
                                unit.code, assoc_code, group_code=c.code)
            associations.append(b)
            province._branch_by_community[c.code] = b.code
        communities.extend(unit_comms)
        province._communities_by_unit[unit.code] = unit_comms

        # learning units
        staff = []
        k = 0
        seen = set()
        place = f"{UNIT_KIND_LABELS[unit.kind].lower()} {unit.name}"
        for sector, pattern, per, weight in _LOCAL_LEARNING_UNITS:
            count = 1 if per is None else (max(1, round(pop / per)) if per <= 10000
                                          else _stochastic_round(rng, pop / per))
            for n in range(count):
                k += 1
                if "{unit}" in pattern:
                    name = pattern.format(unit=place)
                elif sector == "education":   # named after the place or a national figure
                    label = unit.name if n == 0 and rng.random() < 0.6 else rng.choice(
                        SCHOOL_PATRONS)
                    name = pattern.format(name=label)
                else:                         # named after a hamlet
                    hamlet = unit_comms[n % len(unit_comms)].name.split(" ", 1)[1]
                    name = pattern.format(name=unit.name if hamlet.isdigit() else hamlet)
                base, i = name, 1
                while name in seen:
                    i += 1
                    name = f"{base} {i}" if "{unit}" in pattern or i > 2 else \
                        f"{base} {nfc('số')} {i}"
                seen.add(name)
                g = Group(f"{unit.code}.DV{k:03d}", "learning_unit", nfc(name), unit.code,
                          level="commune", sector=sector)
                learning_units.append(g)
                staff.append((g.code, weight))
                if rng.random() < BRANCH_PER_LEARNING_UNIT:
                    associations.append(AssociationBody(
                        f"{unit.code}.CH{len(unit_comms) + k:03d}", "branch",
                        nfc(f"Chi hội khuyến học {g.name}"), unit.code, assoc_code,
                        group_code=g.code))
                if rng.random() < BOARD_PER_LEARNING_UNIT:
                    associations.append(AssociationBody(
                        f"{unit.code}.BKH{k:03d}", "learning_board",
                        nfc(f"Ban khuyến học {g.name}"), unit.code, assoc_code,
                        group_code=g.code))
        province._staff_choice_by_unit[unit.code] = Choice(staff)

        # clans: a lineage of one family name, rooted in one hamlet
        mix = ethnic_mix(unit)
        unit_clans = []
        for j in range(1, _stochastic_round(rng, pop / PEOPLE_PER_CLAN) + 1):
            eth = "Khmer" if rng.random() < mix.get("Khmer", 0) else (
                "Hoa" if rng.random() < 0.02 else "Kinh")
            surname = surname_choice[eth](rng)
            if surname == "Chau":
                surname = "Thạch"
            home = rng.choice(unit_comms)
            g = Group(f"{unit.code}.DH{j:03d}", "clan",
                      nfc(f"Dòng họ {surname} {hamlet_word} {home.name.split(' ', 1)[1]}"),
                      unit.code, community_code=home.code, family_name=nfc(surname))
            unit_clans.append(g)
            associations.append(AssociationBody(
                f"{unit.code}.BKHDH{j:03d}", "learning_board",
                nfc(f"Ban khuyến học dòng họ {surname} {hamlet_word} "
                    f"{home.name.split(' ', 1)[1]}"),
                unit.code, assoc_code, group_code=g.code))
        clans.extend(unit_clans)
        province._clans_by_unit[unit.code] = {}
        for c in unit_clans:
            province._clans_by_unit[unit.code].setdefault(c.family_name, []).append(c.code)
    return province


def ethnic_mix(unit):
    mix = dict(_ETHNIC_MIX_DEFAULT)
    for former in unit.former_codes:
        mix.update(_ETHNIC_MIX_BY_DISTRICT.get(former, {}))
    return mix
