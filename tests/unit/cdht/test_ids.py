"""Time-ordered ids: valid version 7 UUIDs that sort in the order they were made."""
import time
import uuid

from cdht.ids import time_ordered_id, time_ordered_ids


def test_ids_are_version_7_uuids_of_the_current_millisecond():
    before = time.time_ns() // 1_000_000
    made = [time_ordered_id()] + [uuid.UUID(i) for i in time_ordered_ids(100)]
    after = time.time_ns() // 1_000_000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made)
    assert all(before <= u.int >> 80 <= after for u in made)
    assert len(set(made)) == len(made)


def test_ids_made_later_sort_after_earlier_ones():
    first = time_ordered_ids(1000)
    assert first == sorted(first)
    time.sleep(0.002)
    later = time_ordered_ids(10) + [str(time_ordered_id())]
    assert max(first) < min(later)
