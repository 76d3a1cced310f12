"""The browser's session cookie only reads the JSON API: a page on another site can make the
browser send the cookie, so a cookie-only write is refused (403) and changes nothing, while the
same request with the bearer header (the CLI) works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from leger_server.testing import bearer, make_bundle

GIT = {"name": "site", "git_url": "https://github.com/alice/quadlets", "git_branch": "main"}


def _state(client: TestClient, token: str) -> dict[str, Any]:
    """Everything a write could change, read with the bearer token."""
    auth = bearer(token)
    secrets = client.get("/api/secrets?include_values=true", headers=auth).json()["data"]
    for item in secrets["secrets"]:
        item.pop("last_accessed")  # reading a value records when; not a write
    return {
        "secrets": secrets,
        "releases": client.get("/api/releases", headers=auth).json(),
        "me": client.get("/api/me", headers=auth).json()["data"]["display_name"],
    }


def _writes(git_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/api/secrets/x", {"json": {"value": "planted"}}),
        ("PUT", "/api/secrets/kept", {"json": {"value": "overwritten"}}),
        ("DELETE", "/api/secrets/kept", {}),
        ("PATCH", "/api/me", {"json": {"display_name": "Mallory"}}),
        ("POST", "/api/releases", {"json": {**GIT, "name": "planted"}}),
        (
            "POST",
            "/api/releases",
            {"content": make_bundle(), "headers": {"content-type": "application/gzip"}},
        ),
        ("PUT", f"/api/releases/{git_id}", {"json": {"git_url": "https://evil.example/x"}}),
        ("DELETE", f"/api/releases/{git_id}", {}),
        ("POST", "/api/auth/validate", {}),
    ]


def _setup(client: TestClient, login: Callable[..., str]) -> tuple[str, str, str]:
    token = login(client, "cookie-api")
    auth = bearer(token)
    assert client.post("/api/secrets/kept", json={"value": "v1"}, headers=auth).status_code == 201
    git = client.post("/api/releases", json=GIT, headers=auth)
    assert git.status_code == 201, git.text
    bundle = client.post(
        "/api/releases",
        content=make_bundle(),
        headers={**auth, "content-type": "application/gzip"},
    )
    assert bundle.status_code == 201, bundle.text
    return token, git.json()["data"]["id"], str(bundle.json()["data"]["version"])


def test_cookie_only_writes_to_the_api_are_refused_and_change_nothing(
    client: TestClient, login: Callable[..., str]
) -> None:
    token, git_id, _ = _setup(client, login)
    before = _state(client, token)
    for method, path, kwargs in _writes(git_id):
        headers = {**kwargs.pop("headers", {}), "cookie": f"leger_session={token}"}
        resp = client.request(method, path, headers=headers, **kwargs)
        assert resp.status_code == 403, (method, path, resp.text)
        body = resp.json()
        assert body["success"] is False
        assert body["error"]["code"] == "cookie_write_refused"
        assert "Authorization: Bearer" in body["error"]["message"]
    assert _state(client, token) == before


@pytest.mark.parametrize("with_cookie", [False, True], ids=["bearer", "bearer+cookie"])
def test_the_same_writes_with_a_bearer_token_work(
    client: TestClient, login: Callable[..., str], with_cookie: bool
) -> None:
    token, git_id, _ = _setup(client, login)
    for method, path, kwargs in _writes(git_id):
        headers = {**kwargs.pop("headers", {}), **bearer(token)}
        if with_cookie:
            headers["cookie"] = f"leger_session={token}"
        resp = client.request(method, path, headers=headers, **kwargs)
        assert resp.status_code in (200, 201), (method, path, resp.text)
    after = _state(client, token)
    assert after["me"] == "Mallory"
    assert [s["name"] for s in after["secrets"]["secrets"]] == ["x"]


def test_the_cookie_still_reads_the_api(client: TestClient, login: Callable[..., str]) -> None:
    token, _, version = _setup(client, login)
    cookie = {"cookie": f"leger_session={token}"}
    assert client.get("/api/me", headers=cookie).json()["data"]["tailscale_user_id"] == "cookie-api"
    listed = client.get("/api/secrets", headers=cookie).json()["data"]["secrets"]
    assert [s["name"] for s in listed] == ["kept"]
    # The web UI's Download link is a plain cookie GET.
    down = client.get(f"/api/releases/{version}/download", headers=cookie)
    assert down.status_code == 200
    assert down.content == make_bundle()
    assert client.head(f"/api/releases/{version}/download", headers=cookie).status_code == 200
