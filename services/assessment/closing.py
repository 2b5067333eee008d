"""Closing a year (khóa sổ năm) for a unit's subtree: the submissions of the year the workflow
lets it decide are decided (CLOSE_DECIDES: by default only those a reviewer accepted; the rest
stay open and are counted and listed), then every group whose members changed (one
assessment at a time is decisions.py's). Each closing records who ran it and on whose
authority, and every step it writes names that person.

It works in batches, each one transaction with its events in the outbox (its recognitions
as recognitions_granted, its refusals as recognitions_refused and its group titles as
group_recognitions_granted, up to 500 in each: a closing of a million submissions is about
three thousand messages, not 1.8 million), and keeps its progress in ``year_closings``:
interrupted (Ctrl-C, a crash), it is resumed by starting it again, and nothing is decided
twice because only what is still open is picked up (rows are claimed with FOR UPDATE SKIP
LOCKED).

Run it from the command line with ``cdht close-year YEAR --unit CODE`` (cdht_tools/cli.py;
a progress bar), or over HTTP with POST /years/<year>/close.
"""
import getpass
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, select, update

from cdht.contracts.events import recognitions_granted, recognitions_refused
from cdht.db import json_text
from cdht.ids import time_ordered_ids
from cdht.outbox import add_wire_events

from services.assessment import criteria as criteria_sets
from services.assessment import approval, closing_store, domain, titles
from services.assessment import reasons as refusal_reasons
from services.assessment.models import (
    Assessment, GroupMember, GroupRecognition, YearClosing,
)
from services.assessment.store import AssessmentStore

log = logging.getLogger(__name__)
ACTIVE = set()  # closings running in this process (the HTTP entrypoint's background work)
VIETNAM = timezone(timedelta(hours=7))  # when a year begins, for the people who close it
LEFT_OPEN_SHOWN = 200  # ids of the submissions left open in GET /closings/<id>


def check_recorded_criteria(session, sets):
    criteria_sets.check_unchanged(sets, AssessmentStore(session).recorded_criteria())


# -- closing a year ----------------------------------------------------------------------------

def may_close(store, unit_code, level):
    """Whether the association at the approval level may close the year for ``unit_code``
    (approval.may_close, on the unit's path as assessment knows it)."""
    return approval.may_close(store.known_path(unit_code) or [unit_code], level)


def year_closable(year):
    """Whether ``year`` has begun where the closing is done (approval.year_closable)."""
    return approval.year_closable(year, datetime.now(VIETNAM).date())


def operator():
    """Who runs ``cdht close-year`` when ``--by`` names nobody: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        return f"uid {os.getuid()}"


def actor_id(closed_by):
    """The closer as a registry person id (a staff token's subject), or None (an operator)."""
    try:
        return uuid.UUID(str(closed_by))
    except ValueError:
        return None


def _in_scope(year, unit_code, statuses):
    return (Assessment.year == year, Assessment.status.in_(statuses),
            Assessment.unit_path.contains([unit_code]))


@dataclass(frozen=True)
class _Work:
    """What a closing's batches need, read once from its row."""
    closing_id: uuid.UUID
    year: int
    unit_code: str
    statuses: tuple  # the statuses it decides
    left: tuple      # the open statuses it leaves open
    closed_by: str | None

    @classmethod
    def of(cls, closing):
        statuses, left = domain.closing_decides(closing.decides or approval.ALL_SUBMITTED)
        return cls(closing.id, closing.year, closing.unit_code, statuses, left,
                   closing.closed_by)


def start(session, year, unit_code, running_here=(), *, decides=approval.REVIEWED_ONLY,
          closed_by=None, authority=None):
    """The closing to run for (year, unit): an unfinished one is resumed, else a new one.
    ``decides``: CLOSE_DECIDES; ``closed_by`` and ``authority``: who starts (or resumes) it,
    and as what (role, unit_code, approval_level)."""
    unfinished = session.scalar(select(YearClosing).where(
        YearClosing.year == year, YearClosing.unit_code == unit_code,
        YearClosing.status.in_(("running", "interrupted", "failed")))
        .order_by(YearClosing.started_at.desc()).limit(1).with_for_update())
    statuses, _ = domain.closing_decides(decides)
    to_decide = session.scalar(select(func.count()).select_from(Assessment)
                               .where(*_in_scope(year, unit_code, statuses)))
    who = {"decides": decides, "closed_by": closed_by, "authority": authority}
    if unfinished is not None:
        if unfinished.id not in running_here:
            unfinished.status, unfinished.error = "running", None
            unfinished.to_decide = unfinished.decided + to_decide
            unfinished.updated_at = titles.now()
            for name, value in who.items():  # whoever resumes it decides what is left
                setattr(unfinished, name, value)
        return unfinished
    run = YearClosing(id=uuid.uuid4(), year=year, unit_code=unit_code, status="running",
                      phase="submissions", to_decide=to_decide, decided=0, recognised=0,
                      refused=0, groups_evaluated=0, groups_granted=0, groups_revoked=0,
                      **who)
    session.add(run)
    session.flush()
    session.refresh(run)  # started_at and the counters' defaults come from the database
    return run


def run(db, sets, closing_id, *, progress=None, batch_size=1000, helpers=None):
    """Carry the closing ``closing_id`` through to the end; ``progress(run)`` after each
    batch; its events carry the correlation id bound where it runs (cdht.observability).
    Any exception marks it failed (KeyboardInterrupt: interrupted) and re-raises: starting
    it again resumes. ``helpers``: other processes deciding beside this one (see ``main``):
    waited for when no open submission is left to claim, and given their shares of the
    groups."""
    try:
        work, phase = _work(db, closing_id)
        if phase == "submissions":
            _decide_all(db, sets, work, batch_size, lambda: _report(db, closing_id, progress))
            if helpers:
                for error in helpers.join():
                    log.warning("a process deciding submissions failed (%r): what it left "
                                "open is decided here", error)
                _decide_all(db, sets, work, batch_size)  # what a helper that failed left open
            with db.transaction() as session:
                closing = session.get(YearClosing, closing_id)
                closing.phase = "groups"
                closing.left_open = _left_open(session, work)
        _report(db, closing_id, progress)
        _begin_groups(db, closing_id)
        shares = helpers.decide_groups() if helpers else 1
        _decide_groups(db, sets, closing_id, work.year, work.unit_code, progress,
                       share=(0, shares))
        errors = helpers.join() if helpers else []
        if errors:
            raise RuntimeError(f"a process deciding groups failed ({errors[0]!r}): close the "
                               f"year again") from errors[0]
        with db.transaction() as session:
            closing = session.get(YearClosing, closing_id)
            closing.status, closing.phase = "finished", "done"
            closing.finished_at = closing.updated_at = titles.now()
        return _report(db, closing_id, progress)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            with db.transaction() as session:
                session.execute(update(YearClosing).where(YearClosing.id == closing_id)
                                .values(status=status, updated_at=titles.now(),
                                        error=f"{type(exc).__name__}: {exc}"[:1000]))
        except Exception:  # the database may be what failed; the row then says running
            pass
        raise


def _work(db, closing_id):
    """The closing's _Work, and the phase to pick up at."""
    with db.read() as session:
        closing = session.get(YearClosing, closing_id)
        return _Work.of(closing), closing.phase


def _left_open(session, work):
    """{status: count} of the submissions in scope the closing did not decide."""
    counts = dict(session.execute(
        select(Assessment.status, func.count()).where(*_in_scope(work.year, work.unit_code,
                                                                 work.left))
        .group_by(Assessment.status)).all())
    return {status: counts.get(status, 0) for status in work.left}


def left_open_ids(session, closing, limit=LEFT_OPEN_SHOWN):
    """Ids of the submissions in the closing's scope still in a status it leaves open (as
    they stand now: a later review takes one off), oldest first, at most ``limit``."""
    left = _Work.of(closing).left
    if not left:
        return []
    return list(session.scalars(
        select(Assessment.id).where(*_in_scope(closing.year, closing.unit_code, left))
        .order_by(Assessment.created_at, Assessment.id).limit(limit)))


def _report(db, closing_id, progress):
    with db.read() as session:
        closing = session.get(YearClosing, closing_id)
        session.expunge(closing)  # a plain snapshot for the caller, kept after the session
    if progress:
        progress(closing)
    return closing


def _decide_all(db, sets, work, batch_size, after_each=None):
    """Decide batch after batch until nothing is left to claim. A process walks the open
    submissions by person from where its last batch ended: starting each batch from the first
    person re-read every row decided before it (a million rows, five hundred times). Once at
    the end it looks again from the start, for rows another process held as it passed them
    and then left open (it failed)."""
    after = None
    while True:
        decided, after_this = _decide_batch(db, sets, work, batch_size, after)
        if decided:
            after = after_this
            if after_each:
                after_each()
        elif after is None:
            return
        else:
            after = None


def _decide_batch(db, sets, work, batch_size, after=None):
    """Decide up to ``batch_size`` assessments the closing decides (of people after
    ``after``), in one transaction: (how many, the last person). Each decision and step names
    the closer. Each assessment is decided by domain.evaluate, as one decided alone; the rows
    are written in bulk (closing_store)."""
    closing_id, year = work.closing_id, work.year
    actor = actor_id(work.closed_by)
    actor_text = str(actor) if actor else None
    with db.transaction() as session:
        batch = closing_store.claim(session, year, work.unit_code, work.statuses, batch_size,
                                    after)
        if not batch:
            return 0, None
        people = [a.person_id for a in batch]  # ids as text (closing_store.claim)
        evidence = {str(person): activities for person, activities
                    in AssessmentStore(session).activities_of(people, year).items()}
        holders = closing_store.holders(session, people, year)
        now = titles.now()
        changes, grants, steps, granted_events, refused_events = [], [], [], [], []
        used = set()
        closing_text = str(closing_id)
        dumps = json_text
        new_ids = iter(time_ordered_ids(len(batch)))
        for a in batch:
            criteria = criteria_sets.known(sets, a.criteria_version)
            used.add(criteria.version)
            decision = domain.evaluate(criteria, a.scores, a.target_group,
                                       evidence.get(a.person_id, ()))
            verdict = domain.closing_verdict(decision)
            notes = []
            if a.person_id in holders:
                verdict, notes = "refuse", [refusal_reasons.ALREADY_TITLED]
            status, refusal = domain.decide(a.status, verdict, decision, notes,
                                            allowed=work.statuses)
            assessment_id, person_id = a.id, a.person_id
            changes.append((assessment_id, status, decision.total, decision.passed,
                            closing_store.explanation_json(decision),
                            dumps(refusal) if refusal else None))
            placed = {"unit_code": a.unit_code, "unit_path": list(a.unit_path)}
            if status == domain.RECOGNISED:
                recognition_id = next(new_ids)
                grants.append((recognition_id, assessment_id, decision.total,
                               decision.criteria_version, decision.digital_skills))
                granted_events.append(placed | {
                    "recognition_id": recognition_id, "assessment_id": assessment_id,
                    "person_id": person_id, "target_group": a.target_group, "year": year,
                    "criteria_version": decision.criteria_version,
                    "total_score": decision.total, "digital_skills": decision.digital_skills})
                steps.append((assessment_id, "recognised", actor_text, dumps({
                    "summary": decision.summary, "closing": closing_text,
                    "closed_by": work.closed_by, "recognition_id": recognition_id})))
            else:
                refused_events.append(placed | {
                    "assessment_id": assessment_id, "person_id": person_id, "year": year,
                    "criteria_version": a.criteria_version, "total_score": decision.total,
                    "reasons": refusal_reasons.as_data(refusal)})
                steps.append((assessment_id, "refused", actor_text, dumps({
                    "reasons": refusal_reasons.sentences(refusal), "details": refusal,
                    "closing": closing_text, "closed_by": work.closed_by})))
        for version in used:
            titles.record_criteria(session, sets[version])
        closing_store.compress_fast(session)
        closing_store.update_decided(session, changes, now, actor)
        closing_store.insert_recognitions(session, grants)
        closing_store.insert_steps(session, steps)
        add_wire_events(session, "recognitions_granted",  # hundreds a message, not one
                        recognitions_granted(closing_text, granted_events),
                        producer=titles.PRODUCER)
        add_wire_events(session, "recognitions_refused",
                        recognitions_refused(closing_text, refused_events),
                        producer=titles.PRODUCER)
        session.execute(update(YearClosing).where(YearClosing.id == closing_id).values(
            decided=YearClosing.decided + len(batch),
            recognised=YearClosing.recognised + len(grants),
            refused=YearClosing.refused + len(refused_events), updated_at=now))
        return len(batch), batch[-1].person_id


def _begin_groups(db, closing_id):
    """The groups phase starts (again) from its first group; it decides every group anew,
    and a group already decided is left as it is."""
    with db.transaction() as session:
        session.execute(update(YearClosing).where(YearClosing.id == closing_id)
                        .values(groups_evaluated=0, updated_at=titles.now()))
        closing_store.analyze_titles(session)


def _decide_groups(db, sets, closing_id, year, unit_code, progress=None, share=(0, 1),
                   chunk=2000):
    """Every group placed in the subtree (and every group whose title there may go) with an
    id in ``share`` (i, n): the i-th of n equal ranges of ids, so that n processes decide
    the groups side by side. Chunk by chunk, from one aggregate of their members read as it
    streams."""
    ids_from, ids_to = _id_range(*share)

    def in_share(column):
        return and_(column >= ids_from, column < ids_to) if ids_to else column >= ids_from
    with db.read() as reading:
        for part in titles.group_counts_in_order(
                reading, year,
                and_(GroupMember.unit_path.contains([unit_code]),
                     in_share(GroupMember.group_id)),
                and_(GroupRecognition.unit_path.contains([unit_code]),
                     in_share(GroupRecognition.group_id)), chunk):
            counts = {group_id: counted for group_id, counted in part if counted is not None}
            with db.transaction() as session:
                granted, revoked, _ = titles.apply_group_results(
                    session, sets, year, counts, [group_id for group_id, _ in part],
                    closing_id)
                session.execute(update(YearClosing).where(YearClosing.id == closing_id)
                                .values(groups_evaluated=YearClosing.groups_evaluated
                                        + len(part),
                                        groups_granted=YearClosing.groups_granted + granted,
                                        groups_revoked=YearClosing.groups_revoked + revoked,
                                        updated_at=titles.now()))
            if progress:
                _report(db, closing_id, progress)


def _id_range(i, n):
    """The i-th of n equal ranges of UUIDs: (first, first of the next or None for the last)."""
    def bound(k):
        return uuid.UUID(int=k * (1 << 128) // n)
    return bound(i), (bound(i + 1) if i + 1 < n else None)


def view(closing):
    """A closing as the API and the CLI show it."""
    seconds = None
    if closing.started_at and (closing.finished_at or closing.updated_at):
        seconds = round(((closing.finished_at or closing.updated_at)
                         - closing.started_at).total_seconds(), 1)
    return {"closing_id": closing.id, "year": closing.year, "unit_code": closing.unit_code,
            "status": closing.status, "phase": closing.phase,
            "to_decide": closing.to_decide, "decided": closing.decided,
            "recognised": closing.recognised, "refused": closing.refused,
            "groups_evaluated": closing.groups_evaluated,
            "groups_granted": closing.groups_granted, "groups_revoked": closing.groups_revoked,
            "error": closing.error, "started_at": closing.started_at,
            "finished_at": closing.finished_at, "seconds": seconds,
            "decides": closing.decides, "closed_by": closing.closed_by,
            "authority": closing.authority,
            "left_open": {status: (closing.left_open or {})[status] for status in domain.OPEN
                          if status in (closing.left_open or {})}}  # jsonb keeps no order


def summary(closing):
    v = view(closing)
    left = ", ".join(f"{n} {status}" for status, n in v["left_open"].items())
    authority = v["authority"] or {}
    return (f"year {v['year']} closed for {v['unit_code']}: {v['decided']} submissions decided "
            f"({v['recognised']} recognised, {v['refused']} refused); {v['groups_evaluated']} "
            f"groups evaluated ({v['groups_granted']} granted, {v['groups_revoked']} revoked)"
            + (f"; left open, not reviewed: {left} (CLOSE_DECIDES={v['decides']}: "
               f"GET /closings/{v['closing_id']} lists them)" if left else "")
            + f" in {v['seconds']} s, by {v['closed_by']} ({authority.get('role')} of "
              f"{authority.get('unit_code')})")


# -- the command line --------------------------------------------------------------------------

class _Helpers:
    """The processes deciding beside ``main``'s: submissions (rows are claimed with SKIP
    LOCKED, so no two take the same one), then shares of the groups (ranges of ids). The
    work is CPU-bound Python. The same processes serve both phases (starting one costs
    about a second), each with its engine and criteria sets."""

    def __init__(self, url, directories, closing_id, batch_size, count):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_helper_setup, initargs=(url, directories))
        self.args = (closing_id, batch_size)
        self.count = count
        self.running = []

    def decide_submissions(self):
        self._submit([("submissions", None)] * self.count)

    def decide_groups(self):
        """Gives each process a share of the groups, all but the first (the caller's); the
        shares in all."""
        shares = self.count + 1
        self._submit([("groups", (i, shares)) for i in range(1, shares)])
        return shares

    def join(self):
        """Waits for what was given out; the errors of what failed (a process that died
        included)."""
        errors = [future.exception() for future in self.running]
        self.running = []
        return [error for error in errors if error is not None]

    def close(self):
        self.pool.shutdown(cancel_futures=True)

    def _submit(self, tasks):
        self.running = [self.pool.submit(_helper_task, *self.args, *task) for task in tasks]


_HELPER = {}  # in a helper process: its Transactions and criteria sets


def _helper_setup(url, directories):
    from sqlalchemy.orm import sessionmaker

    from cdht.db import Transactions, make_engine
    _HELPER["db"] = Transactions(sessionmaker(make_engine(url), expire_on_commit=False))
    _HELPER["sets"] = criteria_sets.load_criteria(criteria_sets.CRITERIA_DIR, *directories)


def _helper_task(closing_id, batch_size, phase, share):
    db, sets = _HELPER["db"], _HELPER["sets"]
    work, _ = _work(db, closing_id)
    if phase == "submissions":
        _decide_all(db, sets, work, batch_size)
    else:
        _decide_groups(db, sets, closing_id, work.year, work.unit_code, share=share)


def main(year, unit_code, *, by=None, batch_size=1000, quiet=False, workers=1):
    """``cdht close-year``: close with a progress bar; Ctrl-C stops cleanly, running
    it again resumes. ``workers`` processes decide submissions, then groups, side by side;
    ``by``: who closes (the OS user by default), recorded on the closing and its steps.
    Returns the exit status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy.orm import sessionmaker

    from cdht.config import load_config
    from cdht.db import Transactions, make_engine

    if not year_closable(year):
        print(f"year {year} has not begun: a year is closed once it has (year_not_over)",
              file=sys.stderr)
        return 2
    config = load_config("assessment")
    engine = make_engine(config["DATABASE_URL"])
    db = Transactions(sessionmaker(engine, expire_on_commit=False))
    dirs = [d for d in str(config.get("CRITERIA_DIRS") or "").split(":") if d]
    sets = criteria_sets.load_criteria(criteria_sets.CRITERIA_DIR, *dirs)
    settings = approval.from_config(config)
    level = settings.level
    started = time.monotonic()
    helpers = None
    try:
        with db.transaction() as session:
            check_recorded_criteria(session, sets)
            if not may_close(AssessmentStore(session), unit_code, level):
                print(f"APPROVAL_LEVEL={level}: closing a year (khóa sổ năm) is for the "
                      f"province's association: run it for the province", file=sys.stderr)
                return 2
            closing = start(session, year, unit_code, decides=settings.close_decides,
                            closed_by=by or operator(), authority={
                                "role": "operator", "unit_code": unit_code,
                                "approval_level": level})
        if workers > 1:
            helpers = _Helpers(config["DATABASE_URL"], dirs, closing.id, batch_size,
                               workers - 1)
            if closing.phase == "submissions":
                helpers.decide_submissions()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[detail]}"), disable=quiet) as bar:
            submissions = bar.add_task("submissions", total=closing.to_decide or 0,
                                       completed=closing.decided, detail="")
            groups = bar.add_task("groups", total=None, detail="", visible=False)

            def progress(c):
                bar.update(submissions, total=c.to_decide, completed=c.decided,
                           detail=f"{c.recognised} recognised, {c.refused} refused")
                if c.phase != "submissions":
                    bar.update(groups, visible=True, completed=c.groups_evaluated,
                               detail=f"{c.groups_granted} granted, {c.groups_revoked} revoked")
            closing = run(db, sets, closing.id, progress=progress, batch_size=batch_size,
                          helpers=helpers)
        print(summary(closing) + f" (this run: {time.monotonic() - started:.1f} s)")
        return 0
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume")
        return 130
    finally:
        if helpers:
            helpers.close()
        engine.dispose()
