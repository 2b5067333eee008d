"""How long cdht.redact takes on a megabyte of the worst texts known for it, and on a
megabyte of ordinary log lines. Every log line and error body goes through it, and both can
echo what a caller sent.

    .venv/bin/python bench/redact.py
"""
import os
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit  # noqa: E402
from cdht.redact import redact  # noqa: E402
from tests.unit.cdht.test_redact import HOSTILE  # noqa: E402

_random = random.Random(0)
RANDOM = {"letters": "".join(_random.choices(string.ascii_letters, k=1_000_000)),
          "printable text": "".join(_random.choices(string.printable, k=1_000_000))}
ORDINARY = ("2026-06-30 12:00:00 handled GET /people/3f1e2d4c-1111-2222-3333-444455556666 "
            "200 from 10.0.3.7 for an.nguyen@example.vn 0912345678\n") * 7_500


def timed(text):
    started = time.perf_counter()
    redact(text)
    return time.perf_counter() - started


def main():
    figures = {}
    for name, text in {"ordinary log lines": ORDINARY, **RANDOM, **HOSTILE}.items():
        seconds = min(timed(text) for _ in range(3))  # the machine's other work aside
        ms_per_mb = seconds * 1000 / (len(text) / 1e6)
        figures[name] = {"mb": round(len(text) / 1e6, 2), "seconds": round(seconds, 3),
                         "ms_per_mb": round(ms_per_mb, 1)}
        print(f"{name:32} {len(text) / 1e6:5.2f} MB in {seconds:6.3f} s "
              f"({ms_per_mb:6.1f} ms per MB)")
    print(f"machine: {os.cpu_count()} cores; one core does the work (pure-Python regex)")
    emit(figures)


if __name__ == "__main__":
    main()
