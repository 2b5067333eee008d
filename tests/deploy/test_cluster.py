"""RabbitMQ as the three-node cluster of deploy/rabbitmq-cluster/ with quorum queues, for real:
the three nodes form one cluster, every service queue is a quorum queue with a replica on each
node, and one node stopped during a stream of recognitions loses nothing and doubles nothing.

Opt-in like test_stack.py: CDHT_TEST_DOCKER=1 (.ci/run's compose step).
"""
import json
import os
import time
import uuid

import pytest
import requests

from tests.deploy.drive import (
    assert_each_recognised_once, make_ward, recognise_during, wait_until,
)
from tests.deploy.stack import (
    CLUSTER_FILE, Stack, fixed_ports, fresh_copy, require_engine_and_images, say, taken_down,
)

WANTED = os.environ.get("CDHT_TEST_DOCKER") == "1"
pytestmark = pytest.mark.skipif(not WANTED, reason="compose-backed: set CDHT_TEST_DOCKER=1 "
                                "(a Docker engine and deploy/images/build.sh; .ci/compose does)")
STREAM = int(os.environ.get("CDHT_CLUSTER_RECOGNITIONS", "120"))
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request):
    require_engine_and_images()
    tree = fresh_copy(tmp_path_factory.mktemp("cluster") / "cdht")
    stack = Stack(tree, f"cdht-cluster-{os.getpid()}",
                  files=("docker-compose.yml", "docker-compose.dev.yml", CLUSTER_FILE))
    stack.write_env(RABBITMQ_ERLANG_COOKIE=uuid.uuid4().hex * 2, **fixed_ports())
    started = time.monotonic()
    with taken_down(stack, request, tail=120):
        # the application image bin/up or deploy/images/build.sh made; nothing to build here
        stack.compose("up", "-d", "--wait", timeout=900)
        say(f"three-node cluster stack up in {time.monotonic() - started:.0f} s")
        yield stack


def running_nodes(stack, node="rabbitmq"):
    out = stack.exec(node, "rabbitmqctl", "-q", "cluster_status", "--formatter", "json",
                     timeout=60).stdout
    return sorted(name.split("@", 1)[1] for name in json.loads(out)["running_nodes"])


def test_three_nodes_form_one_cluster_with_quorum_queues(cluster):
    assert running_nodes(cluster) == sorted(NODES)
    queues = cluster.exec("rabbitmq", "rabbitmqctl", "-q", "list_queues", "name", "type",
                          "--formatter", "json", timeout=60).stdout
    rows = json.loads(queues)
    services = [q for q in rows if not q["name"].startswith("rpc.reply")
                and "amq.gen" not in q["name"]]
    assert services, rows
    # nameko declares its RPC request queues itself (rpc-<service>), always classic
    classic = [q["name"] for q in services if q["type"] != "quorum"
               and not q["name"].startswith("rpc-")]
    assert not classic, f"not quorum: {classic}"
    event_queues = [q["name"] for q in services if q["name"].startswith("evt-")]
    assert event_queues, services
    status = cluster.exec("rabbitmq", "rabbitmq-queues", "-q", "quorum_status", event_queues[0],
                          "--formatter", "json", timeout=60).stdout
    members = sorted(m["Node Name"] for m in json.loads(status))
    assert members == sorted(f"rabbit@{n}" for n in NODES), members
    say(f"{len(event_queues)} event queues, all quorum, each with a replica on "
        f"{', '.join(members)}")
    cluster.print_stats("cluster at rest")


def test_a_node_stopped_during_a_stream_loses_nothing_and_doubles_nothing(cluster):
    admin = {"Authorization": f"Bearer {cluster.token()}"}
    tag = uuid.uuid4().hex[:6].upper()
    ward, official, citizens = make_ward(cluster, admin, tag, STREAM)
    urls = cluster.urls()

    def stop_one_node(done):
        time.sleep(2)
        t0 = time.monotonic()
        cluster.compose("stop", "rabbitmq-3", timeout=120)
        say(f"rabbitmq-3 stopped in {time.monotonic() - t0:.1f} s "
            f"({len(done)}/{STREAM} recognised so far)")
        cluster.print_stats("cluster under the stream, one node down")
        time.sleep(8)
        t0 = time.monotonic()
        cluster.compose("start", "rabbitmq-3", timeout=180)
        wait_until(lambda: running_nodes(cluster) == sorted(NODES), 180,
                   "rabbitmq-3 back in the cluster")
        say(f"rabbitmq-3 back in the cluster in {time.monotonic() - t0:.1f} s")

    started = time.monotonic()
    _, errors = recognise_during(stop_one_node, urls, admin, official, citizens,
                                 pace=0.3, spread=5)
    assert not errors, errors[:5]
    say(f"stream of {STREAM} recognitions with a node stopped in "
        f"{time.monotonic() - started:.0f} s")
    titled, total, mailed = assert_each_recognised_once(cluster, admin, ward, citizens)
    assert requests.get(urls["reporting"] + "/health", timeout=10).status_code == 200
    say(f"cluster: {titled} titles in reporting, {total} recognitions, {mailed} citizens "
        "mailed once each; nothing lost, nothing doubled")
