"""leger-server and the cloud client: log in, keep a key in your account, sync it to legerd."""

from __future__ import annotations

import socket

from demo_kit import BIN, Demo

TITLE = "leger-server: your account, its encrypted keys, and sync into legerd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(demo: Demo) -> None:
    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = demo.tmp / "server-data"
    demo.say("A leger-server with dev identity (trusts every login: development only), SQLite")
    demo.say("and blobs in its data dir; keys are generated there because this is dev:")
    demo.background(
        [
            str(BIN / "leger-server"), "serve", "--identity", "dev", "--host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir),
        ],
        log="leger-server.log",
    )  # fmt: skip

    def up() -> bool:
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    demo.wait_for(up, "leger-server", timeout=30)
    demo.state["server_url"] = url
    demo.sh(["curl", "-s", url + "/health"])

    demo.say("No Tailscale here, so the identity comes from config (the static provider):")
    for key, value in (
        ("identity.user_id", "u-demo"),
        ("identity.email", "demo@example.com"),
        ("identity.tailnet", "example.ts.net"),
        ("identity.device_id", "dev-demo"),
        ("identity.hostname", "demo-laptop"),
    ):
        demo.sh(["leger", "config", "set", key, value], show=False)
    demo.sh(["leger", "auth", "login", "--server", url])
    demo.sh(["leger", "auth", "status"])

    demo.say("A key goes into your account from stdin (never an argument), encrypted at rest:")
    demo.sh(["leger", "secrets", "set", "openai_api_key"], input="sk-demo-from-the-cloud\n")
    demo.sh(["leger", "secrets", "list"])
    demo.sh(["leger", "secrets", "get", "openai_api_key"])
    demo.say("The server's database never holds the value in clear:")
    db_files = sorted(str(p) for p in data_dir.glob("leger.db*"))
    demo.sh(["grep", "-c", "sk-demo-from-the-cloud", *db_files], expect=1)
    demo.say("Another user's token cannot see it (404, the JSON envelope):")
    other = httpx.post(
        url + "/api/auth/cli",
        json={"user_id": "u-other", "email": "o@example.com", "tailnet": "t", "device_id": "d"},
    ).json()["data"]["token"]
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
