"""The outbox relay's confirm window (cdht.outbox), with a fake broker channel and a fake
outbox: several batches in flight, and a batch marked sent only once the broker confirmed
every message of it; a nack or a lost connection leaves its rows pending."""
from types import SimpleNamespace

import pytest

from cdht.outbox import Batch, ConfirmWindow, Refused, Relay


class FakeOutbox:
    """Pending rows, claimed in order by batches that hold them until marked or given back."""

    def __init__(self, n):
        self.pending = list(range(1, n + 1))
        self.claimed, self.sent, self.given_back = set(), [], []

    def claim(self, size):
        rows = [SimpleNamespace(id=i, event_id=f"e{i}", event_type="recognition_granted",
                                payload={"correlation_id": None})
                for i in self.pending if i not in self.claimed][:size]
        self.claimed.update(r.id for r in rows)
        return Batch(None, None, rows) if rows else None


class FakeChannel:
    def __init__(self):
        self.published = 0
        # what coalesced_writes swaps for the batch: py-amqp's connection, as far as used
        self.connection = SimpleNamespace(frame_max=131072, frame_writer=None,
                                          transport=SimpleNamespace(write=lambda data: None))

    def basic_publish(self, message, exchange, routing_key):
        self.published += 1


class FakeConnection:
    """Answers with what the test scripted: ("ack"|"nack", tag, multiple) or an exception,
    one script step per read."""

    def __init__(self, relay, script):
        self.relay, self.script = relay, list(script)

    def drain_events(self, timeout=None):
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        kind, tag, multiple = step
        getattr(self.relay._confirms, kind)(tag, multiple)

    def release(self):
        pass


class FakeRelay(Relay):
    def __init__(self, outbox, script, batch_size=2, window=3):
        super().__init__(None, "amqp://guest:guest@localhost/", "assessment",
                         batch_size=batch_size, window=window)
        self.outbox, self.script, self.channels = outbox, script, []

    def _open_channel(self):
        if self._connection is None:
            self._connection = FakeConnection(self, self.script)
            self._channel = FakeChannel()
            self._confirms = ConfirmWindow()
            self.channels.append(self._channel)
        return self._channel

    def _claim(self):
        return self.outbox.claim(self.batch_size)

    def _mark_sent(self, batch):
        self.outbox.sent += batch.ids
        self.outbox.pending = [i for i in self.outbox.pending if i not in batch.ids]
        self.outbox.claimed -= set(batch.ids)
        return len(batch.ids)

    def _give_back(self, batch, exc):
        self.outbox.given_back += batch.ids
        self.outbox.claimed -= set(batch.ids)


def test_batches_are_pipelined_and_marked_once_confirmed():
    outbox = FakeOutbox(6)
    # three batches of two published before any answer; one multiple ack confirms all
    relay = FakeRelay(outbox, [("ack", 6, True)])
    assert relay.relay_pending() == 6
    assert relay.channels[0].published == 6
    assert outbox.sent == [1, 2, 3, 4, 5, 6] and outbox.pending == []


def test_a_batch_partly_confirmed_is_not_marked():
    outbox = FakeOutbox(4)
    # tag 1 confirmed, then the connection is lost: batch (1, 2) is not fully confirmed
    relay = FakeRelay(outbox, [("ack", 1, False), ConnectionResetError("broker gone")])
    with pytest.raises(ConnectionResetError):
        relay.relay_pending()
    assert outbox.sent == []
    assert sorted(outbox.given_back) == [1, 2, 3, 4]
    assert outbox.pending == [1, 2, 3, 4] and relay._connection is None


def test_a_lost_connection_keeps_what_was_confirmed():
    outbox = FakeOutbox(6)
    # batches (1, 2) and (5, 6) confirmed (acks may come out of order), (3, 4) not
    relay = FakeRelay(outbox, [("ack", 2, True), ("ack", 5, False), ("ack", 6, False),
                               ConnectionResetError("broker gone")])
    with pytest.raises(ConnectionResetError):
        relay.relay_pending()
    assert sorted(outbox.sent) == [1, 2, 5, 6]
    assert outbox.given_back == [3, 4]
    assert outbox.pending == [3, 4]


def test_a_nack_leaves_its_batch_pending_and_stops_claiming():
    outbox = FakeOutbox(10)
    # (1, 2) confirmed, so (7, 8) is claimed; then (3, 4) refused: nothing more is claimed
    relay = FakeRelay(outbox, [("ack", 2, True), ("nack", 4, True), ("ack", 8, True)])
    with pytest.raises(Refused):
        relay.relay_pending()
    assert outbox.sent == [1, 2, 5, 6, 7, 8]
    assert outbox.given_back == [3, 4]
    assert relay.channels[0].published == 8
    assert outbox.pending == [3, 4, 9, 10]


def test_no_confirm_in_time_gives_the_window_back():
    outbox = FakeOutbox(2)
    relay = FakeRelay(outbox, [])
    relay.confirm_timeout = 0
    with pytest.raises(TimeoutError):
        relay.relay_pending()
    assert outbox.sent == [] and outbox.given_back == [1, 2]


def test_the_window_bounds_what_is_in_flight():
    outbox = FakeOutbox(10)
    relay = FakeRelay(outbox, [("ack", 2, False), ("ack", 1, False), ("ack", 10, True)],
                      window=2)
    published = []
    original = relay._publish_batch

    def publish(batch):
        original(batch)
        published.append((len(relay._confirms), relay._confirms.upto))
    relay._publish_batch = publish
    assert relay.relay_pending() == 10
    assert max(n for n, _ in published) == 2  # never more than two batches unanswered
    assert outbox.sent == list(range(1, 11))


def test_confirm_window_nack_multiple_only_takes_unanswered_tags():
    window = ConfirmWindow()
    first, second = Batch(None, None, [1, 2]), Batch(None, None, [3, 4])
    window.add(first, 2)
    window.add(second, 2)
    window.ack(2)
    window.nack(4, multiple=True)  # 1, 3 and 4 refused; 2 was already confirmed
    assert window.settled() == [(first, True), (second, True)]
    window = ConfirmWindow()
    window.add(first, 2)
    window.add(second, 2)
    window.ack(1)
    window.ack(2)
    window.nack(3)
    assert window.settled() == [(first, False)]
    assert window.take_all() == [(second, False)]
