"""Every ``cdht`` command against the real PostgreSQL and RabbitMQ: scratch databases, the
tests' vhost, the test databases of the services (``seed demo`` and ``status`` against the four
running services are in tests/e2e/test_seed_demo.py)."""
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from kombu import Connection, Queue
from sqlalchemy import text

from cdht import db
from cdht.config import ROOT, SERVICES
from cdht.consumer import ATTEMPT_HEADER, DEAD_LETTER_EXCHANGE, ERROR_HEADER, dead_letter_queue
from cdht_tools import cli, local
from tests.conftest import PG_URL
from tests.support import TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, free_port


def run(capsys, *args):
    """(exit status, stdout, stderr) of ``cdht ARGS`` in this process."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out, first):
    return next(line for line in out.splitlines() if line.startswith(f"│ {first} "))


# -- db ------------------------------------------------------------------------------------------
@pytest.fixture
def scratch_databases(monkeypatch, backing_servers):
    """Every service's DATABASE_URL pointed at a database of its own that does not exist yet;
    dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    urls = {s: f"{PG_URL}/cdht_cli_{tag}_{s}" for s in SERVICES}
    for service, url in urls.items():
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    yield urls
    for url in urls.values():
        db.drop_database(url)


def test_db_create_upgrade_current_and_downgrade(capsys, scratch_databases):
    code, out, _ = run(capsys, "db", "current", "registry")
    assert code == 0 and "no database" in table_row(out, "registry")
    assert run(capsys, "db", "create", "registry")[:2] == (0, "registry: database created\n")
    again = run(capsys, "db", "create", "registry")
    assert again[:2] == (0, "registry: database already there\n")
    assert "not migrated" in table_row(run(capsys, "db", "current", "registry")[1], "registry")

    code, out, _ = run(capsys, "db", "upgrade", "all")  # what deploy/migrate.sh runs
    assert code == 0
    assert out.splitlines() == [f"{s}: migrated to head" for s in SERVICES]
    code, out, _ = run(capsys, "db", "current")
    for service in SERVICES:
        assert "up to date" in table_row(out, service), out

    assert run(capsys, "db", "downgrade", "registry", "-1")[:2] == (
        0, "registry: downgraded to -1\n")
    assert "behind" in table_row(run(capsys, "db", "current", "registry")[1], "registry")
    assert run(capsys, "db", "upgrade", "registry")[0] == 0
    assert "up to date" in table_row(run(capsys, "db", "current", "registry")[1], "registry")


def test_db_revision_autogenerates_an_empty_migration_when_models_match(
        capsys, scratch_databases, monkeypatch, tmp_path):
    """`db revision` against a copy of the registry's migrations: the models and the
    migrations agree, so the new revision changes nothing."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "services" / "registry" / "migrations", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    real = db.alembic_config

    def config_of_the_copy(service, url=None):
        cfg = real(service, url)
        cfg.set_main_option("script_location", str(copy))
        return cfg
    monkeypatch.setattr(db, "alembic_config", config_of_the_copy)
    before = set((copy / "versions").glob("*.py"))
    code, _, err = run(capsys, "db", "revision", "registry", "-m", "nothing new")
    assert code == 0, err
    [made] = set((copy / "versions").glob("*.py")) - before
    body = made.read_text()
    assert made.name.startswith(f"{len(before) + 1:04d}_nothing_new")
    upgrade = body.split("def upgrade()")[1].split("def downgrade()")[0]
    assert "op." not in upgrade, upgrade


def test_db_commands_name_an_unreachable_database(capsys, monkeypatch):
    closed = free_port()
    monkeypatch.setenv("REGISTRY_DATABASE_URL",
                       f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/x")
    for args in (("db", "upgrade", "registry"), ("db", "create", "registry"),
                 ("db", "current", "registry")):
        code, _, err = run(capsys, *args)
        assert code == 1
        assert err.startswith(f"error: cannot reach registry's database x at "
                              f"127.0.0.1:{closed}: ")
        assert "Connection refused" in err
        assert err.count("\n") == 1 and "Traceback" not in err


# -- import, close-year, rebuild, report export ---------------------------------------------------
def test_import_people_dry_run(capsys, databases, monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", databases["registry"])
    path = tmp_path / "xa.csv"
    path.write_text("Số định danh cá nhân,Họ và tên,Giới tính,Ngày sinh,Mã đơn vị,Đối tượng\n"
                    "089085000123,Nguyễn Văn An,Nam,02/04/1985,AG.404,Người dân\n",
                    encoding="utf-8")
    code, out, _ = run(capsys, "import", "people", str(path), "--dry-run")
    assert code == 0
    assert "Dry run of xa.csv" in out and "0 / 1" in out and "Mã đơn vị" in out


def test_import_groups_names_what_it_would_do_and_writes_the_report(capsys, databases,
                                                                   monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", databases["registry"])
    path = tmp_path / "nhom.csv"
    path.write_text("Mã nhóm,Loại nhóm,Tên nhóm,Mã đơn vị,Số định danh cá nhân\n"
                    "HGD1,Gia đình,Gia đình ông An,AG.404,089085000123\n", encoding="utf-8")
    report = tmp_path / "loi.xlsx"
    code, out, _ = run(capsys, "import", "groups", str(path), "--dry-run",
                       "--errors", str(report))
    assert code == 0
    assert "Dry run of nhom.csv" in out and "0 / 1" in out and "members joined" in out
    assert "Mã đơn vị" in out and "089085000123" not in out and report.exists()
    bad = tmp_path / "nguoi.csv"
    bad.write_text("Họ và tên\nAn\n", encoding="utf-8")
    code, _, err = run(capsys, "import", "groups", str(bad))
    assert code == 2 and "Mã nhóm" in err


def test_close_year_with_nothing_open(capsys, databases, monkeypatch):
    monkeypatch.setenv("ASSESSMENT_DATABASE_URL", databases["assessment"])
    code, out, _ = run(capsys, "close-year", "2025", "--unit", "AG", "--quiet",
                       "--workers", "1")
    assert code == 0
    assert "year 2025 closed for AG: 0 submissions decided" in out


def test_rebuild_reporting_names_the_source_that_does_not_answer(databases, rabbit_config):
    """No registry or assessment on the tests' vhost: the RPC deadline passes, exit 2."""
    env = {**os.environ, "EVENTLET_TESTS": "1", "AMQP_URI": rabbit_config["AMQP_URI"],
           "REPORTING_DATABASE_URL": databases["reporting"], "REPORTING_REBUILD_TIMEOUT": "2"}
    result = subprocess.run([sys.executable, "-m", "cdht_tools", "rebuild", "reporting",
                             "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "registry" in result.stderr and "Traceback" not in result.stderr


UNITS = {"AG": ["AG"], "AG.001": ["AG", "AG.001"], "AG.002": ["AG", "AG.002"]}


@pytest.fixture
def figures(engines):
    """Reporting's counters for a province of two wards, recorded on 1 June 2025."""
    per_unit = {("people", 1980): 10, ("titled", 2025): 4, ("titled_adult", 2025): 4,
                ("titled_digital", 2025): 3, ("members", 0): 2, ("members_briefed", 0): 1,
                ("groups:family", 0): 3, ("recognised:family", 2025): 1}
    with engines["reporting"].begin() as conn:
        for unit, path in UNITS.items():
            conn.execute(text("INSERT INTO unit_paths (unit_code, path) VALUES (:u, :p)"),
                         {"u": unit, "p": path})
            scale = 2 if unit == "AG" else 1
            for (metric, key), n in per_unit.items():
                row = {"u": unit, "m": metric, "k": key, "n": n * scale}
                conn.execute(text("INSERT INTO tallies (unit_code, metric, key, n) "
                                  "VALUES (:u, :m, :k, :n)"), row)
                conn.execute(text("INSERT INTO tally_days (unit_code, metric, key, day, n) "
                                  "VALUES (:u, :m, :k, '2025-06-01', :n)"), row)


def test_report_export_writes_what_the_api_serves(capsys, figures, databases, monkeypatch,
                                                 tmp_path, container_factory, service_config,
                                                 web_session):
    from services.reporting.service import ReportingService
    monkeypatch.setenv("REPORTING_DATABASE_URL", databases["reporting"])
    config = service_config("reporting")
    container_factory(ReportingService, config).start()
    served = web_session(config).get("units/AG/report.csv", params={"year": 2025})
    assert served.status_code == 200

    out = tmp_path / "bao-cao.csv"
    code, printed, err = run(capsys, "report", "export", "--unit", "AG", "--year", "2025",
                             "--out", str(out))
    assert code == 0, err
    assert out.read_bytes() == served.content
    assert printed == f"wrote {out} (csv, 12 sheets, {len(served.content):,} bytes)\n"
    assert "AG.001" in served.content.decode("utf-8-sig")

    then = tmp_path / "then.csv"
    assert run(capsys, "report", "export", "--unit", "AG", "--year", "2025", "--format",
               "csv", "--as-of", "2025-12-31", "--out", str(then))[0] == 0
    assert then.read_bytes() == served.content  # nothing changed after 1 June
    before = tmp_path / "before.csv"
    assert run(capsys, "report", "export", "--unit", "AG", "--year", "2025", "--format",
               "csv", "--as-of", "2025-05-31", "--out", str(before), "--lang", "en")[0] == 0
    summary = before.read_text(encoding="utf-8-sig").split("\r\n\r\n")[0]
    assert "Adults holding the Learning Citizen title,KH-AG,0,0," in summary

    book = tmp_path / "bao-cao.xlsx"
    assert run(capsys, "report", "export", "--unit", "AG", "--year", "2025",
               "--out", str(book))[0] == 0
    import openpyxl
    sheets = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert len(sheets) == 12 and sheets[0] == "Tổng hợp"


def test_report_export_of_an_unknown_unit_fails_and_writes_nothing(capsys, figures, databases,
                                                                   monkeypatch, tmp_path):
    monkeypatch.setenv("REPORTING_DATABASE_URL", databases["reporting"])
    out = tmp_path / "r.xlsx"
    code, _, err = run(capsys, "report", "export", "--unit", "KG", "--year", "2025",
                       "--out", str(out))
    assert code == 1
    assert err == "error: unknown unit KG: reporting has no figures for it\n"
    assert list(tmp_path.iterdir()) == []


# -- dead letters -------------------------------------------------------------------------------
QUEUE = "evt-assessment-recognition_granted--reporting.on_recognition_granted"


@pytest.fixture
def dead_letter(rabbit_config, monkeypatch):
    """One dead letter of reporting's grant handler on the tests' vhost (its consumer queue
    declared, as the running service would)."""
    from cdht.config import load_config
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])
    config = load_config("reporting")
    body = json.dumps({"event_id": str(uuid.uuid4()), "event_type": "recognition_granted",
                       "schema_version": 1, "data": {}})
    with Connection(config["AMQP_URI"]) as conn:
        channel = conn.channel()
        Queue(QUEUE, durable=True)(channel).declare()
        dead_letter_queue(QUEUE, config)(channel).declare()
        conn.Producer(channel).publish(
            body, exchange=DEAD_LETTER_EXCHANGE, routing_key=QUEUE, delivery_mode=2,
            content_type="application/json", content_encoding="utf-8",
            headers={ERROR_HEADER: "KeyError: 'unit_path'", ATTEMPT_HEADER: 4})
    return config, body


def test_dead_letters_list_then_replay(capsys, dead_letter):
    config, body = dead_letter
    code, out, _ = run(capsys, "dead-letters", "list", "reporting", "--queue", QUEUE)
    assert code == 0
    [letter] = [json.loads(line) for line in out.splitlines()]
    assert letter["event_type"] == "recognition_granted" and letter["queue"] == QUEUE
    assert letter["error"] == "KeyError: 'unit_path'" and letter["attempts"] == 4
    code, out, _ = run(capsys, "dead-letters", "list", "reporting")  # all its queues
    assert code == 0 and len(out.splitlines()) == 1  # listing took nothing away

    code, out, _ = run(capsys, "dead-letters", "replay", "reporting", "--queue", QUEUE)
    assert code == 0
    first, last = out.splitlines()  # nothing consumes here: none comes back within the wait
    assert first.startswith(f"{QUEUE}: replayed 1 of 1 message(s); 0 dead-lettered again")
    assert last == "1 message(s) replayed from 1 queue(s)"
    with Connection(config["AMQP_URI"]) as conn:
        replayed = Queue(QUEUE)(conn.channel()).get(no_ack=True)
    assert replayed is not None and json.loads(replayed.body) == json.loads(body)
    assert run(capsys, "dead-letters", "list", "reporting", "--queue", QUEUE)[1] == ""


def test_dead_letters_name_the_broker_that_does_not_answer(capsys, monkeypatch):
    closed = free_port()
    monkeypatch.setenv("AMQP_URI", f"amqp://guest:guest@127.0.0.1:{closed}/")
    for action in ("list", "replay"):
        code, _, err = run(capsys, "dead-letters", action, "reporting", "--queue", QUEUE)
        assert code == 1
        assert err.startswith(f"error: cannot reach RabbitMQ at 127.0.0.1:{closed}")
        assert err.count("\n") == 1


def test_replaying_into_a_queue_that_does_not_exist_fails_clearly(capsys, rabbit_config,
                                                                  monkeypatch):
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])
    code, _, err = run(capsys, "dead-letters", "replay", "reporting", "--queue", "evt-nothing")
    assert code == 1
    assert err == ("error: RabbitMQ: NOT_FOUND - no queue 'evt-nothing' in vhost "
                   f"'{rabbit_config['AMQP_URI'].rsplit('/', 1)[1]}'\n")


# -- up, down, and the cdht command itself --------------------------------------------------
def test_up_names_the_missing_broker_and_down_stops_nothing(capsys, monkeypatch, tmp_path):
    closed = free_port()
    monkeypatch.setenv("AMQP_URI", f"amqp://guest:guest@127.0.0.1:{closed}/")
    code, _, err = run(capsys, "up")
    assert code == 2 and f"RabbitMQ at 127.0.0.1:{closed}" in err
    monkeypatch.setattr(local, "VAR", tmp_path)
    assert run(capsys, "down")[:2] == (0, "stopped 0 process(es)\n")


def test_bin_setup_makes_the_cdht_command_once(tmp_path):
    """bin/setup in a copy of the tree whose .venv is already installed (the stamp matches):
    it only writes .venv/bin/cdht, which runs from any directory; a second run changes
    nothing."""
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "bin" / "setup", tree / "bin" / "setup")
    shutil.copy(ROOT / "requirements.txt", tree / "requirements.txt")
    for package in ("cdht", "cdht_tools", "services"):
        (tree / package).symlink_to(ROOT / package)
    venv_bin = tree / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv_bin / "python").chmod(0o755)
    stamp = subprocess.run(["sha256sum", "requirements.txt"], cwd=tree, capture_output=True,
                           text=True, check=True).stdout.split()[0]
    (tree / ".venv" / ".requirements.sha256").write_text(stamp + "\n")
    env = {**os.environ, "PYTHON": sys.executable}
    setup = subprocess.run([str(tree / "bin" / "setup")], env=env, capture_output=True,
                           text=True, timeout=60)
    assert setup.returncode == 0, setup.stderr
    command = venv_bin / "cdht"
    made = command.stat().st_mtime_ns
    assert f'exec "{venv_bin / "python"}" -m cdht_tools "$@"' in command.read_text()

    minted = subprocess.run([str(command), "token", "--role", "admin", "--subject", "me"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "AUTH_SIGNING_KEY": TEST_SIGNING_KEY,
                                 "AUTH_AUDIT_DIR": str(tmp_path / "audit")})
    assert minted.returncode == 0, minted.stderr
    from cdht.auth import load_public_keys, verify_token
    assert verify_token(load_public_keys(TEST_PUBLIC_KEYS), minted.stdout.strip()).role == "admin"

    again = subprocess.run([str(tree / "bin" / "setup")], env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and command.stat().st_mtime_ns == made


def test_the_console_script_is_declared():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"cdht": "cdht_tools.cli:main"}
    assert "cdht_tools" in project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert callable(cli.main)
