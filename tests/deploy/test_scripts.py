"""The container entry points: deploy/wait_for.py, deploy/run-service.sh, deploy/migrate.sh,
deploy/postgres/init-databases.sql and the idp profile's deploy/images/idp/start.mjs. Run for
real here, on loopback sockets only."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
WAIT_FOR = DEPLOY / "wait_for.py"
SCRIPTS = (DEPLOY / "run-service.sh", DEPLOY / "migrate.sh")
# the image builder and the package-built images' start scripts, and the CI step that runs them
IMAGE_SCRIPTS = (DEPLOY / "images" / "build.sh", DEPLOY / "images" / "postgres" / "start.sh",
                 DEPLOY / "images" / "rabbitmq" / "start.sh", ROOT / ".ci" / "compose")
APP_SERVICES = ("registry", "assessment", "reporting", "notifications")

sys.path.insert(0, str(DEPLOY))
import wait_for  # noqa: E402

sys.path.remove(str(DEPLOY))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def listener():
    """A loopback TCP port that accepts connections (the kernel completes the handshake from
    the backlog; nothing needs to call accept)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def base_env(clean_env):
    return clean_env | {"PATH": f"{Path(sys.executable).parent}:{clean_env['PATH']}"}


def run(cmd, env, timeout=60):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


# -------------------------------------------------------------------- wait_for.py -----------
@pytest.mark.parametrize("url, expected", [
    ("postgresql+psycopg2://cdht:pw@postgres:5432/cdht_registry", ("PostgreSQL", "postgres", 5432)),
    ("postgresql://cdht:pw@db.example/cdht_registry", ("PostgreSQL", "db.example", 5432)),
    ("amqp://guest:guest@127.0.0.1:5672/", ("RabbitMQ", "127.0.0.1", 5672)),
    ("amqp://u:p@rabbitmq/", ("RabbitMQ", "rabbitmq", 5672)),
    ("amqps://u:p@broker:5671/vhost", ("RabbitMQ", "broker", 5671)),
    ("postgresql+psycopg2://u:p@[::1]:6543/x", ("PostgreSQL", "::1", 6543)),
    ("amqp://u:p%40x@rabbitmq:15673/", ("RabbitMQ", "rabbitmq", 15673)),
])
def test_parse_target(url, expected):
    target = wait_for.parse_target("SOME_URL", url)
    kind, host, port = expected
    assert target.label == f"{kind} (SOME_URL)"
    assert (target.host, target.port) == (host, port)


@pytest.mark.parametrize("url", ["http://x:80/", "postgresql+psycopg2:///cdht", "amqp://h:notaport/"])
def test_parse_target_rejects(url):
    with pytest.raises(wait_for.ConfigError) as err:
        wait_for.parse_target("SOME_URL", url)
    assert "SOME_URL" in str(err.value)


def test_targets_are_deduplicated():
    env = {"A_DATABASE_URL": "postgresql://u:p@pg:5432/a", "B_DATABASE_URL": "postgresql://u:p@pg/b",
           "AMQP_URI": "amqp://u:p@mq/"}
    targets = wait_for.targets_from_env(["A_DATABASE_URL", "B_DATABASE_URL", "AMQP_URI"], env)
    assert [(t.host, t.port) for t in targets] == [("pg", 5432), ("mq", 5672)]


def test_wait_for_reachable_port(base_env, listener):
    env = base_env | {"AMQP_URI": f"amqp://u:p@127.0.0.1:{listener}/"}
    started = time.monotonic()
    result = run([sys.executable, WAIT_FOR, "--timeout", "10", "AMQP_URI"], env)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    assert f"RabbitMQ (AMQP_URI) at 127.0.0.1:{listener} is up" in result.stdout


def test_wait_for_port_that_opens_later(base_env):
    port = free_port()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def open_later():
        time.sleep(1.5)
        sock.bind(("127.0.0.1", port))
        sock.listen(4)

    thread = threading.Thread(target=open_later)
    thread.start()
    try:
        env = base_env | {"REGISTRY_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{port}/x"}
        result = run([sys.executable, WAIT_FOR, "--timeout", "20", "--interval", "0.2",
                      "REGISTRY_DATABASE_URL"], env)
    finally:
        thread.join()
        sock.close()
    assert result.returncode == 0, result.stderr
    assert "is up" in result.stdout


def test_wait_for_times_out_with_a_clear_message_and_no_password(base_env):
    port = free_port()  # closed again: nothing listens there
    env = base_env | {"WAIT_TIMEOUT": "1",
                      "REGISTRY_DATABASE_URL": f"postgresql+psycopg2://cdht:s3cr3t-pw@127.0.0.1:{port}/x"}
    started = time.monotonic()
    result = run([sys.executable, WAIT_FOR, "REGISTRY_DATABASE_URL"], env)
    assert result.returncode == 1
    assert time.monotonic() - started < 10
    assert f"PostgreSQL (REGISTRY_DATABASE_URL) at 127.0.0.1:{port}" in result.stderr
    assert "gave up after 1s" in result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_wait_for_unset_variable_is_a_usage_error(base_env):
    result = run([sys.executable, WAIT_FOR, "--timeout", "1", "NOT_SET_URL"], base_env)
    assert result.returncode == 2
    assert "NOT_SET_URL is not set" in result.stderr


# ------------------------------------------------------------------- shell scripts ----------
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_executable_posix_sh(script):
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/bin/sh\n")
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
            assert result.returncode == 0, f"{shell}: {result.stderr}"


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_scripts_pass_shellcheck():
    result = subprocess.run(["shellcheck", *map(str, SCRIPTS + IMAGE_SCRIPTS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_run_service_help(base_env):
    result = run([DEPLOY / "run-service.sh", "--help"], base_env)
    assert result.returncode == 0
    assert "deploy/run-service.sh <service>" in result.stdout
    assert "deploy/migrate.sh" in result.stdout


@pytest.mark.parametrize("args", [[], ["nosuchservice"], ["registry", "extra"]])
def test_run_service_refuses_bad_arguments(base_env, args):
    result = run([DEPLOY / "run-service.sh", *args], base_env)
    assert result.returncode == 2
    assert "Usage" in result.stderr


def test_run_service_gives_up_when_the_broker_is_down(base_env, listener):
    env = base_env | {"WAIT_TIMEOUT": "1",
                      "AMQP_URI": f"amqp://u:p@127.0.0.1:{free_port()}/",
                      "REPORTING_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{listener}/x"}
    result = run([DEPLOY / "run-service.sh", "reporting"], env)
    assert result.returncode == 1
    assert "RabbitMQ (AMQP_URI)" in result.stderr and "gave up" in result.stderr


def fake_command(bin_dir, name, real=None):
    """A stand-in for `nameko` or `python -m cdht_tools` on PATH that records how it was called
    (as the last step of the script, after the real wait): everything before it runs for real."""
    record = bin_dir / f"{name}.args"
    body = f'printf "%s\\n" "$PWD" "$@" > "{record}"\n'
    if real:  # forward everything but `python -m cdht_tools ...` to the real interpreter
        body = (f'if [ "$1" = "-m" ] && [ "$2" = "cdht_tools" ]; then {body.strip()}; exit 0; fi\n'
                f'exec "{real}" "$@"\n')
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return record


@pytest.mark.parametrize("service", APP_SERVICES)
def test_run_service_waits_then_execs_nameko(base_env, tmp_path, listener, service):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = fake_command(bin_dir, "nameko")
    env = base_env | {
        "PATH": f"{bin_dir}:{base_env['PATH']}",
        "WAIT_TIMEOUT": "10",
        "AMQP_URI": f"amqp://u:p@127.0.0.1:{listener}/",
        f"{service.upper()}_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{listener}/x",
    }
    result = subprocess.run([str(DEPLOY / "run-service.sh"), service], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)  # from another cwd
    assert result.returncode == 0, result.stderr
    assert "is up" in result.stdout
    cwd, *args = record.read_text().splitlines()
    assert Path(cwd) == ROOT
    assert args == ["run", "--config", f"services/{service}/config.yaml",
                    f"services.{service}.service"]
    assert (ROOT / args[2]).is_file()
    assert (ROOT / "services" / service / "service.py").is_file()


def test_run_service_starts_the_portal_without_a_broker(base_env, tmp_path, listener):
    """The portal sends and receives no message: it waits for its database alone."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = fake_command(bin_dir, "nameko")
    env = base_env | {"PATH": f"{bin_dir}:{base_env['PATH']}", "WAIT_TIMEOUT": "10",
                      "PORTAL_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{listener}/x"}
    result = run([DEPLOY / "run-service.sh", "portal"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("is up") == 1 and "RabbitMQ" not in result.stdout
    assert record.read_text().splitlines()[1:] == [
        "run", "--config", "services/portal/config.yaml", "services.portal.service"]


def test_migrate_waits_for_the_portals_database_too(base_env, tmp_path, listener):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_command(bin_dir, "python", real=sys.executable)
    down = free_port()
    env = base_env | {"PATH": f"{bin_dir}:{base_env['PATH']}", "WAIT_TIMEOUT": "1"} | {
        f"{s.upper()}_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{listener}/cdht_{s}"
        for s in APP_SERVICES} | {
        "PORTAL_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{down}/cdht_portal"}
    result = run([DEPLOY / "migrate.sh"], env)
    assert result.returncode == 1 and "PORTAL_DATABASE_URL" in result.stderr, result.stderr


@pytest.mark.parametrize("args, expected", [
    ([], ["db", "upgrade", "all"]),
    (["downgrade", "registry", "0001"], ["db", "downgrade", "registry", "0001"]),
])
def test_migrate_waits_for_the_databases_then_runs_the_cli(base_env, tmp_path, listener,
                                                            args, expected):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = fake_command(bin_dir, "python", real=sys.executable)
    env = base_env | {"PATH": f"{bin_dir}:{base_env['PATH']}", "WAIT_TIMEOUT": "10"} | {
        f"{s.upper()}_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{listener}/cdht_{s}"
        for s in APP_SERVICES}
    result = run([DEPLOY / "migrate.sh", *args], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("is up") == 1  # one server behind four URLs: waited for once
    cwd, *called = record.read_text().splitlines()
    assert Path(cwd) == ROOT
    assert called == ["-m", "cdht_tools", *expected]


def test_migrate_gives_up_when_postgres_is_down(base_env):
    port = free_port()
    env = base_env | {"WAIT_TIMEOUT": "1"} | {
        f"{s.upper()}_DATABASE_URL": f"postgresql+psycopg2://u:p@127.0.0.1:{port}/cdht_{s}"
        for s in APP_SERVICES}
    result = run([DEPLOY / "migrate.sh"], env)
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr and "gave up" in result.stderr


def test_migrate_cli_exists():
    """The command migrate.sh runs: `python -m cdht_tools db upgrade all` must parse."""
    result = subprocess.run([sys.executable, "-m", "cdht_tools", "db", "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "EVENTLET_TESTS": "1"})
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout and "downgrade" in result.stdout


# ---------------------------------------------------------- init-databases.sql ----------------
def _initdb_available():
    if not (shutil.which("initdb") and shutil.which("pg_ctl") and shutil.which("psql")):
        return False
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own account
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        return bool(shutil.which("runuser"))
    return True


@pytest.mark.skipif(not _initdb_available(), reason="initdb/pg_ctl/psql not available")
def test_init_databases_sql_on_a_throwaway_server():
    """Runs the script twice (as the postgres image runs it: psql with ON_ERROR_STOP) on a
    private server in tmp_path, listening on a socket only: the four databases exist and a
    second run changes nothing and fails on nothing."""
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # directly under /tmp: pytest's tmp_path sits in a directory only its owner can enter
    work = Path(tempfile.mkdtemp(prefix="cdht-initdb-"))
    if as_pg:
        shutil.chown(work, "postgres")
    data = work / "data"
    port = "54329"  # names the socket file only: the server listens on no TCP port
    subprocess.run([*as_pg, "initdb", "-D", str(data), "-U", "postgres", "-A", "trust"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_pg, "pg_ctl", "-D", str(data), "-w", "-l", str(work / "log"), "-o",
                    f"-k {work} -c listen_addresses='' -p {port}", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        psql = ["psql", "-h", str(work), "-p", port, "-U", "postgres", "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "--no-psqlrc"]
        for _ in range(2):
            result = subprocess.run([*psql, "-f", str(DEPLOY / "postgres" / "init-databases.sql")],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
        names = subprocess.run([*psql, "-Atc", "SELECT datname FROM pg_database"],
                               capture_output=True, text=True, check=True).stdout.split()
        assert {f"cdht_{s}" for s in APP_SERVICES} <= set(names)
    finally:
        subprocess.run([*as_pg, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------- deploy/images/build.sh --------
def test_image_builder_refuses_unknown_parts(base_env):
    result = run([DEPLOY / "images" / "build.sh", "nosuchpart"], base_env)
    assert result.returncode == 2
    assert "unknown argument 'nosuchpart'" in result.stderr


def test_image_builder_prints_the_env_lines_alone(base_env):
    """--env alone builds nothing (no docker needed) and prints what .env takes."""
    result = run([DEPLOY / "images" / "build.sh", "--env"], base_env | {"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["BASE_IMAGE=cdht-base:bookworm",
                                          "POSTGRES_IMAGE=cdht-postgres:15",
                                          "RABBITMQ_IMAGE=cdht-rabbitmq:3.10"]



# ------------------------------------------------------- the idp profile's entry point --------
IDP_START = DEPLOY / "images" / "idp" / "start.mjs"
needs_idp = pytest.mark.skipif(
    not shutil.which("node") or not (DEPLOY / "idp" / "node_modules" / "oidc-provider").is_dir(),
    reason="node and deploy/idp/node_modules (npm ci --prefix deploy/idp) are needed")


def idp_tree(tmp_path):
    """deploy/idp laid out as the image has it: start.mjs beside server.mjs."""
    tree = tmp_path / "idp"
    tree.mkdir()
    for name in ("server.mjs", "package.json"):
        shutil.copy(DEPLOY / "idp" / name, tree / name)
    (tree / "node_modules").symlink_to(DEPLOY / "idp" / "node_modules")
    shutil.copy(IDP_START, tree / "start.mjs")
    state = tmp_path / "state"
    state.mkdir()
    return tree, state


def idp_env(base_env, state, port, **more):
    return base_env | {"IDP_STATE_DIR": str(state), "IDP_HOST": "127.0.0.1",
                       "IDP_PORT": str(port), "OIDC_ISSUER": f"http://idp.localhost:{port}",
                       "IDP_ADMIN_PASSWORD": "mat-khau-quan-tri",
                       "PORTAL_PUBLIC_URL": "http://localhost:8005",
                       "PORTAL_OIDC_CLIENT_SECRET": "bi-mat"} | more


@needs_idp
@pytest.mark.parametrize("change, message", [
    ({"OIDC_ISSUER": "http://idp.localhost:1"}, "names port 1 but IDP_PORT is"),
    ({"IDP_ADMIN_PASSWORD": ""}, "IDP_ADMIN_PASSWORD is empty"),
    ({"PORTAL_OIDC_CLIENT_SECRET": ""}, "PORTAL_OIDC_CLIENT_SECRET is empty"),
])
def test_idp_start_refuses_a_configuration_that_cannot_work(base_env, tmp_path, change, message):
    tree, state = idp_tree(tmp_path)
    result = subprocess.run(["node", str(tree / "start.mjs")], capture_output=True, text=True,
                            env=idp_env(base_env, state, free_port(), **change), timeout=30)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (state / "config.json").exists()


@needs_idp
def test_idp_start_configures_the_portal_and_keeps_its_key(base_env, tmp_path):
    """The provider it starts serves the issuer it was given, with the portal as its client
    and admin (plus accounts.json) as accounts; the signing key made on the first start is
    the one of the next."""
    tree, state = idp_tree(tmp_path)
    (state / "accounts.json").write_text(json.dumps([{
        "username": "canbo", "password": "pw", "sub": "p-1",
        "claims": {"cdht_role": "commune_staff", "cdht_unit": "AG.LX"}}]))
    kids = []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(["node", str(tree / "start.mjs")], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=idp_env(base_env, state, port))
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
                    with urllib.request.urlopen(url, timeout=2) as response:
                        meta = json.load(response)
                    break
                except OSError:
                    assert process.poll() is None and time.monotonic() < deadline, \
                        process.stdout.read().decode() if process.poll() is not None else "slow"
                    time.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/jwks", timeout=5) as response:
                kids.append([k["kid"] for k in json.load(response)["keys"]])
        finally:
            process.terminate()
            process.wait(timeout=10)
        assert meta["issuer"] == f"http://idp.localhost:{port}"
        assert "S256" in meta["code_challenge_methods_supported"]
        config = json.loads((state / "config.json").read_text())
        assert (state / "config.json").stat().st_mode & 0o777 == 0o600
        assert config["clients"] == [{
            "client_id": "cdht-portal", "client_secret": "bi-mat",
            "client_name": "Cổng thông tin CDHT",
            "redirect_uris": ["http://localhost:8005/signin/callback"],
            "post_logout_redirect_uris": ["http://localhost:8005/signed-out"]}]
        assert [a["username"] for a in config["accounts"]] == ["admin", "canbo"]
        assert config["accounts"][0]["claims"]["cdht_role"] == "admin"
    assert kids[0] == kids[1] and len(kids[0]) == 1
