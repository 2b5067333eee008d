"""The four CDHT services. Each has the same layout:

- ``domain.py``: pure rules (no nameko, no database), unit-tested on their own;
- ``models.py``: SQLAlchemy tables of the service's own database;
- ``schemas.py``: marshmallow schemas of its HTTP and RPC payloads;
- ``service.py``: the nameko service, a thin adapter from entrypoints to the domain;
- ``config.yaml``: its nameko config (``${VAR:default}`` from the environment);
- ``migrations/``: its Alembic migrations.
"""
