"""Every shell command in the docs runs, so the docs cannot rot.

The convention (docs/README.md, "How the guides are tested"):

- a ```` ```sh ```` block in README.md, deploy/README.md or docs/*.md is run, whole, by
  ``bash -euo pipefail``, in document order, against a scratch system this module starts
  with ``bin/up`` (tests/docs/scratch_system.py): its own databases, vhost, ports and run
  directory. The docs are written for the local defaults, so before a block runs, the
  default addresses (127.0.0.1:8001-8004) and database names (``cdht_<service>``) in it are
  replaced by the scratch system's; nothing else is changed;
- ```` ```console ````, ```` ```text ```` and the other languages are illustrative, never run;
- a ```` ```sh ```` block right after ``<!-- docs-test: skip: REASON -->`` is not run, and
  the reason must say where else it is covered (e.g. bin/up by tests/e2e);
- ``docker`` has no engine here: the blocks run with tests/docs/fake_docker.py as ``docker``,
  which checks each compose command against the real Compose implementation (files valid,
  services, scripts and CLI commands exist) instead of running containers.

Blocks run in a directory of their own (the repository's files linked into it), so what they
write (backup/, .env, dumps) never lands in the working tree.
"""
import os
import re
import shutil

import pytest

from cdht.config import ROOT, SERVICES
from tests.docs.scratch_system import ScratchSystem

pytestmark = pytest.mark.e2e

DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\S*)\s*$")
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip:\s*(.*?)\s*-->$")


def blocks(path):
    """(language, first line number, text, skip reason or None) of each fenced block."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match and match[1] != "":
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            previous = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
            skip = SKIP.match(previous.strip())
            found.append((match[1], start + 1, "\n".join(body) + "\n",
                          skip[1] if skip else None))
        elif match:  # an unlabelled fence: skip to its end
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
        i += 1
    return found


def sh_blocks():
    return [(path, line, text, skip) for path in DOCS
            for lang, line, text, skip in blocks(path) if lang == "sh"]


def block_id(block):
    return f"{block[0].relative_to(ROOT)}:{block[1]}"


def test_the_docs_have_runnable_blocks_and_every_skip_says_why():
    found = sh_blocks()
    files = {path.relative_to(ROOT).as_posix() for path, *_ in found}
    assert {"README.md", "deploy/README.md", "docs/operator-guide.md",
            "docs/integrator-guide.md"} <= files
    run = [b for b in found if b[3] is None]
    assert len(run) >= 15, [block_id(b) for b in run]
    for block in found:
        if block[3] is not None:
            assert re.search(r"\btests/|run by|covered", block[3]), \
                f"{block_id(block)}: a skip must say where else it is covered: {block[3]!r}"


def test_block_parser_reads_labels_and_skip_markers(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n<!-- docs-test: skip: run by tests/e2e -->\n```sh\nbin/up\n```\n"
                   "```\nplain\n```\n```console\n$ ls\n```\n```sh\necho hi\n```\n")
    assert blocks(doc) == [("sh", 3, "bin/up\n", "run by tests/e2e"),
                           ("console", 9, "$ ls\n", None), ("sh", 12, "echo hi\n", None)]


# -- running them ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def system(rabbit_manager, request, tmp_path_factory):
    scratch = ScratchSystem(tmp_path_factory.mktemp("docs-system"), rabbit_manager,
                            request.config.getoption("RABBIT_AMQP_URI"))
    try:
        started = scratch.up()
        assert started.returncode == 0, f"bin/up failed:\n{started.stdout}\n{started.stderr}"
        yield scratch
    finally:
        scratch.down()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The repository's top-level entries linked into a fresh directory; bin/ holds wrappers
    instead (bin/setup writes its own path into .venv/bin/cdht: it must run from ROOT)."""
    work = tmp_path_factory.mktemp("docs-cwd")
    for entry in ROOT.iterdir():
        if entry.name in (".git", "var", "bin", ".env"):
            continue
        (work / entry.name).symlink_to(entry)
    (work / "bin").mkdir()
    for script in (ROOT / "bin").iterdir():
        wrapper = work / "bin" / script.name
        wrapper.write_text(f'#!/bin/sh\nexec "{script}" "$@"\n')
        wrapper.chmod(0o755)
    tools = work / ".docs-test-bin"
    tools.mkdir()
    docker = tools / "docker"
    docker.write_text(f'#!/bin/sh\nexec "{ROOT}/.venv/bin/python" '
                      f'"{ROOT}/tests/docs/fake_docker.py" "$@"\n')
    docker.chmod(0o755)
    return work


def localise(text, system):
    """The docs' local defaults -> the scratch system's addresses and databases."""
    default_ports = {8001 + i: system.ports[s] for i, s in enumerate(SERVICES)}
    text = re.sub(r"\b(127\.0\.0\.1|localhost):(800[1-4])\b",
                  lambda m: f"127.0.0.1:{default_ports[int(m[2])]}", text)
    return re.sub(r"\bcdht_(registry|assessment|reporting|notifications)\b",
                  lambda m: system.databases[m[1]], text)


@pytest.mark.parametrize("block", [b for b in sh_blocks() if b[3] is None], ids=block_id)
def test_docs_block_runs(block, system, workdir):
    path, line, text, _ = block
    script = localise(text, system)
    env = {"PATH": f"{workdir / '.docs-test-bin'}:{os.environ['PATH']}", "EDITOR": "true",
           "HOME": str(workdir)}
    result = system.run(["bash", "-euo", "pipefail", "-c", script], timeout=300, env=env,
                        cwd=workdir)
    assert result.returncode == 0, (
        f"{path.relative_to(ROOT)}:{line} failed ({result.returncode}):\n{script}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    assert "Traceback" not in result.stderr, result.stderr


def test_backup_and_restore_round_trip(system, workdir):
    """The guide's dump and restore commands bring back rows that were lost in between."""
    from sqlalchemy import create_engine, text
    guide = {b[1]: b[2] for b in sh_blocks() if b[0].name == "operator-guide.md"}
    backup = next(t for t in guide.values() if "pg_dump" in t)
    restore = next(t for t in guide.values() if "pg_restore --host" in t)
    env = {"PATH": f"{workdir / '.docs-test-bin'}:{os.environ['PATH']}", "HOME": str(workdir)}
    engine = create_engine(system.database_url("reporting"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE docs_probe (n int)"))
            conn.execute(text("INSERT INTO docs_probe VALUES (1), (2), (3)"))
        ran = system.run(["bash", "-euo", "pipefail", "-c", localise(backup, system)],
                         env=env, cwd=workdir)
        assert ran.returncode == 0, ran.stderr
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM docs_probe"))
        engine.dispose()
        ran = system.run(["bash", "-euo", "pipefail", "-c", localise(restore, system)],
                         env=env, cwd=workdir, timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        with engine.begin() as conn:
            assert conn.scalar(text("SELECT count(*) FROM docs_probe")) == 3
            conn.execute(text("DROP TABLE docs_probe"))
    finally:
        engine.dispose()
        shutil.rmtree(workdir / "backup", ignore_errors=True)


CHROMIUM = os.environ.get("CDHT_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.skipif(not shutil.which(CHROMIUM) and os.environ.get("CI") != "true",
                    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_screenshots_script_runs(system, tmp_path):
    """docs/screenshots.py, which took the staff guide's pictures, still works on the
    dashboard (into a scratch directory: the committed pictures are left alone)."""
    seeded = system.cli("seed", "demo", "--people", "60")  # does nothing if already seeded
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    ran = system.run([str(ROOT / ".venv" / "bin" / "python"), "docs/screenshots.py",
                      "--url", system.base_url("reporting"), "--out", str(tmp_path),
                      "--chromium", CHROMIUM], timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    pictures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pictures == sorted(p.name for p in (ROOT / "docs" / "img").glob("*.png"))
    for picture in tmp_path.glob("*.png"):
        assert 10_000 < picture.stat().st_size < 300_000, picture.name
