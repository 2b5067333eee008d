"""The queue depths of /lag and /metrics: asked of the broker at most once per period,
however often the open /metrics is scraped."""
from services.reporting.queue_depths import DepthCache


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def counting(answers):
    calls = []

    def fetch():
        calls.append(1)
        return answers[min(len(calls), len(answers)) - 1]
    return fetch, calls


def test_a_thousand_scrapes_in_a_period_ask_the_broker_once():
    fetch, calls = counting([{"q": 3}])
    clock = Clock()
    cache = DepthCache(fetch, max_age=10, clock=clock)
    assert [cache.get() for _ in range(1000)][-1] == {"q": 3}
    assert len(calls) == 1
    clock.now += 10
    cache.get()
    assert len(calls) == 2


def test_while_one_worker_asks_the_others_answer_with_what_is_known():
    clock = Clock()
    seen = []

    def fetch():
        seen.append(cache.get())  # another worker, meanwhile: no second connection
        return {"q": 1}
    cache = DepthCache(fetch, max_age=10, clock=clock)
    assert cache.get() == {"q": 1} and seen == [{}]


def test_a_broker_that_does_not_answer_keeps_the_last_figures_and_is_asked_again():
    fetch, calls = counting([{"q": 2}, {}, {"q": 0}])
    clock = Clock()
    cache = DepthCache(fetch, max_age=10, clock=clock)
    assert cache.get() == {"q": 2}
    clock.now += 11
    assert cache.get() == {"q": 2} and len(calls) == 2   # no answer: the last figures
    assert cache.get() == {"q": 0} and len(calls) == 3   # not kept as fresh: asked again


def test_the_figures_say_how_old_they_are():
    clock = Clock()
    cache = DepthCache(lambda: {"q": 2}, max_age=10, clock=clock)
    assert cache.age() is None  # never read
    cache.get()
    clock.now += 4
    assert cache.get() == {"q": 2} and cache.age() == 4.0
