"""0006: personal data audit: reads and every write, append-only, hash-chained."""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.registry.audit_chain import CANONICAL_SQL, GENESIS

revision = '0006'
down_revision = '0005'

OLD_ACTIONS = ('create', 'update', 'delete', 'import')
NEW_ACTIONS = OLD_ACTIONS + ('restore', 'roles', 'merge', 'read', 'list', 'export', 'contact')
TABLES = ('personal_data_audit', 'personal_data_audit_head')


def _check(actions):
    return "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")"


def upgrade() -> None:
    op.add_column('personal_data_audit', sa.Column('purpose', sa.String(length=200)))
    op.add_column('personal_data_audit', sa.Column('person_ids',
                                                   postgresql.ARRAY(sa.UUID())))
    op.add_column('personal_data_audit', sa.Column('prev_hash', sa.String(length=64)))
    op.add_column('personal_data_audit', sa.Column('hash', sa.String(length=64)))
    op.create_index('ix_personal_data_audit_person_ids', 'personal_data_audit', ['person_ids'],
                    postgresql_using='gin')
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.create_check_constraint('ck_personal_data_audit_action', 'personal_data_audit',
                               _check(NEW_ACTIONS))
    op.create_table(
        'personal_data_audit_head',
        sa.Column('id', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=True),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.CheckConstraint('id', name='ck_personal_data_audit_head_only'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute(f"""
        CREATE FUNCTION personal_data_audit_canonical(r personal_data_audit) RETURNS text
        LANGUAGE sql STABLE AS $$ SELECT {CANONICAL_SQL} $$""")
    # the rows written so far, chained in id order
    op.execute(f"""
        DO $$
        DECLARE r personal_data_audit; prev text := '{GENESIS}'; last integer;
        BEGIN
          FOR r IN SELECT * FROM personal_data_audit ORDER BY id LOOP
            r.prev_hash := prev;
            prev := encode(sha256(convert_to(prev || personal_data_audit_canonical(r),
                                             'UTF8')), 'hex');
            UPDATE personal_data_audit SET prev_hash = r.prev_hash, hash = prev
            WHERE id = r.id;
            last := r.id;
          END LOOP;
          INSERT INTO personal_data_audit_head (id, last_id, hash) VALUES (true, last, prev);
        END $$""")
    op.alter_column('personal_data_audit', 'prev_hash', nullable=False)
    op.alter_column('personal_data_audit', 'hash', nullable=False)
    # Each insert takes the head row's lock (held until commit), numbers the row after the
    # rows committed before it and chains it: concurrent writers queue, never fork. It runs
    # as the owner, so a run-time role needs only INSERT on the table, nothing on the head.
    # (A head emptied with the table, as a test's TRUNCATE past the triggers does, restarts.)
    op.execute(f"""
        CREATE FUNCTION personal_data_audit_chain() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE prev text;
        BEGIN
          SELECT hash INTO prev FROM personal_data_audit_head WHERE id FOR UPDATE;
          IF NOT FOUND THEN
            INSERT INTO personal_data_audit_head (id, last_id, hash)
            VALUES (true, NULL, '{GENESIS}') ON CONFLICT (id) DO NOTHING;
            SELECT hash INTO prev FROM personal_data_audit_head WHERE id FOR UPDATE;
          END IF;
          NEW.id := nextval(pg_get_serial_sequence('personal_data_audit', 'id'));
          NEW.prev_hash := prev;
          NEW.hash := encode(sha256(convert_to(prev || personal_data_audit_canonical(NEW),
                                               'UTF8')), 'hex');
          UPDATE personal_data_audit_head SET last_id = NEW.id, hash = NEW.hash WHERE id;
          RETURN NEW;
        END $$""")
    op.execute("""
        CREATE FUNCTION personal_data_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_TABLE_NAME = 'personal_data_audit_head' AND TG_OP = 'UPDATE'
             AND pg_trigger_depth() > 1 THEN
            RETURN NEW;  -- the chain trigger moving the head
          END IF;
          RAISE EXCEPTION 'personal data audit is append-only: % refused on %',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("""
        CREATE TRIGGER personal_data_audit_chain BEFORE INSERT ON personal_data_audit
        FOR EACH ROW EXECUTE FUNCTION personal_data_audit_chain()""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION personal_data_audit_refuse()""")
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION personal_data_audit_refuse()""")
    # Roles other than the owner (a service's own non-owner role, where there is one) may
    # only read and append.
    op.execute("""
        DO $$
        DECLARE g record;
        BEGIN
          FOR g IN SELECT DISTINCT grantee, table_name FROM information_schema.role_table_grants
                   WHERE table_name IN ('personal_data_audit', 'personal_data_audit_head')
                     AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
                     AND grantee <> (SELECT tableowner FROM pg_tables
                                     WHERE tablename = table_name LIMIT 1) LOOP
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %s', g.table_name,
                           CASE WHEN g.grantee = 'PUBLIC' THEN 'PUBLIC'
                                ELSE quote_ident(g.grantee) END);
          END LOOP;
        END $$""")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP TRIGGER personal_data_audit_chain ON personal_data_audit")
    op.execute("DROP FUNCTION personal_data_audit_refuse()")
    op.execute("DROP FUNCTION personal_data_audit_chain()")
    op.execute("DROP FUNCTION personal_data_audit_canonical(personal_data_audit)")
    op.drop_table('personal_data_audit_head')
    op.execute("DELETE FROM personal_data_audit WHERE NOT (" + _check(OLD_ACTIONS) + ")")
    op.drop_constraint('ck_personal_data_audit_action', 'personal_data_audit')
    op.create_check_constraint('ck_personal_data_audit_action', 'personal_data_audit',
                               _check(OLD_ACTIONS))
    op.drop_index('ix_personal_data_audit_person_ids', table_name='personal_data_audit')
    for column in ('hash', 'prev_hash', 'person_ids', 'purpose'):
        op.drop_column('personal_data_audit', column)
