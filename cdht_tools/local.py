"""Run the whole system as local processes, for a machine without a Docker engine.

``cdht up`` (what bin/up runs) checks that PostgreSQL and RabbitMQ answer (and says which does not),
migrates the four databases, starts each service with ``nameko run``, and waits until every
``/health`` answers. Without an SMTP relay configured it also starts a local mail catcher
(aiosmtpd, printing each mail to var/log/mail.log). ``cdht down`` stops them.
The end-to-end tests start the services through the same functions.

Tokens: the services verify them with ``AUTH_PUBLIC_KEYS``. Unless the environment sets
AUTH_SIGNING_KEY, a dev signing key is made once in ``var/auth-signing-key`` (mode 0600);
``cdht token`` signs with it, and the local processes get only its public key (never the
signing key, which a service refuses to start with). Likewise assessment's
CREDENTIAL_KEY_SECRET, unless set, is a dev secret made once in ``var/credential-key-secret``.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cdht.config import PORTAL, PROCESSES, ROOT, SERVICES, load_config

# Run state (pid files, logs, the dev signing key, the minting audit); CDHT_VAR_DIR moves it, e.g. for a second
# system on this machine (tests/e2e/test_whole_system.py).
VAR = Path(os.environ.get("CDHT_VAR_DIR") or ROOT / "var")
SIGNING_KEY_FILE = VAR / "auth-signing-key"
DEFAULT_PORTS = {"registry": 8001, "assessment": 8002, "reporting": 8003, "notifications": 8004,
                 "portal": 8005}


class NotReady(RuntimeError):
    pass


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def signing_key(create=False, env=None):
    """AUTH_SIGNING_KEY from ``env`` or the environment, else the local dev key
    (var/auth-signing-key), made now if ``create``; None when there is none."""
    from cdht import auth
    given = (env or {}).get("AUTH_SIGNING_KEY") or os.environ.get("AUTH_SIGNING_KEY")
    if given:
        return given
    try:
        return SIGNING_KEY_FILE.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        if not create:
            return None
    SIGNING_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    made = auth.generate_signing_key()
    try:
        handle = os.open(SIGNING_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return SIGNING_KEY_FILE.read_text(encoding="ascii").strip()
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(made + "\n")
    return made


def public_keys(env=None):
    """AUTH_PUBLIC_KEYS for the local processes: ``env``'s or the environment's, else the
    public key of the local signing key (made now if there is none)."""
    from cdht import auth
    given = (env or {}).get("AUTH_PUBLIC_KEYS") or os.environ.get("AUTH_PUBLIC_KEYS")
    return given or auth.public_key_of(signing_key(create=True, env=env))


def dev_headers(env=None, role="admin", unit_code=None, subject="local-operator",
                via="local script"):
    """Authorization header of a short-lived token signed with the local signing key (for
    scripts that drive a locally started system, e.g. bench/); recorded like every minting."""
    from cdht_tools import tokens
    token = tokens.issue(signing_key(create=True, env=env), subject=subject, role=role,
                         unit_code=unit_code, ttl_seconds=6 * 3600, via=via, env=env)
    return {"Authorization": f"Bearer {token}"}


def _host_port(url, default_port):
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def reachable(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def missing_servers(env):
    """Names of the backing servers that do not answer, as the services would reach them."""
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        configs = {s: load_config(s) for s in SERVICES}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    missing = []
    host, port = _host_port(configs["registry"]["AMQP_URI"], 5672)
    if not reachable(host, port):
        missing.append(f"RabbitMQ at {host}:{port} (start it: rabbitmq-server -detached)")
    for service, config in configs.items():
        host, port = _host_port(config["DATABASE_URL"].replace("+psycopg2", ""), 5432)
        if not reachable(host, port):
            missing.append(f"PostgreSQL at {host}:{port} for {service} (start it: "
                           "pg_ctlcluster <version> main start)")
            break
    return missing


def credential_key_secret(env=None):
    """CREDENTIAL_KEY_SECRET for the local assessment service: ``env``'s or the
    environment's, else a dev secret made once in var/credential-key-secret (mode 0600)."""
    import secrets
    given = (env or {}).get("CREDENTIAL_KEY_SECRET") or os.environ.get("CREDENTIAL_KEY_SECRET")
    return given or _secret_file(VAR / "credential-key-secret",  # 32 bytes, base64url
                                 lambda: secrets.token_urlsafe(32))


def http_base(service, env):
    name = f"{service.upper()}_HTTP_ADDRESS"  # as the service reads it: env, then os.environ
    address = env.get(name) or os.environ.get(name) or f"0.0.0.0:{DEFAULT_PORTS[service]}"
    host, port = address.rsplit(":", 1)
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


def start_services(env, log_dir, services=SERVICES):
    """Start each service as ``nameko run`` with ``env``; logs go to ``log_dir/<name>.log``."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    from cdht import auth
    env = {"AUTH_PUBLIC_KEYS": public_keys(env),
           "CREDENTIAL_KEY_SECRET": credential_key_secret(env), **env}
    # what signs tokens never reaches a service (it would refuse to start with it)
    inherited = {k: v for k, v in os.environ.items() if k not in auth.SIGNING_SETTINGS}
    env = {k: v for k, v in env.items() if k not in auth.SIGNING_SETTINGS}
    started = []
    for service in services:
        log_path = log_dir / f"{service}.log"
        own = {"AMQP_URI": env[f"{service.upper()}_AMQP_URI"]} \
            if env.get(f"{service.upper()}_AMQP_URI") else {}  # its own broker user
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", "--config",
                 f"services/{service}/config.yaml", f"services.{service}.service"],
                cwd=ROOT, env={**inherited, "PYTHONPATH": str(ROOT), "EVENTLET_TESTS": "1",
                               **env, **own},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append(ServiceProcess(service, process, http_base(service, env), log_path))
    return started


def wait_healthy(processes, timeout=60.0):
    """Block until every service's /health says ok; raise NotReady with its log otherwise."""
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending:
        for proc in list(pending):
            if proc.process.poll() is not None:
                raise NotReady(f"{proc.name} exited with {proc.process.returncode}:\n"
                               f"{proc.log_tail()}")
            try:
                # 5 s: a health check checks the database and the broker, and answers
                # behind a busy service's event workers (cdht.broker bounds them)
                with urllib.request.urlopen(proc.base_url + "/health", timeout=5) as resp:
                    if json.load(resp).get("status") == "ok":
                        pending.remove(proc)
            except (OSError, ValueError):
                pass
        if pending and time.monotonic() > deadline:
            names = ", ".join(p.name for p in pending)
            raise NotReady(f"not healthy after {timeout:.0f}s: {names}\n" +
                           "\n".join(p.log_tail(10) for p in pending))
        time.sleep(0.2)


def stop_processes(processes, timeout=15.0):
    for proc in processes:
        if proc.process.poll() is None:
            os.killpg(proc.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in processes:
        try:
            proc.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.process.pid, signal.SIGKILL)
            proc.process.wait()


def start_mail_catcher(host, port, log_dir):
    """A local SMTP server that accepts every mail and prints it to log_dir/mail.log."""
    log = open(Path(log_dir) / "mail.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{host}:{port}",
                             "-c", "aiosmtpd.handlers.Debugging"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


# -- the development identity provider ------------------------------------------------------
IDP_DIR = ROOT / "deploy" / "idp"
IDP_STATE = VAR / "idp"
IDP_PORT = int(os.environ.get("CDHT_IDP_PORT") or 8080)


def _secret_file(path, make):
    """The secret kept in ``path`` (mode 0600), made once with ``make()``."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = make()
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(value + "\n")
        return value


def _private_jwks():
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm
    import secrets
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    return json.dumps({"keys": [jwk | {"kid": f"dev-{secrets.token_hex(4)}", "alg": "ES256",
                                       "use": "sig"}]})


def identity_provider_config(portal_url):
    """var/idp/config.json, made on the first ``cdht up``: the portal as a client, and one
    account, ``admin``, whose password is in var/idp/admin-password. Add accounts there (each
    with ``sub``, the registry person id, and the cdht_role / cdht_unit claims) and run
    ``cdht up`` again. Returns (config path, issuer, client secret)."""
    import secrets
    issuer = f"http://127.0.0.1:{IDP_PORT}"
    secret = _secret_file(IDP_STATE / "portal-client-secret", lambda: secrets.token_urlsafe(32))
    password = _secret_file(IDP_STATE / "admin-password", lambda: secrets.token_urlsafe(12))
    keys = json.loads(_secret_file(IDP_STATE / "keys.json", _private_jwks))
    path = IDP_STATE / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {"accounts": [{"username": "admin", "password": password, "sub": "local-admin",
                                "claims": {"name": "Quản trị viên", "cdht_role": "admin"}}]}
    config.update({"issuer": issuer, "audience": "cdht", "keys": keys, "clients": [{
        "client_id": "cdht-portal", "client_secret": secret,
        "redirect_uris": [f"{portal_url}/signin/callback"],
        "post_logout_redirect_uris": [f"{portal_url}/signed-out"]}]})
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    os.chmod(path, 0o600)
    return path, issuer, secret


def start_identity_provider(portal_url, log_dir):
    """The development provider (deploy/idp, node) on 127.0.0.1:8080; (process, issuer,
    client secret), or None with the reason printed when node or its packages are missing."""
    import shutil
    if not shutil.which("node") or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        print("  identity provider: not started (needs node and `npm ci --prefix deploy/idp`, "
              "which bin/setup runs); the portal needs one: set OIDC_ISSUER", file=sys.stderr)
        return None
    path, issuer, secret = identity_provider_config(portal_url)
    log = open(Path(log_dir) / "idp.log", "ab")
    process = subprocess.Popen(
        ["node", str(IDP_DIR / "server.mjs")], cwd=IDP_DIR, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "IDP_CONFIG": str(path), "IDP_PORT": str(IDP_PORT),
             "IDP_HOST": "127.0.0.1"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotReady(f"the identity provider exited: see {log_dir}/idp.log")
        try:
            with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration",
                                        timeout=2):
                return process, issuer, secret
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise NotReady("the identity provider did not answer in 30 s")


# -- the commands ----------------------------------------------------------------------------
def up(env=None):
    from cdht import db
    env = dict(env or {})
    missing = missing_servers(env)
    if missing:
        print("cannot start CDHT; not reachable:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    for service in PROCESSES:
        db.upgrade(service)
        print(f"  {service}: database migrated")
    run_dir, log_dir = VAR / "run", VAR / "log"
    for directory in (run_dir, log_dir):  # a fresh clone has neither
        directory.mkdir(parents=True, exist_ok=True)
    smtp_host = os.environ.get("SMTP_HOST", "127.0.0.1")
    smtp_port = int(os.environ.get("SMTP_PORT", "1025"))
    if smtp_host in ("127.0.0.1", "localhost") and not reachable(smtp_host, smtp_port):
        catcher = start_mail_catcher(smtp_host, smtp_port, log_dir)
        (run_dir / "mail-catcher.pid").write_text(str(catcher.pid))
        print(f"  mail catcher on {smtp_host}:{smtp_port}: mails go to {log_dir / 'mail.log'}")
    names = SERVICES
    portal_url = (env.get("PORTAL_PUBLIC_URL") or os.environ.get("PORTAL_PUBLIC_URL")
                  or http_base(PORTAL, env))
    env["PORTAL_PUBLIC_URL"] = portal_url
    for service in SERVICES:  # where the portal reaches each service: where it was started
        env.setdefault(f"PORTAL_{service.upper()}_URL", http_base(service, env))
    if not (env.get("OIDC_ISSUER") or os.environ.get("OIDC_ISSUER")):
        try:
            started = start_identity_provider(portal_url, log_dir)
        except NotReady as exc:
            print(f"CDHT did not start: {exc}", file=sys.stderr)
            return 1
        if started:
            idp, issuer, secret = started
            (run_dir / "idp.pid").write_text(str(idp.pid))
            env.update(OIDC_ISSUER=issuer, PORTAL_OIDC_CLIENT_SECRET=secret)
            print(f"  identity provider on {issuer}: sign in as admin with the password in "
                  f"{IDP_STATE / 'admin-password'}; add accounts in {IDP_STATE / 'config.json'}")
    if env.get("OIDC_ISSUER") or os.environ.get("OIDC_ISSUER"):
        names = PROCESSES
    processes = start_services(env, log_dir, names)
    for proc in processes:
        (run_dir / f"{proc.name}.pid").write_text(str(proc.process.pid))
    try:
        wait_healthy(processes)
    except NotReady as exc:
        print(f"CDHT did not start: {exc}", file=sys.stderr)
        stop_processes(processes)
        return 1
    print("CDHT is running:")
    for proc in processes:
        print(f"  {proc.name:<14} {proc.base_url}   log: {proc.log_path}")
    if PORTAL in names:
        print(f"the portal, for staff and citizens: {portal_url}/ (sign in there)")
    print("every API call but /health and /docs needs a bearer token; mint one with e.g.\n"
          "  .venv/bin/cdht token --role admin --subject me\n"
          "and send it as  -H \"Authorization: Bearer $TOKEN\"")
    print("demo data: .venv/bin/cdht seed demo;  health: .venv/bin/cdht status;  "
          "stop it with: bin/down (.venv/bin/cdht down)")
    return 0


def down():
    run_dir = VAR / "run"
    stopped = 0
    for pid_file in sorted(run_dir.glob("*.pid")) if run_dir.exists() else []:
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped += 1
            for _ in range(100):
                os.killpg(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid_file.unlink()
    print(f"stopped {stopped} process(es)")
    return 0
