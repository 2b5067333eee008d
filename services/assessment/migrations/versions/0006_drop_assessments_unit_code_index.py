"""0006: no index on assessments.unit_code. Nothing looks assessments up by their unit alone
(scope goes by unit_path, under its GIN index), and a decided assessment is a new row version
entered in every index of the table: closing a year writes a million of them."""
from alembic import op

revision = '0006'
down_revision = '0005'


def upgrade() -> None:
    op.drop_index('ix_assessments_unit_code', table_name='assessments')


def downgrade() -> None:
    op.create_index('ix_assessments_unit_code', 'assessments', ['unit_code'], unique=False)
