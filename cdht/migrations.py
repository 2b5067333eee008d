"""Schema steps every service's migrations share: the outbox and inbox tables (cdht.outbox,
cdht.inbox; docs/architecture.md §D3, §D4), created by each service's first migration.

These functions are part of migrations already applied to live databases, so what they
create must never change: a change to the outbox or inbox is a new migration in each
service, and the table definitions in cdht.outbox and cdht.inbox follow it.
"""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def create_outbox_and_inbox(op):
    """Create the ``inbox`` and ``outbox`` tables and the outbox's unpublished-rows index."""
    op.create_table(
        'inbox',
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('consumer', sa.String(length=200), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.PrimaryKeyConstraint('event_id', 'consumer'),
    )
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    op.create_index('ix_outbox_unpublished', 'outbox', ['id'], unique=False,
                    postgresql_where='published_at IS NULL')


def drop_outbox_and_inbox(op):
    """Undo ``create_outbox_and_inbox``."""
    op.drop_index('ix_outbox_unpublished', table_name='outbox',
                  postgresql_where='published_at IS NULL')
    op.drop_table('outbox')
    op.drop_table('inbox')
