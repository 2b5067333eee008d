"""The ``cdht`` command line without servers: its commands, argument checks, exit statuses and
one-line errors (cdht_tools/cli.py), and the demo's data (cdht_tools/demo.py)."""
import http.server
import os
import random
import subprocess
import sys
import threading
from collections import Counter

import pytest

from cdht.auth import load_public_keys, verify_token
from cdht.config import ROOT
from cdht_tools import cli, demo, local
from tests.support import TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, free_port

COMMANDS = {
    (): ["db", "seed", "import", "close-year", "rebuild", "report", "dead-letters", "token",
         "up", "down", "status"],
    ("db",): ["create", "upgrade", "downgrade", "current", "revision"],
    ("seed",): ["demo"],
    ("import",): ["people", "groups"],
    ("rebuild",): ["reporting"],
    ("report",): ["export"],
    ("dead-letters",): ["list", "replay"],
}


def run(capsys, *args):
    """(exit status, stdout, stderr) of ``cdht ARGS`` in this process."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("group", list(COMMANDS))
def test_help_names_every_command(capsys, group):
    code, out, _ = run(capsys, *group, "--help")
    assert code == 0
    for command in COMMANDS[group]:
        assert command in out, (group, command)


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2
    assert "dead-letters" in out + err


@pytest.mark.parametrize("args, says", [
    (["db", "upgrade", "billing"], "'billing' is not one of"),
    (["db", "downgrade", "registry"], "Missing argument"),
    (["db", "downgrade", "all", "0001"], "is not one of"),
    (["dead-letters", "list", "all"], "is not one of"),
    (["dead-letters", "purge", "reporting"], "No such command"),
    (["close-year", "2025"], "--unit"),
    (["close-year", "1999", "--unit", "AG"], "greater than or equal to 2021"),
    (["close-year", "twenty", "--unit", "AG"], "valid integer"),
    (["report", "export", "--unit", "AG", "--year", "2025"], "--out"),
    (["report", "export", "--unit", "AG", "--year", "2025", "--out", "r.xlsx",
      "--as-of", "31/12/2025"], "not a date"),
    (["report", "export", "--unit", "AG", "--year", "2025", "--out", "r.pdf",
      "--format", "pdf"], "'pdf' is not one of"),
    (["seed", "demo", "--people", "3"], "--people"),
    (["token", "--role", "root", "--subject", "x"], "invalid choice"),
    (["token", "--role", "admin"], "--subject"),
])
def test_wrong_usage_exits_2_with_the_reason(capsys, args, says):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert says in err
    assert "Traceback" not in err


@pytest.fixture(autouse=True)
def minting_audit(monkeypatch, tmp_path):
    """Tokens minted here are recorded in this test's own audit file."""
    monkeypatch.setenv("AUTH_AUDIT_DIR", str(tmp_path / "audit"))
    return tmp_path / "audit" / "tokens.jsonl"


def test_token_prints_a_token_the_services_accept(capsys, monkeypatch, minting_audit):
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    code, out, _ = run(capsys, "token", "--role", "commune_staff", "--unit", "AG.001",
                       "--subject", "staff-1", "--ttl", "60")
    assert code == 0
    caller = verify_token(load_public_keys(TEST_PUBLIC_KEYS), out.strip())
    assert (caller.subject, caller.role, caller.unit_code) == ("staff-1", "commune_staff",
                                                               "AG.001")


def test_every_minting_is_recorded_without_the_token(capsys, monkeypatch, minting_audit):
    import json

    import jwt
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    tokens = [run(capsys, "token", "--role", "admin", "--subject", f"ops-{n}")[1].strip()
              for n in range(2)]
    lines = minting_audit.read_text().splitlines()
    assert len(lines) == 2 and not any(t in minting_audit.read_text() for t in tokens)
    for token, line in zip(tokens, lines):
        record, claims = json.loads(line), jwt.decode(token, options={"verify_signature": False})
        assert record["jti"] == claims["jti"] and record["subject"] == claims["sub"]
        assert (record["role"], record["unit"], record["kid"]) == ("admin", None, "cdht-tests")
        assert record["by"] and record["at"] and record["expires"]
    assert oct(minting_audit.stat().st_mode & 0o777) == "0o600"


def test_token_lifetime_is_capped(capsys, monkeypatch, minting_audit):
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    code, out, err = run(capsys, "token", "--role", "admin", "--subject", "x", "--ttl", "43201")
    assert (code, out) == (1, "") and "at most 43200 seconds" in err
    assert not minting_audit.exists()


def test_token_failures_are_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    code, out, err = run(capsys, "token", "--role", "citizen", "--subject", "x")
    assert (code, out) == (1, "")
    assert err == "error: a citizen token needs a unit\n"
    monkeypatch.delenv("AUTH_SIGNING_KEY")
    monkeypatch.setattr(local, "SIGNING_KEY_FILE", tmp_path / "none")
    code, _, err = run(capsys, "token", "--role", "admin", "--subject", "x")
    assert code == 2 and err.startswith("error: no AUTH_SIGNING_KEY") and err.count("\n") == 1
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_PUBLIC_KEYS)  # a public key signs nothing
    code, _, err = run(capsys, "token", "--role", "admin", "--subject", "x")
    assert code == 1 and "AUTH_SIGNING_KEY is not a private key" in err


def test_debug_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    monkeypatch.setitem(cli._state, "debug", False)
    code, _, err = run(capsys, "--debug", "token", "--role", "citizen", "--subject", "x")
    assert code == 1
    assert "Traceback" in err and err.endswith("error: a citizen token needs a unit\n")


@pytest.mark.parametrize("what", ["people", "groups"])
def test_a_missing_import_file_exits_2(capsys, tmp_path, what):
    code, _, err = run(capsys, "import", what, str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_report_export_into_a_missing_directory_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "report", "export", "--unit", "AG", "--year", "2025",
                       "--out", str(tmp_path / "no" / "r.xlsx"))
    assert code == 2 and err == f"error: no such directory: {tmp_path / 'no'}\n"


def test_one_line_names_the_server_and_hides_personal_data():
    from kombu.exceptions import OperationalError as BrokerDown
    from sqlalchemy.exc import OperationalError as DatabaseDown

    class Driver(Exception):
        pass
    down = DatabaseDown("SELECT 1", {}, Driver(
        'connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        '\tIs the server running on that host?'))
    message, code = cli._one_line(down)
    assert code == 1
    assert message == ('cannot reach the database: connection to server at "127.0.0.1", '
                       'port 1 failed: Connection refused Is the server running on that host?')
    assert cli._one_line(BrokerDown("[Errno 111] Connection refused")) == (
        "cannot reach RabbitMQ: [Errno 111] Connection refused", 1)
    assert cli._one_line(FileNotFoundError(2, "No such file", "/x.csv")) == (
        "no such file: /x.csv", 2)
    message, _ = cli._one_line(RuntimeError("row of 089185000123, an@example.org refused"))
    assert "089185000123" not in message and "an@example.org" not in message
    message, _ = cli._one_line(RuntimeError("089.185.000.123 at 10.0.0.25:5672"))
    assert message == "RuntimeError: ***23 at 10.0.0.25:5672"  # an address stays readable
    assert cli._one_line(cli.CliError("plain", 3)) == ("plain", 3)


# -- seed demo and status, with nothing listening or a stand-in service -------------------------
def test_seed_demo_says_the_system_is_not_running(capsys, monkeypatch):
    closed = free_port()
    monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
    monkeypatch.setenv("REGISTRY_URL", f"http://127.0.0.1:{closed}")
    code, _, err = run(capsys, "seed", "demo", "--people", "10")
    assert code == 1
    assert err == (f"error: registry does not answer at http://127.0.0.1:{closed}: is the "
                   "system running (bin/up)?\n")


class StandIn(http.server.BaseHTTPRequestHandler):
    """A service that is healthy but has no /metrics (a 404 there is no failure)."""

    def do_GET(self):
        if self.path == "/health":
            body, status = b'{"status": "ok", "database": "ok", "broker": "ok"}', 200
        else:
            body, status = b'{"error": "not found"}', 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_status_is_a_table_and_fails_when_a_service_is_down(capsys, monkeypatch, stand_in):
    closed = free_port()
    for service in ("registry", "assessment", "reporting"):
        monkeypatch.setenv(f"{service.upper()}_URL", stand_in)
    monkeypatch.setenv("NOTIFICATIONS_HTTP_ADDRESS", f"0.0.0.0:{closed}")
    code, out, err = run(capsys, "status")
    assert code == 1
    assert err == "error: not healthy: notifications\n"
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert "ok" in rows["registry"] and "no metrics" in rows["registry"]
    assert f"127.0.0.1:{closed}" in rows["notifications"] and "down" in rows["notifications"]
    monkeypatch.setenv("NOTIFICATIONS_URL", stand_in)
    code, out, _ = run(capsys, "status")
    assert code == 0 and out.count("no metrics") == 4


class Refusing(StandIn):
    """A registry that takes no token of ours."""

    def do_GET(self):
        body = b'{"error": "invalid token"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_seed_demo_says_when_the_services_refuse_its_token(capsys, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
        monkeypatch.setenv("REGISTRY_URL", f"http://127.0.0.1:{server.server_address[1]}")
        code, out, err = run(capsys, "seed", "demo")
    finally:
        server.shutdown()
        server.server_close()
    assert (code, out) == (1, "")
    assert err == ("error: registry refused the admin token: AUTH_SIGNING_KEY here does not "
                   "match the services' AUTH_PUBLIC_KEYS (set it, or run where bin/up made "
                   "var/auth-signing-key)\n")


def test_service_urls_come_from_the_environment():
    urls = demo.service_urls({"REGISTRY_URL": "http://registry.example:80/",
                              "ASSESSMENT_HTTP_ADDRESS": "0.0.0.0:9002"})
    assert urls == {"registry": "http://registry.example:80",
                    "assessment": "http://127.0.0.1:9002",
                    "reporting": "http://127.0.0.1:8003",
                    "notifications": "http://127.0.0.1:8004"}


# -- the demo's data ---------------------------------------------------------------------------
def test_demo_people_are_reproducible_and_plausible():
    units = ["AG.001", "AG.002", "AG.015"]
    people = demo.make_people(random.Random(7), 300, units, 2025)
    assert people == demo.make_people(random.Random(7), 300, units, 2025)
    assert people != demo.make_people(random.Random(8), 300, units, 2025)
    assert len({p["national_id"] for p in people}) == 300
    assert Counter(p["unit_code"] for p in people) == {u: 100 for u in units}
    minors = [p for p in people if not p["_adult"]]
    assert 0.08 < len(minors) / 300 < 0.35
    assert all(p["target_group"] == "student" and "email" not in p for p in minors)
    assert sum("email" in p for p in people) > 150
    assert Counter(p["full_name"].split()[0] for p in people).most_common(1)[0][0] == "Nguyễn"


@pytest.mark.parametrize("passing", [True, False])
def test_demo_scores_pass_or_fail_as_asked(passing):
    rng = random.Random(3)
    for _ in range(200):
        scores = demo.scores_for(rng, passing, digital=True)
        assert sorted(scores) == sorted(demo.INDICATOR_CODES)
        assert all(0 <= v <= 10 for v in scores.values())
        passed = sum(scores.values()) >= 80 and min(scores.values()) >= 5
        assert passed is passing


def test_demo_units_are_a_province_and_five_commune_level_units():
    units = demo.demo_units()
    assert units[0][:3] == ("AG", "Tỉnh An Giang", "province")
    assert [kind for _, _, kind, _ in units[1:]] == ["ward", "ward", "commune", "commune",
                                                     "commune"]
    assert all(parent == "AG" for _, _, _, parent in units[1:])


def test_the_demo_and_the_cli_run_without_the_generator():
    """The production image leaves cdht_tools/generator out (.dockerignore): the demo's data
    and every command's help must not need it."""
    script = (
        "import sys\n"
        "class NoGenerator:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cdht_tools.generator' or name.startswith('cdht_tools.generator.'):\n"
        "            raise ImportError('not in the image: ' + name)\n"
        "sys.meta_path.insert(0, NoGenerator())\n"
        "try:\n"
        "    import cdht_tools.generator\n"
        "    sys.exit('the generator could still be imported')\n"
        "except ImportError:\n"
        "    pass\n"
        "import random\n"
        "from cdht_tools import cli, demo\n"
        "units = [code for code, _, kind, _ in demo.demo_units() if kind != 'province']\n"
        "people = demo.make_people(random.Random(1), 40, units, 2025)\n"
        "groups = demo._plan_groups(random.Random(1), {u: [p for p in people if p['_unit'] == u]"
        " for u in units}, dict.fromkeys(units, 'X'))\n"
        "codes = [cli.main([*group, '--help']) for group in (['seed', 'demo'], ['db'],"
        " ['dead-letters'], ['token'])]\n"
        "print(len(people), bool(groups), codes)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "EVENTLET_TESTS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "40 True [0, 0, 0, 0]"
