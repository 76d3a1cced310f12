"""leger-server and the cloud client: log in, keep a key in your account, sync it to legerd."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from demo_kit import BIN, Demo, DemoFailed, free_port

TITLE = "leger-server: log in by Tailscale WhoIs, your encrypted keys, and sync into legerd"


def _localapi(demo: Demo) -> Any:
    """A stand-in for tailscaled (its LocalAPI's documented WhoIs JSON, on a Unix socket):
    this machine (127.0.0.1) is the demo user's laptop, 127.0.0.3 is Mallory's, another member
    of the same tailnet."""
    from leger_server.testing import LocalAPIStandIn

    stand_in = LocalAPIStandIn(str(demo.tmp / "tailscaled.sock"), tailnet="example.ts.net")
    stand_in.add_member(
        "127.0.0.1", login="demo@example.com", user_id=1001, node_id=7, hostname="demo-laptop"
    )
    stand_in.add_member(
        "127.0.0.3", login="mallory@example.com", user_id=2002, node_id=9, hostname="mallory-pc"
    )
    stand_in.start()
    demo.cleanups.append(stand_in.stop)
    return stand_in


def _post_from(address: str, url: str, body: dict[str, str]) -> Any:
    import httpx

    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.post(url + "/api/auth/cli", json=body)


def run(demo: Demo) -> None:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = demo.tmp / "server-data"
    stand_in = _localapi(demo)
    demo.say("No tailscaled here: a stand-in of its LocalAPI answers WhoIs for two tailnet")
    demo.say("members, demo@example.com (this machine, 127.0.0.1) and mallory@example.com")
    demo.say("(127.0.0.3). leger-server --identity tailscale asks it who each login's peer is;")
    demo.say("SQLite and blobs in its data dir, keys from the environment:")
    keys = {
        "LEGER_SERVER_JWT_SECRET": secrets.token_hex(32),
        "LEGER_SERVER_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    demo.background(
        [
            str(BIN / "leger-server"), "serve", "--identity", "tailscale",
            "--tailscale-socket", stand_in.socket_path, "--host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir),
        ],
        env=keys,
        log="leger-server.log",
    )  # fmt: skip
    demo.wait_healthy(url, "leger-server")
    demo.state["server_url"] = url
    demo.sh(["curl", "-s", url + "/health"])

    demo.say("The CLI reports what this machine knows of itself (from config here, as")
    demo.say("`tailscale status` would); the server only checks it against WhoIs:")
    for key, value in (
        ("identity.user_id", "1001"),
        ("identity.email", "demo@example.com"),
        ("identity.tailnet", "example.ts.net"),
        ("identity.device_id", "n7CNTRL"),
        ("identity.hostname", "demo-laptop"),
    ):
        demo.sh(["leger", "config", "set", key, value], show=False)
    demo.sh(["leger", "auth", "login", "--server", url])
    demo.sh(["leger", "auth", "status"])

    demo.say("Mallory, from her own machine, posts the demo user's identifiers (all visible in")
    demo.say("`tailscale status --json` to every member): refused, the connection is hers.")
    forged = _post_from(
        "127.0.0.3",
        url,
        {"user_id": "1001", "email": "demo@example.com", "tailnet": "example.ts.net",
         "device_id": "n7CNTRL", "hostname": "demo-laptop"},
    )  # fmt: skip
    print(f"  POST /api/auth/cli from 127.0.0.3 with demo's ids -> {forged.status_code} "
          f"{forged.json()['error']['code']}: {forged.json()['error']['message']}")  # fmt: skip
    if forged.status_code != 403:
        raise DemoFailed(f"a forged login was not refused: {forged.status_code}")
    stranger = _post_from("127.0.0.9", url, {})
    print(f"  POST /api/auth/cli from 127.0.0.9 (not on the tailnet) -> {stranger.status_code} "
          f"{stranger.json()['error']['code']}")  # fmt: skip
    if stranger.status_code != 401:
        raise DemoFailed(f"a peer WhoIs does not know was not refused: {stranger.status_code}")

    demo.say("A key goes into your account from stdin (never an argument), encrypted at rest:")
    demo.sh(["leger", "secrets", "set", "openai_api_key"], input="sk-demo-from-the-cloud\n")
    demo.sh(["leger", "secrets", "list"])
    demo.sh(["leger", "secrets", "get", "openai_api_key"])
    demo.say("The server's database never holds the value in clear:")
    db_files = sorted(str(p) for p in data_dir.glob("leger.db*"))
    demo.sh(["grep", "-c", "sk-demo-from-the-cloud", *db_files], expect=1)
    demo.say("Mallory's own login gets her own account; her token cannot see it (404):")
    other = _post_from("127.0.0.3", url, {}).json()["data"]["token"]
    resp = httpx.get(
        url + "/api/secrets/openai_api_key", headers={"Authorization": f"Bearer {other}"}
    )
    print(f"  GET /api/secrets/openai_api_key as another user -> {resp.status_code} {resp.text}")

    if demo.state.get("legerd_socket"):
        demo.say("Sync copies the account's keys into legerd under leger/<user_uuid>/:")
        demo.sh(["leger", "secrets", "sync"])
        demo.say("A second sync changes nothing (no new versions):")
        demo.sh(["leger", "secrets", "sync"])
        demo.sh(["leger", "local", "list"])
