"""0005: the proof of a title: the issuing associations, their signing keys (the private
halves encrypted) and the credentials issued, each with its verification code and its bit in
its issuer's status list."""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'


def _now():
    return sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        'credential_issuers',
        sa.Column('unit_code', sa.String(length=64), nullable=False),
        sa.Column('unit_path', postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('unit_name', sa.Text(), nullable=False),
        sa.Column('province_name', sa.Text(), nullable=False),
        sa.Column('current_list', sa.Integer(), server_default='0', nullable=False),
        _now(),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('unit_code'),
    )
    op.create_table(
        'credentials',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('recognition_id', sa.UUID(), nullable=False),
        sa.Column('verification_code', sa.String(length=64), nullable=False),
        sa.Column('issuer_code', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=40), nullable=False),
        sa.Column('list_no', sa.Integer(), nullable=False),
        sa.Column('status_index', sa.Integer(), nullable=False),
        sa.Column('holder_name', sa.Text(), nullable=False),
        sa.Column('issuer_name', sa.Text(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('criteria_version', sa.String(length=50), nullable=False),
        sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('jwt', sa.Text(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['issuer_code'], ['credential_issuers.unit_code']),
        sa.ForeignKeyConstraint(['recognition_id'], ['recognitions.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recognition_id'),
        sa.UniqueConstraint('verification_code'),
    )
    op.create_index('ix_credentials_revoked', 'credentials', ['issuer_code', 'list_no'],
                    postgresql_where='revoked_at IS NOT NULL')
    op.create_index('uq_credentials_status_entry', 'credentials',
                    ['issuer_code', 'list_no', 'status_index'], unique=True)
    op.create_table(
        'issuer_keys',
        sa.Column('unit_code', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=40), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('private_key', sa.Text(), nullable=False),
        _now(),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['unit_code'], ['credential_issuers.unit_code']),
        sa.PrimaryKeyConstraint('unit_code', 'key_id'),
    )
    op.create_index('uq_issuer_keys_active', 'issuer_keys', ['unit_code'], unique=True,
                    postgresql_where='retired_at IS NULL')


def downgrade() -> None:
    op.drop_index('uq_issuer_keys_active', table_name='issuer_keys')
    op.drop_table('issuer_keys')
    op.drop_index('uq_credentials_status_entry', table_name='credentials')
    op.drop_index('ix_credentials_revoked', table_name='credentials')
    op.drop_table('credentials')
    op.drop_table('credential_issuers')
