"""``cdht seed demo``: a small province in the RUNNING system, made over its HTTP APIs.

Everything goes through the services' public APIs with an admin token (signed with
AUTH_SIGNING_KEY, or the local dev key bin/up made), so events flow as in real use: reporting's
dashboard fills up and notifications mails the people assessed. Nothing here writes a
database; this module is a thin client and the choice of realistic data.

What it makes (``random.Random(seed)``: the same seed gives the same people):
- An Giang (``AG``) with five commune-level units of its unit tree (cdht_tools/places.py: two
  wards, three communes). Since 1 July 2025 communes sit directly under the province
  (districts were abolished), so there is no district level.
- Per commune: the commune association (Hội Khuyến học) with one official, a branch with
  members; households as learning families, a clan, a community and a school as a learning
  unit, with their memberships.
- N people with Vietnamese names, ages from the Mekong Delta's pyramid (about a fifth minors),
  most adults with an email address (mails go to the local catcher, or Mailpit).
- Learning activities of the year: digital-skills courses, briefings of association members,
  other courses.
- Self-assessments of the year by about 70% of the adults: reviewed and decided by the
  commune's official, most recognised, some refused; a few left submitted for
  ``cdht close-year``.

It refuses to seed twice: when the registry already has unit ``AG`` it says so and exits 0.

Service URLs: ``<SERVICE>_URL`` (e.g. REGISTRY_URL=http://host:8001), else
``<SERVICE>_HTTP_ADDRESS`` as the services read it, else 127.0.0.1:8001-8004.
"""
import os
import random
import time
from datetime import date, timedelta

from cdht.config import SERVICES
from cdht_tools.names import AGE_BANDS, person_name
from cdht_tools.places import HAMLET_FIRST, HAMLET_SECOND, SCHOOL_PATRONS, slugify, unit_tree

PROVINCE = "AG"
NID_PROVINCE = 89  # An Giang in the citizen ID
SERIAL_BASE = 700000  # national ID serials of demo people: clear of the tests' small ones
WORKERS = 6  # requests in flight at once
INDICATOR_CODES = ("TC1.1", "TC1.2", "TC1.3", "TC1.4", "TC2.1", "TC2.2", "TC2.3", "TC2.4",
                   "TC3.1", "TC3.2")


class DemoError(RuntimeError):
    """The running system refused or did not answer: one line for the operator."""


# -- where the services are ----------------------------------------------------------------------
def service_urls(env=None):
    """{service: base URL}: ``<SERVICE>_URL``, else ``<SERVICE>_HTTP_ADDRESS``, else the
    local default port."""
    from cdht_tools import local
    env = os.environ if env is None else env
    return {s: (env.get(f"{s.upper()}_URL") or local.http_base(s, env)).rstrip("/")
            for s in SERVICES}


def status(env=None, timeout=3.0):
    """Each service's /health and /metrics: [{service, url, healthy, health, metrics}].
    /metrics answering 404 is "no metrics", not a failure."""
    import requests
    found = []
    for service, url in service_urls(env).items():
        row = {"service": service, "url": url, "healthy": False}
        try:
            response = requests.get(url + "/health", timeout=timeout)
            body = response.json() if response.headers.get("Content-Type", "").startswith(
                "application/json") else {}
            row["healthy"] = response.status_code == 200 and body.get("status") == "ok"
            row["health"] = "ok" if row["healthy"] else (
                f"{response.status_code} " + ", ".join(f"{k} {v}" for k, v in body.items()
                                                       if k != "status" and v != "ok"))
        except requests.RequestException as exc:
            row["health"] = f"down ({type(exc).__name__})"
            row["metrics"] = "-"
            found.append(row)
            continue
        try:
            metrics = requests.get(url + "/metrics", timeout=timeout)
            row["metrics"] = ("ok" if metrics.status_code == 200 else "no metrics"
                              if metrics.status_code == 404 else f"{metrics.status_code}")
        except requests.RequestException as exc:
            row["metrics"] = f"error ({type(exc).__name__})"
        found.append(row)
    return found


class Api:
    """requests over the four services as an admin; any answer but the expected one is a
    DemoError naming the call."""

    def __init__(self, urls, headers, timeout=30):
        import threading
        self.urls, self.timeout, self.headers = urls, timeout, headers
        self._local = threading.local()  # a requests.Session per thread

    @property
    def http(self):
        import requests
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update(self.headers)
        return self._local.session

    def call(self, method, service, path, body=None, params=None, expect=(200, 201)):
        import requests
        url = self.urls[service] + path
        try:
            response = self.http.request(method, url, json=body, params=params,
                                         timeout=self.timeout)
        except requests.ConnectionError:
            raise DemoError(f"{service} does not answer at {self.urls[service]}: is the system "
                            "running (bin/up)?") from None
        except requests.Timeout:
            raise DemoError(f"{service} did not answer {method} {path} within "
                            f"{self.timeout:.0f} s") from None
        if response.status_code == 401:
            raise DemoError(f"{service} refused the admin token: AUTH_SIGNING_KEY here does "
                            "not match the services' AUTH_PUBLIC_KEYS (set it, or run where "
                            "bin/up made var/auth-signing-key)")
        if response.status_code not in expect:
            raise DemoError(f"{method} {service} {path}: {response.status_code} "
                            f"{response.text[:300]}")
        return response

    def post(self, service, path, body):
        return self.call("POST", service, path, body).json()

    def get(self, service, path, params=None, expect=(200,)):
        return self.call("GET", service, path, params=params, expect=expect)


# -- the data ------------------------------------------------------------------------------------
def demo_units():
    """(code, full name, kind, parent) of the province and its five demo units."""
    tree = unit_tree(include_history=False)
    province = next(u for u in tree if u.code == PROVINCE)
    wards = [u for u in tree if u.kind == "ward"][:2]
    communes = [u for u in tree if u.kind == "commune"][:3]
    return [(u.code, u.full_name, u.kind, u.parent_code) for u in [province, *wards, *communes]]


def _age(rng):
    """Years of age, roughly the Mekong Delta's pyramid from 6 to 85."""
    ages = range(6, 86)
    return rng.choices(ages, weights=[AGE_BANDS[a // 5] for a in ages])[0]


def make_people(rng, count, units, year):
    """Dicts ready for POST /people, plus the demo's own keys (``_unit`` ...)."""
    from services.registry.domain import national_id_for
    reference = date(year, 12, 31)
    people = []
    for i in range(count):
        unit = units[i % len(units)]
        gender = "female" if rng.random() < 0.51 else "male"
        age = _age(rng)
        if i < len(units) and age < 25:  # every unit has an adult for its association
            age += 25
        born = date(reference.year - age, rng.randint(1, 12), rng.randint(1, 28))
        ethnicity = rng.choices(("Kinh", "Khmer", "Hoa"), weights=(90, 7, 3))[0]
        name, family = person_name(rng, gender, born.year, ethnicity)
        adult = age >= 18
        group = ("student" if age < 23 else
                 rng.choices(("resident", "worker", "employee_business"), (60, 25, 15))[0])
        person = {"national_id": national_id_for(NID_PROVINCE, born, gender,
                                                 SERIAL_BASE + i + 1),
                  "full_name": name, "gender": gender, "birth_date": born.isoformat(),
                  "ethnicity": ethnicity, "unit_code": unit, "target_group": group,
                  "_unit": unit, "_adult": adult, "_age": age, "_family": family}
        if adult and rng.random() < 0.85:
            person["email"] = f"{slugify(name).replace('-', '.')}.{i + 1}@example.org"
        if adult and rng.random() < 0.6:
            person["phone"] = "09" + "".join(rng.choice("0123456789") for _ in range(8))
        people.append(person)
    return people


def scores_for(rng, passing, digital):
    """Self-assessed scores 0-10 per indicator: passing means 80+ and none under 5."""
    if passing:
        scores = {c: rng.randint(7, 10) for c in INDICATOR_CODES}
        while sum(scores.values()) < 80:
            low = min(scores, key=scores.get)
            scores[low] += 1
    else:
        scores = {c: rng.randint(6, 8) for c in INDICATOR_CODES}
        while sum(scores.values()) >= 80:
            high = max(scores, key=scores.get)
            scores[high] -= 1
        if rng.random() < 0.4:  # or one indicator under the minimum
            scores[rng.choice(INDICATOR_CODES)] = rng.randint(2, 4)
    if digital and passing:
        scores["TC2.1"] = max(scores["TC2.1"], 8)
    return scores


def _day(rng, year, latest):
    return min(date(year, rng.randint(1, 10), rng.randint(1, 28)), latest)


# -- seeding ---------------------------------------------------------------------------------------
def seed(people=200, seed=1, year=None, env=None, console=None, workers=WORKERS):
    """Seed the demo into the running system; returns the exit status (0 also when it was
    there already). DemoError when a service refuses or does not answer.

    Every random choice is made first, in order (so a seed gives the same province), then
    the calls of a phase go out ``workers`` at a time: the services, not this client, are the
    bottleneck, and each call waits on events and RPCs between them."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cdht_tools import local
    env = os.environ if env is None else env
    console = console or Console(highlight=False)
    year = year or date.today().year
    signing_key = local.signing_key(env=dict(env))
    if not signing_key:
        raise DemoError("no AUTH_SIGNING_KEY: set it to the operator's signing key, or start "
                        "the local system once (bin/up makes var/auth-signing-key)")
    urls = service_urls(env)
    api = Api(urls, local.dev_headers(env={**env, "AUTH_SIGNING_KEY": signing_key},
                                      subject="cdht-seed-demo", via="cdht seed demo"))
    if api.get("registry", f"/units/{PROVINCE}", expect=(200, 404)).status_code == 200:
        console.print(f"The registry already has unit {PROVINCE}: the demo province was seeded "
                      "before (or is real data). Nothing done.")
        return 0

    rng = random.Random(seed)
    latest = min(date(year, 12, 31), date.today())
    units = demo_units()
    communes = [code for code, _, kind, _ in units if kind != "province"]
    names = {code: name for code, name, _, _ in units}
    folks = make_people(rng, people, communes, year)
    by_unit = {c: [p for p in folks if p["_unit"] == c] for c in communes}
    officials = {}
    for code in communes:
        adults = [p for p in by_unit[code] if p["_adult"]]
        official = next((p for p in adults if 30 <= p["_age"] <= 70), adults[0])
        official["_official"] = True
        officials[code] = official
        for person in adults:
            if person is not official and rng.random() < 0.18:
                person["_member"] = True
    groups = _plan_groups(rng, by_unit, names)
    activities = _plan_activities(rng, folks, year, latest)
    digital = {id(p) for p, body in activities if body["kind"].startswith("digital_skills")}
    assessed = []
    for person in folks:
        if person["_adult"] and not person.get("_official") and rng.random() < 0.7:
            passing = rng.random() < 0.85
            assessed.append((person, scores_for(rng, passing, id(person) in digital),
                             rng.random() < 0.06))  # left open for the year's closing
    started = time.monotonic()
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        def phase(name, jobs):
            return _run(bar, bar.add_task(name, total=len(jobs)), jobs, workers)

        def post_unit(u):
            api.post("registry", "/units", {"code": u[0], "name": u[1], "kind": u[2],
                                            "parent_code": u[3]})
        post_unit(units[0])  # the province first: the others name it as their parent
        phase("units", [lambda u=u: post_unit(u) for u in units[1:]])

        def register(person):
            body = {k: v for k, v in person.items() if not k.startswith("_")}
            person["_id"] = api.post("registry", "/people", body)["id"]
        phase("people", [lambda p=p: register(p) for p in folks])

        def association(code):
            body = api.post("registry", "/association/bodies", {
                "kind": "commune_association", "name": f"Hội Khuyến học {names[code]}",
                "unit_code": code})
            branch = api.post("registry", "/association/bodies", {
                "kind": "branch", "name": f"Chi hội khuyến học {names[code]}",
                "unit_code": code, "parent_id": body["id"]})
            api.post("registry", "/association/members", {
                "person_id": officials[code]["_id"], "body_id": body["id"],
                "role": "official", "joined_on": f"{year - 3}-01-15"})
            for person in by_unit[code]:
                if person.get("_member"):
                    api.post("registry", "/association/members", {
                        "person_id": person["_id"], "body_id": branch["id"],
                        "role": "member", "joined_on": f"{year - 1}-03-01"})
        phase("association", [lambda c=c: association(c) for c in communes])

        def create(group):
            body = {"kind": group["kind"], "unit_code": group["unit"], "name": group["name"]}
            if group["kind"] == "learning_unit":
                body["level"] = "commune"
            group["id"] = api.post("registry", "/groups", body)["id"]
        phase("groups", [lambda g=g: create(g) for g in groups])
        phase("memberships", [lambda g=g, n=n, p=p: api.post("registry", "/memberships", {
            "person_id": p["_id"], "group_id": g["id"], "role": "head" if n == 0 else "member",
            "joined_on": f"{year - 2}-06-01"}) for g in groups
            for n, p in enumerate(g["members"])])
        phase("learning activities", [
            lambda p=p, b=b: api.post("registry", "/learning-activities",
                                      {"person_id": p["_id"], **b}) for p, b in activities])

        def assess(person, scores, leave_open):
            submitted = api.post("assessment", "/assessments", {
                "person_id": person["_id"], "year": year, "scores": scores})
            if leave_open:
                return "open"
            official = officials[person["_unit"]]["_id"]
            path = f"/assessments/{submitted['assessment_id']}"
            api.post("assessment", f"{path}/review",
                     {"action": "accept", "reviewer_id": official})
            return api.post("assessment", f"{path}/decision", {
                "decision": "recognise" if submitted["decision"]["passed"] else "refuse",
                "decided_by": official})["status"]
        outcomes = phase("assessments", [lambda a=a: assess(*a) for a in assessed])
        counts = {k: outcomes.count(k) for k in ("recognised", "refused", "open")}
        task = bar.add_task("reporting catches up", total=counts["recognised"])
        titled = _wait_for_reporting(api, year, counts["recognised"],
                                     lambda n: bar.update(task, completed=n))

    _summary(console, year, seed, urls, titled, time.monotonic() - started, [
        ("units", len(units)), ("people", len(folks)),
        ("association officials / members",
         f"{len(officials)} / {sum(bool(p.get('_member')) for p in folks)}"),
        ("groups / memberships", f"{len(groups)} / {sum(len(g['members']) for g in groups)}"),
        ("learning activities", len(activities)),
        ("assessments recognised / refused / open",
         f"{counts['recognised']} / {counts['refused']} / {counts['open']}")])
    if titled != counts["recognised"]:
        console.print(f"[yellow]reporting shows {titled} of {counts['recognised']} titles "
                      "so far; it will catch up (GET /lag)[/]")
    return 0


def _run(bar, task, jobs, workers):
    """Run ``jobs`` (callables) ``workers`` at a time, advancing ``task``; their results in
    order. The first failure stops what has not started and is raised."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        for future in futures:
            future.add_done_callback(lambda _: bar.advance(task))
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception()), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            raise failed.exception()
    return [f.result() for f in futures]


def _summary(console, year, seed, urls, titled, seconds, rows):
    from rich.table import Table
    table = Table(title=f"Demo province {PROVINCE}, {year} (seed {seed})", show_header=False)
    for label, value in rows + [("titled, as reporting counts them", titled),
                                ("time", f"{seconds:.1f} s")]:
        table.add_row(label, str(value))
    console.print(table)
    console.print(f"The dashboard: {urls['reporting']}/dashboard?year={year} (paste a token "
                  "from: cdht token --role admin --subject me)", soft_wrap=True)


def _plan_groups(rng, by_unit, names):
    """Per commune: households as learning families, the commonest family name's clan, a
    community of part of the adults, and a school as a learning unit."""
    groups = []
    for code, people in by_unit.items():
        adults = sorted((p for p in people if p["_adult"]), key=lambda p: -p["_age"])
        i = 0
        while i < len(people):
            size = rng.choice((2, 3, 3, 4, 4, 5))
            household = people[i:i + size]
            i += size
            heads = [p for p in household if p["_adult"]]
            if not heads:
                continue
            members = heads[:1] + [p for p in household if p is not heads[0]]
            groups.append({"kind": "family", "unit": code, "members": members,
                           "name": f"Gia đình {heads[0]['full_name']}"})
        family_names = {}
        for person in adults:
            family_names.setdefault(person["_family"], []).append(person)
        clan_name, clan = max(family_names.items(), key=lambda kv: (len(kv[1]), kv[0]))
        groups.append({"kind": "clan", "unit": code, "members": clan,
                       "name": f"Dòng họ {clan_name} {names[code]}"})
        hamlet = f"{rng.choice(HAMLET_FIRST)} {rng.choice(HAMLET_SECOND)}"
        groups.append({"kind": "community", "unit": code,
                       "members": [p for p in adults if rng.random() < 0.35],
                       "name": f"Cộng đồng học tập ấp {hamlet}"})
        staff = [p for p in adults if 22 <= p["_age"] <= 60][:5]
        groups.append({"kind": "learning_unit", "unit": code, "members": staff,
                       "name": f"Trường THCS {rng.choice(SCHOOL_PATRONS)}"})
    return [g for g in groups if g["members"]]


def _plan_activities(rng, people, year, latest):
    """(person, activity body) of the year: digital skills, briefings, other courses."""
    planned = []
    for person in people:
        if not person["_adult"]:
            continue
        if rng.random() < 0.55:
            proficient = rng.random() < 0.25
            started = _day(rng, year, latest)
            planned.append((person, {
                "kind": "digital_skills_proficient" if proficient else "digital_skills_basic",
                "title": "Ứng dụng công nghệ số nâng cao" if proficient
                else "Kỹ năng số cơ bản cho người dân",
                "provider": "Trung tâm học tập cộng đồng", "hours": 24 if proficient else 12,
                "started_on": started.isoformat(),
                # finished: reporting counts a title holder trained in digital skills
                "ended_on": min(started + timedelta(days=14), latest).isoformat()}))
        if person.get("_member") or person.get("_official"):
            planned.append((person, {
                "kind": "briefing", "title": "Quán triệt mô hình Công dân học tập",
                "provider": "Hội Khuyến học tỉnh", "hours": 3,
                "started_on": _day(rng, year, latest).isoformat()}))
        if rng.random() < 0.3:
            planned.append((person, {
                "kind": "course", "title": rng.choice((
                    "Kỹ thuật canh tác lúa chất lượng cao", "Nuôi trồng thủy sản bền vững",
                    "Tiếng Anh giao tiếp cơ bản", "Sơ cấp cứu tại cộng đồng",
                    "Pháp luật về đất đai")),
                "provider": "Trung tâm học tập cộng đồng", "hours": rng.choice((8, 16, 40)),
                "started_on": _day(rng, year, latest).isoformat()}))
    return planned


def _wait_for_reporting(api, year, expected, progress, timeout=60.0):
    """Poll the province's figures until reporting counts every title (events are applied
    within the second, a burst takes a little longer); the count it reached."""
    deadline = time.monotonic() + timeout
    titled = 0
    while True:
        response = api.get("reporting", f"/units/{PROVINCE}/progress", params={"year": year},
                           expect=(200, 404))
        if response.status_code == 200:
            titled = response.json().get("titled", 0)
            progress(titled)
        if titled >= expected or time.monotonic() > deadline:
            return titled
        time.sleep(0.5)
