"""Benchmark: the interactive path staff use, over HTTP, against the whole system started here.

The four services run as real ``nameko run`` processes (cdht_tools.local, as bin/up starts
them) on scratch databases and a scratch RabbitMQ vhost, with a local mail catcher. A
province and --communes communes are made, each with its association and one official.
Then, for each number of concurrent clients in --clients (threads, one keep-alive HTTP
session each, a commune staff token each, naming its commune's official), --workflows
workflows are driven to the end:

    POST registry /people -> POST assessment /assessments (self-assessment entered by staff)
    -> POST /assessments/<id>/review (accept) -> POST /assessments/<id>/decision (recognise)

A level written ``N@T`` (e.g. ``50@2``) gives each of its N clients a pause before every
call but its first, drawn at random around T seconds (exponential, mean T): staff read a
page and type before they press the next button, and clients that never pause measure only
the queue (by Little's law, N clients calling without pause at C calls/s wait about N / C
seconds a call, whatever each call costs). The paced level shows the latency staff meet at
an offered load below the capacity the unpaced levels measure.

Printed for each level: workflows/s, calls/s, p50/p95/p99 of every call and per route, and
CPU seconds per call: each service process's utime+stime (/proc/<pid>/stat) read before
the first call and after the last recognition is in reporting's figures and the services
are idle again (so the events each workflow causes count too), divided by the calls; beside
them PostgreSQL's and RabbitMQ's CPU (their servers' processes: other work on them counts
too) and this client's own; and each service database's transactions per call (PostgreSQL's
pg_stat_database, read once its statistics are flushed): a count the machine's other load
does not change, where CPU seconds on a shared machine do. Then, as the limit beside it, one
cheap authenticated read (GET /assessments/<id>) at the largest number of clients.

    .venv/bin/python bench/staff_workflow.py [--clients 8,50,50@2] [--workflows 300]
                                             [--communes 10] [--reads 2000]
                                             [--profile DIR]

--profile DIR runs ``py-spy record --format raw`` on every service process while the last
level runs (DIR/<service>.txt); bench/profile_summary.py DIR turns them into the tables of
bench/PROFILE.md. Figures, not assertions: nothing here fails on a slow machine.
"""
import argparse
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

os.environ.setdefault("EVENTLET_TESTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import (  # noqa: E402
    PG, auth_headers, drop_vhost, emit, peaks_line, percentiles, peaks_of, scratch_vhost,
)
from cdht import db  # noqa: E402
from cdht.config import SERVICES  # noqa: E402
from cdht_tools import local  # noqa: E402
from services.registry.domain import national_id_for  # noqa: E402
from tests.support import free_port  # noqa: E402

YEAR = 2025
SCORES = {"TC1.1": 9, "TC1.2": 8, "TC1.3": 8, "TC1.4": 8, "TC2.1": 8, "TC2.2": 7,
          "TC2.3": 8, "TC2.4": 8, "TC3.1": 9, "TC3.2": 8}  # 81 points: recognised
ROUTES = ("POST /people", "POST /assessments", "POST /assessments/<id>/review",
          "POST /assessments/<id>/decision")
READ = "GET /assessments/<id>"
TICK = os.sysconf("SC_CLK_TCK")
_serials = itertools.count(1)


# -- CPU time from /proc -----------------------------------------------------------------------
def _stat(path):
    """(parent pid, utime+stime, cutime+cstime, stime) in seconds from a /proc/<pid>/stat."""
    text = Path(path).read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK,
            (int(fields[13]) + int(fields[14])) / TICK, int(fields[12]) / TICK)


def process_cpu(pid):
    """CPU seconds a running process has used (every thread)."""
    return _stat(f"/proc/{pid}/stat")[1]


def process_system_cpu(pid):
    """The part of process_cpu spent in the kernel (system calls: sockets above all)."""
    return _stat(f"/proc/{pid}/stat")[3]


def server_cpu(root):
    """CPU seconds of a server: its main process, its live children and the children it
    has reaped (PostgreSQL's ended backends are in the postmaster's cutime)."""
    total = sum(_stat(f"/proc/{root}/stat")[1:3])
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, own, children, _ = _stat(path)
        except (OSError, ValueError):
            continue
        if parent == root:
            total += own + children
    return total


def server_pids():
    """{"postgresql": the postmaster's pid, "rabbitmq": the broker's}: these two servers
    only, not the other PostgreSQL or RabbitMQ processes this machine may run (containers)."""
    import psycopg2
    from bench.common import API
    with psycopg2.connect(PG.replace("+psycopg2", "") + "/postgres") as conn, \
            conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        postmaster = _stat(f"/proc/{cursor.fetchone()[0]}/stat")[0]
    conn.close()
    nodes = requests.get(f"{API}/api/nodes", timeout=10).json()
    return {"postgresql": postmaster, "rabbitmq": int(nodes[0]["os_pid"])}


def cpu_snapshot(procs, servers):
    times = os.times()
    return {**{p.name: process_cpu(p.process.pid) for p in procs},
            **{name: server_cpu(pid) for name, pid in servers.items()},
            "client": times.user + times.system,
            "services_system": sum(process_system_cpu(p.process.pid) for p in procs)}


def cpu_used(before, after):
    return {name: after[name] - before[name] for name in before}


STATS_FLUSHED_SECONDS = 11
"""PostgreSQL flushes an idle backend's statistics within 10 s (PGSTAT_IDLE_INTERVAL)."""


def db_transactions(urls):
    """{service: transactions its database has counted (committed or rolled back)}: a read,
    a write and a pool's ping each count one, whatever else loads the machine."""
    import psycopg2
    names = {make_url(url).database: service for service, url in urls.items()}
    conn = psycopg2.connect(PG.replace("+psycopg2", "") + "/postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT datname, xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = ANY(%s)", (list(names),))
            return {names[name]: count for name, count in cursor.fetchall()}
    finally:
        conn.close()


def wait_idle(procs, quiet=0.05, window=0.5, give_up=60):
    """Until the services together use less than ``quiet`` CPU seconds in ``window``."""
    deadline = time.monotonic() + give_up
    last = sum(process_cpu(p.process.pid) for p in procs)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = sum(process_cpu(p.process.pid) for p in procs)
        if now - last < quiet:
            return
        last = now


# -- the system and its data -------------------------------------------------------------------
class Caller:
    """One client: a keep-alive session, the base URLs, its headers; records each call.
    ``think``: mean seconds of pause before each call but the first (0: none)."""

    def __init__(self, bases, headers, think=0.0):
        self.session, self.bases, self.headers = requests.Session(), bases, headers
        self.samples, self.errors = [], []
        self.think, self.pauses = think, random.Random()

    def call(self, service, method, path, route, expected, body=None):
        if self.think and self.samples:
            time.sleep(self.pauses.expovariate(1 / self.think))
        t0 = time.perf_counter()
        response = self.session.request(method, self.bases[service] + path, json=body,
                                        headers=self.headers, timeout=120)
        self.samples.append((route, (time.perf_counter() - t0) * 1000))
        if response.status_code != expected:
            self.errors.append(f"{route}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()


def person_body(unit_code, name="Nguyễn Văn Bình"):
    serial = next(_serials)
    born = date(1960 + serial % 40, 1 + serial % 12, 1 + serial % 28)
    return {"national_id": national_id_for(89, born, "male", serial), "full_name": name,
            "gender": "male", "birth_date": born.isoformat(),
            "email": f"bench-{serial}@example.org", "unit_code": unit_code,
            "target_group": "resident"}


def make_province(bases, communes):
    """The province, its communes, each with a commune association and its official:
    {commune code: (official's person id, commune staff headers naming that official)}."""
    admin = Caller(bases, auth_headers())
    admin.call("registry", "POST", "/units", "setup", 201,
               {"code": "AG", "name": "Tỉnh An Giang", "kind": "province"})
    staff = {}
    for i in range(1, communes + 1):
        code = f"AG.B{i:02d}"
        admin.call("registry", "POST", "/units", "setup", 201,
                   {"code": code, "name": f"Xã Thử {i}", "kind": "commune",
                    "parent_code": "AG"})
        body = admin.call("registry", "POST", "/association/bodies", "setup", 201,
                          {"kind": "commune_association", "name": f"Hội Khuyến học xã Thử {i}",
                           "unit_code": code})
        official = admin.call("registry", "POST", "/people", "setup", 201,
                              person_body(code, "Trần Thị Chủ Tịch"))
        if body is None or official is None:
            break
        admin.call("registry", "POST", "/association/members", "setup", 201,
                   {"person_id": official["id"], "body_id": body["id"], "role": "official",
                    "joined_on": "2020-01-01"})
        staff[code] = (official["id"], local.dev_headers(
            role="commune_staff", unit_code=code, subject=official["id"],
            via="bench/staff_workflow.py"))
    if admin.errors:
        raise SystemExit("setting up the province failed:\n  " + "\n  ".join(admin.errors[:5]))
    return staff


def workflow(client, commune, official):
    """Register, self-assess, review, decide: the assessment's id, or None if a step
    failed."""
    person = client.call("registry", "POST", "/people", ROUTES[0], 201, person_body(commune))
    if person is None:
        return None
    submitted = client.call("assessment", "POST", "/assessments", ROUTES[1], 201,
                            {"person_id": person["id"], "year": YEAR, "scores": SCORES})
    if submitted is None:
        return None
    path = f"/assessments/{submitted['assessment_id']}"
    if client.call("assessment", "POST", path + "/review", ROUTES[2], 200,
                   {"reviewer_id": official, "action": "accept"}) is None:
        return None
    decided = client.call("assessment", "POST", path + "/decision", ROUTES[3], 200,
                          {"decided_by": official, "decision": "recognise"})
    return submitted["assessment_id"] if decided else None


def titled(bases):
    response = requests.get(f"{bases['reporting']}/units/AG/progress", params={"year": YEAR},
                            headers=auth_headers(), timeout=30)
    return response.json()["titled"] if response.status_code == 200 else 0


def wait_titled(bases, n, give_up=300):
    deadline = time.monotonic() + give_up
    while titled(bases) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"reporting did not show {n} titles in {give_up} s")
        time.sleep(0.1)


# -- the load ----------------------------------------------------------------------------------
def drive(clients, staff, bases, task, think=0.0):
    """``clients`` threads, each a Caller for one commune (pausing ``think`` seconds on
    average before each call), running ``task(caller, commune, official)`` until it returns
    False: (callers, seconds)."""
    communes = list(staff)
    callers = [Caller(bases, staff[communes[i % len(communes)]][1], think)
               for i in range(clients)]

    def run(i):
        commune = communes[i % len(communes)]
        while task(callers[i], commune, staff[commune][0]):
            pass
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return callers, time.perf_counter() - started


def workflows_task(total, done):
    """A task running ``total`` workflows across every client; (commune, assessment id) of
    the decided ones go to ``done``."""
    tickets, lock = iter(range(total)), threading.Lock()

    def task(client, commune, official):
        with lock:
            if next(tickets, None) is None:
                return False
        decided = workflow(client, commune, official)
        if decided:
            done.append((commune, decided))
        return True
    return task


def reads_task(total, done):
    """A task reading ``total`` assessments, each client those of its own commune."""
    tickets, lock = iter(range(total)), threading.Lock()
    by_commune = {}
    for commune, assessment in done:
        by_commune.setdefault(commune, []).append(assessment)

    def task(client, commune, official):
        with lock:
            ticket = next(tickets, None)
        if ticket is None:
            return False
        own = by_commune[commune]
        client.call("assessment", "GET", f"/assessments/{own[ticket % len(own)]}", READ, 200)
        return True
    return task


def figures_of(callers, seconds, cpu, routes):
    samples = [s for c in callers for s in c.samples]
    calls = len(samples)
    services = sum(cpu[s] for s in SERVICES if s in cpu)
    return {"calls": calls, "seconds": seconds, "calls_per_s": calls / seconds,
            "errors": sum(len(c.errors) for c in callers),
            "first_errors": [e for c in callers for e in c.errors][:3],
            "latency": percentiles([ms for _, ms in samples]),
            "routes": {r: percentiles([ms for route, ms in samples if route == r])
                       for r in routes if sum(1 for route, _ in samples if route == r) > 1},
            "cpu_seconds": cpu, "cpu_per_call": services / calls,
            "cpu_per_call_all": (services + cpu["postgresql"] + cpu["rabbitmq"]) / calls}


def report(level, out):
    q = level["latency"]
    out(f"  calls: {level['calls']:,} at {level['calls_per_s']:,.0f}/s; every call p50 "
        f"{q['p50']:.0f} ms  p95 {q['p95']:.0f} ms  p99 {q['p99']:.0f} ms"
        + (f"; {level['errors']} FAILED, first: {level['first_errors']}"
           if level["errors"] else ""))
    for route, q in level["routes"].items():
        out(f"    {route:34s} p50 {q['p50']:7.1f}  p95 {q['p95']:7.1f}  "
            f"p99 {q['p99']:7.1f} ms")
    cpu = level["cpu_seconds"]
    services = sum(cpu[s] for s in SERVICES)
    out(f"  CPU per call: services {level['cpu_per_call'] * 1000:.1f} ms ("
        + ", ".join(f"{s} {cpu[s] / level['calls'] * 1000:.1f}" for s in SERVICES)
        + f"); PostgreSQL {cpu['postgresql'] / level['calls'] * 1000:.1f} ms, RabbitMQ "
        f"{cpu['rabbitmq'] / level['calls'] * 1000:.1f} ms, this client "
        f"{cpu['client'] / level['calls'] * 1000:.1f} ms")
    out(f"  of the services' CPU, {cpu['services_system'] / max(services, 1e-9):.0%} is "
        f"kernel time (system calls)")
    if "db_transactions" in level:
        counted = level["db_transactions"]
        out("  database transactions per call (pings included; idle timers' too): "
            + ", ".join(f"{s} {counted[s] / level['calls']:.2f}" for s in SERVICES if s in counted))
    every = sum(v for k, v in cpu.items() if k != "services_system") / level["calls"]
    out(f"  at {every * 1000:.1f} ms of CPU per call in all, {os.cpu_count()} cores allow at "
        f"most {os.cpu_count() / every:,.0f} calls/s")


def start_profilers(procs, directory):
    directory.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).parent / "py-spy"
    return [subprocess.Popen([str(py_spy), "record", "--pid", str(p.process.pid), "--rate",
                              "100", "--nonblocking", "--format", "raw", "--output",
                              str(directory / f"{p.name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            for p in procs]


def stop_profilers(profilers):
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(60)


def level_of(spec):
    """``"50"`` -> (50, 0.0); ``"50@2"`` -> (50, 2.0): clients and their mean pause."""
    clients, _, think = spec.partition("@")
    return int(clients), float(think or 0)


def run(clients=((8, 0.0), (50, 0.0)), workflows=300, communes=10, reads=2000, profile=None, out=print):
    """Every figure of this benchmark, printed with ``out`` and returned as a dict."""
    figures = {"levels": []}
    run_id = uuid.uuid4().hex[:8]
    amqp = scratch_vhost(run_id)
    urls = {s: f"{PG}/cdht_bench_{run_id}_{s}" for s in SERVICES}
    logs = Path(tempfile.mkdtemp()) / "logs"
    logs.mkdir(parents=True)
    smtp_port = free_port()
    catcher = local.start_mail_catcher("127.0.0.1", smtp_port, logs)
    env = {"AMQP_URI": amqp, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}
    for service, url in urls.items():
        db.upgrade(service, url=url)
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    procs = local.start_services(env, logs, SERVICES)
    try:
        local.wait_healthy(procs)
        bases = {p.name: p.base_url for p in procs}
        servers = server_pids()
        staff = make_province(bases, communes)
        out(f"{len(SERVICES)} services (nameko run), {communes} communes with their "
            f"officials; {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} before the load")
        done = []
        drive(len(staff), staff, bases, workflows_task(len(staff), done))  # warm up
        wait_titled(bases, len(done))
        for n, think in clients:
            wait_idle(procs)
            time.sleep(STATS_FLUSHED_SECONDS)
            transactions = db_transactions(urls)
            before = cpu_snapshot(procs, servers)
            profilers = start_profilers(procs, Path(profile)) \
                if profile and (n, think) == clients[-1] else []
            decided, started = [], time.perf_counter()
            try:
                callers, seconds = drive(n, staff, bases, workflows_task(workflows, decided),
                                         think)
                wait_titled(bases, len(done) + len(decided))
                settled = time.perf_counter()
                wait_idle(procs)
            finally:
                if profilers:
                    stop_profilers(profilers)
            used = cpu_used(before, cpu_snapshot(procs, servers))
            level = figures_of(callers, seconds, used, ROUTES)
            time.sleep(STATS_FLUSHED_SECONDS)
            level["db_transactions"] = cpu_used(transactions, db_transactions(urls))
            done += decided
            level.update(clients=n, think_seconds=think, workflows=len(decided),
                         workflows_per_s=len(decided) / seconds,
                         load_average=os.getloadavg()[0])
            figures["levels"].append(level)
            paced = f", each pausing {think:g} s on average before a call" if think else ""
            out(f"{n} clients{paced}: {len(decided):,} workflows in {seconds:.1f} s = "
                f"{level['workflows_per_s']:.1f} workflows/s; every recognition in "
                f"reporting's figures {settled - started:.1f} s after the first call; load "
                f"average {level['load_average']:.1f}")
            report(level, out)
        if reads and done:
            n = max(n for n, _ in clients)
            wait_idle(procs)
            before = cpu_snapshot(procs, servers)
            callers, seconds = drive(n, staff, bases, reads_task(reads, done))
            used = cpu_used(before, cpu_snapshot(procs, servers))
            figures["read"] = figures_of(callers, seconds, used, (READ,))
            out(f"limit beside it, one authenticated read ({READ}), {n} clients:")
            report(figures["read"], out)
        figures["peak_rss_mb"] = peaks_of(procs)
        out(peaks_line(figures["peak_rss_mb"]))
    finally:
        local.stop_processes(procs)
        catcher.terminate()
        catcher.wait(10)
        for url in urls.values():
            db.drop_database(url)
        drop_vhost(run_id)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="8,50",
                        help="concurrent clients, one level after the other (comma-separated); "
                             "N@T: N clients pausing T seconds on average before each call")
    parser.add_argument("--workflows", type=int, default=300, help="workflows per level")
    parser.add_argument("--communes", type=int, default=10)
    parser.add_argument("--reads", type=int, default=2000,
                        help="reads of the limit beside it (0: none)")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy record every service during the last level, into DIR")
    args = parser.parse_args()
    emit(run([level_of(spec) for spec in args.clients.split(",")], args.workflows, args.communes,
             args.reads, args.profile))


if __name__ == "__main__":
    main()
