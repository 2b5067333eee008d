"""Minting bearer tokens, and the record of every minting.

Only the operator's tooling signs: ``cdht token`` and the local scripts (``local.dev_headers``)
take the private key from AUTH_SIGNING_KEY, or the local dev key bin/up made; the services
hold the public keys alone (cdht.auth). Each minting appends one JSON line to the minting
audit, ``<AUTH_AUDIT_DIR>/tokens.jsonl`` (default var/audit/): when, the token's jti,
subject, role, unit, key id and expiry, who ran it and through what; never the token itself.
A token whose line cannot be written is not handed out.
"""
import getpass
import json
import os
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from cdht import auth

AUDIT_FILE = "tokens.jsonl"


def audit_path(env=None):
    """Where mintings are recorded: AUTH_AUDIT_DIR from ``env`` or the environment, else
    var/audit (CDHT_VAR_DIR moves var/)."""
    from cdht_tools import local
    directory = (env or {}).get("AUTH_AUDIT_DIR") or os.environ.get("AUTH_AUDIT_DIR")
    return Path(directory or local.VAR / "audit") / AUDIT_FILE


def who():
    """The account that ran the tool, and where (``sudo`` keeps the real user's name)."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _iso(moment):
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


def append(path, record):
    """One JSON line at the end of ``path`` (O_APPEND: never rewrites what is there), made
    readable by its owner alone, flushed to disk before the token is handed out."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(handle, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(handle)
    finally:
        os.close(handle)


def issue(signing_key, *, subject, role, unit_code, ttl_seconds=auth.DEFAULT_TTL,
          via="cdht token", env=None, now=None):
    """A token signed with ``signing_key``, recorded in the minting audit first."""
    signing = auth.load_signing_key(signing_key) if isinstance(signing_key, str) else signing_key
    jti, issued = str(uuid.uuid4()), int(time.time() if now is None else now)
    token = auth.mint_token(signing, subject=subject, role=role, unit_code=unit_code,
                            ttl_seconds=ttl_seconds, now=issued, jti=jti)
    append(audit_path(env), {
        "at": _iso(issued), "jti": jti, "subject": str(subject), "role": role,
        "unit": unit_code or None, "kid": signing.kid,
        "expires": _iso(issued + int(ttl_seconds)), "by": who(), "via": via})
    return token
