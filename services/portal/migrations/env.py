from alembic import context

from cdht.db import run_migrations
from services.portal.models import Base

run_migrations(context, Base.metadata)
