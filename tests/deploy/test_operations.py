"""The operator guide's compose commands run against a real stack: back up, upgrade from the
image of a previous release to this one (migrate runs, the data stays), roll back to the
previous image with the backup, and restore.

The previous release is built from git history: the tree of CDHT_PREVIOUS_RELEASE (default:
the commit before the newest one that added a migration, so that the upgrade has
something to migrate) with this tree's image recipe (deploy/Dockerfile and its scripts) and
run-time requirements, since an older recipe may need a registry. Each block is taken from
docs/operator-guide.md as it stands (the ones marked for this module), and run by bash in the
stack's copy of the repository; only the image tags they name are replaced by the test's.

Opt-in like test_stack.py: CDHT_TEST_DOCKER=1 (.ci/run's compose step).
"""
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from tests.deploy.drive import call, make_ward, progress, recognise, wait_until
from tests.deploy.stack import (
    APP_SERVICES, ROOT, Stack, fixed_ports, fresh_copy, require_engine_and_images, say,
    taken_down,
)

WANTED = os.environ.get("CDHT_TEST_DOCKER") == "1"
pytestmark = pytest.mark.skipif(not WANTED, reason="compose-backed: set CDHT_TEST_DOCKER=1 "
                                "(a Docker engine and deploy/images/build.sh; .ci/compose does)")

GUIDE = "docs/operator-guide.md"
MARK = "tests/deploy/test_operations.py"
MIGRATIONS = [f"services/{s}/migrations/versions" for s in APP_SERVICES]
# What the previous release's image takes from this tree when it has none of its own: the
# recipe and what it installs (a release with its own recipe is built with it: its code,
# e.g. where its command line lives, is what that recipe copies).
RECIPE = ("deploy/Dockerfile", "deploy/run-service.sh", "deploy/migrate.sh", "deploy/wait_for.py",
          "requirements.txt")
DATABASES = [f"cdht_{s}" for s in APP_SERVICES]


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def previous_release():
    """CDHT_PREVIOUS_RELEASE, else the parent of the newest commit that added a migration
    (when that parent has the `cdht db` command the migrate step runs), else HEAD."""
    ref = os.environ.get("CDHT_PREVIOUS_RELEASE")
    if ref:
        return git("rev-parse", "--verify", f"{ref}^{{commit}}")
    newest = git("log", "-n1", "--diff-filter=A", "--format=%H", "--", *MIGRATIONS)
    if newest:
        parent = subprocess.run(["git", "rev-parse", "--verify", f"{newest}~1"], cwd=ROOT,
                                capture_output=True, text=True)
        if parent.returncode == 0:
            for path in ("cdht_tools/cli.py", "cdht/cli.py"):  # where the CLI was then
                cli = subprocess.run(["git", "show", f"{parent.stdout.strip()}:{path}"],
                                     cwd=ROOT, capture_output=True, text=True)
                if cli.returncode == 0 and '"current"' in cli.stdout and "token" in cli.stdout:
                    return parent.stdout.strip()
    return git("rev-parse", "HEAD")


def guide_blocks(tree):
    """{backup, restore, upgrade, rollback: text} of the guide's blocks marked for this module."""
    lines = (tree / GUIDE).read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("```sh") and i > 0:
            previous = next(lines[k] for k in range(i - 1, -1, -1) if lines[k].strip())
            if "docs-test: skip" in previous and MARK in previous:
                end = next(k for k in range(i + 1, len(lines)) if lines[k].startswith("```"))
                found.append("\n".join(lines[i + 1:end]) + "\n")
    blocks = {}
    for text in found:
        kind = ("rollback" if re.search(r"^OLD=", text, re.M) else
                "upgrade" if re.search(r"^NEW=", text, re.M) else
                "restore" if "pg_restore" in text else
                "backup" if "pg_dump" in text else None)
        assert kind and kind not in blocks, f"an unexpected marked block in {GUIDE}:\n{text}"
        blocks[kind] = text
    assert set(blocks) == {"backup", "restore", "upgrade", "rollback"}, sorted(blocks)
    return blocks


def with_tag(block, variable, tag):
    changed, count = re.subn(rf"^{variable}=\S+", f"{variable}={tag}", block, flags=re.M)
    assert count == 1, block
    return changed


def build_image(tree, tag):
    started = time.monotonic()
    wheels = tree / "deploy" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for wheel in (ROOT / "deploy" / "wheels").glob("*.whl"):
        shutil.copy2(wheel, wheels / wheel.name)
    subprocess.run(["docker", "build", "-q", "-f", "deploy/Dockerfile", "-t", tag,
                    "--build-arg", "BASE_IMAGE=cdht-base:bookworm", "."], cwd=tree,
                   capture_output=True, text=True, check=True, timeout=900)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(previous image tag, this tree's image tag, whether their migrations differ); both
    images built here."""
    require_engine_and_images()
    subprocess.run([str(ROOT / "deploy" / "images" / "build.sh"), "wheels"], check=True,
                   capture_output=True, timeout=900)
    previous = previous_release()
    old_tree = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(["git", "archive", previous], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
    for name in RECIPE:  # a release older than the image recipes gets today's
        if not (old_tree / name).exists():
            shutil.copy2(ROOT / name, old_tree / name)
    new_tree = fresh_copy(tmp_path_factory.mktemp("next") / "cdht")
    (old_tree / "deploy" / "wheels").mkdir(parents=True, exist_ok=True)
    run_id = f"{os.getpid()}"
    tags = (f"cdht:previous-{run_id}", f"cdht:next-{run_id}")
    migrations_differ = subprocess.run(["git", "diff", "--quiet", previous, "--", *MIGRATIONS],
                                       cwd=ROOT).returncode != 0
    took_old = build_image(old_tree, tags[0])
    took_new = build_image(new_tree, tags[1])
    say(f"previous release {previous[:10]} ({git('log', '-1', '--format=%s', previous)[:60]}):"
        f" image built in {took_old:.0f} s; this tree's in {took_new:.0f} s")
    yield (*tags, migrations_differ, old_tree, new_tree)
    subprocess.run(["docker", "image", "rm", "-f", *tags], capture_output=True)


@pytest.fixture(scope="module")
def stack(release, tmp_path_factory, request):
    """The previous release as its operator runs it: its own checkout (compose file, scripts,
    guide) and the .env its make_env wrote, on its image."""
    previous = release[0]
    tree = fresh_copy(tmp_path_factory.mktemp("ops") / "cdht", source=release[3])
    stack = Stack(tree, f"cdht-ops-{os.getpid()}")
    stack.write_env(CDHT_IMAGE=previous, **fixed_ports())
    started = time.monotonic()
    with taken_down(stack, request, tail=100):
        # the previous release's image as it is: no --build (that would make this tree's)
        stack.compose("up", "-d", "--wait", timeout=600)
        say(f"stack on the previous release up in {time.monotonic() - started:.0f} s")
        yield stack


@pytest.fixture(scope="module")
def state():
    return {}


def run_block(stack, block, timeout=600):
    started = time.monotonic()
    ran = stack.run(["bash", "-euo", "pipefail", "-c", block], timeout=timeout, check=False)
    assert ran.returncode == 0, (f"{GUIDE} block failed ({ran.returncode}):\n{block}\n"
                                 f"--- stdout\n{ran.stdout[-3000:]}\n--- stderr\n"
                                 f"{ran.stderr[-3000:]}\n{stack.logs(tail=40)}")
    return ran, time.monotonic() - started


def images_of_services(stack):
    return {c["Service"]: c["Image"] for c in stack.containers() if c["Service"] in APP_SERVICES}


def people_total(stack, admin):
    return call("GET", stack.url("registry") + "/people?limit=1", headers=admin,
                tries=10).json()["total"]


def revisions(output):
    """{service: current revision} from `cdht db current all`'s table."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) >= 3 and cells[0] in APP_SERVICES:
            found[cells[0]] = cells[2]
    assert set(found) == set(APP_SERVICES), output
    return found


def all_up_to_date(output):
    """The four services' databases at head (a release with the portal lists its one too)."""
    at_head = set()
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if cells and cells[0] in APP_SERVICES and "up to date" in line:
            at_head.add(cells[0])
    return at_head == set(APP_SERVICES)


def admin_of(stack):
    return {"Authorization": f"Bearer {stack.token()}"}


# ---------------------------------------------------------------------------------- tests ----
def test_backup_of_the_previous_release(stack, release, state):
    admin = admin_of(stack)
    assert set(images_of_services(stack).values()) == {release[0]}
    tag = uuid.uuid4().hex[:6].upper()
    ward, official, citizens = make_ward(stack, admin, tag, 3)
    recognise(stack.urls(), admin, official, citizens[0][0])
    wait_until(lambda: progress(stack, admin, ward)["titled"] == 1, 60,
               "reporting counts the title on the previous release")
    state.update(ward=ward, official=official, citizens=citizens,
                 people=people_total(stack, admin))
    _, took = run_block(stack, guide_blocks(stack.tree)["backup"])
    for db in DATABASES:
        dump = stack.tree / "backup" / f"{db}.dump"
        assert dump.stat().st_size > 1000 and dump.read_bytes()[:5] == b"PGDMP", dump
    revisions = (stack.tree / "backup" / "revisions.txt").read_text()
    assert all_up_to_date(revisions), revisions
    say(f"backup (four dumps, revisions) in {took:.1f} s")


def test_upgrade_to_this_release_keeps_the_data(stack, release, state):
    stack.check_out(release[4])  # the guide: "get the new release" (git checkout <release>)
    blocks = guide_blocks(stack.tree)
    ran, took = run_block(stack, with_tag(blocks["upgrade"], "NEW", release[1]))
    say(f"upgrade (image switched, migrate, services recreated) in {took:.0f} s")
    assert all_up_to_date(ran.stdout), ran.stdout
    before = revisions((stack.tree / "backup" / "revisions.txt").read_text())
    after = revisions(ran.stdout)
    say(f"revisions before → after: {', '.join(f'{s} {before[s]} → {after[s]}' for s in after)}")
    if release[2]:  # the previous release lacks some of this tree's migrations: they ran
        assert before != after, (before, after)
    assert set(images_of_services(stack).values()) == {release[1]}
    migrate = next(c for c in stack.containers() if c["Service"] == "migrate")
    assert migrate["Image"] == release[1] and migrate["ExitCode"] == 0, migrate
    admin = admin_of(stack)
    assert people_total(stack, admin) == state["people"]
    assert progress(stack, admin, state["ward"])["titled"] == 1
    # the new release works on the old data: the second citizen recognised now
    recognise(stack.urls(), admin, state["official"], state["citizens"][1][0])
    wait_until(lambda: progress(stack, admin, state["ward"])["titled"] == 2, 60,
               "reporting counts a title decided after the upgrade")


def test_rollback_to_the_previous_release_with_the_backup(stack, release, state):
    blocks = guide_blocks(stack.tree)  # read on the release the operator leaves
    stack.check_out(release[3])  # the guide: back to the previous release's checkout
    ran, took = run_block(stack, with_tag(blocks["rollback"], "OLD", release[0]))
    say(f"rollback (image switched back, four databases restored) in {took:.0f} s")
    assert all_up_to_date(ran.stdout), ran.stdout
    assert set(images_of_services(stack).values()) == {release[0]}
    admin = admin_of(stack)
    assert people_total(stack, admin) == state["people"]
    # as at the backup: the title decided after the upgrade is gone, the first one is there
    assert progress(stack, admin, state["ward"])["titled"] == 1


def test_restore_brings_back_the_backup(stack, release, state):
    admin = admin_of(stack)
    extra = make_ward(stack, admin, uuid.uuid4().hex[:6].upper(), 1)
    assert extra and people_total(stack, admin) == state["people"] + 2
    _, took = run_block(stack, guide_blocks(stack.tree)["restore"])
    say(f"restore of the four databases in {took:.0f} s")
    admin = admin_of(stack)
    assert people_total(stack, admin) == state["people"]
    for service in APP_SERVICES:
        health = call("GET", stack.url(service) + "/health", tries=10)
        assert health.json()["status"] == "ok"
