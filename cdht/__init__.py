"""CDHT's shared package: event contracts and the plumbing every service uses.

- ``cdht.contracts``: the public event API (envelope + one schema per type and version).
- ``cdht.db``: the database dependency, database creation and Alembic migrations.
- ``cdht.outbox`` / ``cdht.inbox``: nothing committed is lost, nothing is applied twice.
- ``cdht.consumer``: the reliable event-handler entrypoint (retries, dead letters).
- ``cdht.web``: JSON request/response helpers for nameko's HTTP entrypoint.
"""
