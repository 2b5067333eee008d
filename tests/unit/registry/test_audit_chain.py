"""The personal data audit's hash chain as an auditor recomputes it (services.registry.
audit_chain): each row hashed over the row before it and its own content; the first row
changed, removed, inserted or cut off the end is named."""
import uuid
from datetime import datetime, timedelta, timezone

from services.registry.audit_chain import GENESIS, canonical, row_hash, verify

AT = datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=timezone.utc)
PERSON = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")


def entry(ident, **changes):
    return {"id": ident, "at": AT + timedelta(seconds=ident), "actor": "test-admin",
            "actor_role": "admin", "action": "read", "person_id": PERSON, "import_id": None,
            "fields": ["email", "phone"], "people": 1, "correlation_id": "corr-1",
            "purpose": "GET /people", "person_ids": None} | changes


def chained(rows):
    prev = GENESIS
    for row in rows:
        row["prev_hash"], row["hash"] = prev, row_hash(prev, row)
        prev = row["hash"]
    return rows


def head_of(rows):
    return {"last_id": rows[-1]["id"], "hash": rows[-1]["hash"]} if rows else None


def test_the_encoding_is_length_prefixed_utc_and_marks_null():
    text = canonical(entry(7, person_ids=[PERSON], fields=[]))
    assert text.startswith("1:7|27:2025-03-01T08:30:22.123456Z|10:test-admin|5:admin|4:read|")
    assert f"|36:{PERSON}|~|[]|1:1|" in text
    assert text.endswith(f"|[36:{PERSON}]")
    # the same moment in another zone is the same text
    local = entry(7, at=(AT + timedelta(seconds=7)).astimezone(timezone(timedelta(hours=7))),
                  person_ids=[PERSON], fields=[])
    assert canonical(local) == text


def test_no_value_can_pass_for_two():
    one = entry(1, actor="a|5:admin", actor_role="x")
    two = entry(1, actor="a", actor_role="admin|1:x")
    assert canonical(one) != canonical(two)
    assert canonical(entry(1, purpose=None)) != canonical(entry(1, purpose="~"))
    assert canonical(entry(1, fields=[])) != canonical(entry(1, fields=[""]))


def test_a_whole_chain_verifies():
    rows = chained([entry(i) for i in (1, 2, 5)])  # ids may have gaps
    assert verify(iter(rows), head_of(rows)) == (3, None)
    assert verify(iter([]), None) == (0, None)
    assert verify(iter([]), {"last_id": None, "hash": GENESIS}) == (0, None)


def test_a_changed_row_is_named():
    rows = chained([entry(i) for i in range(1, 6)])
    rows[2]["fields"] = ["phone"]
    checked, (row, why) = verify(iter(rows), head_of(rows))
    assert (checked, row) == (3, 3) and "changed" in why


def test_a_row_rehashed_after_a_change_breaks_the_next_link():
    rows = chained([entry(i) for i in range(1, 6)])
    rows[2]["actor"] = "someone-else"
    rows[2]["hash"] = row_hash(rows[2]["prev_hash"], rows[2])
    checked, (row, why) = verify(iter(rows), head_of(rows))
    assert (checked, row) == (4, 4) and "removed or inserted" in why


def test_a_removed_row_is_named_by_the_row_after_it():
    rows = chained([entry(i) for i in range(1, 6)])
    head = head_of(rows)
    del rows[1]
    assert verify(iter(rows), head)[1][0] == 3


def test_rows_cut_off_the_end_show_against_the_head():
    rows = chained([entry(i) for i in range(1, 6)])
    head = head_of(rows)
    checked, (row, why) = verify(iter(rows[:3]), head)
    assert (checked, row) == (3, 5) and "end" in why
    assert verify(iter([]), head)[1][0] == 5
    assert verify(iter(rows), None)[1] == (5, "the chain's head is missing")
