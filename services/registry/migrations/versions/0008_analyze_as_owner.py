"""0008: ``refresh_statistics(table)``: imports keep the statistics of the tables they grow
fresh, and ANALYZE is the owner's; the service's run-time role, which owns nothing, calls this
instead (it runs as the owner, for the tables named here only)."""
from alembic import op

revision = '0008'
down_revision = '0007'

TABLES = ("people", "groups", "memberships", "group_titles")


def upgrade() -> None:
    allowed = ", ".join(f"'{t}'" for t in TABLES)
    op.execute(f"""
        CREATE FUNCTION refresh_statistics(name text) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        BEGIN
            IF name NOT IN ({allowed}) THEN
                RAISE EXCEPTION 'refresh_statistics: % is not a table imports grow', name;
            END IF;
            EXECUTE format('ANALYZE public.%I', name);
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION refresh_statistics(text) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION refresh_statistics(text)")
