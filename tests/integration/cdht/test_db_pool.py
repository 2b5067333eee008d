"""cdht.db's engines replace a pooled connection the server dropped (PostgreSQL restarted,
a backend terminated) before a request uses it, without a ping's round trip per checkout."""
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from cdht.db import Transactions, make_engine


def _backend(engine):
    with Transactions(sessionmaker(engine)).read() as session:
        return session.scalar(text("SELECT pg_backend_pid()"))


def _terminate(url, pid):
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(100):  # until the backend has gone, its socket closed
                if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                        "WHERE pid = :pid"), {"pid": pid}):
                    return
                time.sleep(0.05)
    finally:
        admin.dispose()


def test_a_connection_dropped_by_the_server_is_replaced_before_a_request_uses_it(
        migrated_databases):
    url = migrated_databases["registry"]
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        assert not engine.pool._pre_ping  # no round trip per checkout
        first = _backend(engine)
        assert _backend(engine) == first  # a live connection is kept
        _terminate(url, first)
        second = _backend(engine)  # no OperationalError: replaced at checkout
        assert second != first
        assert _backend(engine) == second
    finally:
        engine.dispose()


def test_a_connection_the_server_only_spoke_on_is_kept(migrated_databases):
    """Something to read on an idle connection is most often the server's last words; when
    it is not (here a notification), the ping says so and the connection stays."""
    url = migrated_databases["registry"]
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            conn.execute(text("LISTEN cdht_pool_test"))
            conn.commit()
            first = conn.scalar(text("SELECT pg_backend_pid()"))
        notifier = create_engine(url, isolation_level="AUTOCOMMIT")
        with notifier.connect() as other:
            other.execute(text("NOTIFY cdht_pool_test"))
        notifier.dispose()
        time.sleep(0.2)  # the notification reaches the idle connection's socket
        assert _backend(engine) == first
    finally:
        engine.dispose()
