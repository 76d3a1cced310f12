"""Encryption at rest: AAD binds user, name and version; key ids rotate; migrate is idempotent."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from leger_server.app import create_app
from leger_server.crypto import DecryptError, SecretCipher
from leger_server.db import make_engine, secrets
from leger_server.settings import KeySet, Settings
from leger_server.testing import bearer


def test_each_write_uses_a_fresh_nonce():
    cipher = SecretCipher(KeySet.generate())
    a = cipher.seal(b"same", user_uuid="u", name="n", version=1)
    b = cipher.seal(b"same", user_uuid="u", name="n", version=1)
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext and len(a.nonce) == 12


@pytest.mark.parametrize(
    "moved", [{"user_uuid": "other"}, {"name": "other"}, {"version": 2}], ids=str
)
def test_a_record_moved_to_another_user_name_or_version_does_not_decrypt(moved):
    cipher = SecretCipher(KeySet.generate())
    where = {"user_uuid": "u", "name": "n", "version": 1}
    sealed = cipher.seal(b"value", **where)
    assert cipher.open(sealed, **where) == b"value"
    with pytest.raises(DecryptError) as err:
        cipher.open(sealed, **{**where, **moved})
    assert "value" not in str(err.value).replace("'n'", "")


def test_rows_swapped_between_users_fail_closed(client: TestClient, app_settings, login):
    a, b = login(client, "alice"), login(client, "bob")
    client.post("/api/secrets/k", json={"value": "alice-value"}, headers=bearer(a))
    client.post("/api/secrets/k", json={"value": "bob-value"}, headers=bearer(b))
    engine = make_engine(app_settings.database_url)
    with engine.begin() as conn:
        rows = {r.user_uuid: r for r in conn.execute(sa.select(secrets))}
        uuids = sorted(rows)
        for src, dst in ((uuids[0], uuids[1]), (uuids[1], uuids[0])):
            conn.execute(
                secrets.update()
                .where(secrets.c.secret_id == rows[dst].secret_id)
                .values(ciphertext=rows[src].ciphertext, nonce=rows[src].nonce)
            )
    resp = client.get("/api/secrets/k", headers=bearer(a))
    assert resp.status_code == 500
    assert "value" not in resp.json()["error"]["message"]


def _cli(*args: str, env=None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "leger_server.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_rotate_key_reencrypts_and_old_servers_keep_reading(tmp_path):
    data = tmp_path / "data"
    settings = Settings.build(data_dir=data, identity="dev", env={})
    with TestClient(create_app(settings)) as c:
        token = c.post(
            "/api/auth/cli",
            json={"user_id": "u", "email": "e", "tailnet": "t", "device_id": "d"},
        ).json()["data"]["token"]
        c.post("/api/secrets/k", json={"value": "v1"}, headers=bearer(token))
        result = _cli("rotate-key", "--data-dir", str(data), "--identity", "dev")
        assert result.returncode == 0, result.stderr
        assert "re-encrypted 1 secret(s) with key k2" in result.stdout
        with make_engine(settings.database_url).connect() as conn:
            assert {r.key_id for r in conn.execute(sa.select(secrets))} == {"k2"}
        # This app loaded only k1 at start; it re-reads the keys file on meeting k2.
        assert c.get("/api/secrets/k", headers=bearer(token)).json()["data"]["value"] == "v1"
        c.post("/api/secrets/k", json={"value": "v2"}, headers=bearer(token))
    keys = KeySet.from_json(__import__("json").loads((data / "keys.json").read_text()))
    assert keys.active_key == "k2" and set(keys.encryption_keys) == {"k1", "k2"}


def test_rotate_key_with_env_keys_needs_no_new(tmp_path):
    import base64
    import secrets as s

    env = {
        "LEGER_SERVER_JWT_SECRET": s.token_hex(32),
        "LEGER_SERVER_ENCRYPTION_KEYS": "a:" + base64.b64encode(s.token_bytes(32)).decode(),
    }
    result = _cli("rotate-key", "--data-dir", str(tmp_path), "--identity", "dev", env=env)
    assert result.returncode != 0 and "--no-new" in result.stderr
    result = _cli(
        "rotate-key", "--no-new", "--data-dir", str(tmp_path), "--identity", "dev", env=env
    )
    assert result.returncode == 0 and "with key a" in result.stdout


def _head() -> str:
    from alembic.script import ScriptDirectory

    from leger_server.db import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def test_migrate_is_idempotent(tmp_path):
    args = ("migrate", "--data-dir", str(tmp_path / "d"), "--identity", "dev")
    first = _cli(*args)
    assert first.returncode == 0 and f"revision {HEAD} (was empty)" in first.stdout
    second = _cli(*args)
    assert second.returncode == 0 and f"revision {HEAD} (was {HEAD})" in second.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'd' / 'leger.db'}")
    tables = set(sa.inspect(engine).get_table_names())
    assert {"users", "secrets", "releases", "configurations", "deployments"} <= tables
    assert "revoked_tokens" in tables


def test_a_database_from_before_revocations_is_upgraded_keeping_its_data(tmp_path):
    from leger_server.db import migrate

    data = tmp_path / "d"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'leger.db'}")
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (user_uuid, tailscale_user_id, tailscale_email, "
                             "tailnet, created_at, last_seen, total_authentications) VALUES "
                             "('u-old', 't-old', 'old@example.com', 'n', '2026-01-01', "
                             "'2026-01-01', 3)"))  # fmt: skip
    result = _cli("migrate", "--data-dir", str(data), "--identity", "dev")
    assert result.returncode == 0 and f"revision {HEAD} (was 0001)" in result.stdout
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT tailscale_email FROM users")).scalar() == (
            "old@example.com"
        )
    assert "revoked_tokens" in sa.inspect(engine).get_table_names()
    assert "login_codes" in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:  # the existing user starts at token generation 0
        assert conn.execute(sa.text("SELECT token_generation FROM users")).scalar() == 0


@pytest.mark.postgres
def test_migrate_on_postgresql(postgres_cluster, tmp_path):
    url = postgres_cluster.new_database()
    result = _cli("migrate", "--data-dir", str(tmp_path), "--identity", "dev", "--database", url)
    assert result.returncode == 0, result.stderr
    tables = set(sa.inspect(make_engine(url)).get_table_names())
    assert {"users", "secrets", "releases", "schemas", "rendered_quadlets"} <= tables


def test_table_objects_match_the_migration(tmp_path):
    """db.py's Tables and the alembic revision describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from leger_server.db import metadata, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # The future tables exist only in the migration (no Table objects yet): only removals.
    assert all(d[0] == "remove_table" for d in diff if isinstance(d, tuple)), diff
