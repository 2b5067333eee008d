"""Scope follows the person: when the registry moves a person (person_moved, an import's
moved rows) or a unit (units_merged, or unit_changed for a unit placed under another
parent), every row assessment places by unit (``unit_code`` and ``unit_path``: what scope
checks, lists and year closings go by) is placed where the person or unit is now, in the
caller's transaction, one statement a table.

- A person's assessments (open and decided) and titles follow the person. The groups they
  belong to stay where the group is: a group is placed by its own unit, not by its members'.
- A unit's rows, and those of every unit under it, follow the unit: merged away, they are the
  new unit's; placed under another parent, their paths change above the unit.

Each assessment that changes place gets a ``moved`` step saying from where to where and why:
its history still shows which association reviewed and decided it, while the title is read,
revoked and counted where the person is now (reporting counts it under the new unit from the
move on).
"""
import json

from sqlalchemy import insert, text

from services.assessment.models import AssessmentStep

# the tables placed by unit, each with the one its rows copy their place from: a title's
# place is its assessment's, a group title's its members' (so when nothing of the source
# moved, nothing of the copy did either, and its table is not scanned)
PLACED = {"assessments": None, "recognitions": "assessments",
          "group_members": None, "group_recognitions": "group_members"}
PERSONAL = ("assessments", "recognitions")  # placed where their person is
_STEPS = "assessments"  # the table whose rows keep a history

_PEOPLE = """
    UPDATE {table} AS t SET unit_code = m.unit_code, unit_path = m.path
    FROM (SELECT CAST(e->>'person_id' AS uuid) AS person_id,
                 CAST(e->>'unit_code' AS varchar) AS unit_code,
                 CAST(ARRAY(SELECT jsonb_array_elements_text(e->'unit_path')) AS varchar[])
                     AS path
          FROM jsonb_array_elements(CAST(:moves AS jsonb)) AS e) AS m,
         {table} AS was
    WHERE was.id = t.id AND t.person_id = m.person_id
      AND (t.unit_path IS DISTINCT FROM m.path OR t.unit_code IS DISTINCT FROM m.unit_code)
    RETURNING t.id, was.unit_path, t.unit_path
"""

# a row whose path holds a moved unit's code: the path down to that unit becomes the unit's
# new path (the merged-into unit's, for a merge), the rest of it below stays
_UNITS = """
    UPDATE {table} AS t
    SET unit_path = m.path || t.unit_path[array_position(t.unit_path, m.code) + 1:],
        unit_code = CASE WHEN t.unit_code = m.code THEN m.path[cardinality(m.path)]
                         ELSE t.unit_code END
    FROM (SELECT CAST(e->>'code' AS varchar) AS code,
                 CAST(ARRAY(SELECT jsonb_array_elements_text(e->'unit_path')) AS varchar[])
                     AS path
          FROM jsonb_array_elements(CAST(:moves AS jsonb)) AS e) AS m,
         {table} AS was
    WHERE was.{key} = t.{key}
      AND t.unit_path && CAST(:codes AS varchar[]) AND t.unit_path @> ARRAY[m.code]
      AND t.unit_path[1:array_position(t.unit_path, m.code)] IS DISTINCT FROM m.path
    RETURNING t.{key}, was.unit_path, t.unit_path
"""
_KEYS = {"group_members": "membership_id"}


def move_people(session, people, cause):
    """Place the assessments and titles of each of ``people`` (dicts with person_id,
    unit_code, unit_path: where the person is now; the last of a person wins) there.
    Returns {table: rows moved}."""
    latest = {str(p["person_id"]): {"person_id": str(p["person_id"]),
                                    "unit_code": p["unit_code"],
                                    "unit_path": list(p["unit_path"])} for p in people}
    if not latest:
        return {}
    params = {"moves": json.dumps(sorted(latest.values(), key=lambda p: p["person_id"]))}
    return {table: _apply(session, _PEOPLE.format(table=table), params, table, cause)
            for table in PERSONAL}


def move_units(session, places, cause):
    """Place the rows of each unit of ``places`` ({code: its path now, ending in the unit it
    became}) and of the units under it there. Returns {table: rows moved}."""
    if not places:
        return {}
    params = {"codes": sorted(places), "moves": json.dumps(
        [{"code": code, "unit_path": list(places[code])} for code in sorted(places)])}
    moved = {}
    for table, source in PLACED.items():
        if source is not None and not moved[source]:
            moved[table] = 0
            continue
        statement = _UNITS.format(table=table, key=_KEYS.get(table, "id"))
        moved[table] = _apply(session, statement, params, table, cause)
    return moved


def _apply(session, statement, params, table, cause):
    """Run one table's UPDATE; an assessment that moved gets its ``moved`` step."""
    rows = session.execute(text(statement), params).all()  # table names: PLACED's, not input
    if rows and table == _STEPS:
        session.execute(insert(AssessmentStep), [
            {"assessment_id": row[0], "action": "moved", "actor_id": None,
             "detail": {"from_unit_path": list(row[1]), "unit_path": list(row[2]),
                        "cause": cause}} for row in rows])
    return len(rows)
