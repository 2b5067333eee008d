"""0001: deliveries, with the outbox and inbox."""
from alembic import op
import sqlalchemy as sa

from cdht.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('deliveries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('source_event_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=2), server_default='vi', nullable=False),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name='ck_deliveries_status'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_event_id', 'person_id', 'channel', name='uq_deliveries_event_person_channel')
    )
    op.create_index('ix_deliveries_person_created', 'deliveries', ['person_id', 'created_at'], unique=False)
    op.create_index('ix_deliveries_status_created', 'deliveries', ['status', 'created_at'], unique=False)
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_index('ix_deliveries_status_created', table_name='deliveries')
    op.drop_index('ix_deliveries_person_created', table_name='deliveries')
    op.drop_table('deliveries')
