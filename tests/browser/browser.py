"""The test side of driver.py: ``Browser()`` starts Chromium in its own process; each method
sends one command and returns its answer, or raises BrowserError with what went wrong."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).resolve().parent / "driver.py"
AXE = DRIVER.parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(AssertionError):
    pass


def missing_requirement():
    if not CHROMIUM:
        return "Chromium is not installed (apt-get install chromium)"
    if not AXE.exists():
        return "axe-core is missing (bin/setup, or npm ci --prefix tests/browser)"
    return None


class Browser:
    def __init__(self, executable=None):
        self.process = subprocess.Popen([sys.executable, str(DRIVER), executable or CHROMIUM],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        ready = json.loads(self.process.stdout.readline() or '{"error": "no answer"}')
        if not ready.get("ready"):
            raise BrowserError(f"the browser did not start: {ready}")

    def send(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        answer = json.loads(self.process.stdout.readline() or '{"error": "the browser exited"}')
        if "error" in answer:
            raise BrowserError(f"{command}: {answer['error']}")
        return answer["ok"]

    def __getattr__(self, name):
        return lambda arg=None: self.send(**{name: arg})

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
