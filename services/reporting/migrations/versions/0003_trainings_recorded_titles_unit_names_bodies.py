"""0003: trainings, group titles recorded from paper, unit names, association bodies.

- ``trainings``: each person's digital-skills courses (and whether finished), so "trained
  with digital skills" counts the learning records, not the title's level alone;
- ``group_titles.source``: ``computed`` (assessment) or ``recorded`` (a paper decision the
  registry entered), with its decision number; both make a group recognised;
- ``memberships`` indexed by group, to reach a group's members when its title changes;
- ``unit_names`` and ``association_bodies``: names, kinds and closed units, the
  association's bodies, kept from the registry's events.

After upgrading a database that held data, run ``cdht rebuild reporting`` once (the new
counters are filled from the registry's and assessment's exports).
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "trainings",
        sa.Column("activity_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id"),
    )
    op.create_index("ix_trainings_person_id", "trainings", ["person_id"])
    op.add_column("group_titles", sa.Column("source", sa.String(length=10), nullable=False,
                                            server_default="computed"))
    op.add_column("group_titles", sa.Column("decision_number", sa.String(length=50),
                                            nullable=True))
    op.create_index("ix_memberships_group_id", "memberships", ["group_id"])
    op.create_table(
        "unit_names",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code"),
    )
    op.create_table(
        "association_bodies",
        sa.Column("body_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("body_name", sa.String(length=200), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("body_id"),
    )


def downgrade() -> None:
    op.drop_table("association_bodies")
    op.drop_table("unit_names")
    op.drop_index("ix_memberships_group_id", table_name="memberships")
    op.drop_column("group_titles", "decision_number")
    op.drop_column("group_titles", "source")
    op.drop_index("ix_trainings_person_id", table_name="trainings")
    op.drop_table("trainings")
