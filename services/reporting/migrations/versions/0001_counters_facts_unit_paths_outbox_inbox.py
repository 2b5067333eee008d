"""0001: counters, facts and unit paths, with the outbox and inbox."""
from alembic import op
import sqlalchemy as sa

from cdht.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('population',
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('unit_code', 'birth_year')
    )
    op.create_table('recognition_facts',
    sa.Column('recognition_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('digital_skills', sa.String(length=20), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('recognition_id')
    )
    op.create_table('title_counts',
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('titled', sa.Integer(), nullable=False),
    sa.Column('digitally_skilled', sa.Integer(), nullable=False),
    sa.Column('digitally_proficient', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('unit_code', 'year')
    )
    op.create_table('unit_paths',
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.PrimaryKeyConstraint('unit_code')
    )
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_table('unit_paths')
    op.drop_table('title_counts')
    op.drop_table('recognition_facts')
    op.drop_table('population')
