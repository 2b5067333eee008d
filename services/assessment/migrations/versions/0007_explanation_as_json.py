"""0007: an assessment's explanation is stored as json, not jsonb. It is written whole at each
step (2 kB of JSON; a closing writes a million at once), returned whole, and never queried
inside: turning it into jsonb (parsing it, sorting every object's keys) was about 20 µs of
the server's CPU a row, a tenth of what a closing costs PostgreSQL, where json only checks
that the text is JSON. The values read back the same."""
from alembic import op

revision = '0007'
down_revision = '0006'


def upgrade() -> None:
    op.execute("ALTER TABLE assessments ALTER COLUMN explanation TYPE json "
               "USING explanation::json")


def downgrade() -> None:
    op.execute("ALTER TABLE assessments ALTER COLUMN explanation TYPE jsonb "
               "USING explanation::jsonb")
