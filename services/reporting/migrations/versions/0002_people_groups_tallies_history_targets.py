"""0002: people, groups, tallies, dated history, target status, consumer lag.

Replaces the first counters (population by birth year, title_counts) with ``tallies``:
every indicator's numerator and denominator per unit, from the facts kept per person and
group. The old counters are dropped, not converted (they lack the per-person facts the new
ones need): after upgrading a database that held data, run
``python -m services.reporting.rebuild`` once.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("roles", sa.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("target_group", sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint("person_id"))
    op.create_index("ix_people_unit_code", "people", ["unit_code"])
    op.create_table(
        "memberships",
        sa.Column("membership_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("group_kind", sa.String(length=20), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("membership_id"))
    op.create_index("ix_memberships_person_id", "memberships", ["person_id"])
    op.create_table(
        "briefings",
        sa.Column("activity_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id"))
    op.create_index("ix_briefings_person_id", "briefings", ["person_id"])
    op.create_table(
        "groups",
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id"))
    op.create_index("ix_groups_unit_code", "groups", ["unit_code"])
    op.create_table(
        "group_titles",
        sa.Column("group_recognition_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("group_kind", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("group_recognition_id"))
    op.create_index("ix_group_titles_group_id", "group_titles", ["group_id"])
    op.create_index("ix_recognition_facts_person_id", "recognition_facts", ["person_id"])
    op.create_table(
        "tallies",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "metric", "key"))
    op.create_table(
        "tally_days",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "metric", "key", "day"))
    op.add_column("unit_paths", sa.Column("merged_into", sa.String(length=64), nullable=True))
    op.create_index("ix_unit_paths_merged_into", "unit_paths", ["merged_into"])
    op.create_table(
        "target_status",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=True),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "year", "indicator"))
    op.create_table(
        "consumer_lag",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("applied", sa.BigInteger(), nullable=False),
        sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("consumer"))
    op.drop_table("population")
    op.drop_table("title_counts")


def downgrade() -> None:
    op.create_table(
        "population",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "birth_year"))
    op.create_table(
        "title_counts",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("titled", sa.Integer(), nullable=False),
        sa.Column("digitally_skilled", sa.Integer(), nullable=False),
        sa.Column("digitally_proficient", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "year"))
    op.execute("INSERT INTO population SELECT unit_code, key, n FROM tallies "
               "WHERE metric = 'people'")
    op.execute("""INSERT INTO title_counts
        SELECT unit_code, key, sum(n) FILTER (WHERE metric = 'titled'),
               coalesce(sum(n) FILTER (WHERE metric = 'titled_digital'), 0),
               coalesce(sum(n) FILTER (WHERE metric = 'titled_proficient'), 0)
        FROM tallies WHERE metric IN ('titled', 'titled_digital', 'titled_proficient')
        GROUP BY unit_code, key HAVING sum(n) FILTER (WHERE metric = 'titled') IS NOT NULL""")
    op.drop_table("consumer_lag")
    op.drop_table("target_status")
    op.drop_index("ix_unit_paths_merged_into", table_name="unit_paths")
    op.drop_column("unit_paths", "merged_into")
    op.drop_table("tally_days")
    op.drop_table("tallies")
    op.drop_index("ix_recognition_facts_person_id", table_name="recognition_facts")
    op.drop_table("group_titles")
    op.drop_table("groups")
    op.drop_table("briefings")
    op.drop_table("memberships")
    op.drop_table("people")
