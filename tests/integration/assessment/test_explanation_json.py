"""Migration 0007 stores an assessment's explanation as json rather than jsonb (it is written
and read whole; json is not parsed into a tree on every write). An installation that has
run keeps every explanation, read back the same, both ways (PostgreSQL)."""
import uuid

import pytest
from sqlalchemy import text

from cdht import db
from tests.support import migrated_back

EXPLANATION = {"summary": "Đạt: 81/100 điểm, mọi chỉ số từ 5 điểm", "total": 81,
               "passed": True, "results": [
                   {"code": "TC1.1", "score": 9, "max": 10, "met": True,
                    "note": "Có minh chứng: “Lớp tin học cơ bản” 2025-03-10"}]}


@pytest.fixture
def at_0006(databases, engines):
    """The assessment database at 0006 (explanation as jsonb), put back at head after."""
    url = databases["assessment"]
    with migrated_back("assessment", "0006", url):
        yield url, engines["assessment"]


def column_type(engine):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT data_type FROM information_schema.columns WHERE "
                                "table_name = 'assessments' AND column_name = 'explanation'"))


def explanations(engine):
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, explanation FROM assessments")).all())


def test_explanations_are_kept_across_the_upgrade_and_back(at_0006):
    url, engine = at_0006
    assert column_type(engine) == "jsonb"
    ids = [uuid.uuid4() for _ in range(3)]
    with engine.begin() as conn:
        for i, assessment_id in enumerate(ids):
            conn.execute(text(
                "INSERT INTO assessments (id, person_id, year, unit_code, unit_path, "
                "target_group, criteria_version, status, self_scores, scores, total, passed, "
                "explanation) VALUES (:id, :person, 2025, 'AG.X', ARRAY['AG', 'AG.X'], "
                "'resident', '324/QĐ-KHVN', 'submitted', '{}', '{}', 81, true, "
                "CAST(:explanation AS jsonb))"),
                {"id": assessment_id, "person": uuid.uuid4(),
                 "explanation": db.json_text(EXPLANATION | {"total": 80 + i})})
    expected = {assessment_id: EXPLANATION | {"total": 80 + i}
                for i, assessment_id in enumerate(ids)}

    db.upgrade("assessment", url=url)
    assert column_type(engine) == "json"
    assert explanations(engine) == expected

    db.downgrade("assessment", "0006", url=url)
    assert column_type(engine) == "jsonb"
    assert explanations(engine) == expected
