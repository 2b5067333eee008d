"""cdht.broker's read-ahead of AMQP frames: every byte of every frame still arrives, in
order, whether a socket read holds part of a frame, several frames, or nothing yet (a
timeout in the middle of a frame keeps what was read). On a socket pair, then against the
real RabbitMQ with bodies from empty to several frames long."""
import socket
import uuid

import amqp
import pytest
from kombu import Connection

from cdht import broker
from cdht.broker import SafeQueueConsumer, read_frames_ahead


class Reads:
    """The state ``_read_ahead`` works on, over one end of a socket pair."""
    raise_on_initial_eintr = True

    def __init__(self, sock):
        self._read_buffer = b""
        self._quick_recv = sock.recv


def test_reads_take_what_the_socket_holds_and_keep_the_rest():
    ours, theirs = socket.socketpair()
    ours.settimeout(0.05)
    reads = Reads(ours)
    read = broker._read_ahead.__get__(reads)
    try:
        theirs.sendall(b"header!payload\xce" + b"x" * 5000)
        assert read(7, True) == b"header!"
        assert reads._read_buffer.startswith(b"payload\xce")  # read ahead, kept
        assert read(7) == b"payload" and read(1) == b"\xce"
        assert read(5000) == b"x" * 5000
        theirs.sendall(b"a")
        with pytest.raises(socket.timeout):  # half a frame, then nothing: kept for later
            read(2)
        assert reads._read_buffer == b"a"
        theirs.sendall(b"bc")
        assert read(2) == b"ab" and read(1) == b"c" and reads._read_buffer == b""
        theirs.close()
        with pytest.raises(OSError, match="closed"):
            read(1)
    finally:
        ours.close()


def test_messages_of_every_size_arrive_whole_and_in_order(rabbit_config):
    bodies = [b"", b"{}", b"x" * 600, b"y" * 5000, b"z" * 300_000] * 20  # up to 3 frames
    queue = f"frame-reads-{uuid.uuid4()}"
    url = rabbit_config["AMQP_URI"].split("://", 1)[1]
    host, vhost = url.split("@", 1)[1].split("/", 1)
    with amqp.Connection(host, userid="guest", password="guest", virtual_host=vhost) as conn:
        read_frames_ahead(conn.transport)
        assert conn.transport._read.__func__ is broker._read_ahead
        channel = conn.channel()
        channel.queue_declare(queue, auto_delete=True)
        received = []
        channel.basic_consume(queue, no_ack=True, callback=lambda m: received.append(
            m.body if isinstance(m.body, bytes) else m.body.encode()))  # b"" comes as ""
        with pytest.raises(socket.timeout):  # nothing yet
            conn.drain_events(timeout=0.2)
        for start in (0, 50):  # the second half after the first has been read
            for body in bodies[start:start + 50]:
                channel.basic_publish(amqp.Message(body), routing_key=queue)
            while len(received) < start + 50:
                conn.drain_events(timeout=5)
        assert received == bodies


def test_every_consumer_reads_frames_ahead_on_each_connection(rabbit_config):
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        conn.connect()
        SafeQueueConsumer().on_consume_ready(conn, conn.default_channel, [])
        assert conn.connection.transport._read.__func__ is broker._read_ahead
