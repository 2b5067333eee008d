"""Inbox (docs/architecture.md §D4): a processed-event row written in the same transaction as the
effect, so a redelivered or re-published event is applied once per consumer.

The consumer is the handler the worker runs for (``<service>.<method>``, bound by
cdht.observability for every cdht.consumer worker): handlers name nobody. Renaming a handler
method renames its consumer; a migration must then rename its inbox rows, or the events
already applied would be applied again.
"""
from sqlalchemy import Column, DateTime, String, Table, func, select
from sqlalchemy.dialects.postgresql import UUID, insert

from cdht import observability
from cdht.db import plumbing_metadata

inbox_table = Table(
    "inbox", plumbing_metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("consumer", String(200), primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def resolve_consumer(consumer=None):
    """``consumer`` if given, else the event handler this worker runs for."""
    consumer = consumer or observability.current_consumer()
    if not consumer:
        raise RuntimeError("no consumer: outside an event handler's worker, name the "
                           "consumer the inbox records the event under")
    return consumer


def first_delivery(session, envelope, consumer=None):
    """Record ``envelope`` as processed by ``consumer`` (by default the handler this worker
    runs for); False if it already was.

    Call it first inside the transaction that applies the effect. A concurrent duplicate
    blocks on the primary key until this transaction ends, then sees the row.
    """
    consumer = resolve_consumer(consumer)
    result = session.execute(
        insert(inbox_table)
        .values(event_id=envelope.event_id, consumer=consumer, event_type=envelope.event_type)
        .on_conflict_do_nothing())
    return result.rowcount == 1


def processed(session, envelope, consumer=None):
    """Whether ``envelope`` is already recorded as processed by ``consumer`` (by default the
    handler this worker runs for): a read, for a handler that does slow work (an RPC call)
    before the transaction that records it."""
    return session.scalar(select(func.count()).select_from(inbox_table).where(
        inbox_table.c.event_id == envelope.event_id,
        inbox_table.c.consumer == resolve_consumer(consumer))) > 0
