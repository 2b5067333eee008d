"""Overlapping an import's work: the file is read and checked ahead of the writes
(``ReadAhead``), and a kind whose chunks are independent writes several at once
(``together``).

Checking a chunk is Python's work, writing it mostly PostgreSQL's (psycopg2 lets go of the
GIL while it waits), so on two cores they overlap instead of taking turns. The chunks reach
the writers in the file's order; the reader only reads the file, checks rows and prepares
what the writers will send, and each writer writes one chunk in its own transaction.

Under eventlet (the service, the tests) ``threading`` is green: the reader and the writers
are greenthreads that run while another's green psycopg2 waits for the database, and yield
after each chunk so heartbeats go on. The command line and the benchmark run them as OS
threads.
"""
import contextvars
import queue
import threading
import time

_ITEM, _DONE, _FAILED = "item", "done", "failed"


class ReadAhead:
    """Iterates what ``produce()`` (a generator function) yields, made in a thread of its own
    at most ``depth`` items ahead. An exception in the reader is raised here, at its place in
    the sequence (after the items before it); leaving the ``with`` block early stops the
    reader and closes its generator in its own thread."""

    def __init__(self, produce, depth=1):
        self._produce = produce
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="import-read-ahead",
                                        daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        while self._thread.is_alive():  # unblock a reader waiting to hand over an item
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == _DONE:
                return
            if kind == _FAILED:
                raise value
            yield value

    def _run(self):
        items = self._produce()
        try:
            for item in items:
                if not self._put((_ITEM, item)):
                    return
                time.sleep(0)  # let the writer (under eventlet: the hub) take it at once
            self._put((_DONE, None))
        except BaseException as exc:  # raised in the writer's thread, in its place
            self._put((_FAILED, exc))
        finally:
            items.close()

    def _put(self, entry):
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def together(calls):
    """Runs ``calls`` at once, the first in this thread and each other in a thread of its
    own, each in a copy of this thread's context (the correlation id); returns, once all
    have ended, their (result, exception) in order. Nothing is left running when it
    returns, so what holds a lock around it holds it for all of them."""
    outcomes = [(None, None)] * len(calls)
    context = contextvars.copy_context()

    def run(index):
        try:
            outcomes[index] = (context.copy().run(calls[index]), None)
        except BaseException as exc:  # given back in its place, raised by the caller
            outcomes[index] = (None, exc)

    threads = [threading.Thread(target=run, args=(index,), name="import-writer", daemon=True)
               for index in range(1, len(calls))]
    for thread in threads:
        thread.start()
    if calls:
        run(0)
    for thread in threads:
        thread.join()
    return outcomes
