"""How long cdht.redact takes on a megabyte of the worst texts known for it, and on a
megabyte of ordinary log lines. Every log line and error body goes through it, and both can
echo what a caller sent.

    .venv/bin/python bench/redact.py
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit  # noqa: E402
from cdht.redact import redact  # noqa: E402
from tests.unit.cdht.test_redact import HOSTILE  # noqa: E402

ORDINARY = ("2026-06-30 12:00:00 handled GET /people/3f1e2d4c-1111-2222-3333-444455556666 "
            "200 from 10.0.3.7 for an.nguyen@example.vn 0912345678\n") * 7_500


def main():
    figures = {}
    for name, text in {"ordinary log lines": ORDINARY, **HOSTILE}.items():
        started = time.perf_counter()
        redact(text)
        seconds = time.perf_counter() - started
        figures[name] = {"mb": round(len(text) / 1e6, 2), "seconds": round(seconds, 3),
                         "mb_per_s": round(len(text) / 1e6 / seconds, 1)}
        print(f"{name:28} {len(text) / 1e6:5.2f} MB in {seconds:6.3f} s "
              f"({len(text) / 1e6 / seconds:5.1f} MB/s)")
    print(f"machine: {os.cpu_count()} cores; one core does the work (pure-Python regex)")
    emit(figures)


if __name__ == "__main__":
    main()
