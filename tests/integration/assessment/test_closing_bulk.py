"""Closing a year decides each submission with domain.evaluate and writes a whole batch at
once (closing_store.py). What it writes for a submission must be what deciding that one
alone gives, and every event it stages must be one a consumer accepts. Against the real
PostgreSQL, with varied submissions: passing, failing on the total, on one indicator or on
several, confirmed by learning activities, in each target group's form, a person who
already holds the title, a closer with a registry id, and batches smaller than the year."""
import json
import random
import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from cdht.contracts.envelope import parse_envelope
from cdht.db import Transactions
from services.assessment import closing, closing_store, domain
from services.assessment import criteria as criteria_sets
from services.assessment import reasons as refusal_reasons
from services.assessment.models import Assessment, Evidence, Recognition

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


def test_a_closing_writes_what_deciding_each_submission_alone_gives(engines):
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
    done = closing.run(db, sets, run.id, batch_size=4)

    with engines["assessment"].connect() as conn:
        rows = {r.person_id: r for r in conn.execute(text(
            "SELECT id, person_id, status, total, passed, explanation, refusal_reasons, "
            "decided_by, decided_at FROM assessments"))}
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

    granted = {e.data["assessment_id"]: e for e in events
               if e.event_type == "recognition_granted"}
    refused = [e for e in events if e.event_type == "recognition_refused"]
    assert set(granted) == set(titles)
    for assessment_id, event in granted.items():
        title = titles[assessment_id]
        assert event.data == {
            "recognition_id": title.id, "assessment_id": assessment_id,
            "person_id": title.person_id, "target_group": title.target_group, "year": YEAR,
            "criteria_version": title.criteria_version, "total_score": title.total_score,
            "digital_skills": title.digital_skills, "unit_code": title.unit_code,
            "unit_path": title.unit_path}
    by_id = {r.id: r for r in rows.values()}
    for version in (1, 2):
        mine = {e.data["assessment_id"]: e for e in refused if e.schema_version == version}
        assert len(mine) == expected_refused
        for assessment_id, event in mine.items():
            said = refusal_reasons.for_event(by_id[assessment_id].refusal_reasons)[version]
            assert event.data["reasons"] == said and event.producer == "assessment"
            assert event.data["total_score"] == by_id[assessment_id].total
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
