"""Services only verify tokens: real processes started as bin/up starts them, with the old
shared secret and the signing key in the starting shell's environment, must hold neither,
refuse tokens signed the old way (HS256) or by a key they were not given, and accept what
``cdht token`` mints with the operator's key."""
import os
import subprocess
import sys
import time
import uuid

import jwt
import pytest
import requests

from cdht.config import ROOT, SERVICES, load_config
from tests.e2e.conftest import System
from tests.support import TEST_PUBLIC_KEYS, TEST_SIGNING_KEY, empty_databases, free_port

# The shared HS256 secret every service used to hold (and the tests' old one).
OLD_SECRET = "cdht-tests-signing-key-0123456789abcdef"
STARTED = ("registry", "reporting")
PROTECTED = {"registry": "/people", "reporting": "/units"}
NOT_IN_A_SERVICE = ("AUTH_SIGNING_KEY", "AUTH_SECRET")


@pytest.fixture(scope="module")
def services_env(migrated_databases, rabbit_manager, request):
    vhost = f"cdht-tok-{uuid.uuid4().hex[:8]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    amqp = request.config.getoption("RABBIT_AMQP_URI").rstrip("/") + "/" + vhost
    env = {"AMQP_URI": amqp, "LOG_LEVEL": "INFO", "AUTH_PUBLIC_KEYS": TEST_PUBLIC_KEYS,
           # an installation upgraded with the old secret still in its settings
           "AUTH_SECRET": OLD_SECRET}
    for service, url in migrated_databases.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
    yield env
    rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def running(services_env, migrated_databases, tmp_path_factory):
    """Registry and reporting, started from a shell that holds the signing key."""
    empty_databases(migrated_databases)
    system = System(services_env, tmp_path_factory.mktemp("token-logs"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
        patch.setenv("AUTH_SECRET", OLD_SECRET)
        system.start(*STARTED)
    try:
        yield system
    finally:
        system.stop()


def call(system, service, token):
    return requests.get(system.url(service, PROTECTED[service]), timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def hs256(secret, **claims):
    now = int(time.time())
    return jwt.encode({"sub": "ops", "role": "admin", "unit": None, "iss": "cdht",
                       "aud": "cdht", "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
                       "exp": now + 600} | claims, secret, algorithm="HS256",
                      headers={"kid": "cdht-tests"})


@pytest.mark.parametrize("service", STARTED)
def test_a_token_signed_with_the_old_shared_secret_is_a_401(running, service):
    now = int(time.time())
    as_minted_before = jwt.encode({"sub": "ops", "role": "admin", "unit": None, "iat": now,
                                   "exp": now + 600}, OLD_SECRET, algorithm="HS256")
    for token in (as_minted_before, hs256(OLD_SECRET)):
        response = call(running, service, token)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "token algorithm not accepted (only EdDSA)"


@pytest.mark.parametrize("service", STARTED)
def test_a_key_the_services_were_not_given_is_a_401(running, service):
    from cdht.auth import generate_signing_key
    from tests.support import token
    assert call(running, service, token(generate_signing_key())).status_code == 401
    impostor = token(generate_signing_key(kid="cdht-tests"))  # a known kid, another key
    assert call(running, service, impostor).status_code == 401
    # algorithm confusion: every service holds the public key; as an HMAC secret it signs
    # nothing they accept
    confused = call(running, service, hs256(TEST_PUBLIC_KEYS.split(":", 1)[1]))
    assert confused.status_code == 401, confused.text


def test_what_cdht_token_mints_is_accepted_and_recorded(running, tmp_path):
    minted = subprocess.run(
        [sys.executable, "-m", "cdht_tools", "token", "--role", "admin", "--subject", "ops"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "AUTH_SIGNING_KEY": TEST_SIGNING_KEY, "EVENTLET_TESTS": "1",
             "AUTH_AUDIT_DIR": str(tmp_path)})
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    for service in STARTED:
        assert call(running, service, token).status_code == 200
    audit = (tmp_path / "tokens.jsonl").read_text()
    assert jwt.decode(token, options={"verify_signature": False})["jti"] in audit
    assert token not in audit


def test_no_service_holds_a_signing_key(running):
    """Neither the services' configuration nor the processes' environment holds what signs
    tokens, though the shell that started them did."""
    for proc in running.processes.values():
        environ = (f"/proc/{proc.process.pid}/environ")
        names = {item.split(b"=", 1)[0].decode() for item in
                 open(environ, "rb").read().split(b"\0") if item}
        assert not names & set(NOT_IN_A_SERVICE), (proc.name, names & set(NOT_IN_A_SERVICE))
        assert "AUTH_PUBLIC_KEYS" in names
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_SIGNING_KEY", TEST_SIGNING_KEY)
        patch.setenv("AUTH_SECRET", OLD_SECRET)
        for service in SERVICES:
            config = load_config(service)
            assert not set(NOT_IN_A_SERVICE) & set(config), service
            values = {str(v) for v in config.values()}
            assert TEST_SIGNING_KEY not in values and OLD_SECRET not in values, service


def test_a_service_given_the_signing_key_refuses_to_start(services_env, tmp_path):
    env = {**os.environ, **services_env, "PYTHONPATH": str(ROOT), "EVENTLET_TESTS": "1",
           "AUTH_SIGNING_KEY": TEST_SIGNING_KEY, "REPORTING_HTTP_ADDRESS":
           f"127.0.0.1:{free_port()}"}
    env.pop("AUTH_SECRET")
    process = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", "services/reporting/config.yaml",
         "services.reporting.service"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"reporting started with the signing key in its environment:\n{output}")
    assert process.returncode != 0
    assert "AUTH_SIGNING_KEY is set in the service's environment" in output
