"""The tailscale verifier against a stand-in of the Tailscale API's device list
(``GET /api/v2/tailnet/{tailnet}/devices``, the documented JSON)."""

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
        hostname="alice-laptop",
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
    [{"device_id": "nUnknownCNTRL"}, {"email": "mallory@github"}, {"tailnet": "other.ts.net"}],
    ids=["unknown-device", "other-user", "other-tailnet"],
)
def test_false_claims_are_refused(ts_server, overrides):
    resp = httpx.post(ts_server.url + "/api/auth/cli", json=_claim(**overrides))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "tailscale_verification_failed"
    assert "action" in resp.json()["error"]


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
