"""0011: the personal data audit records the name answered for a title's certificate
(the certificate_holder RPC) as its own action, "certificate" (the action column widened
to hold it: a change of its length only, no row is rewritten)."""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'

BEFORE = ('create', 'update', 'delete', 'import', 'restore', 'roles', 'merge', 'read', 'list',
          'export', 'contact', 'refused')
AFTER = BEFORE + ('certificate',)


def _check(actions):
    return "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")"


def upgrade() -> None:
    op.alter_column('personal_data_audit', 'action', type_=sa.String(length=20),
                    existing_type=sa.String(length=10), existing_nullable=False)
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.create_check_constraint('ck_personal_data_audit_action', 'personal_data_audit',
                               _check(AFTER))


def downgrade() -> None:
    # the log is append-only: rows of the new action stay, so the old check is not restored
    # over them (NOT VALID keeps it for new rows only), and the column keeps its width
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.execute("ALTER TABLE personal_data_audit ADD CONSTRAINT ck_personal_data_audit_action "
               f"CHECK ({_check(BEFORE)}) NOT VALID")
