"""0003: a year closing records who closed, on whose authority, what it decides (CLOSE_DECIDES)
and what it left open.

Closings made before decided every open submission: they read ``decides = 'submitted'``.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    op.add_column('year_closings', sa.Column('decides', sa.String(length=12), nullable=True))
    op.add_column('year_closings', sa.Column('closed_by', sa.Text(), nullable=True))
    op.add_column('year_closings', sa.Column(
        'authority', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('year_closings', sa.Column(
        'left_open', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute("UPDATE year_closings SET decides = 'submitted'")


def downgrade() -> None:
    op.drop_column('year_closings', 'left_open')
    op.drop_column('year_closings', 'authority')
    op.drop_column('year_closings', 'closed_by')
    op.drop_column('year_closings', 'decides')
