"""The engine under load: a worker keeps its database connections (no new PostgreSQL backend
per busy request), and reads skip the transaction round trips without making writes lose
theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leger_server.db import POOL_SIZE, make_engine, migrate, read_connection, users


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leger.db'}"
    url: str = request.getfixturevalue("postgres_cluster").new_database()
    return url


def test_busy_worker_reuses_its_connections(database_url: str) -> None:
    """15 requests at once, twice: the second burst finds 15 open connections. (SQLAlchemy's
    default pool kept 5 and closed the other 10 after each use, so every burst opened 10 new
    PostgreSQL backends: 25 connections here.)"""
    engine = make_engine(database_url)
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    for _ in range(2):
        held = [read_connection(engine) for _ in range(15)]
        for conn in held:
            conn.execute(sa.text("SELECT 1"))
        for conn in held:
            conn.close()
    assert len(opened) == 15
    assert engine.pool.size() == POOL_SIZE
    engine.dispose()


@pytest.mark.postgres
def test_reads_run_outside_a_transaction_on_postgresql(postgres_cluster) -> None:
    """A read leaves no transaction open, so nothing has to be rolled back when the connection
    goes back to the pool (psycopg: no BEGIN, no ROLLBACK)."""
    from psycopg.pq import TransactionStatus

    engine = make_engine(postgres_cluster.new_database())
    with read_connection(engine) as conn:
        conn.execute(sa.text("SELECT 1"))
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        assert dbapi.info.transaction_status == TransactionStatus.IDLE
    with engine.connect() as conn:  # an ordinary connection still begins one
        conn.execute(sa.text("SELECT 1"))
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        assert dbapi.info.transaction_status == TransactionStatus.INTRANS
    engine.dispose()


def test_a_write_after_a_read_on_the_same_connection_is_still_atomic(database_url: str) -> None:
    """The read's autocommit ends with it: a failing write transaction on the same pooled
    connection leaves nothing behind."""
    engine = make_engine(database_url, pool_size=1)
    migrate(engine)
    with read_connection(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 0
    row = {
        "user_uuid": "u-1",
        "tailscale_user_id": "t-1",
        "tailscale_email": "a@example.com",
        "tailnet": "example.ts.net",
        "created_at": sa.func.now(),
        "last_seen": sa.func.now(),
        "total_authentications": 1,
    }
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(users.insert().values(row))
        conn.execute(users.insert().values(row))  # same primary key: the transaction fails
    with read_connection(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 0
    engine.dispose()
