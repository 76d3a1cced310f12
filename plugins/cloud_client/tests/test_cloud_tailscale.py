"""The Tailscale identity provider, against stand-ins of ``tailscale status --json`` and the
tailscaled LocalAPI socket built from their documented JSON; and the whole login against a
leger-server with --identity tailscale and a stand-in of tailscaled's LocalAPI (WhoIs)."""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import threading

from leger_core.config import Config
from leger_plugin_cloud.tailscale import identity_from_status, tailscale_identity

STATUS = {
    "Version": "1.76.1",
    "BackendState": "Running",
    "Self": {
        "ID": "nXyZ123CNTRL",
        "PublicKey": "nodekey:abc",
        "HostName": "alice-laptop",
        "DNSName": "alice-laptop.example.ts.net.",
        "OS": "linux",
        "UserID": 123456789,
        "TailscaleIPs": ["100.64.0.1"],
        "Online": True,
    },
    "User": {
        "123456789": {
            "ID": 123456789,
            "LoginName": "alice@github",
            "DisplayName": "Alice Smith",
            "ProfilePicURL": "",
        }
    },
    "CurrentTailnet": {
        "Name": "example.ts.net",
        "MagicDNSSuffix": "example.ts.net",
        "MagicDNSEnabled": True,
    },
    "MagicDNSSuffix": "example.ts.net",
}

EXPECTED = {
    "user_id": "123456789",
    "email": "alice@github",
    "tailnet": "example.ts.net",
    "device_id": "nXyZ123CNTRL",
    "hostname": "alice-laptop",
}


def _config(tmp_path, **table) -> Config:
    return Config(tmp_path / "c.toml", {"tailscale": table} if table else {})


def test_status_maps_to_the_identity_claim():
    identity = identity_from_status(STATUS)
    assert identity is not None
    assert {k: identity[k] for k in EXPECTED} == EXPECTED
    assert identity["source"] == "tailscale"


def test_stopped_or_logged_out_tailscale_gives_none():
    assert identity_from_status({**STATUS, "BackendState": "NeedsLogin"}) is None
    assert identity_from_status({**STATUS, "User": {}}) is None


def test_cli_stand_in_on_path(tmp_path):
    script = tmp_path / "tailscale"
    (tmp_path / "status.json").write_text(json.dumps(STATUS))
    script.write_text(f'#!/bin/sh\n[ "$1 $2" = "status --json" ] && cat {tmp_path}/status.json\n')
    script.chmod(0o755)
    identity = tailscale_identity(_config(tmp_path, bin=str(script)))
    assert identity is not None and identity["email"] == "alice@github"


def test_missing_tailscale_gives_none(tmp_path):
    config = _config(tmp_path, bin=str(tmp_path / "nope"), socket=str(tmp_path / "no.sock"))
    assert tailscale_identity(config) is None


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _LocalAPI(http.server.BaseHTTPRequestHandler):
    def address_string(self) -> str:
        return "local"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/localapi/v0/status":
            self.send_error(404)
            return
        body = json.dumps(STATUS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_localapi_socket_stand_in(tmp_path):
    sock = tmp_path / "tailscaled.sock"
    server = _UnixHTTPServer(str(sock), _LocalAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = _config(tmp_path, bin=str(tmp_path / "no-cli"), socket=str(sock))
        identity = tailscale_identity(config)
    finally:
        server.shutdown()
        server.server_close()
    assert identity is not None
    assert {k: identity[k] for k in EXPECTED} == EXPECTED


def test_disabled_provider_gives_none(tmp_path):
    assert tailscale_identity(_config(tmp_path, enabled=False)) is None
    assert os.environ.get("LEGER_TAILSCALE_BIN") is None or True


def test_login_with_tailscale_identity(
    leger_server_factory, tailscale_localapi, leger_cli, tmp_path
):
    """The whole login against ``--identity tailscale``: the server asks (its stand-in of)
    tailscaled who the CLI's connection is; what the CLI reports must agree."""
    # The CLI connects from 127.0.0.1: that is Alice's node, as the server's tailscaled sees it.
    tailscale_localapi.add_member(
        "127.0.0.1", login="alice@github", user_id=123456789, node_id=7, hostname="alice-laptop"
    )
    tailscale_localapi.tailnet = "example.ts.net"
    tailscale_localapi.members["127.0.0.1"]["Node"]["StableID"] = "nXyZ123CNTRL"
    server = leger_server_factory(identity="tailscale", env=tailscale_localapi.server_env())
    bindir = tmp_path / "ts-bin"
    bindir.mkdir()
    (tmp_path / "status.json").write_text(json.dumps(STATUS))
    fake = bindir / "tailscale"
    fake.write_text(f"#!/bin/sh\ncat {tmp_path / 'status.json'}\n")
    fake.chmod(0o755)
    env = {"PATH": f"{bindir}:{leger_cli.env['PATH']}"}

    out = leger_cli("auth", "login", "--server", server.url, "--json", env=env).stdout
    account = json.loads(out)
    assert account["identity_source"] == "tailscale"
    assert account["email"] == "alice@github"
    assert any(a.startswith("127.0.0.1:") for a in tailscale_localapi.asked)

    # This machine reporting another user (say, a copied status of Bob's) is refused, exit
    # code 6 (denied), with what to do; the account on disk stays Alice's.
    bob = {**STATUS, "Self": {**STATUS["Self"], "UserID": 987654321}}
    bob["User"] = {"987654321": {"ID": 987654321, "LoginName": "bob@github"}}
    (tmp_path / "status.json").write_text(json.dumps(bob))
    result = leger_cli("auth", "login", "--server", server.url, env=env, expect=6)
    assert "not the identity of this connection" in result.stderr
    assert json.loads(leger_cli("auth", "status", "--json").stdout)["email"] == "alice@github"
