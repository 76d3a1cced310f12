"""Who logs in is learned from the connection: tailscaled's WhoIs of the peer (a stand-in of the
LocalAPI speaking its documented JSON, with tailnet members at 127.0.0.2, 127.0.0.3, …), or
tailscale serve's headers from a trusted proxy. A claim in the body is never believed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leger_server.testing import (
    LocalAPIStandIn,
    RunningServer,
    TailscaleAPIStandIn,
    bearer,
    free_port,
)
from leger_server.users import user_uuid_for

ALICE, BOB, TAGGED, STRANGER = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9"
ALICE_CLAIM = {
    "user_id": "123456789",
    "email": "alice@github",
    "tailnet": "example.com",
    "device_id": "n2929CNTRL",
    "hostname": "alice-laptop",
}


@pytest.fixture
def tailnet(tailscale_localapi: LocalAPIStandIn) -> LocalAPIStandIn:
    tailscale_localapi.add_member(
        ALICE, login="alice@github", user_id=123456789, node_id=2929, hostname="alice-laptop"
    )
    tailscale_localapi.add_member(
        BOB, login="bob@github", user_id=987654321, node_id=3131, hostname="bobs-phone"
    )
    tailscale_localapi.add_member(
        TAGGED, login="", user_id=1, node_id=4141, hostname="ci", tags=["tag:ci"]
    )
    return tailscale_localapi


@pytest.fixture
def ts_server(leger_server_factory: Callable[..., RunningServer], tailnet) -> RunningServer:
    server: RunningServer = leger_server_factory(identity="tailscale", env=tailnet.server_env())
    return server


def post_from(address: str, url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10.0) as client:
        return client.post(url, **kwargs)


def test_each_member_gets_their_own_account_from_whois(ts_server, tailnet) -> None:
    alice = post_from(ALICE, ts_server.url + "/api/auth/cli", json={"hostname": "alice-laptop"})
    assert alice.status_code == 200, alice.text
    user = alice.json()["data"]["user"]
    # The same UUID a login by claim made before this change: existing accounts are kept.
    assert user["user_uuid"] == user_uuid_for("123456789")
    assert (user["email"], user["tailnet"], user["last_device_id"]) == (
        "alice@github", "example.com", "n2929CNTRL",
    )  # fmt: skip
    bob = post_from(BOB, ts_server.url + "/api/auth/cli", json={})
    assert bob.json()["data"]["user"]["user_uuid"] == user_uuid_for("987654321")
    # The server asked tailscaled about the peer's own address and port.
    assert tailnet.asked[0].startswith(f"{ALICE}:") and tailnet.asked[0] != f"{ALICE}:0"
    token = alice.json()["data"]["token"]
    me = httpx.get(ts_server.url + "/api/me", headers=bearer(token)).json()["data"]
    assert me["email"] == "alice@github"


def test_the_whole_claim_of_a_member_is_accepted_when_it_is_true(ts_server) -> None:
    resp = post_from(ALICE, ts_server.url + "/api/auth/cli", json=ALICE_CLAIM)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["user"]["user_uuid"] == user_uuid_for("123456789")


@pytest.mark.parametrize(
    "forged",
    [
        ALICE_CLAIM,
        {"user_id": "123456789"},
        {"email": "alice@github"},
        {"device_id": "n2929CNTRL"},
        {"tailnet": "someone-elses.example"},
    ],
    ids=["all", "user_id", "email", "device_id", "tailnet"],
)
def test_a_member_posting_another_members_identifiers_is_refused(
    ts_server, forged: dict[str, str]
) -> None:
    resp = post_from(BOB, ts_server.url + "/api/auth/cli", json=forged)
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "identity_mismatch" and "Tailscale" in error["action"]
    assert "token" not in resp.text
    # Alice's account was never made or touched by Bob's attempt.
    alice = post_from(ALICE, ts_server.url + "/api/auth/cli", json={})
    assert alice.json()["data"]["user"]["total_authentications"] == 1


def test_a_peer_whois_does_not_know_is_refused(ts_server, tailnet) -> None:
    resp = post_from(STRANGER, ts_server.url + "/api/auth/cli", json=ALICE_CLAIM)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["code"] == "not_a_tailnet_peer" and "Tailscale" in error["action"]
    assert any(a.startswith(f"{STRANGER}:") for a in tailnet.asked)


def test_a_forwarded_for_header_cannot_borrow_a_members_address(ts_server) -> None:
    """uvicorn would take the client address from X-Forwarded-For when the peer is 127.0.0.1;
    with a Tailscale identity the TCP peer is the identity, so the header changes nothing."""
    resp = post_from(
        "127.0.0.1", ts_server.url + "/api/auth/cli", json={}, headers={"X-Forwarded-For": ALICE}
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "not_a_tailnet_peer"


def test_a_tagged_node_is_refused(ts_server) -> None:
    resp = post_from(TAGGED, ts_server.url + "/api/auth/cli", json={})
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "tagged_node"
    assert "tag:ci" in resp.json()["error"]["message"]


def test_tailscaled_unreachable_is_503_and_no_token(leger_server_factory, tailnet) -> None:
    env = {**tailnet.server_env(), "LEGER_SERVER_TAILSCALE_SOCKET": "/nonexistent/ts.sock"}
    server = leger_server_factory(identity="tailscale", env=env)
    resp = post_from(ALICE, server.url + "/api/auth/cli", json={})
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "tailscale_unavailable"


def test_an_account_made_by_a_claim_login_is_the_same_account_by_whois(
    leger_server_factory, tailnet, tmp_path
) -> None:
    """Migration: users who logged in before (by claim) keep their account and their keys."""
    data = tmp_path / "upgraded"
    old = leger_server_factory(data_dir=data, identity="dev")
    token = old.login_full("123456789", "alice@github")["token"]
    with old.api(token) as api:
        assert api.put("/api/secrets/openai_api_key", json={"value": "sk-old"}).status_code in (
            200, 201,
        )  # fmt: skip
    old.stop()
    env = {"LEGER_SERVER_TAILSCALE_SOCKET": tailnet.socket_path}  # the keys file stays
    new = leger_server_factory(data_dir=data, identity="tailscale", env=env)
    token = new.login_full(local_address=ALICE)["token"]
    with new.api(token) as api:
        assert api.get("/api/secrets/openai_api_key").json()["data"]["value"] == "sk-old"


def test_the_tailscale_api_check_is_an_extra_keyed_by_whois(
    leger_server_factory, tailnet, tailscale_api: TailscaleAPIStandIn
) -> None:
    # The API knows Alice's device (by the StableID WhoIs reports); Bob's is not authorized.
    tailscale_api.add_device("-", node_id="n2929CNTRL", user="alice@github", user_id="123456789")
    tailscale_api.add_device(
        "-", node_id="n3131CNTRL", user="bob@github", user_id="987654321", authorized=False
    )
    env = {
        **tailnet.server_env(),
        "LEGER_SERVER_TAILSCALE_API_KEY": tailscale_api.api_key,
        "LEGER_SERVER_TAILSCALE_API_BASE": tailscale_api.url,
    }
    server = leger_server_factory(identity="tailscale", env=env)
    assert post_from(ALICE, server.url + "/api/auth/cli", json={}).status_code == 200
    bob = post_from(BOB, server.url + "/api/auth/cli", json={})
    assert bob.status_code == 401 and "not authorized" in bob.json()["error"]["message"]
    # A claim of Alice's (authorized) device from Bob's connection changes nothing.
    bob = post_from(BOB, server.url + "/api/auth/cli", json={"device_id": "n2929CNTRL"})
    assert bob.status_code == 403


def test_tailscale_serve_headers_are_believed_from_loopback_only(
    leger_server_factory, tailnet
) -> None:
    server = leger_server_factory(identity="tailscale-serve", env=tailnet.server_env())
    headers = {"Tailscale-User-Login": "alice@github", "Tailscale-User-Name": "Alice"}
    trusted = post_from("127.0.0.1", server.url + "/api/auth/cli", json={}, headers=headers)
    assert trusted.status_code == 200, trusted.text
    assert trusted.json()["data"]["user"]["email"] == "alice@github"
    # The same headers from any other peer are refused, and do not make an account.
    forged = post_from(BOB, server.url + "/api/auth/cli", json={}, headers=headers)
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "untrusted_proxy"
    # From the proxy, a body naming another login is refused too.
    other = post_from(
        "127.0.0.1", server.url + "/api/auth/cli", json={"email": "bob@github"}, headers=headers
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "identity_mismatch"
    none = post_from("127.0.0.1", server.url + "/api/auth/cli", json={})
    assert none.status_code == 401


def test_tailscale_serve_finds_the_account_whois_made(
    leger_server_factory, tailnet, tmp_path
) -> None:
    """Moving a server behind tailscale serve keeps each user's account (found by login name,
    since the headers carry no user id), and its tailnet."""
    data, env = tmp_path / "moved", tailnet.server_env()
    direct = leger_server_factory(data_dir=data, identity="tailscale", env=env)
    before = direct.login_full(local_address=ALICE)["user"]
    direct.stop()
    served = leger_server_factory(data_dir=data, identity="tailscale-serve", env=env)
    headers = {"Tailscale-User-Login": "alice@github"}
    after = post_from("127.0.0.1", served.url + "/api/auth/cli", json={}, headers=headers)
    user = after.json()["data"]["user"]
    assert (user["user_uuid"], user["tailnet"]) == (before["user_uuid"], "example.com")
    assert user["user_uuid"] == user_uuid_for("123456789")
    # A body claiming another user id for that login is refused.
    forged = post_from(
        "127.0.0.1", served.url + "/api/auth/cli", json={"user_id": "987654321"}, headers=headers
    )
    assert forged.status_code == 403


def test_tailscale_serve_trusts_only_the_configured_proxies(leger_server_factory, tailnet) -> None:
    server = leger_server_factory(
        identity="tailscale-serve",
        env=tailnet.server_env(),
        extra_args=["--trusted-proxy", "127.0.0.5"],
    )
    headers = {"Tailscale-User-Login": "alice@github"}
    assert post_from("127.0.0.5", server.url + "/api/auth/cli", headers=headers, json={}).is_success
    loopback = post_from("127.0.0.1", server.url + "/api/auth/cli", headers=headers, json={})
    assert loopback.status_code == 403


def test_behind_tailscale_serve_the_rate_limit_counts_each_login(
    leger_server_factory, tailnet
) -> None:
    """Every request comes from the proxy's address: counting by address would let one user's
    retries lock out everyone; the limit counts the login the proxy vouches for instead."""
    env = {**tailnet.server_env(), "LEGER_SERVER_AUTH_RATE_LIMIT": "2"}
    server = leger_server_factory(identity="tailscale-serve", env=env)

    def login(who: str) -> int:
        headers = {"Tailscale-User-Login": who}
        return post_from(
            "127.0.0.1", server.url + "/api/auth/cli", json={}, headers=headers
        ).status_code

    assert [login("alice@github") for _ in range(3)] == [200, 200, 429]
    assert login("bob@github") == 200


def test_a_bad_trusted_proxy_stops_the_server_with_a_clear_error(tmp_path, tailnet) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run(
        [str(Path(sys.executable).with_name("leger-server")), "serve", "--data-dir",
         str(tmp_path / "d"), "--identity", "tailscale-serve", "--trusted-proxy", "not-an-ip",
         "--port", str(free_port())],
        env={**os.environ, **tailnet.server_env()}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "not an IP address or network: 'not-an-ip'" in proc.stderr


def test_tailscale_server_has_no_keys_file_and_no_dev_warning(ts_server):
    assert not (ts_server.data_dir / "keys.json").exists()
    assert "DEV IDENTITY" not in ts_server.log()
    assert "WARNING" not in ts_server.log()


def test_dev_identity_must_be_asked_for_and_says_so_loudly(leger_server_factory, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    dev = leger_server_factory(identity="dev")
    assert "WARNING: --identity dev trusts every login claim" in dev.log()
    assert "DEV IDENTITY" in dev.log()
    # Without --identity the server asks tailscaled: with no keys it refuses to start (dev
    # would have generated keys) and writes no keys file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGER_SERVER_")}
    data = tmp_path / "default-identity"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("leger-server")), "serve", "--data-dir", str(data),
         "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "only --identity dev generates them" in proc.stderr
    assert "WARNING: --identity dev" not in proc.stderr
    assert not (data / "keys.json").exists()
