"""The SQL of a year's closing (closing.py): claiming a batch of open submissions and writing
what deciding it produced, each kind of row in one statement per batch.

Deciding a batch is cheap next to writing it: a batch of 2,000 makes about 2,000 updated
assessments, 1,400 titles, 2,000 steps and 2,600 outbox rows. Statement by statement
(SQLAlchemy's insertmanyvalues) the client spent more time building parameters than
deciding. So each kind of row goes in with one statement from arrays (one parameter per
column, unnested server-side): titles with an INSERT ... SELECT that takes what it repeats
(person, unit, path, target group) from the assessment row itself, and the assessments with
one UPDATE (its explanations stored as json, compressed with lz4 where the server has it); events with
cdht.outbox.add_wire_events (each checked against its contract, all in one INSERT).
"""
import functools

from sqlalchemy import ARRAY, Text, any_, cast, select, text
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from cdht import db
from services.assessment import domain
from services.assessment.models import Assessment, Recognition


def claim(session, year, unit_code, statuses, limit, after=None):
    """Up to ``limit`` open submissions in scope, by person (after the person ``after``),
    locked for this transaction; rows another closing process holds are skipped. Each batch
    is one index range beginning where the last one ended. Only the columns a decision needs,
    as plain rows (Core, not ORM objects), the ids as text: they are written back as text,
    and a UUID parsed and printed again per id was a tenth of the closing's CPU."""
    a = Assessment.__table__.c
    query = (select(_text(a.id).label("id"), _text(a.person_id).label("person_id"),
                    a.unit_code, a.unit_path, a.target_group, a.criteria_version, a.status,
                    a.scores)
             .where(a.year == year, a.status.in_(statuses), a.unit_path.contains([unit_code]))
             .order_by(a.person_id).limit(limit).with_for_update(skip_locked=True))
    if after is not None:
        query = query.where(a.person_id > cast(after, PG_UUID(as_uuid=False)))
    return session.connection().execute(query).all()


def _text(column):
    return cast(column, Text)


def any_of(column, ids):
    """``column IN ids`` as one uuid[] parameter (a batch's 2,000 ids as 2,000 bound literals
    cost the client more than the query cost the server)."""
    return column == any_(cast([str(i) for i in ids], ARRAY(PG_UUID(as_uuid=False))))


def holders(session, people, year):
    """Those of ``people`` who already hold the title of ``year`` (ids as text)."""
    return set(session.connection().scalars(select(_text(Recognition.person_id)).where(
        any_of(Recognition.person_id, people), Recognition.year == year,
        Recognition.revoked_at.is_(None))))


def analyze_titles(session):
    """Fresh statistics of the title tables before the groups are counted against it: the
    closing has just written hundreds of thousands of titles, and planned on the counts of
    before, the groups' aggregate compared every member with every title. (Where the
    service's role does not own the table, PostgreSQL warns and skips it.)"""
    session.connection().execute(text("ANALYZE recognitions, group_recognitions"))


_LZ4 = {}  # per database: whether its server compresses with lz4


def compress_fast(session):
    """Compress this transaction's large values (the explanations, 2 kB of JSON each) with
    lz4 rather than the default pglz where the server has it: pglz took a third of the
    time of writing a decided assessment. The values read back the same."""
    url = str(session.get_bind().url)
    if url not in _LZ4:
        _LZ4[url] = bool(session.connection().scalar(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'")))
    if _LZ4[url]:
        session.connection().execute(text("SET LOCAL default_toast_compression = 'lz4'"))


_UPDATE_DECIDED = text("""
    UPDATE assessments AS a
    SET status = c.status, total = c.total, passed = c.passed,
        explanation = CAST(c.explanation AS json), refusal_reasons = CAST(c.refusal AS jsonb),
        decided_at = :now, updated_at = :now, decided_by = CAST(:actor AS uuid)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS varchar[]), CAST(:totals AS int[]),
                CAST(:passed AS boolean[]), CAST(:explanations AS text[]),
                CAST(:refusals AS text[]))
         AS c(id, status, total, passed, explanation, refusal)
    WHERE a.id = c.id
""")


def update_decided(session, changes, now, actor):
    """One UPDATE for a whole batch. ``changes``: (id, status, total, passed, explanation as
    JSON text, refusal reasons as JSON text or None)."""
    ids, statuses, totals, passed, explanations, refusals = zip(*changes)
    session.connection().execute(_UPDATE_DECIDED, {
        "now": now, "actor": str(actor) if actor else None, "ids": list(ids),
        "statuses": list(statuses), "totals": list(totals), "passed": list(passed),
        "explanations": list(explanations), "refusals": list(refusals)})


_INSERT_RECOGNITIONS = text("""
    INSERT INTO recognitions (id, person_id, year, assessment_id, unit_code, unit_path,
                              target_group, total_score, criteria_version, digital_skills)
    SELECT g.id, a.person_id, a.year, a.id, a.unit_code, a.unit_path, a.target_group,
           g.total, g.criteria_version, g.digital_skills
    FROM unnest(CAST(:ids AS uuid[]), CAST(:assessments AS uuid[]), CAST(:totals AS int[]),
                CAST(:versions AS varchar[]), CAST(:skills AS varchar[]))
         AS g(id, assessment_id, total, criteria_version, digital_skills)
    JOIN assessments AS a ON a.id = g.assessment_id
""")


def insert_recognitions(session, grants):
    """The titles of a batch. ``grants``: (recognition id, assessment id, total score,
    criteria version, digital skills); the rest is the assessment's."""
    if not grants:
        return
    ids, assessments, totals, versions, skills = zip(*grants)
    session.connection().execute(_INSERT_RECOGNITIONS, {
        "ids": list(ids), "assessments": list(assessments), "totals": list(totals),
        "versions": list(versions), "skills": list(skills)})


def insert_steps(session, steps):
    """``steps``: (assessment id, action, actor id or None, detail as JSON text)."""
    db.insert_unnested(session.connection(), "assessment_steps", _STEP_COLUMNS, steps)


_STEP_COLUMNS = (("assessment_id", "uuid"), ("action", "varchar"), ("actor_id", "uuid"),
                 ("detail", "jsonb"))


_GROUP_TITLE_COLUMNS = (
    ("id", "uuid"), ("group_id", "uuid"), ("group_kind", "varchar"), ("year", "int"),
    ("level", "int"), ("criteria_version", "varchar"), ("members", "int"),
    ("members_titled", "int"), ("unit_code", "varchar"), ("unit_path", "varchar[]"),
    ("explanation", "text"))


def insert_group_titles(session, group_titles):
    """New group titles in one statement (a closing grants one per family: a quarter of a
    million for a province). ``group_titles``: dicts of the columns above."""
    db.insert_unnested(session.connection(), "group_recognitions", _GROUP_TITLE_COLUMNS, [
        tuple(_array(t[c]) if c == "unit_path" else t[c] for c, _ in _GROUP_TITLE_COLUMNS)
        for t in group_titles])


def explanation_json(decision):
    """domain.explanation(decision) as JSON text. Its indicator lines repeat from one
    assessment to the next (the same score under the same set and form), so each line's text
    is made once. The json column keeps the text as written: the keys in domain.explanation's
    order, as a decision taken alone writes them."""
    head = domain.explanation_head(decision)
    lines = ",".join(_indicator_json(r) for r in decision.results)
    return db.json_text(head)[:-1] + ', "results": [' + lines + "]}"


@functools.lru_cache(maxsize=100_000)
def _indicator_json(result):
    return db.json_text(domain.indicator_view(result))


def _array(values):
    """A text array literal, every element quoted."""
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"
