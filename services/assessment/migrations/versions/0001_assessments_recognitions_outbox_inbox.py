"""0001: assessments and recognitions, with the outbox and inbox."""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cdht.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('assessments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('unit_path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('target_group', sa.String(length=20), nullable=False),
    sa.Column('criteria_version', sa.String(length=50), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assessments_person_id'), 'assessments', ['person_id'], unique=False)
    op.create_index(op.f('ix_assessments_unit_code'), 'assessments', ['unit_code'], unique=False)
    op.create_table('recognitions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.UUID(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('unit_path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('criteria_version', sa.String(length=50), nullable=False),
    sa.Column('digital_skills', sa.String(length=20), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id', 'year', name='uq_recognition_person_year')
    )
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_table('recognitions')
    op.drop_index(op.f('ix_assessments_unit_code'), table_name='assessments')
    op.drop_index(op.f('ix_assessments_person_id'), table_name='assessments')
    op.drop_table('assessments')
