"""0003: bulk imports: import jobs and their error reports."""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('kind', sa.String(length=20), server_default='people', nullable=False),
        sa.Column('source_filename', sa.String(length=255), nullable=False),
        sa.Column('format', sa.String(length=10), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
        sa.Column('dry_run', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('rows_total', sa.Integer(), nullable=True),
        sa.Column('rows_read', sa.Integer(), server_default='0', nullable=False),
        sa.Column('good', sa.Integer(), server_default='0', nullable=False),
        sa.Column('bad', sa.Integer(), server_default='0', nullable=False),
        sa.Column('registered', sa.Integer(), server_default='0', nullable=False),
        sa.Column('updated', sa.Integer(), server_default='0', nullable=False),
        sa.Column('moved', sa.Integer(), server_default='0', nullable=False),
        sa.Column('unchanged', sa.Integer(), server_default='0', nullable=False),
        sa.Column('error_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('events', sa.Integer(), server_default='0', nullable=False),
        sa.Column('layout', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('failure', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('correlation_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name='ck_import_jobs_status'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_import_jobs_created_at', 'import_jobs', ['created_at'], unique=False)
    op.create_table(
        'import_errors',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('import_id', sa.UUID(), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('column', sa.String(length=200), nullable=False),
        sa.Column('field', sa.String(length=30), nullable=False),
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('reason_vi', sa.Text(), nullable=False),
        sa.Column('reason_en', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['import_id'], ['import_jobs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_import_errors_import_id_row', 'import_errors',
                    ['import_id', 'row', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_import_errors_import_id_row', table_name='import_errors')
    op.drop_table('import_errors')
    op.drop_index('ix_import_jobs_created_at', table_name='import_jobs')
    op.drop_table('import_jobs')
