"""0004: indexes that following a person's move or a merger of units uses (moves.py): titles
by person (revoked ones too), titles and group titles by a unit on their path."""
from alembic import op

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_index('ix_recognitions_person', 'recognitions', ['person_id'])
    op.create_index('ix_recognitions_unit_path', 'recognitions', ['unit_path'],
                    postgresql_using='gin')
    op.create_index('ix_group_recognitions_unit_path', 'group_recognitions', ['unit_path'],
                    postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_group_recognitions_unit_path', table_name='group_recognitions')
    op.drop_index('ix_recognitions_unit_path', table_name='recognitions')
    op.drop_index('ix_recognitions_person', table_name='recognitions')
