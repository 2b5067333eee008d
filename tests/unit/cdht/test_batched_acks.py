"""Batched acks (cdht.batching.AckTracker): one ``multiple`` ack covers a run of settled
deliveries, and never a delivery still being handled (of this batch or another handler's)."""
from cdht.batching import AckTracker


def test_a_multiple_ack_waits_for_every_older_delivery():
    acks = AckTracker(channel=object())
    for tag in range(1, 7):
        acks.delivered(tag)
    # a later batch (4, 5, 6) commits first: nothing may be acked, 1-3 are still handled
    assert [acks.settle(t) for t in (4, 5, 6)] == [None, None, None]
    assert acks.settle(2) is None
    assert acks.settle(1) == 2          # 1 and 2 settled, 3 still open
    assert acks.settle(3) == 6          # now the whole run, with one frame


def test_a_requeued_delivery_is_settled_without_being_acked_twice():
    acks = AckTracker(channel=object())
    for tag in (1, 2, 3):
        acks.delivered(tag)
    assert acks.settle(1) == 1
    assert acks.settle(1) is None       # already acked: never acked again
    assert acks.settle(3) is None
    assert acks.settle(2) == 3
    assert not acks.order and not acks.open
