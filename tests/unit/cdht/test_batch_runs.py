"""A batch applied a part at a time (cdht.batching.runs): consecutive envelopes of one key
together, the parts and the envelopes in them in the order they came."""
from cdht.batching import runs


def test_consecutive_envelopes_of_one_key_make_a_run_in_order():
    days = ["d1", "d1", "d2", "d1", "d1", "d3"]
    envelopes = list(enumerate(days))
    assert runs(envelopes, key=lambda e: e[1]) == [
        ("d1", [(0, "d1"), (1, "d1")]), ("d2", [(2, "d2")]),
        ("d1", [(3, "d1"), (4, "d1")]), ("d3", [(5, "d3")])]


def test_nothing_makes_no_run():
    assert runs([], key=lambda e: e) == []
