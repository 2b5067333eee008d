"""The groups import's writes, one chunk per transaction (the runner's loop, runner.py):

1. rows are validated (group_rows.GroupRowValidator) and the good ones COPied into a
   temporary table;
2. members are found by national ID; a row naming nobody registered, or a person already in
   another family, is reported and dropped;
3. groups are upserted by (kind, code) (``INSERT ... ON CONFLICT ... WHERE something
   changed``), open memberships inserted where the person is not yet a member, roles of
   existing memberships updated, titles upserted by (group, year);
4. ``groups_imported`` (groups whose rows changed something, up to 5,000 per event) and
   ``group_titles_recorded`` (titles recorded or corrected, up to 5,000 per event) are
   staged in the outbox, and a learning unit's new members gain the ``unit_staff`` role
   (``person_updated``), as when they join one over HTTP.

An import adds and updates: a member missing from a re-imported file stays a member (end a
membership with PATCH /memberships/<id>). Re-importing the same file changes nothing and
sends nothing. National IDs never leave this module in a reason or an event.
"""
from sqlalchemy import text

from cdht.outbox import add_events
from services.registry.imports import group_rows
from services.registry.imports.chunks import (
    ESCAPE, EVENT_ITEMS, PRODUCER, copy_into,
)

_STAGE = {
    "row_no": "int", "kind": "varchar(20)", "code": "varchar(64)", "name": "varchar(200)",
    "unit_code": "varchar(64)", "level": "varchar(10)", "national_id": "varchar(12)",
    "role": "varchar(10)", "joined_on": "date", "year": "int",
    "decision_number": "varchar(50)", "decision_date": "date", "issued_by": "varchar(200)",
}
_CREATE_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS group_stage (" +
                 ", ".join(f"{c} {t}" for c, t in _STAGE.items()) +
                 ", person_id uuid, group_id uuid) ON COMMIT DELETE ROWS")
_FIND_PEOPLE = """
    UPDATE group_stage s SET person_id = p.id FROM people p
    WHERE p.national_id = s.national_id AND p.deleted_at IS NULL
      AND (:everywhere OR p.unit_code = ANY(CAST(:units AS text[])))"""
# (a person outside the importer's scope is not found: the same row error as no one)
_DROP_OTHER_SCOPE = """
    WITH dropped AS (
        DELETE FROM group_stage s
        WHERE NOT :everywhere AND EXISTS (
            SELECT 1 FROM groups g WHERE g.kind = s.kind AND g.code = s.code
              AND g.deleted_at IS NULL AND NOT g.unit_code = ANY(CAST(:units AS text[])))
        RETURNING s.row_no)
    SELECT row_no FROM dropped ORDER BY row_no"""
_DROP_UNKNOWN = "DELETE FROM group_stage WHERE person_id IS NULL RETURNING row_no"
_LOCK_PEOPLE = """
    SELECT count(*) FROM (SELECT 1 FROM people p WHERE p.id IN (SELECT person_id FROM group_stage)
                          ORDER BY p.id FOR UPDATE OF p) locked"""
_DROP_OTHER_FAMILY = """
    WITH dropped AS (
        DELETE FROM group_stage s
        WHERE s.kind = 'family' AND EXISTS (
            SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id
            WHERE m.person_id = s.person_id AND m.group_kind = 'family'
              AND m.left_on IS NULL AND m.deleted_at IS NULL
              AND g.code IS DISTINCT FROM s.code)
        RETURNING s.row_no)
    SELECT row_no FROM dropped ORDER BY row_no"""
_UPSERT_GROUPS = """
    WITH src AS (SELECT DISTINCT ON (kind, code) kind, code, name, unit_code, level
                 FROM group_stage ORDER BY kind, code, row_no)
    INSERT INTO groups AS g (id, kind, code, name, unit_code, level)
    SELECT gen_random_uuid(), kind, code, name, unit_code, level FROM src ORDER BY kind, code
    ON CONFLICT (kind, code) WHERE code IS NOT NULL AND deleted_at IS NULL
    DO UPDATE SET name = EXCLUDED.name, unit_code = EXCLUDED.unit_code, level = EXCLUDED.level,
                  updated_at = now()
    WHERE (g.name, g.unit_code, g.level) IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.unit_code, EXCLUDED.level)
    RETURNING g.id::text AS id, (g.xmax = 0) AS inserted"""
_PLACE_GROUPS = """
    UPDATE group_stage s SET group_id = g.id FROM groups g
    WHERE g.kind = s.kind AND g.code = s.code AND g.deleted_at IS NULL"""
_JOIN = """
    INSERT INTO memberships (id, person_id, group_id, group_kind, role, joined_on)
    SELECT gen_random_uuid(), s.person_id, s.group_id, s.kind, s.role, s.joined_on
    FROM group_stage s
    WHERE NOT EXISTS (SELECT 1 FROM memberships m
                      WHERE m.person_id = s.person_id AND m.group_id = s.group_id
                        AND m.left_on IS NULL AND m.deleted_at IS NULL)
    ORDER BY s.row_no
    RETURNING id::text AS id, person_id::text AS person_id, group_id::text AS group_id,
              group_kind, joined_on"""
_ROLES = """
    UPDATE memberships m SET role = s.role, updated_at = now() FROM group_stage s
    WHERE m.person_id = s.person_id AND m.group_id = s.group_id AND m.left_on IS NULL
      AND m.deleted_at IS NULL AND m.role <> s.role
    RETURNING m.person_id::text"""
_UNIT_STAFF = """
    UPDATE people p SET roles = ARRAY(SELECT DISTINCT r FROM unnest(p.roles || '{unit_staff}'::
                                      varchar[]) r ORDER BY r), updated_at = now()
    WHERE p.id = ANY(CAST(:ids AS uuid[])) AND p.deleted_at IS NULL
      AND NOT ('unit_staff' = ANY(p.roles))
    RETURNING p.id::text AS id, p.unit_code, p.target_group, p.roles,
              date_part('year', p.birth_date)::int AS birth_year"""
_UPSERT_TITLES = """
    WITH src AS (SELECT DISTINCT ON (group_id) group_id, year, decision_number, decision_date,
                        issued_by
                 FROM group_stage WHERE year IS NOT NULL ORDER BY group_id, row_no)
    INSERT INTO group_titles AS t (id, group_id, year, decision_number, decision_date,
                                   issued_by, import_id)
    SELECT gen_random_uuid(), group_id, year, decision_number, decision_date, issued_by,
           CAST(:import_id AS uuid)
    FROM src ORDER BY group_id
    ON CONFLICT (group_id, year) WHERE withdrawn_at IS NULL
    DO UPDATE SET decision_number = EXCLUDED.decision_number,
                  decision_date = EXCLUDED.decision_date, issued_by = EXCLUDED.issued_by
    WHERE (t.decision_number, t.decision_date, t.issued_by) IS DISTINCT FROM
          (EXCLUDED.decision_number, EXCLUDED.decision_date, EXCLUDED.issued_by)
    RETURNING t.id::text AS id, t.group_id::text AS group_id, t.year, t.decision_number,
              t.decision_date, t.issued_by"""
_GROUPS_OF = ("SELECT id::text AS id, kind, unit_code FROM groups "
              "WHERE id = ANY(CAST(:ids AS uuid[]))")


def _copy_line(r):
    def opt(value):
        return "\\N" if value is None else str(value).translate(ESCAPE)
    return "\t".join((str(r.row), r.kind, r.code.translate(ESCAPE), r.name.translate(ESCAPE),
                      r.unit_code.translate(ESCAPE), opt(r.level), r.national_id, r.role,
                      r.joined_on.isoformat(), opt(r.year), opt(r.decision_number),
                      opt(r.decision_date and r.decision_date.isoformat()),
                      opt(r.issued_by))) + "\n"


def _drop(session, sql, code, column, params=None, field="national_id"):
    """Run a statement that takes rows out of the chunk; their errors (national ID column)."""
    vi, en = group_rows.MESSAGES[code]
    return [group_rows.RowError(row_no, field, column, code, vi, en)
            for (row_no,) in session.execute(text(sql), params or {})]


def group_entries(upserted, joined, groups, units):
    """groups_imported entries from the chunk's changes: every group registered or updated,
    and every group that gained members (``unchanged`` itself), with those memberships."""
    inserted = {row.id: row.inserted for row in upserted}
    members = {}
    for m in joined:
        members.setdefault(m.group_id, []).append({
            "membership_id": m.id, "person_id": m.person_id, "change": "joined",
            "effective_on": m.joined_on})
    entries = []
    for group_id in sorted(set(inserted) | set(members)):
        group = groups[group_id]
        change = ("unchanged" if group_id not in inserted else
                  "registered" if inserted[group_id] else "updated")
        entries.append({"group_id": group_id, "group_kind": group.kind, "change": change,
                        "unit_code": group.unit_code, "unit_path": units.path(group.unit_code),
                        "memberships": members.get(group_id, [])})
    return entries


def title_entries(titles, groups, units):
    return [{"title_id": t.id, "group_id": t.group_id, "group_kind": groups[t.group_id].kind,
             "year": t.year, "decision_number": t.decision_number,
             "decision_date": t.decision_date, "issued_by": t.issued_by, "change": "recorded",
             "unit_code": groups[t.group_id].unit_code,
             "unit_path": units.path(groups[t.group_id].unit_code)} for t in titles]


class GroupChunks:
    """Writes the chunks of one groups import (see the module's docstring)."""
    kind = "groups"
    max_rows = EVENT_ITEMS  # a chunk's memberships of one group must fit one event's entry
    independent = False  # a group's members may span chunks: written one by one, in order
    inspect = staticmethod(group_rows.inspect)

    def __init__(self, importer, layout, units, today, *, job_id, dry_run):
        self.importer, self.units, self.job_id, self.dry_run = importer, units, job_id, dry_run
        self.validator = group_rows.GroupRowValidator(layout, units.valid, today=today,
                                                      in_scope=units.in_scope)
        self.national_id_column = layout.column_of("national_id")
        self.fields = sorted(set(layout.fields))
        self.group_code_column = layout.column_of("group_code")
        self.scope = {"everywhere": units.within is None,
                      "units": sorted(c for c in units.parents if units.in_scope(c))}
        self.batches = {"groups_imported": 0, "group_titles_recorded": 0}
        self.grown, self.inserted = (None, 0), 0

    @staticmethod
    def summary_lines(summary):
        return (("groups registered", summary.registered), ("groups updated", summary.updated),
                ("members joined", summary.members_joined),
                ("titles recorded", summary.titles_recorded),
                ("rows unchanged", summary.unchanged))

    def before(self, records):
        """Nothing outside the chunk's transaction (its statistics are kept inside)."""

    def write(self, session, records, errors, numbers=None, staged=None, *, index=0):
        """One chunk's writes and events; the chunk's counts (errors found here are added
        to ``errors``). ``staged``, ``index``: unused (the groups' chunks prepare nothing
        ahead, and number their events as they are written, one by one)."""
        delta = {"good": 0, "registered": 0, "updated": 0, "unchanged": 0,
                 "members_joined": 0, "titles_recorded": 0, "events": 0}
        if not records:
            return delta
        self._keep_statistics(session)
        copy_into(session, _CREATE_STAGE, "group_stage", _STAGE, map(_copy_line, records),
                  analyze=True)  # a temporary table has no statistics of its own
        session.execute(text(_FIND_PEOPLE), self.scope)
        dropped = _drop(session, _DROP_OTHER_SCOPE, "group_code.out_of_scope",
                        self.group_code_column, self.scope, "group_code")
        dropped += _drop(session, _DROP_UNKNOWN, "member.unknown", self.national_id_column)
        session.execute(text(_LOCK_PEOPLE))  # as POST /memberships: the person, then the row
        dropped += _drop(session, _DROP_OTHER_FAMILY, "member.other_family",
                         self.national_id_column)
        errors.extend(dropped)
        errors.sort(key=lambda e: e.row)
        good = len(records) - len({e.row for e in dropped})
        delta["good"] = good
        if not good:
            return delta
        upserted = session.execute(text(_UPSERT_GROUPS)).all()
        session.execute(text(_PLACE_GROUPS))
        joined = session.execute(text(_JOIN)).all()
        role_changed = session.scalars(text(_ROLES)).all()
        titles = session.execute(text(_UPSERT_TITLES), {
            "import_id": str(self.job_id) if self.job_id else None}).all()
        ids = {r.id for r in upserted} | {m.group_id for m in joined} | \
            {t.group_id for t in titles}
        groups = {g.id: g for g in session.execute(text(_GROUPS_OF), {
            "ids": list(ids)})} if ids else {}
        entries = group_entries(upserted, joined, groups, self.units)
        staff = [m.person_id for m in joined if m.group_kind == "learning_unit"]
        events = self._stage(session, "groups_imported", "groups", entries)
        events += self._stage(session, "group_titles_recorded", "titles",
                              title_entries(titles, groups, self.units))
        if staff:
            events += self._grant_unit_staff(session, staff)
        self.importer.audit(session, "import", {m.person_id for m in joined} | set(role_changed),
                            self.fields, self.dry_run)
        delta.update(registered=sum(1 for r in upserted if r.inserted),
                     updated=sum(1 for r in upserted if not r.inserted),
                     members_joined=len(joined), titles_recorded=len(titles),
                     unchanged=good - len(joined), events=events)
        self.inserted += len(joined)
        return delta

    def _stage(self, session, event_type, key, items):
        datas = []
        for start in range(0, len(items), EVENT_ITEMS):
            self.batches[event_type] += 1
            datas.append({"import_id": self.job_id, "batch": self.batches[event_type],
                          key: items[start:start + EVENT_ITEMS]})
        if datas and not self.dry_run:  # a dry run counts what it would send
            add_events(session, event_type, datas, producer=PRODUCER)
        return len(datas)

    def _grant_unit_staff(self, session, person_ids):
        """Joining a learning unit makes a person its staff (the role the targets count), as
        POST /memberships does: person_updated for each whose roles changed."""
        datas = []
        for p in session.execute(text(_UNIT_STAFF), {"ids": person_ids}):
            roles = list(p.roles)
            facts = {"person_id": p.id, "unit_code": p.unit_code,
                     "unit_path": self.units.path(p.unit_code), "target_group": p.target_group,
                     "roles": roles, "birth_year": p.birth_year}
            datas.append(facts | {"previous": {
                "target_group": p.target_group, "roles": [r for r in roles if r != "unit_staff"],
                "birth_year": p.birth_year}, "changed": ["roles"]})
        if datas and not self.dry_run:
            add_events(session, "person_updated", datas, producer=PRODUCER)
        return len(datas)

    def _keep_statistics(self, session):
        """ANALYZE the tables a chunk joins once this import has grown them by half (see
        people.PeopleChunks: stale statistics turn the joins into scans)."""
        inserted = self.inserted
        known, then = self.grown
        if known is not None and inserted - then < max(20_000, known // 2):
            return
        for table in ("groups", "memberships", "group_titles"):  # as the owner (migration 0008)
            session.execute(text("SELECT refresh_statistics(:t)"), {"t": table})
        known = session.scalar(text("SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                                    "WHERE oid = 'memberships'::regclass"))
        self.grown = (known or 0, inserted)
