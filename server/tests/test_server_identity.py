"""The tailscale verifier against a stand-in of the Tailscale API's device and user lists
(``GET /api/v2/tailnet/{tailnet}/devices`` and ``…/users``, the documented JSON)."""

from __future__ import annotations

import httpx
import pytest

from leger_server.testing import RunningServer, TailscaleAPIStandIn, free_port


@pytest.fixture
def ts_server(leger_server_factory, tailscale_api: TailscaleAPIStandIn) -> RunningServer:
    tailscale_api.add_device(
        "example.ts.net",
        node_id="n292kg92CNTRL",
        legacy_id="92960230385",
        user="alice@github",
        user_id="123456789",
        hostname="alice-laptop",
    )
    # Bob is in the same tailnet, with a device of his own.
    tailscale_api.add_device(
        "example.ts.net", node_id="nBobsPhoneCNTRL", user="bob@github", user_id="987654321"
    )
    server: RunningServer = leger_server_factory(
        identity="tailscale", env=tailscale_api.server_env()
    )
    return server


def _claim(**overrides: str) -> dict[str, str]:
    return {
        "user_id": "123456789",
        "email": "alice@github",
        "tailnet": "example.ts.net",
        "device_id": "n292kg92CNTRL",
        "hostname": "alice-laptop",
        **overrides,
    }


def test_a_real_device_of_the_user_logs_in(ts_server, tailscale_api):
    resp = httpx.post(ts_server.url + "/api/auth/cli", json=_claim())
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["user"]["email"] == "alice@github"
    assert tailscale_api.calls[-1] == ("example.ts.net", f"Bearer {tailscale_api.api_key}")
    # The legacy numeric id works too.
    legacy = httpx.post(ts_server.url + "/api/auth/cli", json=_claim(device_id="92960230385"))
    assert legacy.is_success


@pytest.mark.parametrize(
    "overrides",
    [
        {"device_id": "nUnknownCNTRL"},
        {"email": "mallory@github"},
        {"tailnet": "other.ts.net"},
        {"user_id": "987654321"},  # Bob's id, from Alice's own device and login name
        {"user_id": "555555555"},  # nobody's id
        {"device_id": "nBobsPhoneCNTRL"},  # Bob's device, Alice's login name
    ],
    ids=["unknown-device", "other-user", "other-tailnet", "stolen-user-id", "unknown-user-id",
         "other-users-device"],
)  # fmt: skip
def test_false_claims_are_refused(ts_server, overrides):
    resp = httpx.post(ts_server.url + "/api/auth/cli", json=_claim(**overrides))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "tailscale_verification_failed"
    assert "action" in resp.json()["error"]
    assert "token" not in resp.json().get("data", {})


def test_a_stolen_user_id_reaches_nothing_of_its_owner(ts_server):
    """The account is derived from the user id: claiming Bob's id must not open Bob's."""
    bob = httpx.post(
        ts_server.url + "/api/auth/cli",
        json=_claim(user_id="987654321", email="bob@github", device_id="nBobsPhoneCNTRL"),
    )
    assert bob.status_code == 200, bob.text
    token = bob.json()["data"]["token"]
    saved = httpx.post(
        ts_server.url + "/api/secrets/openai_api_key",
        json={"value": "sk-bobs-own-key"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert saved.is_success, saved.text
    stolen = httpx.post(ts_server.url + "/api/auth/cli", json=_claim(user_id="987654321"))
    assert stolen.status_code == 401
    assert "another user" in stolen.json()["error"]["message"]
    again = httpx.post(
        ts_server.url + "/api/auth/validate", headers={"Authorization": f"Bearer {token}"}
    )
    assert again.json()["data"]["user"]["email"] == "bob@github"  # nothing was overwritten


def test_an_unauthorized_device_or_a_suspended_user_is_refused(leger_server_factory, tailscale_api):
    tailscale_api.add_device(
        "example.ts.net", node_id="nNewCNTRL", user="carol@github", user_id="1", authorized=False
    )
    tailscale_api.add_user("example.ts.net", user_id="2", login_name="dave@github",
                           status="suspended")  # fmt: skip
    tailscale_api.add_device("example.ts.net", node_id="nDaveCNTRL", user="dave@github",
                             user_id="2")  # fmt: skip
    server = leger_server_factory(identity="tailscale", env=tailscale_api.server_env())
    carol = _claim(user_id="1", email="carol@github", device_id="nNewCNTRL")
    dave = _claim(user_id="2", email="dave@github", device_id="nDaveCNTRL")
    for claim, why in ((carol, "not authorized"), (dave, "suspended")):
        resp = httpx.post(server.url + "/api/auth/cli", json=claim)
        assert resp.status_code == 401 and why in resp.json()["error"]["message"], resp.text


def test_tailscale_server_has_no_keys_file_and_no_dev_warning(ts_server):
    assert not (ts_server.data_dir / "keys.json").exists()
    assert "DEV IDENTITY" not in ts_server.log()


def test_unreachable_tailscale_api_is_503(leger_server_factory, tailscale_api):
    env = {
        **tailscale_api.server_env(),
        "LEGER_SERVER_TAILSCALE_API_BASE": f"http://127.0.0.1:{free_port()}",
    }
    server = leger_server_factory(identity="tailscale", env=env)
    resp = httpx.post(server.url + "/api/auth/cli", json=_claim())
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "tailscale_unavailable"


def test_dev_identity_must_be_asked_for_and_says_so_loudly(leger_server_factory, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    dev = leger_server_factory(identity="dev")
    assert "WARNING: --identity dev trusts every login claim" in dev.log()
    assert "DEV IDENTITY" in dev.log()
    # Without --identity the server verifies with Tailscale: with no keys and no API key it
    # refuses to start (dev would have generated keys) and writes no keys file.
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
