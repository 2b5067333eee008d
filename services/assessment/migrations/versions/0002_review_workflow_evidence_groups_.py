"""0002: review workflow, evidence, groups, criteria provenance, year closings.

Recognitions: one current title per person and year (a revoked one no longer blocks a new
grant after re-evaluation).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    op.create_table('criteria_versions',
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('first_used_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('evidence',
    sa.Column('activity_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('activity_id')
    )
    op.create_index('ix_evidence_person_year', 'evidence', ['person_id', 'year'], unique=False)
    op.create_table('group_members',
    sa.Column('membership_id', sa.UUID(), nullable=False),
    sa.Column('group_id', sa.UUID(), nullable=False),
    sa.Column('group_kind', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('unit_path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('membership_id')
    )
    op.create_index(op.f('ix_group_members_group_id'), 'group_members', ['group_id'], unique=False)
    op.create_index(op.f('ix_group_members_person_id'), 'group_members', ['person_id'], unique=False)
    op.create_index('ix_group_members_unit_path', 'group_members', ['unit_path'], unique=False, postgresql_using='gin')
    op.create_table('group_recognitions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('group_id', sa.UUID(), nullable=False),
    sa.Column('group_kind', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('criteria_version', sa.String(length=50), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('members_titled', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('unit_path', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_group_recognitions_current', 'group_recognitions', ['group_id', 'year'], unique=True, postgresql_where='revoked_at IS NULL')
    op.create_table('year_closings',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('phase', sa.String(length=20), nullable=False),
    sa.Column('to_decide', sa.Integer(), server_default='0', nullable=False),
    sa.Column('decided', sa.Integer(), server_default='0', nullable=False),
    sa.Column('recognised', sa.Integer(), server_default='0', nullable=False),
    sa.Column('refused', sa.Integer(), server_default='0', nullable=False),
    sa.Column('groups_evaluated', sa.Integer(), server_default='0', nullable=False),
    sa.Column('groups_granted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('groups_revoked', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('assessment_steps',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('assessment_id', sa.UUID(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assessment_steps_assessment_id'), 'assessment_steps', ['assessment_id'], unique=False)
    # Existing assessments were decided on submission: they become recognised or refused, their
    # scores both the self-assessment and the reviewed scores.
    op.add_column('assessments', sa.Column('status', sa.String(length=12), nullable=True))
    op.add_column('assessments', sa.Column('self_scores', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute("UPDATE assessments SET self_scores = scores, "
               "status = CASE WHEN passed THEN 'recognised' ELSE 'refused' END")
    op.alter_column('assessments', 'status', nullable=False)
    op.alter_column('assessments', 'self_scores', nullable=False)
    op.add_column('assessments', sa.Column('submitted_by', sa.UUID(), nullable=True))
    op.add_column('assessments', sa.Column('reviewed_by', sa.UUID(), nullable=True))
    op.add_column('assessments', sa.Column('decided_by', sa.UUID(), nullable=True))
    op.add_column('assessments', sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('assessments', sa.Column('refusal_reasons', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('assessments', sa.Column('supersedes_id', sa.UUID(), nullable=True))
    op.add_column('assessments', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_assessments_unit_path', 'assessments', ['unit_path'], unique=False, postgresql_using='gin')
    op.create_index('ix_assessments_year_status', 'assessments', ['year', 'status'], unique=False)
    op.create_index('uq_assessments_open', 'assessments', ['person_id', 'year'], unique=True, postgresql_where="status IN ('submitted', 'reviewed', 'returned')")
    op.create_foreign_key('fk_assessments_supersedes', 'assessments', 'assessments', ['supersedes_id'], ['id'])
    op.add_column('recognitions', sa.Column('target_group', sa.String(length=20), nullable=True))
    op.add_column('recognitions', sa.Column('total_score', sa.Integer(), nullable=True))
    op.execute("UPDATE recognitions r SET target_group = a.target_group, total_score = a.total "
               "FROM assessments a WHERE a.id = r.assessment_id")
    op.alter_column('recognitions', 'target_group', nullable=False)
    op.alter_column('recognitions', 'total_score', nullable=False)
    op.drop_constraint(op.f('uq_recognition_person_year'), 'recognitions', type_='unique')
    op.create_index('ix_recognitions_year_person', 'recognitions', ['year', 'person_id'], unique=False)
    op.create_index('uq_recognitions_current', 'recognitions', ['person_id', 'year'], unique=True, postgresql_where='revoked_at IS NULL')


def downgrade() -> None:
    op.drop_index('uq_recognitions_current', table_name='recognitions', postgresql_where='revoked_at IS NULL')
    op.drop_index('ix_recognitions_year_person', table_name='recognitions')
    op.create_unique_constraint(op.f('uq_recognition_person_year'), 'recognitions', ['person_id', 'year'], postgresql_nulls_not_distinct=False)
    op.drop_column('recognitions', 'total_score')
    op.drop_column('recognitions', 'target_group')
    op.drop_constraint('fk_assessments_supersedes', 'assessments', type_='foreignkey')
    op.drop_index('uq_assessments_open', table_name='assessments', postgresql_where="status IN ('submitted', 'reviewed', 'returned')")
    op.drop_index('ix_assessments_year_status', table_name='assessments')
    op.drop_index('ix_assessments_unit_path', table_name='assessments', postgresql_using='gin')
    op.drop_column('assessments', 'updated_at')
    op.drop_column('assessments', 'supersedes_id')
    op.drop_column('assessments', 'refusal_reasons')
    op.drop_column('assessments', 'decided_at')
    op.drop_column('assessments', 'decided_by')
    op.drop_column('assessments', 'reviewed_by')
    op.drop_column('assessments', 'submitted_by')
    op.drop_column('assessments', 'self_scores')
    op.drop_column('assessments', 'status')
    op.drop_index(op.f('ix_assessment_steps_assessment_id'), table_name='assessment_steps')
    op.drop_table('assessment_steps')
    op.drop_table('year_closings')
    op.drop_index('uq_group_recognitions_current', table_name='group_recognitions', postgresql_where='revoked_at IS NULL')
    op.drop_table('group_recognitions')
    op.drop_index('ix_group_members_unit_path', table_name='group_members', postgresql_using='gin')
    op.drop_index(op.f('ix_group_members_person_id'), table_name='group_members')
    op.drop_index(op.f('ix_group_members_group_id'), table_name='group_members')
    op.drop_table('group_members')
    op.drop_index('ix_evidence_person_year', table_name='evidence')
    op.drop_table('evidence')
    op.drop_table('criteria_versions')
