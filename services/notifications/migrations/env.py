from alembic import context

from cdht.db import run_migrations
from services.notifications.models import Base

run_migrations(context, Base.metadata)
