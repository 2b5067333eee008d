"""0004: personal data audit: who changed which fields of whom, when."""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_table(
        'personal_data_audit',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('actor_role', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('person_id', sa.UUID(), nullable=True),
        sa.Column('import_id', sa.UUID(), nullable=True),
        sa.Column('fields', sa.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column('people', sa.Integer(), server_default='1', nullable=False),
        sa.Column('correlation_id', sa.String(length=64), nullable=True),
        sa.CheckConstraint("action IN ('create', 'update', 'delete', 'import')",
                           name='ck_personal_data_audit_action'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_personal_data_audit_person', 'personal_data_audit',
                    ['person_id', 'at'])
    op.create_index('ix_personal_data_audit_at', 'personal_data_audit', ['at'])
    op.create_index('ix_personal_data_audit_actor', 'personal_data_audit', ['actor', 'at'])


def downgrade() -> None:
    op.drop_index('ix_personal_data_audit_actor', table_name='personal_data_audit')
    op.drop_index('ix_personal_data_audit_at', table_name='personal_data_audit')
    op.drop_index('ix_personal_data_audit_person', table_name='personal_data_audit')
    op.drop_table('personal_data_audit')
