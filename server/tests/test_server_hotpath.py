"""The authenticated read path (what every CLI call asks): one session check per request that
no cache can outlive, and pooled PostgreSQL connections that survive a database restart
without a ping per checkout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from leger_server import tokens as tokens_module
from leger_server.app import create_app
from leger_server.db import make_engine, migrate, retry_read
from leger_server.errors import Unauthorized
from leger_server.settings import Settings
from leger_server.testing import PG_BIN, PostgresCluster, bearer
from leger_server.tokens import TokenService

# The reads a CLI makes with its token, each checked by the session check.
READS = [
    ("GET", "/api/releases/latest"),
    ("GET", "/api/releases"),
    ("GET", "/api/releases/1"),
    ("GET", "/api/secrets"),
    ("GET", "/api/secrets?include_values=true"),
    ("POST", "/api/auth/validate"),
    ("GET", "/api/me"),
]


def _seed(api: Any, bundle: bytes) -> None:
    resp = api.post("/api/releases", content=bundle, headers={"content-type": "application/gzip"})
    assert resp.status_code == 201, resp.text
    assert api.post("/api/secrets/api_key", json={"value": "v-hot"}).status_code == 201


# --- no cache outlives a logout --------------------------------------------------------------


@pytest.mark.parametrize("logout", ["logout", "logout-all"])
def test_a_logged_out_token_is_refused_by_every_read_at_the_very_next_request(
    client: TestClient, login, bundle_bytes, logout: str
) -> None:
    token = login(client, "u-hot")
    client.headers.update(bearer(token))
    _seed(client, bundle_bytes({"a.container": b"[Container]\nImage=a\n"}))
    for method, path in READS:  # every route has seen (and could have remembered) the token
        assert client.request(method, path).status_code == 200, path
    assert client.post(f"/api/auth/{logout}").status_code == 200
    for method, path in READS:
        resp = client.request(method, path)
        assert resp.status_code == 401, (path, resp.text)
        assert resp.json()["error"]["code"] == "token_revoked", path


@pytest.mark.postgres
def test_logout_everywhere_reaches_every_worker_at_once(
    leger_server_factory, postgres_cluster: PostgresCluster
) -> None:
    """With two worker processes each keeping its own caches, a token both have verified is
    refused by both right after "log out everywhere" (new connections land on either)."""
    server = leger_server_factory(
        database=postgres_cluster.new_database(), extra_args=["--workers", "2"]
    )
    token = server.login("u-workers")

    def statuses() -> set[int]:
        seen = set()
        for _ in range(16):  # a new connection each: spread over the workers
            resp = httpx.get(server.url + "/api/me", headers=bearer(token))
            seen.add(resp.status_code)
        return seen

    assert statuses() == {200}
    resp = httpx.post(server.url + "/api/auth/logout-all", headers=bearer(token))
    assert resp.status_code == 200
    assert statuses() == {401}


def test_a_verified_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = TokenService(b"k" * 32)
    now = time.time()
    token = service.issue(
        user_uuid="u", tailscale_user_id="t", email="e", tailnet="n", expires_at=int(now) + 60
    )
    assert service.verify(token).user_uuid == "u"  # verified once: remembered
    monkeypatch.setattr(tokens_module.time, "time", lambda: now + 61)
    with pytest.raises(Unauthorized) as err:
        service.verify(token)
    assert err.value.code == "token_expired"


def test_a_remembered_token_vouches_for_no_other_token() -> None:
    """Same claims, another signature (or none): refused, even with the genuine token
    remembered; and what is remembered is no usable token."""
    service = TokenService(b"k" * 32)
    token = service.issue(user_uuid="u", tailscale_user_id="t", email="e", tailnet="n")
    service.verify(token)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    for bad in (forged, f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(Unauthorized):
            service.verify(bad)
    remembered = repr(vars(service))
    assert token not in remembered and signature not in remembered
    assert "k" * 32 not in repr(service)


def test_bad_tokens_are_not_remembered_and_the_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 3)
    service = TokenService(b"k" * 32)
    with pytest.raises(Unauthorized):
        service.verify("not.a.token")
    assert len(vars(service)["_verified"]) == 0
    for i in range(10):
        service.verify(service.issue(user_uuid=f"u{i}", tailscale_user_id="t", email="e",
                                     tailnet="n"))  # fmt: skip
        assert len(vars(service)["_verified"]) <= 3


# --- PostgreSQL restarts ---------------------------------------------------------------------


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own: restarting the session's one would cut other tests."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (apt-get install postgresql)")
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except Exception:  # paused by the test: stop() cannot stop it, remove it anyway
            import shutil

            shutil.rmtree(cluster.root, ignore_errors=True)


def _backend_pids(admin_url: str, database: str) -> set[int]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return {int(r[0]) for r in rows}


def _terminate(admin_url: str, pid: int) -> None:
    """End one backend, as PostgreSQL does on a restart, and wait until it is gone."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            if not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} did not end")


@pytest.mark.postgres
def test_a_pooled_connection_the_server_closed_is_replaced_before_use(
    own_cluster: PostgresCluster,
) -> None:
    url = own_cluster.new_database()
    engine = make_engine(url, pool_size=1)
    calls: list[int] = []

    def backend(conn: sa.Connection) -> int:
        calls.append(1)
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    first = retry_read(engine, backend)
    _terminate(own_cluster.admin_url, first)
    second = retry_read(engine, backend)
    # Found closed at checkout (no round trip): no statement failed, nothing was retried.
    assert second != first and len(calls) == 2
    engine.dispose()


@pytest.mark.postgres
def test_a_read_whose_connection_dies_mid_request_is_tried_once_more(
    own_cluster: PostgresCluster,
) -> None:
    url = own_cluster.new_database()
    engine = make_engine(url, pool_size=2)
    pids: list[int] = []

    def read(conn: sa.Connection) -> int:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        pids.append(pid)
        if len(pids) == 1:  # the connection dies between two statements of the read
            _terminate(own_cluster.admin_url, pid)
        return int(conn.exec_driver_sql("SELECT 41 + 1").scalar_one())

    assert retry_read(engine, read) == 42
    assert len(pids) == 2 and pids[0] != pids[1]

    def always_dies(conn: sa.Connection) -> int:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        pids.append(pid)
        _terminate(own_cluster.admin_url, pid)
        return int(conn.exec_driver_sql("SELECT 1").scalar_one())

    pids.clear()
    with pytest.raises(sa.exc.OperationalError):
        retry_read(engine, always_dies)
    assert len(pids) == 2  # once more, not forever

    def wrong(conn: sa.Connection) -> int:
        pids.append(0)
        return int(conn.exec_driver_sql("SELECT no_such_column FROM users").scalar_one())

    pids.clear()
    migrate(engine)
    with pytest.raises(sa.exc.ProgrammingError):
        retry_read(engine, wrong)
    assert pids == [0]  # an error of the statement itself is not retried
    engine.dispose()


@pytest.mark.postgres
def test_every_request_succeeds_across_a_postgresql_restart(
    tmp_path: Path, own_cluster: PostgresCluster, login, bundle_bytes
) -> None:
    import concurrent.futures

    url = own_cluster.new_database()
    database = url.rsplit("/", 1)[1]
    settings = Settings.build(data_dir=tmp_path / "data", database_url=url, identity="dev", env={})
    with TestClient(create_app(settings)) as client:
        token = login(client, "u-restart")
        client.headers.update(bearer(token))
        _seed(client, bundle_bytes({"a.container": b"[Container]\nImage=a\n"}))

        def everything(_: int) -> list[int]:
            return [client.request(m, p).status_code for m, p in READS]

        with concurrent.futures.ThreadPoolExecutor(6) as pool:  # several pooled connections
            assert all(s == 200 for r in pool.map(everything, range(12)) for s in r)
        pooled = _backend_pids(own_cluster.admin_url, database)
        assert len(pooled) >= 2

        own_cluster.restart()

        assert everything(0) == [200] * len(READS)  # reads, and validate's rate-limit write
        resp = client.put("/api/secrets/after_restart", json={"value": "v2"})
        assert resp.status_code == 201, resp.text
        assert client.get("/api/secrets/after_restart").json()["data"]["value"] == "v2"
        assert not pooled & _backend_pids(own_cluster.admin_url, database)


@pytest.mark.postgres
def test_a_database_that_is_down_is_a_clear_503_and_the_server_recovers(
    tmp_path: Path, own_cluster: PostgresCluster, login, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_cluster.new_database()
    settings = Settings.build(data_dir=tmp_path / "data", database_url=url, identity="dev", env={})
    with TestClient(create_app(settings)) as client:
        token = login(client, "u-down")
        client.headers.update(bearer(token))
        assert client.get("/api/secrets").status_code == 200
        own_cluster.pause()
        try:
            for method, path in [*READS, ("PUT", "/api/secrets/while_down")]:
                resp = client.request(method, path, json={"value": "v-down"})
                assert resp.status_code == 503, (path, resp.text)
                error = resp.json()["error"]
                assert error["code"] == "database_unavailable" and error["action"], path
        finally:
            own_cluster.resume()
        assert client.get("/api/secrets").status_code == 200
        assert "v-down" not in caplog.text and token not in caplog.text
        assert "database unavailable" in caplog.text


def test_startup_objects_are_left_out_of_full_garbage_collections(app_settings) -> None:
    """The app's long-lived objects are frozen once it has started, so the collector's full
    collections under load scan only what requests create (pauses of 100-200 ms before)."""
    import gc

    gc.unfreeze()
    with TestClient(create_app(app_settings)) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/health").status_code == 200
