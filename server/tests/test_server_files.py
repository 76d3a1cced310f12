"""What a real leger-server writes to its data dir is for its own user only: the database and
its WAL 0600, the data dir and blobs 0700, whatever the umask of whoever started it; and a data
dir made group/world-readable before (by hand, or by an older version) is closed at start."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from leger_server.errors import SettingsError
from leger_server.settings import Settings
from leger_server.testing import make_bundle


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Start servers as a user whose umask is ``mask`` (they inherit it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_database_wal_and_blobs_are_private(leger_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)  # as a hand-made dir or an older version left it
    with umask(0o022):
        server = leger_server_factory(data_dir=data_dir)
    token = server.login("u-files")
    with server.api(token) as api:
        assert api.post("/api/secrets/k", json={"value": "v"}).status_code == 201
        resp = api.post(
            "/api/releases", content=make_bundle(), headers={"content-type": "application/gzip"}
        )
        assert resp.status_code == 201, resp.text

    assert mode(data_dir) == 0o700
    files = ["leger.db", "leger.db-wal", "leger.db-shm", "keys.json"]
    for name in files:
        assert (data_dir / name).exists(), name
    blobs = list((data_dir / "blobs").rglob("*"))
    assert any(p.is_file() for p in blobs)
    for path in [data_dir / n for n in files] + blobs:
        if path.is_dir():
            assert mode(path) == 0o700, path
        else:
            assert mode(path) == 0o600, path


def test_files_left_readable_are_closed_at_start(leger_server_factory, tmp_path):
    """A data dir written by a server started before this fix (under umask 022)."""
    data_dir = tmp_path / "data"
    with umask(0o022):
        Settings.build(data_dir=data_dir, identity="dev", env={})
    (data_dir / "leger.db").write_bytes(b"")
    for path in (data_dir, data_dir / "leger.db", data_dir / "keys.json"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (data_dir / "blobs").mkdir(mode=0o755)
    (data_dir / "blobs").chmod(0o755)

    server = leger_server_factory(data_dir=data_dir)
    assert server.process.poll() is None
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "blobs") == 0o700
    assert mode(data_dir / "leger.db") == 0o600
    assert mode(data_dir / "keys.json") == 0o600


def test_a_data_dir_of_another_user_is_refused_and_left_alone(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a dir to another user needs root")
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    os.chown(data_dir, 65534, 65534)
    with pytest.raises(SettingsError, match="belongs to uid 65534"):
        Settings.build(data_dir=data_dir, identity="dev", env={})
    assert mode(data_dir) == 0o755
    assert list(data_dir.iterdir()) == []
