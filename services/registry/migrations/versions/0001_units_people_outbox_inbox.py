"""0001: units and people, with the outbox and inbox."""
from alembic import op
import sqlalchemy as sa

from cdht.migrations import create_outbox_and_inbox, drop_outbox_and_inbox

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('units',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index(op.f('ix_units_parent_code'), 'units', ['parent_code'], unique=False)
    op.create_table('people',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('national_id', sa.String(length=12), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('gender', sa.String(length=10), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('ethnicity', sa.String(length=50), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('language', sa.String(length=2), server_default='vi', nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('target_group', sa.String(length=20), nullable=False),
    sa.Column('roles', sa.ARRAY(sa.String(length=30)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['unit_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('national_id')
    )
    op.create_index(op.f('ix_people_unit_code'), 'people', ['unit_code'], unique=False)
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_index(op.f('ix_people_unit_code'), table_name='people')
    op.drop_table('people')
    op.drop_index(op.f('ix_units_parent_code'), table_name='units')
    op.drop_table('units')
