"""Two versions of one event side by side, on real RabbitMQ: during a transition the producer
publishes every supported version, and each consumer takes the one it handles. The others are
acked unhandled: neither applied nor dead-lettered, and not counted as failures."""
import uuid

import eventlet
import pytest

from cdht.consumer import handle_event
from cdht.contracts import make_envelope
from cdht_tools import deadletters

PATH = ["AG", "AG.LX"]
RECEIVED = []


class RefusalListener:
    name = "refusal_listener"

    @handle_event("assessment", "recognition_refused", version=2)
    def on_refused(self, event):
        RECEIVED.append((event.schema_version, event.data["reasons"][0]["kind"]))


def refused(version):
    common = {"assessment_id": uuid.uuid4(), "person_id": uuid.uuid4(), "year": 2025,
              "criteria_version": "324/QĐ-KHVN", "total_score": 72, "unit_code": PATH[-1],
              "unit_path": PATH}
    reasons = (["total 72 is under 80"] if version == 1 else
               [{"kind": "total_below", "indicator": None, "score": None, "maximum": None,
                 "minimum": 80, "total": 72, "note": None}])
    return make_envelope("recognition_refused", dict(common, reasons=reasons),
                         producer="assessment", schema_version=version)


@pytest.fixture
def listener(container_factory, rabbit_config):
    RECEIVED.clear()
    config = dict(rabbit_config, RETRY_DELAYS_MS=[100, 200, 400])
    container = container_factory(RefusalListener, config)
    container.start()
    return config


def test_a_consumer_takes_its_version_and_acks_the_other(listener, publish, wait_for):
    publish("assessment", refused(1).to_message())
    publish("assessment", refused(2).to_message())
    publish("assessment", refused(1).to_message())
    wait_for(lambda: RECEIVED, message="the version 2 refusal")
    eventlet.sleep(0.8)  # longer than every retry delay together
    assert RECEIVED == [(2, "total_below")]
    queue = "evt-assessment-recognition_refused--refusal_listener.on_refused"
    assert deadletters.list_dead_letters(listener, queue) == []


def test_an_unknown_version_is_still_dead_lettered(listener, publish, wait_for):
    body = refused(2).to_message()
    body["schema_version"] = 9
    publish("assessment", body)
    queue = "evt-assessment-recognition_refused--refusal_listener.on_refused"
    wait_for(lambda: deadletters.list_dead_letters(listener, queue),
             message="the unknown version to be dead-lettered")
    assert RECEIVED == []
