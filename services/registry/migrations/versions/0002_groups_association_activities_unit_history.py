"""0002: groups, memberships, the association, activities, unit history.

Groups and memberships over time (one open family per person, enforced by a partial unique
index), the association's bodies and positions, learning activities, the units' merge/split
history, soft deletes, and people.name_folded: a stored column PostgreSQL computes from
full_name (diacritics folded with translate(), see domain.fold), so rows written by the bulk
import are searchable too.
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    op.create_table('unit_changes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('from_codes', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('to_codes', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('people_moved', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('merge', 'split')", name='ck_unit_changes_kind'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_unit_changes_from_codes', 'unit_changes', ['from_codes'], unique=False, postgresql_using='gin')
    op.create_index('ix_unit_changes_to_codes', 'unit_changes', ['to_codes'], unique=False, postgresql_using='gin')
    op.create_table('association_bodies',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('commune_association', 'branch', 'learning_board')", name='ck_association_bodies_kind'),
    sa.ForeignKeyConstraint(['parent_id'], ['association_bodies.id'], ),
    sa.ForeignKeyConstraint(['unit_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_association_bodies_parent_id'), 'association_bodies', ['parent_id'], unique=False)
    op.create_index(op.f('ix_association_bodies_unit_code'), 'association_bodies', ['unit_code'], unique=False)
    op.create_table('groups',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('level', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'learning_unit') = (level IS NOT NULL)", name='ck_groups_level'),
    sa.CheckConstraint("kind IN ('family', 'clan', 'community', 'learning_unit')", name='ck_groups_kind'),
    sa.ForeignKeyConstraint(['unit_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('id', 'kind', name='uq_groups_id_kind')
    )
    op.create_index('ix_groups_unit_kind', 'groups', ['unit_code', 'kind'], unique=False)
    op.create_index('uq_groups_kind_code', 'groups', ['kind', 'code'], unique=True, postgresql_where='code IS NOT NULL AND deleted_at IS NULL')
    op.create_table('association_members',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('body_id', sa.UUID(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('official', 'member')", name='ck_association_members_role'),
    sa.CheckConstraint('left_on IS NULL OR left_on >= joined_on', name='ck_association_members_period'),
    sa.ForeignKeyConstraint(['body_id'], ['association_bodies.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_association_members_body_id'), 'association_members', ['body_id'], unique=False)
    op.create_index(op.f('ix_association_members_person_id'), 'association_members', ['person_id'], unique=False)
    op.create_index('uq_association_members_open', 'association_members', ['person_id', 'body_id'], unique=True, postgresql_where='left_on IS NULL AND deleted_at IS NULL')
    op.create_table('learning_activities',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('provider', sa.String(length=200), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('hours', sa.Float(), nullable=True),
    sa.Column('evidence_url', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('course', 'mooc', 'digital_skills_basic', 'digital_skills_proficient', 'briefing')", name='ck_learning_activities_kind'),
    sa.CheckConstraint('ended_on IS NULL OR ended_on >= started_on', name='ck_learning_activities_period'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_learning_activities_person_id'), 'learning_activities', ['person_id'], unique=False)
    op.create_table('memberships',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('group_id', sa.UUID(), nullable=False),
    sa.Column('group_kind', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=10), server_default='member', nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('head', 'member')", name='ck_memberships_role'),
    sa.CheckConstraint('left_on IS NULL OR left_on >= joined_on', name='ck_memberships_period'),
    sa.ForeignKeyConstraint(['group_id', 'group_kind'], ['groups.id', 'groups.kind'], name='fk_memberships_group'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_memberships_group', 'memberships', ['group_id'], unique=False)
    op.create_index(op.f('ix_memberships_person_id'), 'memberships', ['person_id'], unique=False)
    op.create_index('uq_memberships_one_open_family', 'memberships', ['person_id'], unique=True, postgresql_where="group_kind = 'family' AND left_on IS NULL AND deleted_at IS NULL")
    op.add_column('people', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('people', sa.Column('name_folded', sa.String(length=200), sa.Computed("lower(translate(full_name, 'àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴÈÉẸẺẼÊỀẾỆỂỄÌÍỊỈĨÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠÙÚỤỦŨƯỪỨỰỬỮỲÝỴỶỸĐ', 'aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyydaaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd'))", persisted=True), nullable=True))
    op.add_column('units', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('units', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('units', 'deleted_at')
    op.drop_column('units', 'updated_at')
    op.drop_column('people', 'name_folded')
    op.drop_column('people', 'updated_at')
    op.drop_index('uq_memberships_one_open_family', table_name='memberships', postgresql_where="group_kind = 'family' AND left_on IS NULL AND deleted_at IS NULL")
    op.drop_index(op.f('ix_memberships_person_id'), table_name='memberships')
    op.drop_index('ix_memberships_group', table_name='memberships')
    op.drop_table('memberships')
    op.drop_index(op.f('ix_learning_activities_person_id'), table_name='learning_activities')
    op.drop_table('learning_activities')
    op.drop_index('uq_association_members_open', table_name='association_members', postgresql_where='left_on IS NULL AND deleted_at IS NULL')
    op.drop_index(op.f('ix_association_members_person_id'), table_name='association_members')
    op.drop_index(op.f('ix_association_members_body_id'), table_name='association_members')
    op.drop_table('association_members')
    op.drop_index('uq_groups_kind_code', table_name='groups', postgresql_where='code IS NOT NULL AND deleted_at IS NULL')
    op.drop_index('ix_groups_unit_kind', table_name='groups')
    op.drop_table('groups')
    op.drop_index(op.f('ix_association_bodies_unit_code'), table_name='association_bodies')
    op.drop_index(op.f('ix_association_bodies_parent_id'), table_name='association_bodies')
    op.drop_table('association_bodies')
    op.drop_index('ix_unit_changes_to_codes', table_name='unit_changes', postgresql_using='gin')
    op.drop_index('ix_unit_changes_from_codes', table_name='unit_changes', postgresql_using='gin')
    op.drop_table('unit_changes')
