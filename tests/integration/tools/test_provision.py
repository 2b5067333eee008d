"""``cdht provision``'s database half against the real PostgreSQL: a database an earlier,
one-role deployment made (its tables and their sequences owned by the administrator) is
handed to the service's owner role, and the run-time role gets rows only."""
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cdht_tools.credentials import ServiceKeys, grant_runtime, provision_database
from tests.conftest import PG_URL


@pytest.fixture
def names(backing_servers):
    run = uuid.uuid4().hex[:6]
    found = {"db": f"cdht_p{run}_registry", "owner": f"cdht_p{run}_owner",
             "runtime": f"cdht_p{run}_runtime"}
    yield found
    admin = create_engine(PG_URL + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{found["db"]}" WITH (FORCE)'))
        for role in (found["owner"], found["runtime"]):
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def url(names, role):
    return make_url(PG_URL).set(username=names[role], password="pw",
                                database=names["db"]).render_as_string(False)


def test_an_existing_database_is_handed_to_the_owner_role(names):
    admin = create_engine(PG_URL + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{names["db"]}"'))
    admin.dispose()
    inside = create_engine(make_url(PG_URL).set(database=names["db"]))
    with inside.begin() as conn:  # as the administrator, as an earlier release did
        conn.execute(text("CREATE TABLE personal_data_audit (id serial PRIMARY KEY, x text)"))
        conn.execute(text("CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY, "
                          "name text)"))
    inside.dispose()
    keys = ServiceKeys("registry", url(names, "runtime"), url(names, "owner"), "amqp://x/")
    provision_database(PG_URL + "/postgres", keys)
    provision_database(PG_URL + "/postgres", keys)  # again: nothing to do, no error
    grant_runtime("registry", keys.migration_url, keys.database_url)
    check = create_engine(make_url(PG_URL).set(database=names["db"]))
    with check.connect() as conn:
        owners = dict(conn.execute(text(
            "SELECT relname, pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE nspname = 'public' AND relkind IN ('r', 'S')"))
            .all())
    check.dispose()
    assert set(owners.values()) == {names["owner"]}, owners
    assert "personal_data_audit_id_seq" in owners and "people_id_seq" in owners
    runtime = create_engine(keys.database_url)
    with runtime.begin() as conn:
        conn.execute(text("INSERT INTO personal_data_audit (x) VALUES ('a')"))
        conn.execute(text("INSERT INTO people (name) VALUES ('b')"))
    with pytest.raises(DBAPIError, match="permission denied"):
        with runtime.begin() as conn:
            conn.execute(text("DELETE FROM personal_data_audit"))
    runtime.dispose()
