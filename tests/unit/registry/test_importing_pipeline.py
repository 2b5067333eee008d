"""Reading ahead (pipeline.ReadAhead): the next chunk is checked while this one is written,
in order, and a failure on either side stops both where it happened."""
import time

import pytest

from services.registry.imports.pipeline import ReadAhead


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_next_item_is_made_while_the_writer_works_on_this_one():
    made = []

    def produce():
        for n in range(1, 6):
            made.append(n)
            yield n

    seen = []
    with ReadAhead(produce) as items:
        for item in items:
            if item < 5:  # item + 1 is made while the writer still holds this one
                wait_until(lambda: item + 1 in made)
            seen.append(item)
    assert seen == [1, 2, 3, 4, 5]


def test_a_failure_reading_comes_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise ValueError("broken at row 3")

    seen = []
    with pytest.raises(ValueError, match="broken at row 3"):
        with ReadAhead(produce) as items:
            for item in items:
                seen.append(item)
    assert seen == [1, 2]


def test_a_failure_writing_stops_the_reader_and_closes_its_file():
    made, closed = [], []

    def produce():
        try:
            for n in range(1, 1000):
                made.append(n)
                yield n
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError):
        with ReadAhead(produce) as items:
            for item in items:
                if item == 2:
                    raise RuntimeError("the database refused chunk 2")
    assert closed == [True]
    assert len(made) <= 4  # at most one item queued and one in hand beyond the failed one
