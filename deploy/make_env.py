"""Write a first .env from .env.example: random secrets, and mail to the dev mail catcher.

bin/up runs it when there is no .env, so a newcomer with a Docker engine needs no manual
step. Secrets use only URL-safe characters (they go into database and broker URLs). Mail
goes to SMTP_HOST=mailcatcher: while it does, bin/up adds docker-compose.dev.yml, whose mail
catcher keeps every mail (http://127.0.0.1:8025/messages); an operator sets SMTP_* and
MAIL_FROM for the real relay. Lines given as KEY=VALUE arguments replace those of the example
(e.g. the images deploy/images/build.sh --env prints, or other host ports).

    python3 deploy/make_env.py [.env.example] [KEY=VALUE ...] > .env
"""
import secrets
import string
import sys
from pathlib import Path

GENERATED = {
    "POSTGRES_PASSWORD": lambda: _secret(),
    "RABBITMQ_DEFAULT_PASS": lambda: _secret(),
    "AUTH_SECRET": lambda: _secret(48),  # signs the API's bearer tokens (HS256)
    "MAIL_FROM": lambda: "khuyenhoc@localhost",
}
# Mail goes to the dev override's mail catcher until an operator configures the real relay.
MAIL_CATCHER = {"SMTP_HOST": "mailcatcher", "SMTP_PORT": "1025", "SMTP_STARTTLS": "false"}


def _secret(length=32):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def make_env(example_text, overrides=None):
    overrides = dict(overrides or {})
    lines = []
    for line in example_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            if key in overrides:
                line = f"{key}={overrides.pop(key)}"
            elif key in GENERATED and not value:
                line = f"{key}={GENERATED[key]()}"
            elif key in MAIL_CATCHER:
                line = f"{key}={MAIL_CATCHER[key]}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in overrides.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    args = sys.argv[1:]
    source = Path(args.pop(0) if args and "=" not in args[0] else ".env.example")
    pairs = dict(arg.split("=", 1) for arg in args)
    sys.stdout.write(make_env(source.read_text(encoding="utf-8"), pairs))
