"""0002: rules, SMS, retries, digests, opt-outs, schedule runs.

Deliveries get the rule and category they follow, the template facts (context), the next
attempt time (retries with backoff), the masked address for the delivery log, and a status
'skipped' (opted out). Pending rows of 0001 get next_attempt_at = now(), so the retry loop
picks them up (their context is filled in when their event comes back).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    op.add_column('deliveries', sa.Column('rule', sa.String(length=100), nullable=True))
    op.add_column('deliveries', sa.Column('category', sa.String(length=50), nullable=True))
    op.add_column('deliveries', sa.Column('context', postgresql.JSONB(astext_type=sa.Text()),
                                          nullable=True))
    op.add_column('deliveries', sa.Column('correlation_id', sa.String(length=64), nullable=True))
    op.add_column('deliveries', sa.Column('next_attempt_at', sa.DateTime(timezone=True),
                                          nullable=True))
    op.add_column('deliveries', sa.Column('address_masked', sa.String(length=100), nullable=True))
    op.add_column('deliveries', sa.Column('updated_at', sa.DateTime(timezone=True),
                                          server_default=sa.text('now()'), nullable=True))
    op.execute("UPDATE deliveries SET rule = 'recognition_granted', "
               "category = 'congratulations' WHERE rule IS NULL")
    op.execute("UPDATE deliveries SET next_attempt_at = now() WHERE status = 'pending'")
    op.drop_constraint('ck_deliveries_status', 'deliveries', type_='check')
    op.create_check_constraint('ck_deliveries_status', 'deliveries',
                               "status IN ('pending', 'sent', 'failed', 'skipped')")
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'], unique=False,
                    postgresql_where="status = 'pending'")

    op.create_table(
        'digest_items',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('person_id', sa.UUID(), nullable=False),
        sa.Column('template', sa.String(length=100), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=False),
        sa.Column('source_event_id', sa.UUID(), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('correlation_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('delivery_id', sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_event_id', 'person_id', name='uq_digest_items_event_person'),
    )
    op.create_index('ix_digest_items_waiting', 'digest_items', ['person_id'], unique=False,
                    postgresql_where='delivery_id IS NULL')
    op.create_table(
        'opt_outs',
        sa.Column('person_id', sa.UUID(), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.PrimaryKeyConstraint('person_id', 'category', name='pk_opt_outs'),
    )
    op.create_table(
        'schedule_runs',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('period', sa.String(length=50), nullable=False),
        sa.Column('ran_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('recipients', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('name', 'period', name='pk_schedule_runs'),
    )


def downgrade() -> None:
    op.drop_table('schedule_runs')
    op.drop_table('opt_outs')
    op.drop_index('ix_digest_items_waiting', table_name='digest_items',
                  postgresql_where='delivery_id IS NULL')
    op.drop_table('digest_items')
    op.drop_index('ix_deliveries_due', table_name='deliveries',
                  postgresql_where="status = 'pending'")
    op.execute("DELETE FROM deliveries WHERE status = 'skipped'")
    op.drop_constraint('ck_deliveries_status', 'deliveries', type_='check')
    op.create_check_constraint('ck_deliveries_status', 'deliveries',
                               "status IN ('pending', 'sent', 'failed')")
    for column in ('updated_at', 'address_masked', 'next_attempt_at', 'correlation_id',
                   'context', 'category', 'rule'):
        op.drop_column('deliveries', column)
