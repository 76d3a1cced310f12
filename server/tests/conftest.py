"""Shared helpers for leger-server's tests: in-process apps and bundle builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from leger_server.app import create_app
from leger_server.settings import Settings
from leger_server.testing import make_bundle


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
