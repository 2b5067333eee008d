"""Reading ahead (pipeline.ReadAhead): the next chunk is checked while this one is written,
in order, and a failure on either side stops both where it happened. Writing chunks at once
(pipeline.together): really at once, every outcome in its place, nothing left running."""
import contextvars
import threading
import time

import pytest

from services.registry.imports.pipeline import ReadAhead, together


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


def test_calls_run_at_once_and_come_back_in_order():
    meet = threading.Barrier(3, timeout=5)  # broken (an error) unless all three wait at once

    def call(n):
        def run():
            meet.wait()
            return n * 10
        return run

    assert together([call(1), call(2), call(3)]) == [(10, None), (20, None), (30, None)]


def test_a_failure_is_given_back_in_its_place_after_the_others_ended():
    ended = []

    def slow():
        time.sleep(0.2)
        ended.append("slow")
        return "written"

    def refused():
        raise ValueError("refused by the database")

    [(first, none), (nothing, error)] = together([slow, refused])
    assert (first, none, nothing) == ("written", None, None)
    assert isinstance(error, ValueError) and ended == ["slow"]
    [(nothing, error), (second, none)] = together([refused, slow])
    assert isinstance(error, ValueError) and (second, none) == ("written", None)
    assert ended == ["slow", "slow"]
    assert not [t for t in threading.enumerate() if t.name == "import-writer"]


def test_each_call_sees_the_callers_context():
    correlation = contextvars.ContextVar("correlation", default=None)
    correlation.set("req-42")
    assert together([correlation.get, correlation.get]) == [("req-42", None), ("req-42", None)]
    assert together([]) == []
