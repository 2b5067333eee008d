"""What every benchmark shares: a process's peak memory, and the figures line that
bench/run_all.py reads from each script's output."""
import json
from pathlib import Path

FIGURES_PREFIX = "FIGURES "


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


def emit(figures):
    """The last line of a benchmark's output: its figures as JSON, for run_all.py."""
    print(FIGURES_PREFIX + json.dumps(figures, default=str), flush=True)
