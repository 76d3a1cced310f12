"""Login, tokens and the account: the seeds' shapes, pinned HS256, expiry, rate limits."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from starlette.testclient import TestClient

from leger_server.app import create_app
from leger_server.settings import Settings
from leger_server.testing import bearer
from leger_server.users import user_uuid_for


def test_login_returns_token_and_user_in_the_envelope(client: TestClient) -> None:
    resp = client.post(
        "/api/auth/cli",
        json={
            "device_id": "d987654321",
            "user_id": "u123456789",
            "email": "alice@github",
            "tailnet": "example.ts.net",
            "hostname": "alice-laptop",
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True
    user = body["data"]["user"]
    assert user["user_uuid"] == user_uuid_for("u123456789")
    assert user["email"] == "alice@github"
    assert user["total_authentications"] == 1
    claims = jwt.decode(body["data"]["token"], options={"verify_signature": False})
    assert claims["sub"] == user["user_uuid"]
    assert claims["exp"] - claims["iat"] == 30 * 86400
    assert jwt.get_unverified_header(body["data"]["token"])["alg"] == "HS256"


def test_second_login_counts_and_keeps_the_same_uuid(client: TestClient, login) -> None:
    login(client, "u1")
    token = login(client, "u1", device_id="other-device")
    me = client.get("/api/me", headers=bearer(token)).json()["data"]
    assert me["total_authentications"] == 2
    assert me["last_device_id"] == "other-device"


@pytest.mark.parametrize("missing", ["user_id", "email", "tailnet", "device_id"])
def test_login_without_a_field_is_refused(client: TestClient, missing: str) -> None:
    body = {"user_id": "u", "email": "e", "tailnet": "t", "device_id": "d", "hostname": "h"}
    del body[missing]
    resp = client.post("/api/auth/cli", json=body)
    assert resp.status_code == 400
    assert resp.json()["success"] is False
    assert missing in resp.json()["error"]["message"]


def test_login_with_bad_json_is_a_clear_400(client: TestClient) -> None:
    resp = client.post(
        "/api/auth/cli", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_json"


def test_validate_returns_the_user(client: TestClient, login) -> None:
    token = login(client)
    resp = client.post("/api/auth/validate", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json()["data"]["user"]["email"] == "u1@example.com"


def _forge(payload: dict[str, object], key: bytes, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


def _alg_none(payload: dict[str, object]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


@pytest.mark.parametrize("kind", ["alg_none", "wrong_key", "expired", "no_exp", "garbage"])
def test_bad_tokens_get_401(client: TestClient, app_settings: Settings, kind: str, login) -> None:
    token = login(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    key = app_settings.keys.jwt_secret
    now = int(time.time())
    forged = {
        "alg_none": lambda: _alg_none(claims),
        "wrong_key": lambda: _forge(claims, b"x" * 32),
        "expired": lambda: _forge({**claims, "iat": now - 100, "exp": now - 10}, key),
        "no_exp": lambda: _forge({k: v for k, v in claims.items() if k != "exp"}, key),
        "garbage": lambda: "not.a.jwt",
    }[kind]()
    for path in ("/api/me", "/api/secrets", "/api/releases"):
        resp = client.get(path, headers=bearer(forged))
        assert resp.status_code == 401, (kind, path)
        assert resp.json()["success"] is False
    assert client.post("/api/auth/validate", headers=bearer(forged)).status_code == 401


def test_no_token_is_401_with_an_action(client: TestClient) -> None:
    resp = client.get("/api/secrets")
    assert resp.status_code == 401
    assert "leger auth login" in resp.json()["error"]["action"]


def test_patch_me_sets_display_name_up_to_32_chars(client: TestClient, login) -> None:
    token = login(client)
    resp = client.patch("/api/me", json={"display_name": "Alice Smith"}, headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json()["data"]["display_name"] == "Alice Smith"
    resp = client.patch("/api/me", json={"display_name": "x" * 33}, headers=bearer(token))
    assert resp.status_code == 400
    assert client.get("/api/me", headers=bearer(token)).json()["data"]["display_name"] == (
        "Alice Smith"
    )


def test_auth_endpoints_are_rate_limited(tmp_path, login) -> None:
    settings = Settings.build(
        data_dir=tmp_path / "d", identity="dev", env={}, auth_rate_limit=3, auth_rate_window=60
    )
    with TestClient(create_app(settings)) as c:
        for _ in range(3):
            login(c)
        resp = c.post(
            "/api/auth/cli",
            json={"user_id": "u", "email": "e", "tailnet": "t", "device_id": "d"},
        )
        assert resp.status_code == 429
        assert resp.json()["error"]["code"] == "rate_limited"


def test_json_bodies_are_bounded(client: TestClient) -> None:
    resp = client.post(
        "/api/auth/cli",
        content=b'{"a": "' + b"x" * (300 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413


def test_health_is_public(client: TestClient) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "healthy"


def test_non_dev_identity_refuses_to_start_without_keys(tmp_path) -> None:
    from leger_server.errors import SettingsError

    with pytest.raises(SettingsError, match="LEGER_SERVER_JWT_SECRET"):
        Settings.build(
            data_dir=tmp_path / "d",
            identity="tailscale",
            env={"LEGER_SERVER_TAILSCALE_API_KEY": "k"},
        )
    assert not (tmp_path / "d" / "keys.json").exists()


def test_unexpected_errors_are_a_500_envelope_without_details(app_settings, caplog) -> None:
    from starlette.routing import Route

    async def boom(request):
        raise RuntimeError("sk-value-that-must-not-be-logged")

    app = create_app(app_settings, extra_routes=[Route("/boom", boom)])
    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.get("/boom")
    assert resp.status_code == 500
    assert resp.json() == {
        "success": False,
        "error": {"code": "internal_error", "message": "internal server error"},
    }
    assert "sk-value" not in caplog.text and "RuntimeError" in caplog.text


def test_two_tokens_issued_in_the_same_second_differ_and_both_validate(
    client: TestClient, app_settings: Settings, login, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leger_server import tokens as tokens_module
    from leger_server.tokens import TokenService

    second_start = float(int(time.time()) - 60)  # one fixed second, a minute ago
    monkeypatch.setattr(tokens_module.time, "time", lambda: second_start + 0.25)
    service = TokenService(app_settings.keys.jwt_secret)
    claims = {"user_uuid": "uu", "tailscale_user_id": "u", "email": "u@x", "tailnet": "t"}
    first, second = service.issue(**claims), service.issue(**claims)
    assert first != second
    decoded = [
        jwt.decode(t, app_settings.keys.jwt_secret, algorithms=["HS256"]) for t in (first, second)
    ]
    assert decoded[0]["jti"] != decoded[1]["jti"]
    for token, payload in zip((first, second), decoded, strict=True):
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        assert payload["exp"] - payload["iat"] == 30 * 86400
        assert service.verify(token).user_uuid == "uu"
    monkeypatch.undo()
    # Through the API: two logins in a row, two sessions that both work.
    tokens = [login(client), login(client)]
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_user_uuid_is_uuid5_of_the_tailscale_user_id_and_never_changes() -> None:
    # The account's id names its secrets in legerd (leger/<user_uuid>/…): a changed derivation
    # would orphan every synced secret, so the value itself is pinned here.
    assert user_uuid_for("123456789") == "e643f480-1f3c-509c-bab3-1b512320e0ec"
    assert user_uuid_for("123456789") != user_uuid_for("123456780")


def test_login_records_last_seen_device_and_cli_version(client: TestClient, login) -> None:
    token = login(client, "u-seen", cli_version="0.1.0")
    first = client.get("/api/me", headers=bearer(token)).json()["data"]
    assert first["cli_version"] == "0.1.0" and first["last_device_id"] == "d-u-seen"
    time.sleep(1.05)  # last_seen is kept to the second
    token = login(client, "u-seen", cli_version="0.2.0", device_id="d-second")
    second = client.get("/api/me", headers=bearer(token)).json()["data"]
    assert second["cli_version"] == "0.2.0" and second["last_device_id"] == "d-second"
    assert second["last_seen"] > first["last_seen"]
    assert second["total_authentications"] == 2


def test_reading_a_secret_records_when(client: TestClient, login) -> None:
    headers = bearer(login(client, "u-accessed"))
    client.post("/api/secrets/groq_api_key", json={"value": "gsk_x"}, headers=headers)
    before = client.get("/api/secrets", headers=headers).json()["data"]["secrets"][0]
    assert before["last_accessed"] is None  # written, never read
    assert client.get("/api/secrets/groq_api_key", headers=headers).json()["data"]["value"] == (
        "gsk_x"
    )
    after = client.get("/api/secrets", headers=headers).json()["data"]["secrets"][0]
    assert after["last_accessed"] is not None


def test_token_validation_shares_the_auth_rate_limit(tmp_path, login) -> None:
    settings = Settings.build(
        data_dir=tmp_path / "d", identity="dev", env={}, auth_rate_limit=3, auth_rate_window=60
    )
    with TestClient(create_app(settings)) as c:
        token = login(c)  # one of the three
        for _ in range(2):
            assert c.post("/api/auth/validate", headers=bearer(token)).status_code == 200
        resp = c.post("/api/auth/validate", headers=bearer(token))
        assert resp.status_code == 429
        assert resp.json()["error"]["code"] == "rate_limited" and "retry in" in str(resp.json())


def test_logout_revokes_that_token_only(client: TestClient, login) -> None:
    first, second = login(client, "u-out"), login(client, "u-out", device_id="d-other")
    assert client.post("/api/auth/logout", headers=bearer(first)).json() == {
        "success": True,
        "data": {"logged_out": True},
    }
    resp = client.get("/api/me", headers=bearer(first))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_revoked"
    assert client.post("/api/auth/logout", headers=bearer(first)).status_code == 401
    assert client.get("/api/me", headers=bearer(second)).status_code == 200  # other machine
    assert client.post("/api/auth/logout").status_code == 401  # no token: nothing to log out


def test_tokens_without_a_jti_are_refused(client: TestClient, app_settings) -> None:
    now = int(time.time())
    legacy = jwt.encode(
        {"sub": user_uuid_for("u1"), "iat": now, "exp": now + 60},
        app_settings.keys.jwt_secret,
        algorithm="HS256",
    )
    assert client.get("/api/me", headers=bearer(legacy)).status_code == 401


def test_revocations_of_expired_tokens_are_purged(app_settings) -> None:
    import sqlalchemy as sa

    from leger_server.db import make_engine, migrate, revoked_tokens
    from leger_server.revocations import TokenRevocations
    from leger_server.tokens import TokenClaims

    engine = make_engine(app_settings.database_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (user_uuid, tailscale_user_id, tailscale_email, "
                             "tailnet, created_at, last_seen, total_authentications) VALUES "
                             "('u', 't', 'e', 'n', '2026-01-01', '2026-01-01', 0)"))  # fmt: skip
    store = TokenRevocations(engine)
    now = int(time.time())
    old = TokenClaims("u", "t", "e", "n", now - 100, now - 10, "expired-jti")
    new = TokenClaims("u", "t", "e", "n", now, now + 600, "live-jti")
    store.revoke(old)
    store.revoke(new)
    store.revoke(new)  # twice: still one row, no error
    with engine.connect() as conn:
        jtis = sorted(r.jti for r in conn.execute(sa.select(revoked_tokens.c.jti)))
    assert jtis == ["live-jti"]
    assert store.is_revoked("live-jti") and not store.is_revoked("expired-jti")


def test_the_rate_limit_counts_each_client_behind_a_local_proxy(leger_server_factory) -> None:
    """docs/server.md: from a trusted proxy (127.0.0.1 by default) the client is the one in
    X-Forwarded-For, so users behind the proxy do not share one counter."""
    import httpx

    server = leger_server_factory(env={"LEGER_SERVER_AUTH_RATE_LIMIT": "2"})
    body = {"user_id": "u", "email": "u@e", "tailnet": "t", "device_id": "d"}

    def login_from(client_ip: str) -> int:
        resp = httpx.post(server.url + "/api/auth/cli", json=body,
                          headers={"X-Forwarded-For": client_ip})  # fmt: skip
        return resp.status_code

    assert [login_from("192.0.2.10") for _ in range(3)] == [200, 200, 429]
    assert login_from("192.0.2.11") == 200  # another client behind the same proxy


def test_a_token_from_before_logout_all_existed_works_until_logout_all(
    client: TestClient, app_settings, login
) -> None:
    """Tokens issued before migration 0003 carry no ``gen``: they count as generation 0, so
    they keep working after the upgrade, and "log out everywhere" ends them like the rest."""
    login(client, "u-old")
    now = int(time.time())
    old = jwt.encode(
        {"sub": user_uuid_for("u-old"), "iat": now, "exp": now + 600, "jti": "before-0003"},
        app_settings.keys.jwt_secret,
        algorithm="HS256",
    )
    assert client.get("/api/me", headers=bearer(old)).status_code == 200
    newer = login(client, "u-old")
    assert client.post("/api/auth/logout-all", headers=bearer(newer)).status_code == 200
    for token in (old, newer):
        resp = client.get("/api/me", headers=bearer(token))
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_revoked"
    other = login(client, "u-other")  # another account is not touched
    assert client.get("/api/me", headers=bearer(other)).status_code == 200


def test_logout_all_needs_a_token_and_changes_nothing_without_one(
    client: TestClient, login
) -> None:
    token = login(client, "u-keep")
    resp = client.post("/api/auth/logout-all")
    assert resp.status_code == 401 and resp.json()["error"]["action"]
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
