"""0010: xAPI statements posted by learning platforms, and the platform accounts linked to
people."""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'

STATUSES = ('pending', 'counted', 'not_counted', 'voiding')


def upgrade() -> None:
    op.create_table(
        'xapi_statements',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('platform', sa.String(length=64), nullable=False),
        sa.Column('statement', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('home_page', sa.String(length=1000), nullable=False),
        sa.Column('account_name', sa.String(length=1000), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('voids', sa.UUID(), nullable=True),
        sa.Column('voided_by', sa.UUID(), nullable=True),
        sa.Column('person_id', sa.UUID(), nullable=True),
        sa.Column('activity_id', sa.UUID(), nullable=True),
        sa.Column('stored_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('status IN (' + ', '.join(f"'{s}'" for s in STATUSES) + ')',
                           name='ck_xapi_statements_status'),
        sa.ForeignKeyConstraint(['person_id'], ['people.id']),
        sa.ForeignKeyConstraint(['activity_id'], ['learning_activities.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_xapi_statements_person_id', 'xapi_statements', ['person_id'])
    op.create_index('ix_xapi_statements_voids', 'xapi_statements', ['voids'])
    op.create_index('ix_xapi_statements_pending', 'xapi_statements',
                    ['home_page', 'account_name'],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        'xapi_accounts',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('home_page', sa.String(length=1000), nullable=False),
        sa.Column('account_name', sa.String(length=1000), nullable=False),
        sa.Column('person_id', sa.UUID(), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['people.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_xapi_accounts_person_id', 'xapi_accounts', ['person_id'])
    op.create_index('uq_xapi_accounts_account', 'xapi_accounts', ['home_page', 'account_name'],
                    unique=True, postgresql_where=sa.text('deleted_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_xapi_accounts_account', table_name='xapi_accounts')
    op.drop_index('ix_xapi_accounts_person_id', table_name='xapi_accounts')
    op.drop_table('xapi_accounts')
    op.drop_index('ix_xapi_statements_pending', table_name='xapi_statements')
    op.drop_index('ix_xapi_statements_voids', table_name='xapi_statements')
    op.drop_index('ix_xapi_statements_person_id', table_name='xapi_statements')
    op.drop_table('xapi_statements')
