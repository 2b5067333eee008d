"""What nameko 2.14.1's consumers get wrong, fixed for every CDHT service.

1. A broker restart must not end the process. nameko's ``QueueConsumer.ack_message`` and
   ``requeue_message`` check ``message.channel.connection`` and catch only
   ``amqp.exceptions.ConnectionError``; but on a connection the broker has just closed, the
   channel still looks alive and the write fails with a socket error (``ConnectionResetError``,
   ``BrokenPipeError``: an ``OSError``). The error escapes the worker or managed thread, and
   nameko kills the container for any uncaught error in one: ``nameko run`` exits (seen in
   the fault suite's broker restart, from ``ReplyListener`` acking an RPC reply; and in
   tests/integration/cdht/test_broker.py, from an event handler's ack and an RPC reply).
   ``SafeQueueConsumer`` swallows connection errors there: a message whose channel died is
   already back on its queue (the broker requeues whatever was unacked), and its redelivery
   is deduplicated by the consumer's inbox. ``rpc`` and ``RpcProxy`` are nameko's, on that
   consumer; a reply that cannot be published is dropped (the caller's ``cdht.rpc.deadline``
   answers for it) instead of killing the server.

2. HTTP must not wait behind a backlog of events. Event workers, HTTP requests, RPC requests
   and timers share the container's pool of ``max_workers``; with a prefetch of max_workers
   per event queue, hundreds of delivered events wait for a slot ahead of any HTTP request,
   and ``/health`` answered in seconds. ``spawn_event_worker`` lets at most ``EVENT_WORKERS``
   event workers run at once (default: max_workers less a quarter, at least one slot left),
   so the remaining slots are always free for HTTP, RPC and timers.

3. Frames are read ahead. py-amqp reads a frame as three socket reads of exactly the sizes
   it needs (header, payload, end octet): nine calls into the green socket per message,
   about a third of a consumer's time in the AMQP client. ``read_frames_ahead`` lets each
   read take what the socket already holds, up to 4 kB more; what is left waits in the
   transport's own buffer for the next frame (py-amqp keeps a partial frame there already).
"""
import errno
import logging
import socket
import types

import eventlet.semaphore
import kombu.serialization
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.transport import TCPTransport
from kombu.exceptions import OperationalError
from nameko.messaging import QueueConsumer
from nameko.rpc import ReplyListener, Rpc, RpcConsumer
from nameko.rpc import RpcProxy as NamekoRpcProxy

log = logging.getLogger(__name__)

# What a write on a connection the broker closed can raise (socket errors are OSError).
CONNECTION_ERRORS = (OSError, AmqpConnectionError, OperationalError)


class SafeQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that an ack or requeue on a dead connection is not
    fatal: the broker has already put the message back on its queue."""

    def ack_message(self, message):
        _unless_disconnected(super().ack_message, message, "ack",
                             "the message is redelivered")

    def requeue_message(self, message):
        _unless_disconnected(super().requeue_message, message, "requeue",
                             "the broker requeues the message itself")

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        read_frames_ahead(connection.connection.transport)  # each (re)connection's
        super().on_consume_ready(connection, channel, consumers, **kwargs)


FRAME_READ_AHEAD = 4096  # bytes asked of the socket beyond what a frame needs


def read_frames_ahead(transport):
    """Make a py-amqp transport (plain TCP; TLS keeps its own reads) take, at each socket
    read, whatever more the socket holds, up to FRAME_READ_AHEAD bytes."""
    if type(transport) is TCPTransport:
        transport._read = types.MethodType(_read_ahead, transport)


def _read_ahead(self, n, initial=False, _errnos=(errno.EAGAIN, errno.EINTR)):
    """py-amqp's ``TCPTransport._read`` (exactly ``n`` bytes, from its buffer first), but
    asking the socket for up to FRAME_READ_AHEAD bytes more than the frame needs. A timeout
    or an error keeps what was read in the buffer, as py-amqp does."""
    buffer = self._read_buffer
    try:
        while len(buffer) < n:
            try:
                data = self._quick_recv(max(n - len(buffer), FRAME_READ_AHEAD))
            except OSError as exc:
                if exc.errno in _errnos:
                    if initial and self.raise_on_initial_eintr:
                        raise socket.timeout()
                    continue
                raise
            if not data:
                raise OSError("Server unexpectedly closed connection")
            buffer += data
    except BaseException:
        self._read_buffer = buffer
        raise
    result, self._read_buffer = buffer[:n], buffer[n:]
    return result


def _unless_disconnected(action, message, what, outcome):
    """``action(message)``; on a dead connection only a warning, since the broker takes the
    message back by itself (``outcome``)."""
    try:
        action(message)
    except CONNECTION_ERRORS as exc:
        log.warning("%s lost with the broker connection (%s: %s); %s", what,
                    type(exc).__name__, exc, outcome)


class SafeRpcConsumer(RpcConsumer):
    queue_consumer = SafeQueueConsumer()

    def handle_message(self, body, message):
        """nameko answers in the request's content type at its reply address, and a request
        with neither raised in the consumer thread, which ends the container: one stray
        message killed the service. Such a request cannot be answered: it is dropped."""
        properties = message.properties or {}
        if not properties.get("reply_to") or \
                properties.get("content_type") not in kombu.serialization.registry.type_to_name:
            log.warning("RPC request to %s without a reply address or a known content type: "
                        "dropped", message.delivery_info.get("routing_key"))
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except CONNECTION_ERRORS as exc:
            # nameko publishes the reply (with 3 retries) before the ack; if the broker stays
            # away longer, the error would kill the container. The caller waits under a
            # deadline (cdht.rpc) and retries its own work: drop the request.
            log.warning("RPC reply to %s not sent, the broker is away (%s: %s)",
                        message.delivery_info.get("routing_key"), type(exc).__name__, exc)
            self.queue_consumer.ack_message(message)
            return result, exc_info


class SafeRpc(Rpc):
    rpc_consumer = SafeRpcConsumer()


class SafeReplyListener(ReplyListener):
    queue_consumer = SafeQueueConsumer()


class RpcProxy(NamekoRpcProxy):
    """nameko's ``RpcProxy`` whose reply listener survives a broker restart."""

    rpc_reply_listener = SafeReplyListener()


rpc = SafeRpc.decorator


# -- event worker slots -----------------------------------------------------------------------

def event_workers(config, max_workers):
    """How many event workers may run at once: ``EVENT_WORKERS``, else max_workers less a
    quarter; always at least one and at least one pool slot left for HTTP, RPC and timers.
    ``EVENT_WORKERS: 0`` turns the bound off (None: nameko's own behaviour, for comparison)."""
    configured = config.get("EVENT_WORKERS")
    if configured in (None, ""):
        limit = max_workers - max_workers // 4
    elif int(configured) == 0:
        return None
    else:
        limit = int(configured)
    return max(1, min(limit, max_workers - 1))


class _Unbounded:
    def acquire(self):
        pass

    def release(self):
        pass


def _slots(container):
    slots = getattr(container, "_cdht_event_slots", None)
    if slots is None:
        limit = event_workers(container.config, container.max_workers)
        slots = _Unbounded() if limit is None else eventlet.semaphore.Semaphore(limit)
        container._cdht_event_slots = slots
    return slots


def spawn_event_worker(entrypoint, args, kwargs, context_data, handle_result):
    """``container.spawn_worker`` for event entrypoints: waits (in the calling green thread)
    for one of the container's event slots, and frees it once ``handle_result`` has run."""
    container = entrypoint.container
    slots = _slots(container)
    slots.acquire()

    def release_after(worker_ctx, result=None, exc_info=None):
        try:
            return handle_result(worker_ctx, result, exc_info)
        finally:
            slots.release()

    try:
        return container.spawn_worker(entrypoint, args, kwargs, context_data=context_data,
                                      handle_result=release_after)
    except BaseException:
        slots.release()
        raise

