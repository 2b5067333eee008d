from alembic import context

from cdht.db import run_migrations
from services.registry.models import Base
import services.registry.imports.models  # noqa: F401

run_migrations(context, Base.metadata)
