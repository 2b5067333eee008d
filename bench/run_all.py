"""Run every benchmark, one after the other, and print the table of performance goals: each figure, the
machine's own limit measured beside it in the same run, their ratio, the goal, met or not;
then the peak memory of every process the benchmarks started.

    .venv/bin/python bench/run_all.py            # small: a few minutes
    .venv/bin/python bench/run_all.py --full     # the province's full size (1,000,000); the
                                                 # nation's for national_overview (10,000,000)
    .venv/bin/python bench/run_all.py --only event_flow,reporting_dashboard
    .venv/bin/python bench/run_all.py --only event_flow,staff_workflow

Each script also runs alone (see its docstring); its output is shown as it runs. At the small
scale, the goals stated for 1,000,000 rows are compared with the time scaled linearly to
1,000,000 and marked so. Figures, not assertions: the exit code says only whether every
script ran.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import FIGURES_PREFIX  # noqa: E402

MILLION = 1_000_000
SCALES = {
    "small": {"import_people": ["--people", "50000", "--no-reimport"],
              "close_year": ["--people", "20000", "--server", "compose"],
              "event_flow": ["--events", "5000", "--latency-samples", "100"],
              "reporting_dashboard": ["--recognitions", "50000", "--samples", "50",
                                      "--events", "50"],
              "national_overview": ["--people", "200000", "--samples", "50"],
              "staff_workflow": ["--clients", "8,50,50@2", "--workflows", "300"]},
    "full": {"import_people": ["--people", "1000000", "--no-reimport"],
             "close_year": ["--people", "1000000", "--server", "compose"],
             "event_flow": ["--events", "100000", "--latency-samples", "200",
                            "--closing", "1000000"],
             "reporting_dashboard": ["--recognitions", "1000000"],
             "national_overview": ["--people", "10000000"],
             "staff_workflow": ["--clients", "8,50,50@2", "--workflows", "2000"]},
}


def run_script(name, args):
    """Run bench/<name>.py, echo its output, return its figures (None if it failed)."""
    print(f"\n=== bench/{name}.py {' '.join(args)}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    figures = None
    for line in process.stdout:
        if line.startswith(FIGURES_PREFIX):
            figures = json.loads(line[len(FIGURES_PREFIX):])
        else:
            print(line, end="", flush=True)
    process.wait()
    print(f"=== {name}: {'done' if process.returncode == 0 else 'FAILED'} in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return figures if process.returncode == 0 else None


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def rows_of(results):
    """The table's rows: (figure, limit beside it, ratio, goal, met)."""
    rows = []
    imp = results.get("import_people")
    if imp:
        scaled = imp["seconds"] * MILLION / imp["rows"]
        note = "" if imp["rows"] >= MILLION else f" (scaled to 1M: {scaled:.0f} s)"
        ratio = imp["rate"] / imp["copy_rate"]
        rows.append((f"registry import of {imp['rows']:,} people: {imp['rate']:,.0f} rows/s, "
                     f"{imp['seconds']:.1f} s{note}",
                     f"COPY {imp['copy_rate']:,.0f} rows/s", f"{ratio:.1%}",
                     ">= 20% of COPY; < 60 s at 1M", verdict(ratio >= 0.2 and scaled < 60)))
    flow = results.get("event_flow")
    if flow:
        limit = min(flow["limit_publish"], flow["limit_consume"])
        ratio = flow["end_to_end"] / limit
        rows.append((f"recognitions/s, outbox -> reporting's figures: {flow['end_to_end']:,.0f}"
                     + (f" (reporting alone, from a backlog: {flow['projection']:,.0f})"
                        if "projection" in flow else ""),
                     f"broker, pipelined confirms: publish {flow['limit_publish']:,.0f} / "
                     f"consume {flow['limit_consume']:,.0f} msg/s (round trip, a confirm per "
                     f"message: {flow['raw_publish']:,.0f}); both at once, through: "
                     f"{flow['limit_through']:,.0f} msg/s, "
                     f"{flow['end_to_end'] / flow['limit_through']:.0%} of it",
                     f"{ratio:.0%} of the slower", ">= 10,000/s or >= 50% of the broker's",
                     verdict(flow["end_to_end"] >= 10_000 or ratio >= 0.5)))
        if "closing_end_to_end" in flow:
            rate = flow["closing_end_to_end"]
            rows.append((f"a closing's recognitions/s (recognitions_granted, 500 an event), "
                         f"outbox -> reporting's figures: {rate:,.0f}; reporting's CPU "
                         f"{flow['closing_cpu_ms_per_1000']:.0f} ms per 1,000 (single "
                         f"events: {flow['reporting_cpu_ms_per_1000']:.0f} ms)",
                         "10,000 recognitions/s", f"{rate / 10_000:.0%}", ">= 10,000/s",
                         verdict(rate >= 10_000)))
        p99 = flow["latency_loaded"]["p99"]
        rows.append((f"one recognition visible, p99 under {flow['background_rate']:.0f}/s of "
                     f"load: {p99:.0f} ms (idle: {flow['latency_idle']['p99']:.0f} ms)",
                     "-", "-", "< 500 ms at p99", verdict(p99 < 500)))
    close = results.get("close_year")
    if close:
        scaled = close["seconds"] * MILLION / close["people"]
        note = "" if close["people"] >= MILLION else f" (scaled to 1M: {scaled:.0f} s)"
        rows.append((f"closing a year, {close['people']:,} submissions + {close['groups']:,} "
                     f"groups: {close['seconds']:.1f} s{note}, on the {close['server']}'s "
                     f"PostgreSQL settings", "-", "-", "< 180 s at 1M",
                     verdict(scaled < 180)))
    dash = results.get("reporting_dashboard")
    if dash:
        worst = max(dash["province"]["p95"], dash["commune"]["p95"])
        rows.append((f"province overview / commune drill-down, {dash['recognitions']:,} "
                     f"recognitions: p50 {dash['province']['p50']:.0f} / "
                     f"{dash['commune']['p50']:.0f} ms, p95 {dash['province']['p95']:.0f} / "
                     f"{dash['commune']['p95']:.0f} ms (breakdown p95 "
                     f"{dash['breakdown']['p95']:.0f} ms)",
                     f"recount from raw rows {dash['recount_ms']:,.0f} ms",
                     f"{dash['recount_ms'] / worst:,.0f}x faster", "p95 < 50 ms",
                     verdict(worst < 50)))
    nation = results.get("national_overview")
    if nation:
        rows.append((f"national overview / province drill-down, {nation['people']:,} people in "
                     f"{nation['provinces']} provinces, {nation['communes']:,} communes: p50 "
                     f"{nation['national']['p50']:.0f} / {nation['province']['p50']:.0f} ms, "
                     f"p95 {nation['national']['p95']:.0f} / {nation['province']['p95']:.0f} ms "
                     f"(commune p95 {nation['commune']['p95']:.0f} ms; generated in "
                     f"{nation['generate_s']:.0f} s, {nation['database_mb']:,.0f} MB; counters "
                     f"checked: {'yes' if nation['agree'] else 'NO'})",
                     f"recount from raw rows {nation['recount_ms']:,.0f} ms",
                     f"{nation['recount_ms'] / nation['national']['p95']:,.0f}x faster",
                     "p95 < 100 ms / < 50 ms at 10M",
                     verdict(nation["national"]["p95"] < 100 and nation["province"]["p95"] < 50)
                     if nation["people"] >= 10 * MILLION else verdict(None)))
    staff = results.get("staff_workflow")
    if staff:
        read = staff.get("read")
        for level in staff["levels"]:
            q, think = level["latency"], level.get("think_seconds")
            paced = f" pausing ~{think:g} s before each call" if think else ""
            rows.append((f"staff workflow (register, self-assess, review, decide), "
                         f"{level['clients']} clients{paced}: {level['workflows_per_s']:.1f} "
                         f"workflows/s, {level['calls_per_s']:.0f} calls/s, p50/p95/p99 "
                         f"{q['p50']:.0f}/{q['p95']:.0f}/{q['p99']:.0f} ms; CPU per call: "
                         f"services {level['cpu_per_call'] * 1000:.0f} ms, with PostgreSQL "
                         f"and RabbitMQ {level['cpu_per_call_all'] * 1000:.0f} ms"
                         + (f"; {level['errors']} FAILED" if level["errors"] else ""),
                         f"one authenticated read, {read['calls_per_s']:.0f} calls/s, CPU "
                         f"{read['cpu_per_call_all'] * 1000:.0f} ms per call" if read else "-",
                         f"{level['calls_per_s'] / read['calls_per_s']:.0%} of its rate"
                         if read else "-", "- (measured only)", verdict(None)))
    return rows


def memory_of(results):
    """(process, peak MB) of every process the benchmarks measured."""
    found = []
    for script in ("event_flow", "reporting_dashboard", "national_overview", "staff_workflow"):
        for service, mb in ((results.get(script) or {}).get("peak_rss_mb") or {}).items():
            if mb:
                found.append((f"{service} service (nameko run, {script})", mb))
    if results.get("import_people"):
        found.append(("registry import (cdht import, in process)",
                      results["import_people"]["peak_rss_mb"]))
    if results.get("close_year"):
        found.append(("assessment close-year (cdht close-year)",
                      results["close_year"]["peak_rss_mb"]))
    return found


def print_table(results, scale):
    print(f"\n## performance goals, {scale} scale, {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| figure | limit measured beside it | ratio | goal | |")
    print("|---|---|---|---|---|")
    for row in rows_of(results):
        print("| " + " | ".join(row) + " |")
    for process, mb in memory_of(results):
        print(f"| peak memory of {process}: {mb:.0f} MB | - | - | < 300 MB | "
              f"{verdict(mb < 300)} |")
    for name in SCALES[scale]:
        if name in results and results[name] is None:
            print(f"| bench/{name}.py FAILED: no figures | | | | |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="the province's full size (1M people, submissions, recognitions)")
    parser.add_argument("--only", default="",
                        help="comma-separated scripts: " + ", ".join(SCALES["small"]))
    args = parser.parse_args()
    scale = "full" if args.full else "small"
    names = [n for n in SCALES[scale] if not args.only or n in args.only.split(",")]
    results = {name: run_script(name, SCALES[scale][name]) for name in names}
    print_table(results, scale)
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
