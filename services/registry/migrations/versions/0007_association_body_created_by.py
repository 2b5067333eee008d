"""0007: who created an association body (separation of duties: not who staffs it)."""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'


def upgrade() -> None:
    op.add_column('association_bodies', sa.Column('created_by', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('association_bodies', 'created_by')
