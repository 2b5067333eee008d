"""The fault suite (``python -m fault``), run as the operator runs it.

It brings up its own PostgreSQL cluster and RabbitMQ node (the shared ones are never
restarted) and drives a stream of recognitions through the four real processes while it
restarts the broker, SIGKILLs each service, stops the database for 10 s, delivers every event
twice and injects poison. It exits 0 only when every invariant held, and no service process
exited on its own (a broker restart included).

CI runs it with 10,000 recognitions as a step of its own (.ci/run: ``CDHT_FAULT=1
CDHT_FAULT_RECOGNITIONS=10000 bin/test tests/fault -s``, 20-30 minutes on 2 cores); locally
``CDHT_FAULT=1 bin/test tests/fault -s`` runs 1,000 (about 4 minutes). With ``-s`` its
progress and figures stream to the terminal as they come.
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

# Opt-in: it takes minutes and starts servers of its own.
pytestmark = [pytest.mark.fault,
              pytest.mark.skipif(os.environ.get("CDHT_FAULT") != "1",
                                 reason="the fault suite is opt-in: set CDHT_FAULT=1")]

ROOT = Path(__file__).resolve().parents[2]
RECOGNITIONS = int(os.environ.get("CDHT_FAULT_RECOGNITIONS", "1000"))


def test_the_fault_suite_keeps_every_promise():
    process = subprocess.Popen(
        [sys.executable, "-m", "fault", "--recognitions", str(RECOGNITIONS)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(75 * 60, process.kill)  # inside CI's 90 minutes, whatever hangs
    watchdog.start()
    lines = []
    for line in process.stdout:  # streamed (shown live with -s), kept for the checks
        print(line, end="", flush=True)
        lines.append(line)
    process.wait(timeout=60)
    watchdog.cancel()
    out = "".join(lines)
    assert process.returncode == 0, out[-8000:]
    for figure in ("FAULT SUITE FIGURES", "recognitions granted", "events sent",
                   "events applied", "duplicates injected", "dead letters",
                   "unplanned service exits         []", "all 4 service processes survived",
                   "GET /health during the stream", "time to recover", "RESULT: PASS"):
        assert figure in out, f"missing figure: {figure}"
    assert f"recognitions granted            {RECOGNITIONS}  (reporting counts " \
           f"{RECOGNITIONS})" in out
