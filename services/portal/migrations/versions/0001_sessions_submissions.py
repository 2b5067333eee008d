"""0001: sessions and submitted forms."""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table(
        'sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_sessions_expires_at', 'sessions', ['expires_at'])
    op.create_table(
        'submissions',
        sa.Column('form_id', sa.String(length=64), nullable=False),
        sa.Column('session_hash', sa.String(length=64), nullable=False),
        sa.Column('result_url', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['session_hash'], ['sessions.id_hash'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('form_id'),
    )
    op.create_index('ix_submissions_session_hash', 'submissions', ['session_hash'])


def downgrade() -> None:
    op.drop_table('submissions')
    op.drop_table('sessions')
