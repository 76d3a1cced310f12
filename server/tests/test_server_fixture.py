"""The ``leger_server`` fixture runs a real server process others' tests rely on."""

from __future__ import annotations

from leger_server.testing import RunningServer


def test_fixture_serves_login_and_api(leger_server: RunningServer) -> None:
    token = leger_server.login("u1", email="alice@example.com")
    with leger_server.api(token) as api:
        me = api.get("/api/me").json()["data"]
        assert me["email"] == "alice@example.com"
        assert api.post("/api/secrets/k", json={"value": "v"}).status_code == 201
        assert api.get("/api/secrets/k").json()["data"]["value"] == "v"
    assert (leger_server.data_dir / "leger.db").exists()
    leger_server.stop()
    assert leger_server.process.poll() is not None
