"""0004: inbox consumers named by handler.

The inbox now records an event under the handler the worker runs for, ``<service>.<method>``
(cdht.inbox), as every other service did; notifications named its rows
``notifications.<event_type>``. Each of its handlers is ``on_<event_type>``, so its rows are
renamed ``notifications.on_<event_type>``: an event applied before the upgrade and delivered
again after it is still dropped as a duplicate, and nobody is told twice.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'

OLD, NEW = "notifications.", "notifications.on_"  # followed by the row's event type


def _rename(old, new):
    """``<old><event_type>`` becomes ``<new><event_type>``; a row already there under the new
    name (the same event recorded by both) is kept, and the old one goes."""
    op.execute(sa.text("""
        UPDATE inbox SET consumer = :new || inbox.event_type
        WHERE inbox.consumer = :old || inbox.event_type AND NOT EXISTS (
            SELECT 1 FROM inbox AS named
            WHERE named.event_id = inbox.event_id
              AND named.consumer = :new || inbox.event_type)""").bindparams(old=old, new=new))
    op.execute(sa.text("DELETE FROM inbox WHERE consumer = :old || event_type")
               .bindparams(old=old))


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
