"""Where the CPU goes, per service, from ``py-spy record --format raw`` files.

    .venv/bin/python bench/profile_summary.py DIR      # DIR/<service>.txt, as
                                                       # bench/staff_workflow.py --profile writes

Each line of a raw file is one stack (root first, ``;``-separated ``function (file:line)``)
and how many samples saw it. Samples whose innermost frame is eventlet's hub polling are a
service waiting (for PostgreSQL, the broker, a client: a green thread waiting switches to
the hub), so they are counted apart; the shares below are of the others, the samples that
were running or waiting for a core. Printed as Markdown for bench/PROFILE.md:

- by worker: the service method nameko runs (an HTTP route, an RPC served, an event
  handler) or the background green thread (outbox relay, consumer loop, HTTP server);
- subsystems, inclusive: the share of samples with a frame of that subsystem anywhere on
  the stack (a sample can count in several, so they do not add up to 100%);
- by package, self: where the innermost frame is (these add up to 100%);
- the top functions, self.
"""
import argparse
import re
import sys
from collections import Counter
from pathlib import Path

WAITING = re.compile(r"^Hub\.(do_poll|wait) \(eventlet/hubs/")

# name -> a regular expression matched against each frame, ``function (file:line)``
SUBSYSTEMS = {
    "HTTP (eventlet.wsgi, werkzeug, nameko.web, cdht.web)":
        r"eventlet/wsgi\.py|werkzeug/|nameko/web/|cdht/web\.py",
    "event consumed (nameko events/messaging, cdht consumer, batching, inbox)":
        r"nameko/(events|messaging)\.py|cdht/(consumer|batching|inbox)\.py",
    "RPC (nameko rpc: calls made and served)": r"nameko/rpc\.py|cdht/rpc\.py",
    "JWT verification (cdht.auth, PyJWT, cryptography)": r"^verify_token |jwt/|cryptography/",
    "contract checks (marshmallow, cdht.contracts)": r"marshmallow/|cdht/contracts/",
    "SQLAlchemy (with psycopg2's C time)": r"sqlalchemy/",
    "the personal data audit": r"(?i)^\S*audit",
    "outbox (add, relay, wake-ups)": r"cdht/outbox\.py",
    "AMQP client (kombu, py-amqp)": r"kombu/|amqp/",
    "logging": r"logging/|pythonjsonlogger/",
    "JSON (json module)": r"\(json/",
    "email (compose, SMTP)": r"\(email/|smtplib\.py",
    "metrics (prometheus_client)": r"prometheus_client/",
}


# the green threads that run outside any worker, by a frame of theirs
BACKGROUND = {"Relay.run": "outbox relay (background)",
              "ConsumerMixin.run": "AMQP consumer loop (nameko)",
              "HttpProtocol.": "HTTP server (reading requests, writing answers)",
              "ReplyListener.": "RPC replies received",
              "Sending.": "notifications' sending loop"}


def entrypoint_of(frames):
    """The worker a stack runs in (the service method after nameko's _run_worker), or the
    background green thread it belongs to."""
    names = [re.sub(r" \(.*$", "", f) for f in frames]
    for i, name in enumerate(names[:-1]):
        if name.endswith("._run_worker"):
            return names[i + 1]
    for frame, label in BACKGROUND.items():
        if any(name.startswith(frame) for name in names):
            return label
    return "other"


def read_stacks(path):
    """[(frames, samples)] from a raw py-spy file."""
    stacks = []
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([f for f in stack.split(";") if f], int(count)))
    return stacks


def package_of(frame):
    """The package of a frame's file: 'sqlalchemy', 'eventlet', 'services/assessment'..."""
    found = re.search(r"\((.+?):\d+\)$", frame)
    parts = (found.group(1) if found else "?").split("/")
    if parts[0] in ("services", "cdht") and len(parts) > 1:
        return "/".join(parts[:2]).removesuffix(".py")
    return parts[0].removesuffix(".py")


def function_of(frame):
    return re.sub(r":\d+\)$", ")", frame)


def summary(stacks):
    total = sum(n for _, n in stacks)
    waiting = sum(n for frames, n in stacks if frames and WAITING.match(frames[-1]))
    active = [(frames, n) for frames, n in stacks if frames and not WAITING.match(frames[-1])]
    busy = sum(n for _, n in active) or 1
    inclusive = {name: sum(n for frames, n in active
                           if any(re.search(pattern, f) for f in frames)) / busy
                 for name, pattern in SUBSYSTEMS.items()}
    packages, functions, entrypoints = Counter(), Counter(), Counter()
    for frames, n in active:
        entrypoints[entrypoint_of(frames)] += n
        packages[package_of(frames[-1])] += n
        functions[function_of(frames[-1])] += n
    return {"total": total, "waiting": waiting, "busy": busy, "inclusive": inclusive,
            "entrypoints": {k: v / busy for k, v in entrypoints.most_common(10)},
            "packages": {k: v / busy for k, v in packages.most_common(12)},
            "functions": {k: v / busy for k, v in functions.most_common(10)}}


def markdown(service, s):
    lines = [f"### {service}", "",
             f"{s['busy']:,} samples running or runnable, {s['waiting']:,} waiting in the hub "
             f"(of {s['total']:,}).", "",
             "| worker or green thread | share |", "|---|---|"]
    lines += [f"| {name} | {share:.0%} |" for name, share in s["entrypoints"].items()]
    lines += ["", "| subsystem (inclusive) | share |", "|---|---|"]
    lines += [f"| {name} | {share:.0%} |" for name, share in
              sorted(s["inclusive"].items(), key=lambda kv: -kv[1]) if share >= 0.005]
    lines += ["", "| package (self) | share |", "|---|---|"]
    lines += [f"| {name} | {share:.0%} |" for name, share in s["packages"].items()]
    lines += ["", "| function (self) | share |", "|---|---|"]
    lines += [f"| `{name}` | {share:.1%} |" for name, share in s["functions"].items()]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    args = parser.parse_args()
    files = sorted(Path(args.directory).glob("*.txt"))
    if not files:
        sys.exit(f"no py-spy raw files (*.txt) in {args.directory}")
    for path in files:
        print(markdown(path.stem, summary(read_stacks(path))))


if __name__ == "__main__":
    main()
