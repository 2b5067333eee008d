"""Inbox (docs/architecture.md §D4): a processed-event row written in the same transaction as the
effect, so a redelivered or re-published event is applied once per consumer.
"""
from sqlalchemy import Column, DateTime, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert

from cdht.db import plumbing_metadata

inbox_table = Table(
    "inbox", plumbing_metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("consumer", String(200), primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def first_delivery(session, envelope, consumer):
    """Record ``envelope`` as processed by ``consumer``; False if it already was.

    Call it first inside the transaction that applies the effect. A concurrent duplicate
    blocks on the primary key until this transaction ends, then sees the row.
    """
    result = session.execute(
        insert(inbox_table)
        .values(event_id=envelope.event_id, consumer=consumer, event_type=envelope.event_type)
        .on_conflict_do_nothing())
    return result.rowcount == 1
