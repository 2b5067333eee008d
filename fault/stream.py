"""The stream: a province, its officials, N people, and N recognitions through the real paths.

- units, association bodies and officials through the registry's HTTP API;
- the people through the bulk import CLI (``cdht import people FILE``), as a
  commune's spreadsheet, then read back through ``GET /people``;
- in waves: every person of the wave self-assesses through ``POST /assessments`` (a thread
  pool), then ``cdht close-year`` decides every open submission (all pass).

Every step is safe to repeat, because the faults make the suite repeat them: a repeated
submission is a 409 (one open assessment per person and year), a closing resumes.
"""
import random
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from cdht_tools.generator import write_people_csv
from services.registry.domain import national_id_for

PROVINCE = "AG"
YEAR = 2025
SCORES_PASS = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
               "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}  # 81 points: recognised
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng")
MIDDLE = ("Văn", "Thị", "Hữu", "Ngọc", "Minh", "Thanh", "Quốc", "Kim")
GIVEN = ("An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hoa", "Khánh", "Lan", "Long",
         "Mai", "Nam", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trung", "Vy")

Row = namedtuple("Row", "national_id full_name gender birth_date ethnicity phone email "
                        "unit_code target_group roles")


def commune_codes(count):
    return [f"{PROVINCE}.F{i:02d}" for i in range(1, count + 1)]


def person_email(serial):
    return f"p{serial:06d}@fault.example"


def official_email(unit_code):
    return f"official-{unit_code.lower().replace('.', '-')}@fault.example"


class Province:
    """What the suite created, as the services know it."""

    def __init__(self, system, communes=10):
        self.system = system
        self.communes = commune_codes(communes)
        self.officials = {}        # unit code -> official's person id
        self.people = []           # (person_id, email, unit_code), imported citizens

    # -- set-up through the registry --------------------------------------------------------
    def create_units(self):
        post = self.system.post
        units = [{"code": PROVINCE, "name": "Tỉnh An Giang (fault suite)", "kind": "province"}]
        units += [{"code": code, "name": f"Xã Thử Nghiệm {code[-2:]}", "kind": "commune",
                   "parent_code": PROVINCE} for code in self.communes]
        for unit in units:
            response = post("registry", "/units", unit, ok=(201, 409))
            assert response.status_code in (201, 409), response.text

    def create_officials(self):
        """One commune association per commune, with one official who reviews (and gets a
        review-request mail for every submission in the commune)."""
        for i, code in enumerate(self.communes):
            body = self.system.post("registry", "/association/bodies", {
                "kind": "commune_association", "name": f"Hội Khuyến học {code}",
                "unit_code": code})
            assert body.status_code == 201, body.text
            born = date(1970, 1, 1)
            person = self.system.post("registry", "/people", {
                "national_id": national_id_for(89, born, "male", 900000 + i),
                "full_name": "Trần Văn Chủ Tịch", "gender": "male",
                "birth_date": born.isoformat(), "email": official_email(code),
                "unit_code": code, "target_group": "resident"})
            assert person.status_code == 201, person.text
            position = self.system.post("registry", "/association/members", {
                "person_id": person.json()["id"], "body_id": body.json()["id"],
                "role": "official", "joined_on": "2020-01-01"})
            assert position.status_code == 201, position.text
            self.officials[code] = person.json()["id"]

    def write_people(self, path, count, seed=7):
        """A commune spreadsheet of ``count`` adults, spread over the communes."""
        rng = random.Random(seed)
        rows = []
        for serial in range(1, count + 1):
            born = date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
            gender = rng.choice(("male", "female"))
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            rows.append(Row(national_id_for(89, born, gender, serial), name, gender, born,
                            "Kinh", "", person_email(serial),
                            self.communes[serial % len(self.communes)], "resident", ()))
        write_people_csv(path, rows)
        return path

    def import_people(self, path):
        result = self.system.cli("import", "people", str(path), timeout=1800)
        if result.returncode != 0:
            raise RuntimeError(f"import failed ({result.returncode}):\n{result.stdout[-2000:]}"
                               f"\n{result.stderr[-2000:]}")
        return result.stdout

    def load_people(self):
        """Every imported citizen's id and address, through GET /people (pages of 500)."""
        officials = set(self.officials.values())
        found = []
        for code in self.communes:
            offset = 0
            while True:
                page = self.system.get("registry", "/people", params={
                    "unit_code": code, "limit": 500, "offset": offset}).json()
                for item in page["items"]:
                    if item["id"] not in officials:
                        found.append((item["id"], item["email"], code))
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        self.people = sorted(found, key=lambda p: p[1])
        return self.people

    # -- the stream -------------------------------------------------------------------------------
    def submit(self, person_id):
        """Self-assessment of one person; a 409 means an earlier try got there first."""
        response = self.system.post("assessment", "/assessments", {
            "person_id": person_id, "year": YEAR, "scores": SCORES_PASS}, ok=(201, 409),
            retry_for=600)
        if response.status_code not in (201, 409):
            raise RuntimeError(f"submission refused: {response.status_code} {response.text}")
        return response.status_code

    def submit_all(self, people, threads=8):
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda p: self.submit(p[0]), people))

    def close_year(self, retry_for=600):
        """``cdht close-year``: decide every open submission; started again until
        it succeeds (a stopped database fails it; running it again resumes)."""
        deadline = time.monotonic() + retry_for
        while True:
            result = self.system.cli("close-year", str(YEAR), "--unit", PROVINCE, "--quiet",
                                     service_env="assessment", timeout=retry_for)
            if result.returncode == 0:
                return result.stdout.strip().splitlines()[-1]
            if time.monotonic() > deadline:
                raise RuntimeError(f"close-year keeps failing:\n{result.stderr[-2000:]}")
            time.sleep(1.0)
