"""The fault suite: ``.venv/bin/python -m fault [--recognitions N] [--faults ...]``.

It starts its own PostgreSQL cluster, RabbitMQ node and SMTP server, migrates the four
databases, starts the four services as ``nameko run`` processes, and drives N recognitions
through them in waves (bulk import, POST /assessments, close-year). During the stream it
applies the faults, one at a time, each while a wave is flowing:

  duplicates  every registry and assessment event published twice (import and first waves)
  kill        SIGKILL registry, assessment, reporting, notifications (one per wave), restart
  rabbitmq    restart the broker
  postgres    stop the database for 10 s
  poison      undecodable and contract-breaking messages on the exchanges (mid-stream); at
              the end, valid events dead-lettered while the registry was away; then a replay

A service process that exits on its own (the broker restart included: cdht.broker) is
started again, as compose would, and fails the suite. Throughout the stream every service's
``GET /health`` is timed (the figures show how promptly it answers under the backlog).

Then it checks the invariants (fault/checks.py), prints the figures, tears everything down,
and exits 1 if an invariant failed (2 if the suite itself could not run).
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")  # no eventlet banner from nameko's imports

import requests  # noqa: E402

from fault import checks, faults  # noqa: E402
from fault.servers import PrivatePostgres, PrivateRabbit, SmtpServer  # noqa: E402
from fault.stream import Province, official_email  # noqa: E402
from fault.system import System  # noqa: E402

KILL_ORDER = ("registry", "assessment", "reporting", "notifications")


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m fault", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recognitions", type=int, default=10_000)
    parser.add_argument("--faults", default=",".join(faults.ALL_FAULTS),
                        help="comma-separated subset of: " + ", ".join(faults.ALL_FAULTS))
    parser.add_argument("--communes", type=int, default=10)
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--threads", type=int, default=8, help="concurrent submissions")
    parser.add_argument("--postgres-down", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(args.faults) - set(faults.ALL_FAULTS)
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(sorted(unknown))}")
    return args


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)



def distinct_letters(letters):
    """Dead letters counted once per message. A poison message can be dead-lettered twice (its
    copy's publish retried after a lost confirm: at least once, never lost); such copies are
    reported as a figure, not as poison of their own."""
    return len({(letter.get("queue"), letter.get("error"), letter.get("event_id"),
                 letter.get("body_bytes")) for letter in letters})

class Plan:
    """Which fault goes with which wave: one fault at a time, each during a wave."""

    def __init__(self, selected, waves):
        steps = []
        if "kill" in selected:
            steps += [("kill", s) for s in KILL_ORDER]
        if "rabbitmq" in selected:
            steps.append(("rabbitmq", None))
        if "postgres" in selected:
            steps.append(("postgres", None))
        if "poison" in selected:
            steps.append(("poison", None))
        first = 2 if "duplicates" in selected else 0  # the duplicates window comes first
        self.waves = max(waves, first + len(steps) + 1)
        self.at = {first + i: step for i, step in enumerate(steps)}
        self.duplicate_waves = first


class Decider(threading.Thread):
    """Closes the year again and again while submissions flow, so that recognitions are
    granted all along the stream (each run decides what is open, a few seconds' worth)."""

    def __init__(self, province):
        super().__init__(name="decider", daemon=True)
        self.province = province
        self.done = threading.Event()
        self.error = None
        self.runs = 0

    def run(self):
        try:
            while True:
                last = self.done.is_set()
                self.province.close_year()
                self.runs += 1
                if last:
                    return
                self.done.wait(2.0)
        except Exception as exc:
            self.error = f"close-year: {exc}"

    def finish(self):
        self.done.set()
        self.join()


class HealthProbe(threading.Thread):
    """Times every service's ``GET /health`` twice a second through the stream and its
    backlog: a health check must answer promptly however many events wait (cdht.broker
    keeps worker slots free for HTTP). Answers of any status count; refused connections
    (a service the suite killed) do not."""

    def __init__(self, system):
        super().__init__(name="health-probe", daemon=True)
        self.system = system
        self.stopping = threading.Event()
        self.seconds = {}  # service -> [latency of each answer]

    def run(self):
        while not self.stopping.is_set():
            for service in KILL_ORDER:
                started = time.monotonic()
                try:
                    requests.get(self.system.base(service) + "/health", timeout=30)
                except requests.RequestException:
                    continue
                self.seconds.setdefault(service, []).append(time.monotonic() - started)
            self.stopping.wait(0.5)

    def stop(self):
        self.stopping.set()
        self.join(60)

    def figures(self):
        """{service: (answers, p50, p99, max, answers slower than 2 s)}."""
        found = {}
        for service, seconds in self.seconds.items():
            ordered = sorted(seconds)
            found[service] = (len(ordered), ordered[len(ordered) // 2],
                              ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                              ordered[-1], sum(1 for x in ordered if x >= 2.0))
        return found


class FaultRunner(threading.Thread):
    """Applies the plan's faults one after the other, each when its wave starts."""

    def __init__(self, suite, plan, province, subs):
        super().__init__(name="faults", daemon=True)
        self.suite, self.plan, self.province, self.subs = suite, plan, province, subs
        self.due = {n: threading.Event() for n in plan.at}
        self.taken = {n: threading.Event() for n in plan.at}

    def go(self, wave):
        """Called by the stream at the start of ``wave``; returns once the fault has begun."""
        self.due[wave].set()
        if not self.taken[wave].wait(3):
            log(f"wave {wave + 1}: waiting for the previous fault to recover")
            self.taken[wave].wait()

    def run(self):
        for wave in sorted(self.plan.at):
            self.due[wave].wait()
            self.taken[wave].set()
            time.sleep(1.0)  # into the wave: requests and events in flight
            self.suite._fault(self.plan.at[wave], self.province, self.subs)


class Suite:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.pg = PrivatePostgres(workdir)
        self.rabbit = PrivateRabbit(workdir)
        self.smtp = SmtpServer()
        self.system = None
        self.ledger = None
        self.recoveries = []
        self.figures = {}
        self.fault_errors = []
        self.fault_windows = []  # (fault, monotonic start)

    # -- bring up / tear down ------------------------------------------------------------------
    def up(self):
        t = time.monotonic()
        self.pg.init()
        self.pg.start()
        self.rabbit.init()
        self.rabbit.start()
        self.smtp.start()
        log(f"private PostgreSQL :{self.pg.port}, RabbitMQ {self.rabbit.node} "
            f":{self.rabbit.port} (management :{self.rabbit.management_port}), "
            f"SMTP :{self.smtp.port} ({time.monotonic() - t:.1f} s)")
        self.system = System(self.pg, self.rabbit, self.smtp.port, self.workdir / "logs")
        self.system.migrate()
        self.system.start()
        self.system.supervise(time.monotonic())
        self.ledger = checks.Ledger(self.system)
        log(f"four services healthy ({time.monotonic() - t:.1f} s since start); "
            f"auth: {'bearer tokens' if self.system.session.headers else 'none (no cdht.auth)'}")

    def down(self):
        if self.system:
            self.system.supervising.clear()
            time.sleep(1.5)  # the supervisor's last round
        for step in (lambda: self.system and self.system.stop(), self.rabbit.stop,
                     self.pg.stop, self.smtp.stop, lambda: self.ledger and self.ledger.close()):
            try:
                step()
            except Exception as exc:  # tear down the rest regardless
                log(f"teardown: {type(exc).__name__}: {exc}")

    # -- the run ---------------------------------------------------------------------------------
    def run(self):
        args = self.args
        plan = Plan(args.faults, args.waves)
        province = Province(self.system, args.communes)
        province.create_units()
        province.create_officials()
        duplicator = None
        if "duplicates" in args.faults:
            duplicator = faults.Duplicator(self.rabbit.amqp_uri)
            duplicator.start()
            duplicator.ready.wait(30)
            if duplicator.error:
                raise RuntimeError(duplicator.error)
            log("duplicates: every registry and assessment event is published twice")
        t = time.monotonic()
        path = province.write_people(self.workdir / "people.csv", args.recognitions)
        province.import_people(path)
        province.load_people()
        log(f"imported {len(province.people)} people through the import CLI "
            f"({time.monotonic() - t:.1f} s)")
        if len(province.people) != args.recognitions:
            raise RuntimeError(f"imported {len(province.people)} of {args.recognitions}")

        subs = checks.subscriptions()
        stream_started = time.monotonic()
        decider = Decider(province)
        decider.start()
        probe = HealthProbe(self.system)
        probe.start()
        runner = FaultRunner(self, plan, province, subs)
        runner.start()
        waves = [province.people[i::plan.waves] for i in range(plan.waves)]
        for number, wave in enumerate(waves):
            if number in plan.at:
                runner.go(number)  # the fault starts with this wave (after the one before)
            wave_started = time.monotonic()
            province.submit_all(wave, args.threads)
            log(f"wave {number + 1}/{plan.waves}: {len(wave)} submitted in "
                f"{time.monotonic() - wave_started:.1f} s; granted so far "
                f"{self.ledger.granted()}")
            if duplicator is not None and number + 1 == plan.duplicate_waves:
                duplicator.stop()
                log(f"duplicates: window closed, {len(duplicator.copied)} events copied")
        decider.finish()
        runner.join()
        self.figures["stream_seconds"] = time.monotonic() - stream_started
        if duplicator is not None and duplicator.is_alive():
            duplicator.stop()
        if decider.error:
            raise RuntimeError(decider.error)

        reviews = {"per_official": {}, "injected": {}}
        for _, _, unit in province.people:
            email = official_email(unit)
            reviews["per_official"][email] = reviews["per_official"].get(email, 0) + 1
        self._wait_quiet(province, reviews, "the stream")
        probe.stop()
        self.figures["health"] = probe.figures()
        if "poison" in args.faults:
            self._dependent_poison(province, reviews, subs)
        fail, facts = checks.verify(self.system, self.ledger, self.smtp, province, reviews)
        fail.extend(self.fault_errors)
        if duplicator is not None:
            if duplicator.error:
                fail.append(f"duplicator failed: {duplicator.error}")
            facts["duplicate_copies"] = len(duplicator.copied)
            facts["duplicate_deliveries"] = sum(
                1 for _, event_type in duplicator.copied
                for events in subs.values() if event_type in events)
        self.figures.update(facts)
        self.figures["published"] = self.ledger.published()
        self.figures["applied"] = self.ledger.inbox_total()
        self.figures["resends"] = checks.resends(self.smtp, self.fault_windows)
        self.figures["unplanned_exits"] = list(self.system.unplanned_exits)
        for service, code, at in self.system.unplanned_exits:
            fail.append(f"{service} exited on its own (code {code}) {at} s into the run")
        self.figures["deliveries"] = self.ledger.deliveries()
        return fail

    def _fault(self, step, province, subs):
        kind, target = step
        s = self.system
        try:
            log(f"FAULT {kind} {target or ''}".rstrip())
            self.fault_windows.append((f"{kind} {target or ''}".strip(), time.monotonic()))
            if kind == "kill":
                recovery = faults.kill_service(s, self.ledger, self.smtp, target)
            elif kind == "rabbitmq":
                recovery = faults.restart_rabbitmq(s, self.ledger, self.smtp)
            elif kind == "postgres":
                recovery = faults.stop_postgres(s, self.ledger, self.smtp,
                                                self.args.postgres_down)
            else:
                recovery = self._hopeless_poison(subs)
            self.recoveries.append(recovery)
            if recovery.failure:
                self.fault_errors.append(recovery.failure)
            log("recovered: " + " | ".join(recovery.row()))
        except Exception as exc:
            self.fault_errors.append(f"fault {kind} {target}: {type(exc).__name__}: {exc}")
            log(traceback.format_exc())

    def _hopeless_poison(self, subs):
        """Undecodable and contract-breaking messages: each consumer that receives one puts
        it in its dead-letter queue and goes on."""
        recovery = faults.Recovery("poison (hopeless)")
        expected = faults.hopeless_expected(subs)
        already = {svc: len(faults.dead_letters(self.system, svc)) for svc in expected}
        self.figures["dead_before_poison"] = already
        started = time.monotonic()
        faults.inject_hopeless(self.rabbit.amqp_uri)
        self.figures["hopeless_injected"] = len(faults.hopeless_poison())
        deadline = time.monotonic() + 1200  # they wait in line behind the stream's events
        while True:
            found = {svc: len(faults.dead_letters(self.system, svc)) for svc in expected}
            if all(found[svc] >= already[svc] + n for svc, n in expected.items()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"poison not dead-lettered: found {found}, "
                                   f"expected {expected}")
            time.sleep(2)
        recovery.outage = time.monotonic() - started
        recovery.note = f"dead letters {found}"
        self.figures["hopeless_dead_letters"] = {svc: found[svc] - already[svc]
                                                 for svc in expected}
        self.figures["hopeless_expected"] = expected
        return faults.wait_caught_up(self.system, self.ledger, self.smtp, recovery,
                                     time.monotonic())

    def _dependent_poison(self, province, reviews, subs):
        """Valid events dead-lettered while their dependency (the registry) was away, then
        replayed by the operator's command once it is back: applied exactly once."""
        log("poison: registry stopped; injecting valid events notifications cannot handle")
        recovery = faults.Recovery("poison replay")
        self.fault_windows.append(("poison replay", time.monotonic()))
        self.system.stop("registry")
        injected = faults.inject_dependent(self.rabbit.amqp_uri, province)
        reviews["injected"] = injected
        for email in injected.values():
            reviews["per_official"][email] += 1
        deadline = time.monotonic() + 180
        while True:
            letters = faults.dead_letters(self.system, "notifications")
            dead = {letter.get("event_id") for letter in letters} & set(injected)
            if len(dead) == len(injected):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(dead)} of {len(injected)} dependent events "
                                   "were dead-lettered")
            time.sleep(2)
        self.figures["dependent_dead_letters"] = len(dead)
        log(f"poison: {len(dead)} valid events in notifications' dead-letter queue; "
            "registry started again; replaying every service's dead letters")
        self.system.start("registry")
        before_letters = {svc: faults.dead_letters(self.system, svc) for svc in subs}
        before = {svc: len(letters) for svc, letters in before_letters.items()}
        self.figures["dead_letter_copies"] = {
            svc: before[svc] - distinct_letters(before_letters[svc]) for svc in subs}
        self.figures["dead_before_replay"] = before
        started = time.monotonic()
        replayed = {svc: faults.replay(self.system, svc) for svc in subs if before[svc]}
        self.figures["replayed"] = replayed
        for svc, got in replayed.items():  # each letter replayed once; the hopeless came back
            if got["replayed"] != before[svc] or got["held"] != before[svc]:
                self.fault_errors.append(f"{svc}: the replay moved {got['replayed']} of "
                                         f"{got['held']} letters; {before[svc]} were there")
            hopeless = self.figures.get("hopeless_expected", {}).get(svc, 0)
            copies = before[svc] - distinct_letters(before_letters[svc])
            if not hopeless <= got["dead_again"] <= hopeless + copies:
                self.fault_errors.append(f"{svc}: the replay says {got['dead_again']} "
                                         f"dead-lettered again, expected {hopeless} (the "
                                         f"hopeless poison){'' if got['settled'] else ' so far'}")
        self._wait_quiet(province, reviews, "the replay")
        recovery.figures = recovery.mail = time.monotonic() - started
        expected = self.figures.get("hopeless_expected", {})
        deadline = time.monotonic() + 30
        while True:  # the hopeless ones travel back to their dead-letter queues
            after = {svc: faults.dead_letters(self.system, svc) for svc in subs}
            if all(distinct_letters(after[svc]) == expected.get(svc, 0) for svc in subs) or \
                    time.monotonic() > deadline:
                break
            time.sleep(1)
        self.figures["after_replay"] = {svc: len(v) for svc, v in after.items()}
        left = {letter.get("event_id") for letters in after.values()
                for letter in letters} & set(injected)
        if left:
            self.fault_errors.append(f"{len(left)} dependent events still dead after replay")
        for svc in subs:
            if distinct_letters(after[svc]) != expected.get(svc, 0):
                self.fault_errors.append(
                    f"{svc}: {len(after[svc])} dead letters after the replay, expected "
                    f"{expected.get(svc, 0)} (the hopeless poison, dead again): " + "; ".join(
                        f"{d.get('queue')} {d.get('event_id')} {str(d.get('error'))[:70]}"
                        for d in after[svc]))
        recovery.note = "replayed " + ", ".join(
            f"{svc} {got['replayed']} (dead again {got['dead_again']})"
            for svc, got in replayed.items())
        self.recoveries.append(recovery)

    def _wait_quiet(self, province, reviews, what, timeout=1200):
        """Until every event is published and applied and every mail has arrived."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            granted = self.ledger.granted()
            backlog = sum(self.ledger.backlog().values())
            raw, ids = checks.mail_counts(self.smtp)
            congrats = len(raw[checks.CONGRATULATION])
            reviews_done = all(len(ids[checks.REVIEW_REQUEST][email]) >= n
                               for email, n in reviews["per_official"].items())
            if (backlog == 0 and checks.titled(self.system) == granted
                    and congrats >= granted and reviews_done):
                log(f"quiet after {what} ({time.monotonic() - started:.1f} s)")
                return
            time.sleep(0.5)
        log(f"NOT quiet {timeout}s after {what}; checking anyway")

    # -- the report ------------------------------------------------------------------------------
    def report(self, fail, total_seconds):
        f = self.figures
        published = f.get("published", {})
        sent = sum(sum(v.values()) for v in published.values())
        titles = published.get("assessment", {})
        lines = ["", "FAULT SUITE FIGURES", "=" * 72,
                 f"recognitions granted            {f.get('granted')}  "
                 f"(reporting counts {f.get('titled')})",
                 f"events sent (outboxes)          {sent}  " + ", ".join(
                     f"{svc} {sum(v.values())}" for svc, v in published.items()),
                 f"  of which recognition_granted  {titles.get('recognition_granted', 0)}, "
                 f"recognitions_granted {titles.get('recognitions_granted', 0)} (a closing's, "
                 "up to 500 recognitions each)",
                 f"events applied (inbox rows)     {f.get('applied')}  "
                 f"(lost {f.get('events_lost')}, applied twice {f.get('events_applied_twice')})"]
        if "duplicate_copies" in f:
            lines.append(f"duplicates injected             {f['duplicate_copies']} events "
                         f"copied -> {f['duplicate_deliveries']} duplicate deliveries to "
                         "consumers, all suppressed by the inboxes")
        if "hopeless_injected" in f:
            lines.append(f"dead letters (poison)           {f['hopeless_injected']} hopeless "
                         f"messages -> {f.get('hopeless_dead_letters')} dead letters; "
                         f"{f.get('dependent_dead_letters')} valid events dead-lettered "
                         "while the registry was away")
            before = f.get("dead_before_replay") or {}
            from_faults = (sum(before.values()) - sum((f.get("hopeless_dead_letters") or {})
                           .values()) - (f.get("dependent_dead_letters") or 0))
            lines.append(f"  in dead-letter queues before the replay {before} (of which "
                         f"{from_faults} from the other faults)")
            lines.append("  replayed " + ", ".join(
                f"{svc} {got['replayed']} of {got['held']} (dead-lettered again "
                f"{got['dead_again']})" for svc, got in (f.get("replayed") or {}).items()) +
                f"; left after the replay {f.get('after_replay')} (the hopeless ones, "
                "dead again)")
        lines.append(f"unplanned service exits         {f.get('unplanned_exits')} "
                     "(service, exit code, s into the run; each fails the suite); "
                     "restarted as compose's restart: unless-stopped would")
        lines.append(f"emails                          {f.get('congratulations')} "
                     f"congratulations, {f.get('review_requests')} review requests; "
                     f"resent after a crash (same Message-ID) {f.get('mail_resent_same_id')}"
                     f" {f.get('resends') or ''}")
        lines.append(f"deliveries                      {f.get('deliveries')}")
        lines.append("GET /health during the stream  (answers: p50 | p99 | max | slower "
                     "than 2 s)")
        for service, (n, p50, p99, top, slow) in (f.get("health") or {}).items():
            lines.append(f"  {service:<14}{n:>6}: {p50 * 1000:.0f} ms | {p99 * 1000:.0f} ms | "
                         f"{top * 1000:.0f} ms | {slow}")
        lines.append("time to recover (from repair: reporting caught up | mails caught up)")
        lines.append(f"  {'fault':<26}{'outage':>10}{'figures':>10}{'mails':>10}  note")
        for r in self.recoveries:
            name, outage, figures, mail, note = r.row()
            lines.append(f"  {name:<26}{outage:>10}{figures:>10}{mail:>10}  {note.strip()}")
        lines.append(f"stream {f.get('stream_seconds', 0):.0f} s; whole suite "
                     f"{total_seconds:.0f} s")
        lines.append("=" * 72)
        lines.append("RESULT: PASS" if not fail else "RESULT: FAIL\n  " + "\n  ".join(fail))
        print("\n".join(lines), flush=True)


def main(argv=None):
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cdht-fault-"))
    os.chmod(workdir, 0o755)  # the postgres user must reach its directory inside
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    suite = Suite(args, workdir)
    started = time.monotonic()
    log(f"fault suite: {args.recognitions} recognitions, faults {','.join(args.faults)}; "
        f"work directory {workdir}")
    status = 2
    try:
        suite.up()
        fail = suite.run()
        suite.report(fail, time.monotonic() - started)
        status = 1 if fail else 0
    except BaseException:
        log("the suite could not run to the end:\n" + traceback.format_exc())
        status = 2
    finally:
        suite.down()
        if args.keep or status != 0:
            log(f"logs kept in {workdir / 'logs'}")
            shutil.rmtree(workdir / "postgres", ignore_errors=True)
            shutil.rmtree(workdir / "rabbitmq" / "mnesia", ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
