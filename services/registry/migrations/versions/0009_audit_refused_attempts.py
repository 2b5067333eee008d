"""0009: the personal data audit records refused attempts (a national ID held outside the
caller's scope) as their own action, not as a create or update that did not happen."""
from alembic import op

revision = '0009'
down_revision = '0008'

BEFORE = ('create', 'update', 'delete', 'import', 'restore', 'roles', 'merge', 'read', 'list',
          'export', 'contact')
AFTER = BEFORE + ('refused',)


def _check(actions):
    return "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")"


def upgrade() -> None:
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.create_check_constraint('ck_personal_data_audit_action', 'personal_data_audit',
                               _check(AFTER))


def downgrade() -> None:
    # the log is append-only: rows of the new action stay, so the old check is not restored
    # over them (NOT VALID keeps it for new rows only)
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.execute("ALTER TABLE personal_data_audit ADD CONSTRAINT ck_personal_data_audit_action "
               f"CHECK ({_check(BEFORE)}) NOT VALID")
