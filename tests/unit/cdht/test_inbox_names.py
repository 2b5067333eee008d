"""The inbox records an event under the handler the worker runs for, ``<service>.<method>``,
and the worker runs with the event's own correlation id (cdht.consumer, cdht.observability,
cdht.inbox): a handler names neither. No servers: a service container is built (its
entrypoints and dependencies bound, as nameko binds them) but not started."""
import pytest
from nameko.containers import ServiceContainer, WorkerContext
from nameko.rpc import rpc

from cdht import observability
from cdht.batching import first_deliveries, handle_events
from cdht.consumer import consumer_name, handle_event, queue_name, worker_context_data
from cdht.contracts import make_envelope
from cdht.inbox import first_delivery, resolve_consumer
from tests.support import recognition_granted


class Consumers:
    name = "notifications"
    telemetry = observability.Observability()

    @handle_event("assessment", "recognition_granted")
    def on_recognition_granted(self, event):
        pass

    @handle_events("reporting", "target_reached")
    def on_target_reached(self, events):
        pass

    @rpc
    def export_units(self):
        pass


@pytest.fixture(scope="module")
def container():
    return ServiceContainer(Consumers, {"AMQP_URI": "memory://"})  # never connected


def entrypoint(container, method):
    return next(e for e in container.entrypoints if e.method_name == method)


@pytest.fixture
def telemetry(container):
    [provider] = [d for d in container.dependencies if d.attr_name == "telemetry"]
    provider.setup()
    return provider


def worker(container, method, corr=None):
    return WorkerContext(container, None, entrypoint(container, method),
                         args=(recognition_granted(),),
                         data={"correlation_id": corr} if corr else {})


def test_a_handler_s_consumer_name_is_its_service_and_method_and_names_its_queue(container):
    handler = entrypoint(container, "on_recognition_granted")
    assert handler.consumer_name == "notifications.on_recognition_granted"
    assert handler.queue_name == queue_name("assessment", "recognition_granted",
                                            "notifications", "on_recognition_granted")
    assert handler.queue_name.endswith("--" + consumer_name("notifications",
                                                             "on_recognition_granted"))


@pytest.mark.parametrize("method", ["on_recognition_granted", "on_target_reached"])
def test_an_event_handler_s_worker_runs_with_its_consumer_name(container, telemetry, method):
    ctx = worker(container, method, "c-1")
    telemetry.worker_setup(ctx)
    try:
        assert observability.current_consumer() == f"notifications.{method}"
        assert resolve_consumer() == f"notifications.{method}"
        assert resolve_consumer("notifications.by_hand") == "notifications.by_hand"
        assert observability.current_correlation_id() == "c-1"
    finally:
        telemetry.worker_teardown(ctx)
    assert observability.current_consumer() is None
    assert observability.current_correlation_id() is None


def test_outside_an_event_handler_the_inbox_asks_for_a_name(container, telemetry):
    ctx = worker(container, "export_units")
    telemetry.worker_setup(ctx)
    try:
        assert observability.current_consumer() is None
        assert ctx.data["correlation_id"]  # made for the worker, as ever
        for record in (lambda: first_delivery(None, recognition_granted()),
                       lambda: first_deliveries(None, [recognition_granted()])):
            with pytest.raises(RuntimeError, match="name the consumer"):
                record()  # refused before the session is touched
    finally:
        telemetry.worker_teardown(ctx)


def test_the_event_s_correlation_id_wins_over_a_header():
    event = recognition_granted()
    cause = make_envelope(event.event_type, event.data, producer="assessment",
                          correlation_id="from-the-cause")
    assert worker_context_data({"correlation_id": "a-header"}, cause) == {
        "correlation_id": "from-the-cause"}
    assert worker_context_data({"correlation_id": "a-header"}, event) == {
        "correlation_id": "a-header"}  # an event without one keeps what came with it
