"""Driving a running CDHT over its published HTTP ports, for the compose-backed tests: calls
that ride out a restarting service, a ward with an official and citizens, one recognition
(submit, review, decide) that is safe to repeat, a stream of them while something breaks, and
the ward's figures."""
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import requests

SCORES_PASS = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
               "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}
YEAR = 2025


def call(method, url, body=None, headers=None, ok=(200, 201), tries=1, pause=1.0, timeout=15):
    """One HTTP call; with tries > 1, connection errors and 502/503 are retried (a service
    restarting). Returns the response; asserts its status is in ``ok``."""
    last = None
    for attempt in range(tries):
        try:
            response = requests.request(method, url, json=body, headers=headers,
                                        timeout=timeout)
        except requests.RequestException as exc:
            last = exc
        else:
            if response.status_code not in (502, 503) or attempt == tries - 1:
                assert response.status_code in ok, (method, url, response.status_code,
                                                    response.text[:500])
                return response
            last = response.text
        time.sleep(pause)
    raise AssertionError(f"{method} {url}: no answer after {tries} tries: {last}")


def wait_until(check, timeout, message, pause=0.5):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (requests.RequestException, AssertionError) as exc:
            value = exc
        else:
            if value is True or (value and not isinstance(value, Exception)):
                return value
        time.sleep(pause)
    raise AssertionError(f"{message}: not within {timeout} s (last: {value!r})")


def make_ward(stack, admin, tag, people):
    """A province and ward with an official (an association body of the ward) and ``people``
    adult citizens with e-mail addresses; returns (ward, official id, [(id, email, name)])."""
    from services.registry.domain import national_id_for
    registry = stack.url("registry")
    province, ward = f"S{tag}", f"S{tag}.01"
    call("POST", registry + "/units", {"code": province, "name": "Tỉnh Thử", "kind": "province"},
         admin)
    call("POST", registry + "/units", {"code": ward, "name": "Phường Thử", "kind": "ward",
                                       "parent_code": province}, admin)

    # serials clear of the other wards' and of the demo's (700000 up)
    first = random.Random(tag).randrange(100_000, 600_000, 1000)

    def person(serial):
        email, name = f"{tag.lower()}.{serial}@example.org", f"Nguyễn Thị Thử {serial}"
        made = call("POST", registry + "/people", {
            "national_id": national_id_for(89, date(1985, 4, 2), "female", first + serial),
            "full_name": name, "gender": "female", "birth_date": "1985-04-02", "email": email,
            "unit_code": ward, "target_group": "resident"}, admin).json()
        return made["id"], email, name

    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(person, range(1, people + 2)))
    official, citizens = made[0][0], made[1:]
    body = call("POST", registry + "/association/bodies", {
        "kind": "commune_association", "name": "Hội Khuyến học phường", "unit_code": ward},
        admin).json()
    call("POST", registry + "/association/members", {
        "person_id": official, "body_id": body["id"], "role": "official",
        "joined_on": "2024-01-01"}, admin)
    return ward, official, citizens


def recognise(stack_urls, admin, official, citizen, tries=1):
    """Submit, review and decide one self-assessment; safe to repeat after a failure halfway
    (a step already done answers 409, or is found by the query)."""
    assessment = stack_urls["assessment"]

    def open_one():
        found = call("GET", f"{assessment}/assessments?person_id={citizen}&year={YEAR}",
                     headers=admin, tries=tries).json()
        items = found.get("items", [])
        return items and (items[0].get("assessment_id") or items[0]["id"])

    assessment_id = open_one()
    if not assessment_id:
        created = call("POST", assessment + "/assessments",
                       {"person_id": citizen, "year": YEAR, "scores": SCORES_PASS},
                       admin, ok=(201, 409), tries=tries)
        # 409: an earlier try was committed but its answer lost (the service was killed)
        assessment_id = (created.json()["assessment_id"] if created.status_code == 201
                         else open_one())
    call("POST", f"{assessment}/assessments/{assessment_id}/review",
         {"action": "accept", "reviewer_id": official}, admin, ok=(200, 201, 409), tries=tries)
    call("POST", f"{assessment}/assessments/{assessment_id}/decision",
         {"decision": "recognise", "decided_by": official}, admin, ok=(200, 201, 409),
         tries=tries)
    return assessment_id


def recognise_during(disruption, urls, admin, official, citizens, pace, spread):
    """Recognise every citizen, four at a time, while ``disruption(done)`` breaks something in
    a thread of its own (``done``: the citizens recognised so far). Citizen i starts after
    ``pace`` x (i % ``spread``) seconds, so that the stream outlasts the disruption. Returns
    (done, errors): the recognitions that failed and what the disruption raised."""
    done, errors = [], []

    def one(index_citizen):
        index, (citizen, _, _) = index_citizen
        time.sleep(pace * (index % spread))
        try:
            recognise(urls, admin, official, citizen, tries=90)
            done.append(citizen)
        except Exception as exc:  # noqa: BLE001  reported by the caller
            errors.append(f"{citizen}: {exc}")

    def disrupt():
        try:
            disruption(done)
        except Exception as exc:  # noqa: BLE001  reported by the caller
            errors.append(f"{disruption.__name__}: {exc}")

    thread = threading.Thread(target=disrupt)
    thread.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, enumerate(citizens)))
    thread.join(timeout=600)
    return done, errors


def assert_each_recognised_once(stack, admin, ward, citizens):
    """Nothing lost, nothing doubled after a stream: each citizen's title counted once in
    reporting (looked at again a moment later, when a duplicate applied late would show),
    recognised once in assessment, congratulated by one delivery: one Message-ID each. A copy
    with the same Message-ID is a send whose commit a kill cut off (SMTP has no transactions;
    the id lets mail clients drop the copy): allowed, and printed. Returns (titles counted,
    recognitions, citizens mailed)."""
    wanted = len(citizens)
    wait_until(lambda: progress(stack, admin, ward)["titled"] >= wanted, 180,
               f"reporting counts {wanted} titles in {ward}")
    time.sleep(3)
    titled = progress(stack, admin, ward)["titled"]
    assert titled == wanted, titled
    total = call("GET", f"{stack.url('assessment')}/recognitions?unit_code={ward}&year={YEAR}"
                        "&limit=1", headers=admin).json()["total"]
    assert total == wanted, total
    emails = {email for _, email, _ in citizens}

    def mailed():
        """{citizen: [Message-ID of each mail]} (a catcher without ids: each mail its own)."""
        ids = {}
        for mail in stack.mails():
            for to in mail["to"]:
                if to in emails:
                    ids.setdefault(to, []).append(mail.get("message_id") or object())
        return ids if len(ids) == wanted else None
    ids = wait_until(mailed, 240, f"a mail to each of the {wanted} citizens", pause=2)
    time.sleep(3)
    ids = mailed() or ids
    doubled = {to: len(set(found)) for to, found in ids.items() if len(set(found)) != 1}
    assert not doubled, f"congratulated by more than one delivery: {list(doubled.items())[:5]}"
    resent = sum(len(found) - 1 for found in ids.values())
    if resent:
        print(f"stack: {resent} mail(s) resent with the same Message-ID (a send cut off by a "
              "kill before its commit)", flush=True)
    return titled, total, len(ids)


def progress(stack, admin, unit):
    return call("GET", f"{stack.url('reporting')}/units/{unit}/progress?year={YEAR}",
                headers=admin, tries=5).json()
