"""What runs where: ``POST /api/deployments`` (a device reports a deployment) and
``GET /api/deployments``, on SQLite and PostgreSQL; the device is the token's login device,
never the report's claim, and no local path is kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leger_server.testing import LocalAPIStandIn, RunningServer, bearer

REPORT: dict[str, Any] = {
    "name": "litellm",
    "event": "install",
    "release_name": "ai-stack",
    "version": "3f2a9c1e0b7d",
    "source_kind": "git",
    "source": "https://git.example.com/me/ai-stack.git",
    "units": {"litellm.service": "active", "caddy.service": "failed"},
}


def test_a_report_is_listed_with_the_login_device(shared_server, fresh_user):
    token = shared_server.login(fresh_user, device_id="node-laptop", hostname="laptop")
    with shared_server.api(token) as api:
        resp = api.post("/api/deployments", json=REPORT)
        assert resp.status_code == 200, resp.text
        got = resp.json()["data"]
        assert (got["device_id"], got["hostname"]) == ("node-laptop", "laptop")
        assert got["units_not_active"] == ["caddy.service"]
        listed = api.get("/api/deployments").json()["data"]["deployments"]
        assert [(d["name"], d["version"], d["release_name"]) for d in listed] == [
            ("litellm", "3f2a9c1e0b7d", "ai-stack")
        ]
        assert listed[0]["units"] == {"caddy.service": "failed", "litellm.service": "active"}
        only = api.get("/api/deployments", params={"release": "other"}).json()["data"]
        assert only["deployments"] == []


def test_one_row_per_device_and_name_upserted(shared_server, fresh_user):
    laptop = shared_server.login(fresh_user, device_id="node-laptop", hostname="laptop")
    server = shared_server.login(fresh_user, device_id="node-server", hostname="server")
    with shared_server.api(laptop) as api:
        first = api.post("/api/deployments", json=REPORT).json()["data"]
        update = {**REPORT, "event": "update", "version": "9999aaaa", "units": {}}
        second = api.post("/api/deployments", json=update).json()["data"]
        assert second["id"] == first["id"] and second["event"] == "update"
        assert second["created_at"] == first["created_at"]
        assert second["updated_at"] >= first["updated_at"]
    with shared_server.api(server) as api:
        assert api.post("/api/deployments", json=REPORT).status_code == 200
        listed = api.get("/api/deployments").json()["data"]["deployments"]
    assert [(d["hostname"], d["version"]) for d in listed] == [
        ("laptop", "9999aaaa"),
        ("server", "3f2a9c1e0b7d"),
    ]


def test_accounts_see_only_their_own(shared_server, fresh_user):
    mine = shared_server.login(fresh_user)
    theirs = shared_server.login(fresh_user + "-other")
    with shared_server.api(mine) as api:
        api.post("/api/deployments", json=REPORT)
    with shared_server.api(theirs) as api:
        assert api.get("/api/deployments").json()["data"]["deployments"] == []


@pytest.mark.parametrize(
    "source",
    ["/home/alice/src/stack", "file:///home/alice/src/stack", "~/stack", "./stack", "FILE:/x"],
)
def test_a_local_path_is_never_stored(shared_server, fresh_user, source):
    token = shared_server.login(fresh_user)
    with shared_server.api(token) as api:
        got = api.post("/api/deployments", json={**REPORT, "source": source}).json()["data"]
        listed = api.get("/api/deployments").text
    assert got["source"] == "local git repository"
    assert "alice" not in listed and 'stack"' not in listed.replace("ai-stack", "")


def test_credentials_in_a_url_are_never_stored(shared_server, fresh_user):
    token = shared_server.login(fresh_user)
    source = "https://alice:ghp_s3cret@git.example.com/me/stack.git?token=t0k#frag"
    with shared_server.api(token) as api:
        got = api.post("/api/deployments", json={**REPORT, "source": source}).json()["data"]
        listed = api.get("/api/deployments").text
    assert got["source"] == "https://git.example.com/me/stack.git"
    assert "s3cret" not in listed and "t0k" not in listed


@pytest.mark.parametrize(
    "change",
    [
        {"name": "../etc"},
        {"name": ""},
        {"event": "explode"},
        {"version": ""},
        {"version": "x" * 129},
        {"source_kind": "ftp"},
        {"source": 5},
        {"release_name": "a b"},
        {"units": {"x.service; rm -rf": "active"}},
        {"units": {"x.service": "ACTIVE<script>"}},
        {"units": {f"u{i}.service": "active" for i in range(101)}},
        {"units": ["x.service"]},
    ],
    ids=lambda c: next(iter(c)) + "-" + str(c[next(iter(c))])[:12],
)
def test_bad_reports_are_refused_and_change_nothing(shared_server, fresh_user, change):
    token = shared_server.login(fresh_user)
    with shared_server.api(token) as api:
        resp = api.post("/api/deployments", json={**REPORT, **change})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "invalid_deployment"
        assert api.get("/api/deployments").json()["data"]["deployments"] == []


def test_the_body_cannot_name_another_device(shared_server, fresh_user):
    token = shared_server.login(fresh_user, device_id="node-real", hostname="real")
    with shared_server.api(token) as api:
        body = {**REPORT, "device_id": "node-forged", "hostname": "forged"}
        got = api.post("/api/deployments", json=body).json()["data"]
    assert (got["device_id"], got["hostname"]) == ("node-real", "real")


def test_needs_a_token_and_the_cookie_cannot_write(shared_server, fresh_user):
    token = shared_server.login(fresh_user)
    with shared_server.api() as anonymous:
        assert anonymous.post("/api/deployments", json=REPORT).status_code == 401
        assert anonymous.get("/api/deployments").status_code == 401
        anonymous.cookies.set("leger_session", token)
        refused = anonymous.post("/api/deployments", json=REPORT)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "cookie_write_refused"
        assert anonymous.get("/api/deployments").json()["data"]["deployments"] == []


ALICE = "127.0.0.2"


def test_the_device_is_the_one_tailscale_named_at_login(
    leger_server_factory: Callable[..., RunningServer], tailscale_localapi: LocalAPIStandIn
) -> None:
    tailscale_localapi.add_member(
        ALICE, login="alice@github", user_id=123456789, node_id=2929, hostname="alice-laptop"
    )
    server = leger_server_factory(identity="tailscale", env=tailscale_localapi.server_env())
    data = server.login_full(local_address=ALICE, hostname="alice-laptop")
    # Reported from another address: the token, not the connection of the report, names it.
    resp = httpx.post(
        server.url + "/api/deployments",
        json={**REPORT, "device_id": "n1CNTRL"},
        headers=bearer(data["token"]),
        timeout=10.0,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["device_id"] == "n2929CNTRL"


def test_migration_0005_reshapes_deployments_and_goes_back(storage, tmp_path):
    import sqlalchemy as sa

    from leger_server.db import current_revision, deployments, make_engine, migrate

    url = storage["database"] or f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    try:
        migrate(engine, "0004")
        old = {c["name"] for c in sa.inspect(engine).get_columns("deployments")}
        assert "status" in old and "version" not in old
        migrate(engine)
        assert current_revision(engine) == "0005"
        new = {c["name"] for c in sa.inspect(engine).get_columns("deployments")}
        assert new == {c.name for c in deployments.columns}  # db.py matches the migration

        from alembic import command

        from leger_server.db import _alembic_config

        command.downgrade(_alembic_config(engine), "0004")
        back = {c["name"] for c in sa.inspect(engine).get_columns("deployments")}
        assert back == old
    finally:
        engine.dispose()
