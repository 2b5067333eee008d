"""0003: unit names and association bodies.

Mails name units and sign with the deciding association: notifications keeps the names and
kinds of units (unit_changed) and the association's bodies (association_body_changed), and
fills in units it never heard of from the registry (export_units) when it first needs them.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    op.create_table(
        'units',
        sa.Column('unit_code', sa.String(length=64), primary_key=True),
        sa.Column('unit_path', postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column('unit_name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=True),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('closed', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_table(
        'association_bodies',
        sa.Column('body_id', sa.UUID(), primary_key=True),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('body_name', sa.String(length=200), nullable=False),
        sa.Column('parent_id', sa.UUID(), nullable=True),
        sa.Column('unit_code', sa.String(length=64), nullable=False),
        sa.Column('unit_path', postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column('removed', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_index('ix_association_bodies_unit', 'association_bodies', ['unit_code'])


def downgrade() -> None:
    op.drop_index('ix_association_bodies_unit', table_name='association_bodies')
    op.drop_table('association_bodies')
    op.drop_table('units')
