"""What every benchmark shares: the servers it runs against, a scratch RabbitMQ vhost and
an admin token for the services it starts, percentiles, a process's peak memory, and the
figures line that bench/run_all.py reads from each script's output."""
import functools
import json
import os
import statistics
from pathlib import Path

import requests

FIGURES_PREFIX = "FIGURES "
PG = os.environ.get("CDHT_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
AMQP = os.environ.get("CDHT_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
API = os.environ.get("CDHT_BENCH_RABBIT_API", "http://guest:guest@127.0.0.1:15672")


@functools.lru_cache(maxsize=None)
def auth_headers():
    """An admin token signed with the local signing key, whose public key the services
    started here verify with."""
    from cdht_tools import local
    return local.dev_headers()


def scratch_vhost(run_id):
    """A RabbitMQ vhost of its own for one run (guest may do everything there): its AMQP
    URL. ``drop_vhost(run_id)`` removes it."""
    vhost = f"cdht-bench-{run_id}"
    requests.put(f"{API}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{API}/api/permissions/{vhost}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    return AMQP.rstrip("/") + "/" + vhost


def drop_vhost(run_id):
    requests.delete(f"{API}/api/vhosts/cdht-bench-{run_id}", timeout=10)


def percentiles(samples):
    """p50, p95 and p99 of ``samples``."""
    q = statistics.quantiles(samples, n=100)
    return {"p50": q[49], "p95": q[94], "p99": q[98]}


def cpu_seconds(pid):
    """User + system CPU time a running process has used so far (None if it is gone): a
    figure the other work on a shared machine does not change, unlike the rates."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    """VmHWM (peak resident set) of a running process, in MB; None if it is gone. Read it
    before the process stops."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peaks_of(procs):
    """``{service: peak MB}`` of running service processes (cdht_tools.local)."""
    return {p.name: peak_rss_mb(p.process.pid) for p in procs}


def peaks_line(peaks):
    """``{name: MB}`` as the one line the benchmarks print."""
    return "peak RSS: " + "   ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items() if mb)


def emit(figures):
    """The last line of a benchmark's output: its figures as JSON, for run_all.py."""
    print(FIGURES_PREFIX + json.dumps(figures, default=str), flush=True)
