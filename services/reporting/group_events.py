"""Groups and their titles: assessment's computed group titles, the registry's titles
recorded from paper decisions (group_titles_recorded) and its bulk group imports
(groups_imported).

A group is recognised for a year when it holds a computed OR a recorded title; both reach
the group indicators, and the members of a recognised family, clan or community count in
the adults' indicator (rules.POPULATIONS). A batch (up to 5,000 groups or titles) is applied
set-based: one statement per table, one load of every member touched, so 300,000 families
load in a few hundred transactions.
"""
from sqlalchemy import text

from cdht.batching import first_deliveries, handle_bulk_events, handle_events, runs
from cdht.consumer import handle_event, handle_large_event
from cdht.inbox import first_delivery
from services.reporting import domain, projection as proj


def event_day(event):
    """An event's report day: a batch is applied a day at a time (the series is by day)."""
    return domain.report_day(event.occurred_at)


class RecognitionNotYetSeen(Exception):
    """A revocation overtook its grant (they travel on different queues): retry later."""


_RECORD_TITLES = text("""
    INSERT INTO group_titles (group_recognition_id, group_id, group_kind, year, level,
                              granted_at, revoked_at, source, decision_number)
    SELECT t.id, t.grp, t.kind, t.year, NULL, :at, CASE WHEN t.gone THEN :at END, 'recorded',
           t.decision
    FROM unnest(CAST(:ids AS uuid[]), CAST(:groups AS uuid[]), CAST(:kinds AS varchar[]),
                CAST(:years AS int[]), CAST(:gone AS bool[]), CAST(:decisions AS varchar[]))
         AS t(id, grp, kind, year, gone, decision)
    ORDER BY t.id
    ON CONFLICT (group_recognition_id) DO UPDATE
    SET group_id = EXCLUDED.group_id, group_kind = EXCLUDED.group_kind, year = EXCLUDED.year,
        decision_number = EXCLUDED.decision_number,
        revoked_at = CASE WHEN EXCLUDED.revoked_at IS NULL THEN NULL
                          ELSE coalesce(group_titles.revoked_at, EXCLUDED.revoked_at) END
    WHERE group_titles.source = 'recorded'
""")

_GRANT_TITLES = text("""
    INSERT INTO group_titles (group_recognition_id, group_id, group_kind, year, level,
                              granted_at, revoked_at)
    SELECT t.id, t.grp, t.kind, t.year, t.level, t.at, NULL
    FROM unnest(CAST(:ids AS uuid[]), CAST(:groups AS uuid[]), CAST(:kinds AS varchar[]),
                CAST(:years AS int[]), CAST(:levels AS int[]), CAST(:at AS timestamptz[]))
         AS t(id, grp, kind, year, level, at)
    ORDER BY t.id
    ON CONFLICT DO NOTHING
""")

_ADD_MEMBERSHIPS = text("""
    INSERT INTO memberships (membership_id, person_id, group_id, group_kind, current)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:persons AS uuid[]),
                         CAST(:groups AS uuid[]), CAST(:kinds AS varchar[]),
                         CAST(:current AS bool[]))
""")


class GroupEvents:
    """Mixed into ReportingService: its handlers of group events."""

    def _members_before(self, session, group_ids):
        """The current members of ``group_ids`` (families, clans, communities), loaded and
        locked before their groups' titles change."""
        return proj.load_people(session, proj.group_members(session, group_ids))

    def _members_after(self, session, people, deltas):
        """Add to ``deltas`` what the members' "in a recognised group" counts now say."""
        if people:
            more = proj.people_deltas(session, people,
                                      lambda rows: proj.refresh_recognised(session, rows),
                                      self.adult_age, self.digital)
            for key, n in more.items():
                deltas[key] = deltas.get(key, 0) + n
        return deltas

    def _group_deltas(self, session, groups, before, deltas):
        """Add each group's change (``before``: its tallies then) to ``deltas``."""
        placed = proj.placements(session, sorted({g["unit_code"] for g in groups.values()}))
        for gid, group in groups.items():
            path = placed[group["unit_code"]][1]
            domain.change_deltas(path, before[gid], path,
                                 domain.group_tallies(proj.group_state(group)), deltas)
        return deltas

    # -- computed by assessment -------------------------------------------------------------
    @handle_events("assessment", "group_recognition_granted")
    def on_group_recognition_granted(self, events):
        """Computed titles in batches (cdht.batching: closing a year sends one for each
        group that qualifies, 227,000 for a province of a million), each run of one report
        day applied as group_titles_recorded applies a batch."""
        with self.db.transaction() as session:
            for day, run in runs(first_deliveries(session, events), event_day):
                self._grant_group_titles(session, run, day)

    @handle_bulk_events("assessment", "group_recognitions_granted")
    def on_group_recognitions_granted(self, events):
        """A closing's computed titles, 500 an event: each applied as a
        group_recognition_granted of its own would be, with its batch event's time."""
        with self.db.transaction() as session:
            titles = [t for e in first_deliveries(session, events)
                      for t in proj.items_of(e, "titles")]
            for day, run in runs(titles, event_day):
                self._grant_group_titles(session, run, day,
                                         len({t.event_id for t in run}))

    def _grant_group_titles(self, session, events, day, messages=None):
        """``messages``: how many events the lag counts as applied (by default one a
        title)."""
        datas = [e.data for e in events]
        deltas = self._retitle(session, datas, lambda: session.execute(_GRANT_TITLES, {
            "ids": [str(d["group_recognition_id"]) for d in datas],
            "groups": [str(d["group_id"]) for d in datas],
            "kinds": [d["group_kind"] for d in datas], "years": [d["year"] for d in datas],
            "levels": [d["level"] for d in datas],
            "at": [e.occurred_at for e in events]}).rowcount)
        if deltas is not None:  # None: every title was already counted
            self._finish(session, events[-1], deltas, day, count=messages or len(events))

    def _retitle(self, session, titles, write):
        """Change the titles of the groups ``titles`` name (each with group_id, group_kind,
        unit_code, unit_path) with ``write()``, which says whether it changed anything: the
        deltas of the groups and of their members, or None when nothing changed."""
        proj.remember_paths(session, [t["unit_path"] for t in titles])
        placed = proj.placements(session, sorted({t["unit_code"] for t in titles}))
        groups = proj.load_groups(session, {
            str(t["group_id"]): (t["group_kind"], placed[t["unit_code"]][0]) for t in titles})
        before = {gid: domain.group_tallies(proj.group_state(g)) for gid, g in groups.items()}
        members = self._members_before(session, list(groups))
        if not write():
            return None
        proj.refresh_group_years(session, groups)
        deltas = self._group_deltas(session, groups, before, {})
        return self._members_after(session, members, deltas)

    @handle_event("assessment", "group_recognition_revoked")
    def on_group_recognition_revoked(self, event):
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            title = session.execute(text(
                "SELECT group_id, group_kind, year, revoked_at FROM group_titles "
                "WHERE group_recognition_id = :id"),
                {"id": str(data["group_recognition_id"])}).first()
            if title is None:
                raise RecognitionNotYetSeen(str(data["group_recognition_id"]))
            if title.revoked_at is not None:
                return
            unit = proj.placements(session, [data["unit_code"]])[data["unit_code"]][0]
            group = proj.load_group(session, title.group_id, title.group_kind, unit)
            before = domain.group_tallies(proj.group_state(group))
            members = self._members_before(session, [title.group_id])
            session.execute(text("UPDATE group_titles SET revoked_at = :at "
                                 "WHERE group_recognition_id = :id"),
                            {"id": str(data["group_recognition_id"]), "at": event.occurred_at})
            rows = {str(title.group_id): group}
            proj.refresh_group_years(session, rows)
            deltas = self._group_deltas(session, rows, {str(title.group_id): before}, {})
            self._members_after(session, members, deltas)
            self._finish(session, event, deltas, domain.report_day(event.occurred_at))

    # -- recorded from paper decisions -------------------------------------------------------
    @handle_large_event("registry", "group_titles_recorded")
    def on_group_titles_recorded(self, event):
        """Titles entered from their decisions (``recorded``), or records withdrawn as
        mistaken (``withdrawn``: the title never existed, it no longer counts)."""
        data = event.data
        latest = {}
        for item in data["titles"]:  # the same title twice in a batch: the last says
            latest[str(item["title_id"])] = item
        titles = [latest[k] for k in sorted(latest)]
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return

            def record():
                session.execute(_RECORD_TITLES, {
                    "at": event.occurred_at, "ids": [str(t["title_id"]) for t in titles],
                    "groups": [str(t["group_id"]) for t in titles],
                    "kinds": [t["group_kind"] for t in titles],
                    "years": [t["year"] for t in titles],
                    "gone": [t["change"] == "withdrawn" for t in titles],
                    "decisions": [t["decision_number"] for t in titles]})
                return True  # applied and counted as applied, changed or not
            deltas = self._retitle(session, titles, record)
            self._finish(session, event, deltas, domain.report_day(event.occurred_at))

    # -- bulk imports of groups and members --------------------------------------------------
    @handle_large_event("registry", "groups_imported")
    def on_groups_imported(self, event):
        """A batch of a bulk import: each membership change stands for a membership_changed
        event, applied as that handler would, for the whole batch at once."""
        data = event.data
        with self.db.transaction() as session:
            if not first_delivery(session, event):
                return
            proj.remember_paths(session, [g["unit_path"] for g in data["groups"]])
            placed = proj.placements(session, sorted({g["unit_code"]
                                                      for g in data["groups"]}))
            groups = proj.load_groups(session, {
                str(g["group_id"]): (g["group_kind"], placed[g["unit_code"]][0])
                for g in data["groups"]})
            before = {gid: domain.group_tallies(proj.group_state(g))
                      for gid, g in groups.items()}
            changes = [(str(g["group_id"]), g["group_kind"], m) for g in data["groups"]
                       for m in g["memberships"]]
            people = proj.load_people(session, {
                str(m["person_id"]): groups[gid]["unit_code"] for gid, _, m in changes})
            known = {str(i): c for i, c in session.execute(text(
                "SELECT membership_id, current FROM memberships "
                "WHERE membership_id = ANY(CAST(:ids AS uuid[])) ORDER BY membership_id "
                "FOR UPDATE"), {"ids": sorted({str(m["membership_id"])
                                               for _, _, m in changes})})}
            added, ended, steps = {}, set(), []
            for gid, kind, m in changes:
                mid, pid = str(m["membership_id"]), str(m["person_id"])
                if m["change"] == "joined" and mid not in known:
                    known[mid] = added[mid] = True
                    steps.append((pid, gid, kind, 1))
                elif m["change"] == "left" and known.get(mid):
                    known[mid] = False
                    if mid in added:
                        added[mid] = False
                    else:
                        ended.add(mid)
                    steps.append((pid, gid, kind, -1))
                elif m["change"] == "left" and mid not in known:
                    known[mid] = added[mid] = False  # left overtook joined: never counts
                if mid in added:
                    added[mid] = (pid, gid, kind, known[mid])
            if added:
                rows = [(mid, *facts) for mid, facts in sorted(added.items())]
                session.execute(_ADD_MEMBERSHIPS, {
                    "ids": [r[0] for r in rows], "persons": [r[1] for r in rows],
                    "groups": [r[2] for r in rows], "kinds": [r[3] for r in rows],
                    "current": [r[4] for r in rows]})
            if ended:
                session.execute(text(
                    "UPDATE memberships SET current = false "
                    "WHERE membership_id = ANY(CAST(:ids AS uuid[]))"), {"ids": sorted(ended)})

            def mutate(rows):
                for pid, _, kind, step in steps:
                    rows[pid]["kinds"][kind] += step
                proj.refresh_recognised(session, rows)
            deltas = proj.people_deltas(session, people, mutate, self.adult_age, self.digital)
            for _, gid, _, step in steps:
                groups[gid]["members"] += step
            proj.save_groups(session, groups)
            self._group_deltas(session, groups, before, deltas)
            self._finish(session, event, deltas, domain.report_day(event.occurred_at))
