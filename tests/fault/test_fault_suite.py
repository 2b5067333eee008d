"""The fault suite of issue 7 (``python -m fault``), run as the operator runs it.

It brings up its own PostgreSQL cluster and RabbitMQ node (the shared ones are never
restarted) and drives a stream of recognitions through the four real processes while it
restarts the broker, SIGKILLs each service, stops the database for 10 s, delivers every event
twice and injects poison. It exits 0 only when every invariant held.

The full 10,000 recognitions take about 20 minutes on a 2-core machine, so this test runs
the largest stream that keeps it near 5 minutes (CDHT_FAULT_RECOGNITIONS overrides it).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Opt-in until it has passed on a clean clone in CI (it takes ~4 minutes and restarts its own
# servers): CDHT_FAULT=1 bin/test tests/fault.
pytestmark = [pytest.mark.fault,
              pytest.mark.skipif(os.environ.get("CDHT_FAULT") != "1",
                                 reason="the fault suite is opt-in: set CDHT_FAULT=1")]

ROOT = Path(__file__).resolve().parents[2]
RECOGNITIONS = int(os.environ.get("CDHT_FAULT_RECOGNITIONS", "1000"))


def test_the_fault_suite_keeps_every_promise():
    result = subprocess.run(
        [sys.executable, "-m", "fault", "--recognitions", str(RECOGNITIONS)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=3600)
    out = result.stdout
    print(out[-6000:])  # the figures, in the test report (-rA or on failure)
    assert result.returncode == 0, out[-6000:] + result.stderr[-3000:]
    for figure in ("FAULT SUITE FIGURES", "recognitions granted", "events sent",
                   "events applied", "duplicates injected", "dead letters",
                   "time to recover", "RESULT: PASS"):
        assert figure in out, f"missing figure: {figure}"
    assert f"recognitions granted            {RECOGNITIONS}  (reporting counts " \
           f"{RECOGNITIONS})" in out
