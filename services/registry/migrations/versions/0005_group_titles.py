"""0005: recorded group titles (from paper decisions); counts of groups imports."""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'


def upgrade() -> None:
    op.create_table(
        'group_titles',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('group_id', sa.UUID(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('decision_number', sa.String(length=50), nullable=False),
        sa.Column('decision_date', sa.Date(), nullable=False),
        sa.Column('issued_by', sa.String(length=200), nullable=False),
        sa.Column('import_id', sa.UUID(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('year BETWEEN 2000 AND 2100', name='ck_group_titles_year'),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_group_titles_group_id', 'group_titles', ['group_id'])
    op.create_index('uq_group_titles_group_year', 'group_titles', ['group_id', 'year'],
                    unique=True, postgresql_where=sa.text('withdrawn_at IS NULL'))
    op.add_column('import_jobs', sa.Column('members_joined', sa.Integer(), server_default='0',
                                           nullable=False))
    op.add_column('import_jobs', sa.Column('titles_recorded', sa.Integer(), server_default='0',
                                           nullable=False))


def downgrade() -> None:
    op.drop_column('import_jobs', 'titles_recorded')
    op.drop_column('import_jobs', 'members_joined')
    op.drop_index('uq_group_titles_group_year', table_name='group_titles')
    op.drop_index('ix_group_titles_group_id', table_name='group_titles')
    op.drop_table('group_titles')
