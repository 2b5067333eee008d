"""The personal data audit's hash chain, in plain Python: what an auditor recomputes.

Each row carries ``prev_hash`` (the hash of the row before it, by id; ``GENESIS`` for the
first) and ``hash`` = sha256(prev_hash + canonical(row)), hex. PostgreSQL computes the same
in the table's BEFORE INSERT trigger (migration 0006, ``CANONICAL_SQL`` below is its text):
the two must agree byte for byte, so the encoding is deliberately plain. Every value is
length-prefixed (``<length>:<text>``, ``~`` for NULL), so no value can pass for two; arrays
are ``[`` their encoded elements joined by ``,`` ``]``; the time is UTC to the microsecond.
"""
import hashlib
from datetime import timezone

AUDIT_ACTIONS = ("create", "update", "delete", "import", "restore", "roles", "merge",
                 "read", "list", "export", "contact", "refused", "certificate")
"""What a row of the audit records: a change of a person's record (create, update, delete,
import, restore, roles: their positions changed them, merge: their unit was merged), a
read of personal data (read: one record, list: a page, export, contact and certificate: the
RPCs answering contact details and the name a title's certificate carries), or an
attempt refused because it touched a person outside the caller's scope (refused: a national
ID held elsewhere; the holder is recorded, never the value)."""

GENESIS = "0" * 64

COLUMNS = ("id", "at", "actor", "actor_role", "action", "person_id", "import_id", "fields",
           "people", "correlation_id", "purpose", "person_ids")
"""The columns the hash covers, in order (everything but the hashes themselves)."""

TIME_FORMAT_SQL = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _text(value):
    if value is None:
        return "~"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_text(v) for v in value) + "]"
    if hasattr(value, "astimezone"):
        value = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = str(value)
    return f"{len(value)}:{value}"


def canonical(row):
    """The row's content as the hash sees it; ``row`` maps every name of COLUMNS."""
    return "|".join(_text(row[name]) for name in COLUMNS)


def row_hash(prev_hash, row):
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def verify(rows, head=None):
    """Walk ``rows`` (mappings with COLUMNS, ``prev_hash`` and ``hash``, in id order) and
    compare the last with ``head`` (the chain's head row: ``last_id``, ``hash``; None when
    there is none): (rows checked, None) or (rows checked, (the first broken row's id, why)).
    Read the rows and the head in one snapshot."""
    expected_prev, checked, last_id = GENESIS, 0, None
    for row in rows:
        checked += 1
        if row["prev_hash"] != expected_prev:
            return checked, (row["id"], "prev_hash does not match the row before it "
                                        "(a row was removed or inserted)")
        if row["hash"] != row_hash(row["prev_hash"], row):
            return checked, (row["id"], "hash does not match the row's content "
                                        "(the row was changed)")
        expected_prev, last_id = row["hash"], row["id"]
    if checked and head is None:
        return checked, (last_id, "the chain's head is missing")
    if head is not None and (head["hash"] != expected_prev or head["last_id"] != last_id):
        return checked, (head["last_id"], "the chain's head names another last row "
                                          "(rows were removed from the end)")
    return checked, None


def _sql_text(expr):
    return f"CASE WHEN {expr} IS NULL THEN '~' ELSE length({expr}) || ':' || {expr} END"


def _sql_array(column):
    return (f"CASE WHEN r.{column} IS NULL THEN '~' ELSE '[' || coalesce((SELECT string_agg("
            f"{_sql_text('e::text')}, ',' ORDER BY o) FROM unnest(r.{column}) "
            f"WITH ORDINALITY AS t(e, o)), '') || ']' END")


def _sql_column(column):
    if column in ("fields", "person_ids"):
        return _sql_array(column)
    if column == "at":
        return _sql_text(f"to_char(r.at AT TIME ZONE 'UTC', '{TIME_FORMAT_SQL}')")
    return _sql_text(f"r.{column}::text")


CANONICAL_SQL = " || '|' || ".join(_sql_column(c) for c in COLUMNS)
"""``canonical`` as a SQL expression over a row ``r`` of personal_data_audit."""
