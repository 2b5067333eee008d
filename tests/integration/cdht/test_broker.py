"""cdht.broker on a RabbitMQ node of its own (the fault suite's; the shared broker is never
restarted): a service rides out a broker restart in the same process.

nameko 2.14.1 kills the container when an ack, or an RPC reply, hits the connection the
broker has just closed (a socket error, which nameko does not catch): ``nameko run`` exits.
Here an event handler and an RPC method are busy while the broker restarts; after it, the
same container handles the redelivered event and answers RPC calls again.
"""
import uuid

import eventlet
import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ServiceRpcProxy

from cdht.broker import rpc
from cdht.consumer import handle_event
from cdht.contracts import make_envelope
from fault.servers import RABBIT_SBIN, PrivateRabbit

pytestmark = pytest.mark.skipif(not (RABBIT_SBIN / "rabbitmq-server").exists(),
                                reason="rabbitmq-server is not installed here")

BUSY_SECONDS = 4.0


class Busy:
    """Holds a message (an event, an RPC request) while the test restarts the broker."""
    name = "busy"
    started = handled = None  # set per test

    @handle_event("registry", "person_registered")
    def on_person_registered(self, envelope):
        if not self.started.ready():
            self.started.send(True)
        eventlet.sleep(BUSY_SECONDS)
        self.handled.append(str(envelope.event_id))

    @rpc
    def slow_echo(self, value, seconds=BUSY_SECONDS):
        eventlet.sleep(seconds)
        return value


@pytest.fixture
def rabbit(tmp_path):
    node = PrivateRabbit(tmp_path)
    node.init()
    node.start()
    yield node
    node.stop()


def registered():
    person = uuid.uuid4()
    return make_envelope("person_registered", {
        "person_id": person, "unit_code": "AG.LX", "unit_path": ["AG", "AG.LX"],
        "target_group": "resident", "roles": [], "birth_year": 1990},
        producer="registry")


def publish(amqp_uri, envelope):
    from kombu import Connection
    from nameko.standalone.events import get_event_exchange
    exchange = get_event_exchange("registry", {})
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(envelope.to_message(), exchange=exchange,
                                routing_key="person_registered", serializer="json",
                                delivery_mode=2, declare=[exchange])


def test_a_busy_service_survives_a_broker_restart(rabbit, wait_for):
    config = {"AMQP_URI": rabbit.amqp_uri, "max_workers": 4, "RETRY_DELAYS_MS": [200],
              "HEARTBEAT": 10}
    Busy.started, Busy.handled = eventlet.event.Event(), []
    container = ServiceContainer(Busy, config)
    container.start()
    try:
        envelope = registered()
        publish(rabbit.amqp_uri, envelope)
        with ServiceRpcProxy("busy", config) as proxy:  # one RPC request in flight too
            # its reply is lost with the broker: the caller's deadline (cdht.rpc) covers it
            proxy.slow_echo.call_async("before")
            Busy.started.wait()
            rabbit.restart()  # both finish while the broker is away: ack and reply fail
            eventlet.sleep(BUSY_SECONDS)
        assert not container._died.ready(), "the container died with the broker connection"

        # the same container: the unacked event is delivered again, RPC answers again
        wait_for(lambda: Busy.handled.count(str(envelope.event_id)) >= 1, timeout=30,
                 message="the event to be handled after the restart")
        with ServiceRpcProxy("busy", config) as proxy:
            assert proxy.slow_echo("after", seconds=0) == "after"
        assert not container._died.ready()
    finally:
        container.kill()
