"""The synthetic province's people, household by household, in the import layout's fields.

About 3.5 people per family, association members ~15% of adults, officials ~1%, learning-unit
staff ~8%; ethnicity by former district (Kinh ~90%, Khmer, Hoa, Chăm). With ``bad_fraction``,
some rows are broken in one field each and listed as :class:`BadRow` (see the package's
docstring). Streaming: memory does not grow with the number of people.
"""
import math
import random
from collections import Counter, namedtuple
from datetime import date

from cdht_tools.generator.province import PROVINCE_CODE, ethnic_mix
from cdht_tools.names import MAX_AGE, SURVIVAL, Choice, age_between, person_name
from cdht_tools.places import nfc, unaccent
from services.registry.domain import national_id_for
from services.registry.imports.layout import HEADERS as HEADER_OF

NID_PROVINCE = {"AG": 89, "KG": 91}  # province codes of the citizen ID (old provinces)

BAD_KINDS = ("invalid_national_id", "duplicate_national_id", "future_birth_date",
             "unknown_unit", "empty_name", "malformed_email", "bad_gender")
BAD_COLUMN = {
    "invalid_national_id": "national_id", "duplicate_national_id": "national_id",
    "future_birth_date": "birth_date", "unknown_unit": "unit_code", "empty_name": "full_name",
    "malformed_email": "email", "bad_gender": "gender",
}

Person = namedtuple("Person", (
    "national_id", "full_name", "gender", "birth_date", "ethnicity", "phone", "email",
    "unit_code", "target_group", "roles",
    # beyond the import layout: memberships (written to families.csv / memberships.csv)
    "family_code", "relation", "community_code", "clan_code", "branch_code",
    "learning_unit_code", "bad"))
Person.__doc__ = """One generated person. ``gender``/``target_group``/``roles`` are codes, except
that a bad row may carry a raw, unknown gender label. ``bad`` is the bad kind or None."""

Family = namedtuple("Family", ("code", "name", "unit_code", "community_code", "clan_code",
                               "size"))
BadRow = namedtuple("BadRow", ("row", "column", "kind", "detail"))
BadRow.__doc__ = """An injected error: 1-based data row, the column's header, the kind, a note
(never the national ID itself)."""

# Vietnamese mobile prefixes (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile) with shares.
_MOBILE_PREFIXES = Choice([
    ("086", 3), ("096", 6), ("097", 7), ("098", 7), ("032", 3), ("033", 3), ("034", 3),
    ("035", 3), ("036", 3), ("037", 3), ("038", 3), ("039", 3),
    ("088", 2), ("091", 5), ("094", 4), ("081", 2), ("082", 2), ("083", 2), ("084", 2),
    ("085", 2), ("089", 2), ("090", 5), ("093", 4), ("070", 2), ("076", 1), ("077", 2),
    ("078", 1), ("079", 2), ("092", 1), ("056", 1), ("058", 1), ("099", 0.5), ("059", 0.5),
])
_EMAIL_DOMAINS = Choice([("gmail.com", 82), ("yahoo.com", 6), ("outlook.com", 4),
                         ("icloud.com", 3), ("hotmail.com", 3), ("yahoo.com.vn", 2)])
_STAFF_EMAIL_DOMAINS = {"government": "angiang.gov.vn", "security": "angiang.gov.vn",
                        "health": "angiang.gov.vn", "education": "angiang.edu.vn"}
# Citizen-ID province codes of people registered at birth outside the province.
_MIGRANT_NID = Choice([(87, 25), (92, 20), (79, 15), (86, 10), (94, 8), (93, 8), (96, 7),
                       (95, 4), (1, 3)])
MIGRANT_SHARE = 0.05

# Household compositions: (kind, share). Tuned so ~3.5 people per family and ~23% minors.
_HOUSEHOLDS = Choice([("single", 0.07), ("couple", 0.11), ("nuclear", 0.51),
                      ("extended", 0.26), ("single_parent", 0.05)])
_CHILDREN = Choice([(1, 0.25), (2, 0.42), (3, 0.20), (4, 0.10), (5, 0.03)])  # planned

# Role and target-group probabilities (over adults; calibrated in the tests).
P_OFFICIAL = 0.0125        # of adults 25-75; officials are members too
P_MEMBER = 0.154           # of adults, officials included
P_STAFF = 0.099           # of adults 20-62 -> ~8% of all adults
P_OTHER_GENDER = 0.0005
P_GROWN_CHILD_STAYS = 0.6  # a child of 25+ still living in the parents' household
SINGLE_YOUNG, SINGLE_OLD, P_SINGLE_OLD = (20, 59), (60, 99), 0.5
COUPLE_YOUNG, COUPLE_OLD, P_COUPLE_OLD = (21, 35), (45, 92), 0.7
MOTHER_MIN_AGE = 24


class NationalIds:
    """Unique, valid citizen IDs: one counter per (province, birth year, gender), scattered
    over the 6-digit serial by an affine permutation so they don't look sequential.

    The last ``SPARE`` positions of each permutation are never handed to a good row: bad rows
    whose ID is well-formed but contradicts the birth date or gender take their serials from
    there, so such an ID can never also be a good row's ID (now or later in the stream), and
    good rows get the same IDs with or without bad rows.
    """
    SPARE = 1_000

    def __init__(self, rng):
        self.mult = rng.randrange(1, 1_000_000)
        while math.gcd(self.mult, 1_000_000) != 1:
            self.mult += 1
        self.salt = rng.randrange(1 << 30)
        self.counters = {}   # key -> [next index, offset, next spare index]

    def _slot(self, key):
        slot = self.counters.get(key)
        if slot is None:   # the offset depends on the key only, not on the order of arrival
            offset = random.Random(f"{self.salt}:{key}").randrange(1_000_000)
            slot = self.counters[key] = [0, offset, 1_000_000 - self.SPARE]
        return slot

    def allocate(self, province, birth_date, gender):
        slot = self._slot((province, birth_date.year, gender == "female"))
        n = slot[0]
        if n >= 1_000_000 - self.SPARE:
            raise OverflowError("too many IDs for one province, birth year and gender")
        slot[0] = n + 1
        return national_id_for(province, birth_date, gender,
                               (self.mult * n + slot[1]) % 1_000_000)

    def spare(self, province, year, female):
        """A serial that no good row gets, for the given province, birth year and gender."""
        slot = self._slot((province, year, female))
        n = slot[2]
        if n >= 1_000_000:
            raise OverflowError("too many spare IDs for one province, birth year and gender")
        slot[2] = n + 1
        return (self.mult * n + slot[1]) % 1_000_000


class PeopleStream:
    """Iterate to get ``people`` :class:`Person` records, household by household.

    Streaming: memory does not grow with ``people`` (only ``bad_rows``, ~bad_fraction of it,
    and a few counters). Families are reported to ``on_family`` as they are completed.
    Iterate once; a second iteration starts over and gives the same people.
    """

    def __init__(self, province, people, seed=0, bad_fraction=0.0, on_family=None):
        if people < 0:
            raise ValueError("people must be >= 0")
        if not 0 <= bad_fraction <= 1:
            raise ValueError("bad_fraction must be between 0 and 1")
        self.province = province
        self.people = people
        self.seed = seed
        self.bad_fraction = bad_fraction
        self.bad_count = round(people * bad_fraction)
        self.on_family = on_family
        self.bad_rows = []
        self.reference = province.reference_date
        communes = province.commune_units
        self._unit_choice = Choice([(u, u.population or 1) for u in communes])
        self._ethnic_choice = {}
        for u in communes:
            mix = ethnic_mix(u)
            self._ethnic_choice[u.code] = Choice([("Kinh", 1 - sum(mix.values()))]
                                                 + list(mix.items()))
        self._unit_codes = {u.code for u in province.units}
        self._sector = {g.code: g.sector for g in province.learning_units}
        ref = self.reference
        # birth date of someone aged ``a`` on the reference date = _last_birthday[a] - 0..364
        self._last_birthday = [minus_years(ref, a).toordinal() for a in range(MAX_AGE + 1)]

    # -- public -------------------------------------------------------------------------------

    def __iter__(self):
        rng = random.Random(self.seed)
        bad_rng = random.Random(f"bad:{self.seed}")
        ids = self._ids = NationalIds(random.Random(f"nid:{self.seed}"))
        self.bad_rows = []
        self.family_count = 0
        family_seq = Counter()
        recent = [None] * 64          # recent good rows, sources of duplicate IDs
        row = 0
        bad_left = self.bad_count
        while row < self.people:
            unit = self._unit_choice(rng)
            members = self._household(rng, unit)
            members = members[:self.people - row]
            family_seq[unit.code] += 1
            family_code = f"{unit.code}.HGD{family_seq[unit.code]:06d}"
            comms = self.province._communities_by_unit[unit.code]
            community = comms[int(rng.random() * len(comms))]
            clan_code = None
            clans = self.province._clans_by_unit.get(unit.code)
            if clans:
                options = clans.get(members[0]["lineage"])
                if options and rng.random() < 0.5:
                    clan_code = options[int(rng.random() * len(options))]
            head_name = None
            good = 0
            for m in members:
                p = self._finish(rng, m, unit, family_code, community.code, clan_code)
                if head_name is None:
                    head_name = p.full_name
                row += 1
                # selection sampling: exactly bad_count rows, uniformly spread
                if bad_left and bad_rng.random() * (self.people - row + 1) < bad_left:
                    p = self._break(bad_rng, p, row, recent, ids)
                    if p.bad:
                        bad_left -= 1
                if p.bad is None:
                    recent[row % 64] = p
                    good += 1
                yield p
            self.family_count += 1
            if self.on_family is not None and good:   # a family of bad rows only is left out
                self.on_family(Family(family_code, nfc(f"Hộ {head_name}"), unit.code,
                                      community.code, clan_code, good))

    # -- households -----------------------------------------------------------------------------

    def _household(self, rng, unit):
        """Members as dicts (age, gender, relation, family name), head first."""
        kind = _HOUSEHOLDS(rng)
        eth = self._ethnic_choice[unit.code](rng)
        members = []

        def add(age, gender, relation, family_name=None):
            members.append({"age": min(age, MAX_AGE), "gender": gender, "relation": relation,
                            "family_name": family_name, "ethnicity": eth})

        male = "male" if rng.random() < 0.5 else "female"
        if kind == "single":   # young people living alone, and widowed elders
            age = age_between(rng, *(SINGLE_OLD if rng.random() < P_SINGLE_OLD else SINGLE_YOUNG))
            add(age, "female" if age >= 65 and rng.random() < 0.6 else male, "head")
        elif kind == "couple":  # newly-weds, and parents whose children have left
            head = age_between(rng, *(COUPLE_OLD if rng.random() < P_COUPLE_OLD else COUPLE_YOUNG))
            add(head, "male" if rng.random() < 0.8 else "female", "head")
            add(max(18, head + round(rng.gauss(-3 if members[0]["gender"] == "male" else 3, 3))),
                "female" if members[0]["gender"] == "male" else "male", "spouse")
        else:
            mother = age_between(rng, MOTHER_MIN_AGE, 68 if kind == "extended" else 72)
            father = max(20, mother - 2, mother + round(rng.gauss(3.5, 3)))
            kids = _CHILDREN(rng) if kind != "single_parent" else 1 + (rng.random() < 0.4)
            if kind == "single_parent":
                if rng.random() < 0.8:
                    add(mother, "female", "head")
                else:
                    add(father, "male", "head")
            elif rng.random() < 0.82:
                add(father, "male", "head")
                add(mother, "female", "spouse")
            else:
                add(mother, "female", "head")
                add(father, "male", "spouse")
            # children: the first born when the mother was ~25, then every ~3.5 years; the
            # unborn are not there yet, and grown-up children have often left home
            gap = min(max(rng.gauss(25, 4.5), 18), 40)
            for _ in range(kids):
                age = int(mother - gap)
                if age < 0:
                    break
                if age < 25 or rng.random() < P_GROWN_CHILD_STAYS:
                    add(age, "male" if rng.random() < 0.52 else "female", "child")
                gap += max(1.0, rng.gauss(3.5, 2))
            if kind == "extended":   # the head's or spouse's parents, if still alive
                for _ in range(1 + (rng.random() < 0.35)):
                    age = int(max(mother, father) + rng.gauss(27, 4.5))
                    if age <= MAX_AGE and rng.random() < SURVIVAL[age]:
                        add(age, "female" if rng.random() < 0.56 else "male", "parent")
        # names: children carry the father's family name; a head's parent carries the head's
        father_m = next((m for m in members[:2] if m["gender"] == "male"
                         and m["relation"] in ("head", "spouse")), None)
        lineage = None
        for m in members:
            if m["relation"] == "child" and father_m is not None:
                m["family_name"] = father_m["family_name"]
            elif m["relation"] == "parent" and members[0]["gender"] == "male" \
                    and m["gender"] == "male":
                m["family_name"] = members[0]["family_name"]
            m["birth"] = date.fromordinal(self._last_birthday[m["age"]] - int(rng.random() * 365))
            if rng.random() < P_OTHER_GENDER and m["age"] >= 16:
                m["gender_out"] = "other"
            name, fam = person_name(rng, m["gender"], m["birth"].year, eth, m["family_name"])
            m["full_name"], m["family_name"] = name, fam
            if m["relation"] in ("head", "spouse") and m["gender"] == "male" and lineage is None:
                lineage = fam
        members[0]["lineage"] = lineage or members[0]["family_name"]
        return members

    def _finish(self, rng, m, unit, family_code, community_code, clan_code):
        age, birth = m["age"], m["birth"]
        gender = m.get("gender_out", m["gender"])
        if rng.random() < MIGRANT_SHARE:
            province = _MIGRANT_NID(rng)
        else:
            province = NID_PROVINCE[unit.old_province]
        nid = self._ids.allocate(province, birth, m["gender"])
        roles = []
        branch = staff_unit = None
        if age < 18:
            target = "student"
        else:
            if 20 <= age <= 62 and rng.random() < P_STAFF:
                roles.append("unit_staff")
                if rng.random() < 0.1:
                    staff_unit = self.province._province_staff_choice(rng)
                else:
                    staff_unit = self.province._staff_choice_by_unit[unit.code](rng)
            official = 25 <= age <= 75 and rng.random() < P_OFFICIAL
            if official:
                roles.insert(0, "association_official")
                roles.insert(1, "association_member")
            elif rng.random() < P_MEMBER - P_OFFICIAL:
                roles.insert(0, "association_member")
            if "association_member" in roles:
                branch = (f"{unit.code}.HKH" if official and rng.random() < 0.6
                          else self.province._branch_by_community[community_code])
            target = self._target_group(rng, age, staff_unit)
        phone = ""
        p_phone = 0.0 if age < 15 else (0.5 if age < 18 or age >= 75 else 0.93)
        if rng.random() < p_phone:
            phone = _MOBILE_PREFIXES(rng) + f"{int(rng.random() * 10_000_000):07d}"
        email = ""
        if roles and ("unit_staff" in roles or "association_official" in roles):
            p_email = 0.8
        elif age < 15:
            p_email = 0.0
        elif age < 18:
            p_email = 0.2
        else:
            p_email = 0.45 if age <= 35 else (0.25 if age <= 50 else (0.1 if age <= 65 else 0.03))
        if rng.random() < p_email:
            email = self._email(rng, m["full_name"], birth, staff_unit)
        return Person(nid, m["full_name"], gender, birth, m["ethnicity"], phone, email,
                      unit.code, target, tuple(roles), family_code, m["relation"],
                      community_code, clan_code, branch, staff_unit, None)

    def _target_group(self, rng, age, staff_unit):
        r = rng.random()
        if staff_unit is not None:
            if self._sector[staff_unit] in ("business", "cooperative"):
                return "worker" if r < 0.6 else "employee_business"
            return "worker" if r < 0.05 else "employee_business"
        if age <= 22:
            return "student" if r < 0.35 else ("worker" if r < 0.75 else "resident")
        if age < 60:
            return "worker" if r < 0.44 else ("employee_business" if r < 0.52 else "resident")
        return "worker" if r < 0.15 else ("employee_business" if r < 0.17 else "resident")

    def _email(self, rng, full_name, birth, staff_unit):
        parts = unaccent(full_name).lower().split()
        if not parts:
            return ""
        family, given = parts[0], parts[-1]
        initials = "".join(p[0] for p in parts[:-1])
        style = rng.random()
        if staff_unit is not None and style < 0.35:
            domain = _STAFF_EMAIL_DOMAINS.get(self._sector[staff_unit], "gmail.com")
            return f"{given}{initials}@{domain}"
        if style < 0.35:
            local = f"{given}{family}{birth.year % 100:02d}"
        elif style < 0.6:
            local = f"{''.join(parts)}{int(rng.random() * 100)}"
        elif style < 0.8:
            local = f"{given}.{family}{birth.year}"
        else:
            local = f"{initials}{given}{int(rng.random() * 1000)}"
        return f"{local}@{_EMAIL_DOMAINS(rng)}"

    # -- bad rows -------------------------------------------------------------------------------

    def _break(self, rng, p, row, recent, ids):
        """Break one field of ``p``; returns the bad person (or ``p`` if no kind applies)."""
        kinds = list(BAD_KINDS)
        if not any(recent):
            kinds.remove("duplicate_national_id")
        kind = rng.choice(kinds)
        detail = ""
        if kind == "invalid_national_id":
            p, detail = self._bad_nid(rng, p, ids)
        elif kind == "duplicate_national_id":
            src = rng.choice([r for r in recent if r is not None])
            name, _ = person_name(rng, src.gender, src.birth_date.year, p.ethnicity)
            age = age_on(src.birth_date, self.reference)
            p = p._replace(national_id=src.national_id, gender=src.gender,
                           birth_date=src.birth_date, full_name=name,
                           target_group=src.target_group if age >= 18 else "student",
                           roles=p.roles if age >= 18 else ())
            detail = "the ID of an earlier row"
        elif kind == "future_birth_date":
            year = self.reference.year + 50 + rng.randrange(20)
            born = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
            nid_gender = "female" if p.gender == "female" else "male"
            p = p._replace(birth_date=born, target_group="student", roles=(),
                           national_id=ids.allocate(int(p.national_id[:3]), born, nid_gender))
            detail = "born after today (century typo)"
        elif kind == "unknown_unit":
            while True:
                code = rng.choice((f"{PROVINCE_CODE}.{rng.randrange(103, 200):03d}",
                                   f"{PROVINCE_CODE}.000", f"KG.{rng.randrange(1, 100):03d}",
                                   f"{PROVINCE_CODE}.{rng.randrange(1, 103):03d}X"))
                if code not in self._unit_codes:
                    break
            p = p._replace(unit_code=code)
            detail = "no such commune-level unit"
        elif kind == "empty_name":
            p = p._replace(full_name=rng.choice(("", " ", "   ")))
            detail = "blank"
        elif kind == "malformed_email":
            local = unaccent(p.full_name).lower().replace(" ", "") or "user"
            p = p._replace(email=rng.choice((
                f"{local}.gmail.com", f"{local}@gmail", f"{local}@@gmail.com",
                f"{local[:4]} {local[4:]}@gmail.com", f"{local}@gmail..com", "@gmail.com",
                f"{local}@gmail,com", f"{local}@yahoo .com")))
            detail = "not an email address"
        elif kind == "bad_gender":
            p = p._replace(gender=rng.choice(("X", "?", "N/A", "--", "Không rõ", "0")))
            detail = "not Nam, Nữ or Khác"
        column = HEADER_OF[BAD_COLUMN[kind]]
        self.bad_rows.append(BadRow(row, column, kind, detail))
        return p._replace(bad=kind)

    def _bad_nid(self, rng, p, ids):
        """A realistic slip. A 12-digit result that contradicts the birth date or gender gets a
        spare serial (see NationalIds), so it is never also a good row's ID."""
        nid = p.national_id
        variants = ["short", "long", "letter", "province", "year"]
        if p.gender in ("male", "female"):
            variants.append("gender")
        v = rng.choice(variants)
        digit, yy = int(nid[3]), int(nid[4:6])
        if v == "year":   # another year in the same century
            yy = (yy + rng.randrange(1, 10)) % 100
            year = 1900 + digit // 2 * 100 + yy
            serial = ids.spare(int(nid[:3]), year, digit % 2 == 1)
            return p._replace(national_id=f"{nid[:4]}{yy:02d}{serial:06d}"), \
                "birth year digits differ from the birth date"
        if v == "gender":
            digit ^= 1
            serial = ids.spare(int(nid[:3]), 1900 + digit // 2 * 100 + yy, digit % 2 == 1)
            return p._replace(national_id=f"{nid[:3]}{digit}{yy:02d}{serial:06d}"), \
                "gender digit differs from the gender"
        if v == "short":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + nid[i + 1:]), "11 digits"
        if v == "long":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + nid[i] + nid[i:]), "13 digits"
        if v == "letter":
            i = rng.randrange(3, 12)
            return p._replace(national_id=nid[:i] + rng.choice("OolI") + nid[i + 1:]), \
                "a letter among the digits"
        return p._replace(national_id=rng.choice(("000", "097", "099")) + nid[3:]), \
            "unknown province code"


def minus_years(d, years):
    try:
        return d.replace(year=d.year - years)
    except ValueError:   # 29 February
        return d.replace(year=d.year - years, day=28)


def age_on(birth, reference):
    return reference.year - birth.year - ((reference.month, reference.day)
                                          < (birth.month, birth.day))
