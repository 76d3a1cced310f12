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


@pytest.mark.postgres
def test_secret_syncs_of_one_account_do_not_wait_on_each_other(postgres_cluster, tmp_path) -> None:
    """``GET /api/secrets?include_values=true`` stamps last_accessed. While another request
    holds one of the account's rows (another sync stamping it), a sync still answers at once
    instead of waiting: two syncs at once used to deadlock on PostgreSQL (500 after 1 s)."""
    import threading

    from leger_server.identity import IdentityClaim
    from leger_server.services import Services
    from leger_server.settings import Settings

    url = postgres_cluster.new_database()
    svc = Services.build(
        Settings.build(data_dir=tmp_path / "d", database_url=url, env={}, identity="dev")
    )
    migrate(svc.engine)
    claim = {"user_id": "u1", "email": "u1@example.com", "tailnet": "t.ts.net"}
    uid = svc.users.login(IdentityClaim.parse({**claim, "device_id": "d", "hostname": "h"}))[
        "user_uuid"
    ]
    for i in range(3):
        svc.secrets.put(uid, f"k{i}", f"value-{i}")
    from leger_server.db import secrets

    other = svc.engine.connect()
    other.begin()
    other.execute(  # another request holds k1's row until it ends
        secrets.update().where(secrets.c.name == "k1").values(last_accessed=sa.func.now())
    )
    result: list[object] = []
    sync = threading.Thread(
        target=lambda: result.append(svc.secrets.list(uid, include_values=True)), daemon=True
    )
    sync.start()
    sync.join(timeout=5)
    finished = not sync.is_alive()
    other.rollback()
    other.close()
    sync.join(timeout=30)
    assert finished, "the sync waited for the other request's lock"
    items = result[0]
    assert isinstance(items, list)
    assert [(s["name"], s["value"]) for s in items] == [(f"k{i}", f"value-{i}") for i in range(3)]
    svc.engine.dispose()
