"""How fast notifications' ``GET /health`` answers while a backlog of events drains:
``.venv/bin/python -m fault.backlog [--events N] [--event-workers W ...] [--bulk]``.

On the fault suite's own servers it starts the registry and notifications, imports N people,
publishes one ``recognition_granted`` per person at once (each one an RPC to the registry and
a mail), and times ``/health`` every 0.2 s until every mail has arrived. It does so once per
``--event-workers`` value (``0``: no bound, nameko's own behaviour, where hundreds of delivered
events queue for a worker ahead of any HTTP request; default: the services' configured bound)
and prints the figures, with the CPU time notifications and the registry spent per mail
(/proc). ``--bulk`` publishes the recognitions as a closing does instead:
``recognitions_granted``, 500 in each. A measurement, not a test: nothing is asserted.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")

import requests  # noqa: E402

from bench.common import cpu_seconds  # noqa: E402
from cdht.contracts import make_envelope  # noqa: E402
from cdht.contracts.events import recognitions_granted  # noqa: E402
from fault import checks  # noqa: E402
from fault.faults import _publish_raw  # noqa: E402
from fault.servers import PrivatePostgres, PrivateRabbit, SmtpServer  # noqa: E402
from fault.stream import YEAR, Province  # noqa: E402
from fault.system import System  # noqa: E402


def granted(person_id, unit):
    return make_envelope("recognition_granted", {
        "recognition_id": uuid.uuid4(), "assessment_id": uuid.uuid4(), "person_id": person_id,
        "unit_code": unit, "unit_path": ["AG", unit], "target_group": "resident",
        "year": YEAR, "criteria_version": "324/QĐ-KHVN", "total_score": 85,
        "digital_skills": "basic"}, producer="assessment", correlation_id="backlog")


def in_bulk(people):
    """The recognitions of ``people`` as a closing sends them, 500 an event."""
    items = [granted(person_id, unit).data for person_id, _, unit in people]
    return [make_envelope("recognitions_granted", data, producer="assessment",
                          correlation_id="backlog")
            for data in recognitions_granted(uuid.uuid4(), items)]


def measure(workdir, events, event_workers, bulk=False):
    pg, rabbit, smtp = PrivatePostgres(workdir), PrivateRabbit(workdir), SmtpServer()
    pg.init()
    pg.start()
    rabbit.init()
    rabbit.start()
    smtp.start()
    system = System(pg, rabbit, smtp.port, workdir / "logs")
    if event_workers is not None:
        system.env["EVENT_WORKERS"] = str(event_workers)
    try:
        system.migrate()
        system.start("registry", "notifications")
        province = Province(system, communes=4)
        province.create_units()
        province.import_people(province.write_people(workdir / "people.csv", events))
        province.load_people()
        envelopes = in_bulk(province.people) if bulk else [
            granted(person_id, unit) for person_id, _, unit in province.people]
        for envelope in envelopes:  # all queued before the timing starts
            _publish_raw(rabbit.amqp_uri, "assessment", envelope.event_type,
                         json.dumps(envelope.to_message()))
        pids = system.pids()
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        seconds, started = [], time.monotonic()
        done = threading.Event()

        def mails():
            while not done.is_set():
                raw, _ = checks.mail_counts(smtp)
                if sum(raw[checks.CONGRATULATION].values()) >= len(province.people):
                    done.set()
                time.sleep(0.2)
        threading.Thread(target=mails, daemon=True).start()
        health = system.base("notifications") + "/health"
        while not done.is_set() and time.monotonic() - started < 900:
            t = time.monotonic()
            requests.get(health, timeout=60)
            seconds.append(time.monotonic() - t)
            time.sleep(0.2)
        drained = time.monotonic() - started
        cpu = {name: (cpu_seconds(pid) - cpu[name]) / len(province.people)
               for name, pid in pids.items()}
        return seconds, drained, len(province.people), cpu
    finally:
        system.stop()
        rabbit.stop()
        pg.stop()
        smtp.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fault.backlog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--event-workers", type=int, nargs="+", default=[0, -1],
                        help="EVENT_WORKERS values to compare (0: unbounded; -1: as "
                             "configured)")
    parser.add_argument("--bulk", action="store_true",
                        help="recognitions_granted, 500 in each (a closing's)")
    args = parser.parse_args(argv)
    rows = []
    for value in args.event_workers:
        workdir = Path(tempfile.mkdtemp(prefix="cdht-backlog-"))
        os.chmod(workdir, 0o755)
        try:
            seconds, drained, events, cpu = measure(workdir, args.events,
                                               None if value < 0 else value, args.bulk)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        ordered = sorted(seconds)
        label = "unbounded (nameko)" if value == 0 else \
            "as configured" if value < 0 else f"EVENT_WORKERS={value}"
        rows.append(f"  {label:<22}{len(ordered):>6}  {ordered[len(ordered) // 2] * 1000:>7.0f}"
                    f"  {ordered[int(len(ordered) * 0.99)] * 1000:>7.0f}  "
                    f"{ordered[-1] * 1000:>7.0f}  {sum(1 for x in ordered if x >= 2):>6}"
                    f"  {events / drained:>8.0f}  {cpu['notifications'] * 1000:>13.2f}"
                    f"  {cpu['registry'] * 1000:>12.2f}")
        print(rows[-1], flush=True)
    kind = "recognitions in recognitions_granted" if args.bulk else "recognition_granted events"
    print(f"\nnotifications GET /health while {args.events} {kind} drain")
    print(f"  {'event workers':<22}{'calls':>6}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}"
          f"  {'>= 2 s':>6}  {'mails/s':>8}  {'notifications':>13}  {'registry':>12}")
    print(f"  {'':<22}{'':>6}  {'':>7}  {'':>7}  {'':>7}  {'':>6}  {'':>8}  {'CPU ms a mail':>28}")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
