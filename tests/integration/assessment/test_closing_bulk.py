"""Closing a year decides each submission with domain.evaluate and writes a whole batch at
once (closing_store.py). What it writes for a submission must be what deciding that one
alone gives, and every event it stages must be one a consumer accepts. Against the real
PostgreSQL, with varied submissions: passing, failing on the total, on one indicator or on
several, confirmed by learning activities, in each target group's form, a person who
already holds the title, a closer with a registry id, and batches smaller than the year."""
import json
import os
import random
import subprocess
import sys
import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from cdht.contracts import events as contract_events
from cdht.contracts.envelope import parse_envelope
from cdht.db import Transactions
from services.assessment import closing, closing_store, domain, titles
from services.assessment import criteria as criteria_sets
from services.assessment import reasons as refusal_reasons
from services.assessment.models import (
    Assessment, Evidence, GroupMember, GroupRecognition, Recognition,
)

YEAR = 2025
GROUPS = ("resident", "worker", "employee_business", "student")
ACTIVITIES = ("digital_skills_basic", "digital_skills_proficient", "course", "mooc",
              "briefing", "not_evidence")


def varied(criteria, rng, n):
    """``n`` score sheets: passing, under the total, under the minimum on one or more."""
    codes = [i.code for i in criteria.indicators]
    sheets = []
    for i in range(n):
        scores = {c: rng.choice((8, 9, 10)) for c in codes}
        if i % 4 == 1:
            scores = {c: rng.choice((6, 7)) for c in codes}  # every indicator met, total short
        elif i % 4 == 2:
            scores[rng.choice(codes)] = rng.choice((0, 3, 4))
        elif i % 4 == 3:
            for code in rng.sample(codes, 3):
                scores[code] = rng.choice((1, 2, 4))
        sheets.append(scores)
    return sheets


def test_a_closing_writes_what_deciding_each_submission_alone_gives(engines, monkeypatch):
    sets = criteria_sets.load_criteria()
    criteria = criteria_sets.known(sets, "324/QĐ-KHVN")
    rng = random.Random(7)
    db = Transactions(sessionmaker(engines["assessment"], expire_on_commit=False))
    closer = uuid.uuid4()
    people, evidence = {}, {}
    with db.transaction() as session:
        for i, scores in enumerate(varied(criteria, rng, 41)):
            person = uuid.uuid4()
            unit = f"AG.X{i % 3}"
            row = Assessment(id=uuid.uuid4(), person_id=person, year=YEAR, unit_code=unit,
                             unit_path=["AG", unit], target_group=GROUPS[i % 4],
                             criteria_version=criteria.version, status="submitted",
                             self_scores=scores, scores=scores, total=0, passed=False,
                             explanation={})
            session.add(row)
            people[person] = row
            for k in range(i % 3):  # none, one or two learning activities
                kind = ACTIVITIES[(i + k) % len(ACTIVITIES)]
                ended = date(YEAR, 1 + k, 10 + i % 15)
                session.add(Evidence(activity_id=uuid.uuid4(), person_id=person, kind=kind,
                                     year=YEAR, ended_on=ended))
                evidence.setdefault(person, []).append(
                    domain.Activity(kind, YEAR, f"{kind} {ended.isoformat()}"))
        holder = next(iter(people))  # passes: refused, as already titled
        session.add(Recognition(id=uuid.uuid4(), person_id=holder, year=YEAR,
                                assessment_id=uuid.uuid4(), unit_code="AG.X0",
                                unit_path=["AG", "AG.X0"], target_group="resident",
                                total_score=90, criteria_version=criteria.version,
                                digital_skills="basic"))
    for activities in evidence.values():  # the order activities_of reads them in
        activities.sort(key=lambda a: a.label.split(" ")[1])

    with db.transaction() as session:
        run = closing.start(session, YEAR, "AG", decides="submitted", closed_by=str(closer))
    monkeypatch.setattr(contract_events, "RECOGNITIONS_PER_EVENT", 3)  # a batch of 4: 2 events
    done = closing.run(db, sets, run.id, batch_size=4)

    with engines["assessment"].connect() as conn:
        rows = {r.person_id: r for r in conn.execute(text(
            "SELECT id, person_id, status, total, passed, explanation, refusal_reasons, "
            "decided_by, decided_at, criteria_version, unit_code, unit_path "
            "FROM assessments"))}
        titles = {r.assessment_id: r for r in conn.execute(text(
            "SELECT * FROM recognitions WHERE person_id <> :holder"), {"holder": holder})}
        steps = {r.assessment_id: r for r in conn.execute(text(
            "SELECT assessment_id, action, actor_id, detail FROM assessment_steps"))}
        events = [parse_envelope(json.loads(json.dumps(p))) for (p,) in conn.execute(text(
            "SELECT payload FROM outbox ORDER BY id"))]

    expected_refused = 0
    for person, submitted in people.items():
        decision = domain.evaluate(criteria, submitted.scores, submitted.target_group,
                                   evidence.get(person, ()))
        assert json.loads(closing_store.explanation_json(decision)) == \
            domain.explanation(decision)
        notes = [refusal_reasons.ALREADY_TITLED] if person == holder else []
        status, refusal = domain.decide(
            "submitted", "refuse" if notes else domain.closing_verdict(decision), decision,
            notes, allowed=("submitted",))
        row = rows[person]
        assert (row.status, row.total, row.passed, row.explanation, row.refusal_reasons,
                row.decided_by) == (status, decision.total, decision.passed,
                                    domain.explanation(decision), refusal or None, closer)
        step = steps[row.id]
        assert (step.action, step.actor_id, step.detail["closed_by"], step.detail["closing"]) \
            == (status, closer, str(closer), str(run.id))
        if status == domain.RECOGNISED:
            title = titles[row.id]
            assert (title.person_id, title.unit_code, title.unit_path, title.target_group,
                    title.total_score, title.criteria_version, title.digital_skills) == (
                person, submitted.unit_code, submitted.unit_path, submitted.target_group,
                decision.total, decision.criteria_version, decision.digital_skills)
            assert step.detail == {"summary": decision.summary, "closing": str(run.id),
                                   "closed_by": str(closer), "recognition_id": str(title.id)}
        else:
            expected_refused += 1
            assert row.id not in titles
            assert step.detail == {"reasons": refusal_reasons.sentences(refusal),
                                   "details": refusal, "closing": str(run.id),
                                   "closed_by": str(closer)}
    assert any(e for e in evidence.values()) and expected_refused not in (0, len(people))
    assert (done.decided, done.recognised, done.refused) == (
        len(people), len(people) - expected_refused, expected_refused)

    # the recognitions in recognitions_granted, at most RECOGNITIONS_PER_EVENT in each
    batches = [e for e in events if e.event_type == "recognitions_granted"]
    assert not [e for e in events if e.event_type == "recognition_granted"]
    assert all(1 <= len(e.data["recognitions"]) <= 3 for e in batches)
    assert {e.data["closing_id"] for e in batches} == {run.id}
    granted = {r["assessment_id"]: r for e in batches for r in e.data["recognitions"]}
    assert sum(len(e.data["recognitions"]) for e in batches) == len(granted)
    # the refusals in recognitions_refused, each item a recognition_refused v2's data
    refusals = [e for e in events if e.event_type == "recognitions_refused"]
    assert not [e for e in events if e.event_type == "recognition_refused"]
    assert all(1 <= len(e.data["refusals"]) <= 3 for e in refusals)
    assert {(e.data["closing_id"], e.producer) for e in refusals} == {(run.id, "assessment")}
    refused = {r["assessment_id"]: r for e in refusals for r in e.data["refusals"]}
    assert sum(len(e.data["refusals"]) for e in refusals) == len(refused) == expected_refused
    assert set(granted) == set(titles)
    for assessment_id, recognition in granted.items():
        title = titles[assessment_id]
        assert recognition == {
            "recognition_id": title.id, "assessment_id": assessment_id,
            "person_id": title.person_id, "target_group": title.target_group, "year": YEAR,
            "criteria_version": title.criteria_version, "total_score": title.total_score,
            "digital_skills": title.digital_skills, "unit_code": title.unit_code,
            "unit_path": title.unit_path}
    by_id = {r.id: r for r in rows.values()}
    for assessment_id, refusal in refused.items():
        row = by_id[assessment_id]
        assert refusal == {
            "assessment_id": assessment_id, "person_id": row.person_id, "year": YEAR,
            "criteria_version": row.criteria_version, "total_score": row.total,
            "reasons": refusal_reasons.for_event(row.refusal_reasons)[2],
            "unit_code": row.unit_code, "unit_path": row.unit_path}
    assert len({e.event_id for e in events}) == len(events)


def test_group_titles_written_in_bulk_keep_every_unit_code(engines):
    """Unit codes go into the array column as quoted literals: a code with a comma, a quote,
    a brace or a backslash comes back as it was."""
    codes = ["AG", 'AG.X "1", {2}\\3']
    title = {"id": uuid.uuid4(), "group_id": uuid.uuid4(), "group_kind": "family", "year": YEAR,
             "level": None, "criteria_version": "448/QĐ-KHVN", "members": 4,
             "members_titled": 3, "unit_code": codes[-1], "unit_path": codes,
             "explanation": "3 of 4 members titled (75.0%), at least 75%"}
    db = Transactions(sessionmaker(engines["assessment"], expire_on_commit=False))
    with db.transaction() as session:
        closing_store.insert_group_titles(session, [title])
    with engines["assessment"].connect() as conn:
        [row] = conn.execute(text("SELECT * FROM group_recognitions")).mappings().all()
    assert {k: row[k] for k in title} == title


def test_groups_are_counted_as_a_stream_in_group_order_with_titles_left_without_members(
        engines):
    """The closing's groups phase reads its aggregate in chunks: every group with members in
    the subtree, counted (members at year end, members titled), and every group of the
    subtree holding a title whose members all left, with no counts (its title goes)."""
    db = Transactions(sessionmaker(engines["assessment"], expire_on_commit=False))
    place = {"unit_code": "AG.X1", "unit_path": ["AG", "AG.X1"]}
    families = sorted(uuid.uuid4() for _ in range(5))
    emptied, elsewhere = families[2], uuid.uuid4()
    with db.transaction() as session:
        for family in families:
            titled = uuid.uuid4()
            for person, left_on in ((titled, None), (uuid.uuid4(), None),
                                    (uuid.uuid4(), date(YEAR, 6, 30))):
                session.add(GroupMember(
                    membership_id=uuid.uuid4(), group_id=family, group_kind="family",
                    person_id=person, joined_on=date(2020, 1, 1),
                    left_on=date(YEAR, 3, 1) if family == emptied else left_on, **place))
            session.add(Recognition(
                id=uuid.uuid4(), person_id=titled, year=YEAR, assessment_id=uuid.uuid4(),
                target_group="resident", total_score=90, criteria_version="324/QĐ-KHVN",
                digital_skills="basic", **place))
        session.add(GroupMember(membership_id=uuid.uuid4(), group_id=elsewhere,
                                group_kind="family", person_id=uuid.uuid4(),
                                unit_code="HN.X1", unit_path=["HN", "HN.X1"]))
        for group_id in (emptied, elsewhere):
            session.add(GroupRecognition(
                group_id=group_id, group_kind="family", year=YEAR, level=None,
                criteria_version="448/QĐ-KHVN", members=2, members_titled=2,
                explanation="2 of 2", unit_code="HN.X1" if group_id == elsewhere else "AG.X1",
                unit_path=["HN", "HN.X1"] if group_id == elsewhere else ["AG", "AG.X1"]))

    with db.read() as session:
        chunks = list(titles.group_counts_in_order(
            session, YEAR, GroupMember.unit_path.contains(["AG"]),
            GroupRecognition.unit_path.contains(["AG"]), 2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    counted = dict(item for chunk in chunks for item in chunk)
    assert list(counted) == families
    assert counted.pop(emptied) is None
    assert list(counted.values()) == [("family", "AG.X1", ["AG", "AG.X1"], 2, 1)] * 4


def test_three_processes_decide_every_group_once(engines, databases):
    """``cdht close-year --workers 3``: two helper processes decide submissions beside the
    command, then each takes a third of the groups' ids: every family is decided once, by
    exactly one of them, wherever its id falls."""
    db = Transactions(sessionmaker(engines["assessment"], expire_on_commit=False))
    criteria = criteria_sets.known(criteria_sets.load_criteria(), "324/QĐ-KHVN")
    place = {"unit_code": "AG.X1", "unit_path": ["AG", "AG.X1"]}
    families = [uuid.UUID(int=k * (1 << 128) // 30 + 7) for k in range(30)]  # every range
    with db.transaction() as session:
        for family in families:
            for member in range(4):
                person = uuid.uuid4()
                session.add(GroupMember(membership_id=uuid.uuid4(), group_id=family,
                                        group_kind="family", person_id=person,
                                        joined_on=date(2020, 1, 1), **place))
                scores = {i.code: 9 for i in criteria.indicators}  # passes
                session.add(Assessment(
                    id=uuid.uuid4(), person_id=person, year=YEAR, target_group="resident",
                    criteria_version=criteria.version, status="submitted", self_scores=scores,
                    scores=scores, total=0, passed=False, explanation={}, **place))
    env = dict(os.environ, ASSESSMENT_DATABASE_URL=databases["assessment"],
               CLOSE_DECIDES="submitted")
    result = subprocess.run([sys.executable, "-m", "cdht_tools", "close-year", str(YEAR),
                             "--unit", "AG", "--workers", "3", "--batch-size", "7",
                             "--quiet"], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "120 submissions decided (120 recognised, 0 refused); 30 groups evaluated " \
           "(30 granted, 0 revoked)" in result.stdout
    with engines["assessment"].connect() as conn:
        granted = conn.execute(text(
            "SELECT group_id, count(*) FROM group_recognitions WHERE revoked_at IS NULL "
            "GROUP BY group_id")).all()
        events = conn.scalar(text(
            "SELECT sum(jsonb_array_length(payload->'data'->'titles')) FROM outbox "
            "WHERE event_type = 'group_recognitions_granted'"))
    assert sorted(granted) == [(family, 1) for family in families] and events == 30
