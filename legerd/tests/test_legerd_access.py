"""Who may do what: Unix peers (SO_PEERCRED), bearer tokens, Tailscale WhoIs, TCP refusal."""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from leger_core.errors import DeniedError
from leger_core.models import SecretValue
from leger_plugin_setec.client import SetecClient
from leger_testkit.setec_wire import Api, b64, http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "access.toml"
    path.write_text(text)
    return path


def make_token(state_dir: Path, name: str) -> str:
    out = subprocess.run(
        [sys.executable, "-P", "-m", "legerd", "token", "add", name, "--state-dir", str(state_dir)],
        capture_output=True,
        check=True,
        text=True,
    )
    return out.stdout.strip()


def test_tcp_listener_without_auth_is_refused(legerd_factory) -> None:
    daemon = legerd_factory("--listen", f"127.0.0.1:{free_port()}", start=False)
    daemon.start(wait=False)
    assert daemon.proc.wait(15) == 1
    assert "refusing a TCP listener without authentication" in daemon.output()


@pytest.fixture
def token_setup(legerd_factory, tmp_path):
    """legerd with a TCP listener; token ``ci`` may get/info ``ci/*``."""
    state = tmp_path / "state-tokens"
    subprocess.run([sys.executable, "-P", "-m", "legerd", "init", "--state-dir", str(state)],
                   check=True, capture_output=True)  # fmt: skip
    token = make_token(state, "ci")
    rules = write_rules(
        tmp_path,
        '[[allow]]\nprincipals = ["token:ci"]\nactions = ["get", "info"]\nsecrets = ["ci/*"]\n',
    )
    port = free_port()
    daemon = legerd_factory("--listen", f"127.0.0.1:{port}", "--rules", str(rules), state_dir=state)
    owner = daemon.client()
    owner.put("ci/deploy-key", SecretValue("ci-value"))
    owner.put("private/db", SecretValue("private-value"))
    return daemon, token, port


def test_bearer_token_gets_what_rules_allow(token_setup) -> None:
    _daemon, token, port = token_setup
    client = SetecClient(f"http://127.0.0.1:{port}", token=token)
    assert client.get("ci/deploy-key").reveal() == b"ci-value"
    assert [i.name for i in client.list()] == ["ci/deploy-key"]


def test_bearer_token_is_denied_outside_its_rules_even_for_missing_names(token_setup) -> None:
    daemon, token, port = token_setup
    client = SetecClient(f"http://127.0.0.1:{port}", token=token)
    with pytest.raises(DeniedError):
        client.get("private/db")
    with pytest.raises(DeniedError):
        client.get("private/does-not-exist")  # 403 before 404: existence is not revealed
    with pytest.raises(DeniedError):
        client.put("ci/deploy-key", SecretValue("overwrite"))
    assert daemon.client().get("ci/deploy-key").reveal() == b"ci-value"


def test_wrong_or_missing_token_is_403(token_setup) -> None:
    _daemon, _token, port = token_setup
    api = Api(("127.0.0.1", port))
    assert api.get("ci/deploy-key").status == 403
    bad = Api(("127.0.0.1", port), headers={
        "Content-Type": "application/json", "Sec-X-Tailscale-No-Browsers": "setec",
        "Authorization": "Bearer legerd_not-the-token",
    })  # fmt: skip
    assert bad.get("ci/deploy-key").status == 403


def test_denied_requests_are_audited_before_anything_happens(token_setup) -> None:
    daemon, token, port = token_setup
    client = SetecClient(f"http://127.0.0.1:{port}", token=token)
    with pytest.raises(DeniedError):
        client.put("ci/deploy-key", SecretValue("never-written-value"))
    lines = [json.loads(x) for x in (daemon.state_dir / "audit.log").read_text().splitlines()]
    denied = [x for x in lines if x["authorized"] is False]
    assert denied[-1]["principal"] == "token:ci" and denied[-1]["action"] == "put"
    assert "never-written-value" not in (daemon.state_dir / "audit.log").read_text()


def test_tokens_are_stored_hashed(token_setup) -> None:
    daemon, token, _port = token_setup
    text = (daemon.state_dir / "tokens").read_text()
    assert token not in text and text.startswith("ci sha256:")


def test_sighup_reloads_tokens(token_setup) -> None:
    daemon, _token, port = token_setup
    second = make_token(daemon.state_dir, "other")
    rules = Path(daemon.extra_args[3])
    rules.write_text(rules.read_text() + '\n[[allow]]\nprincipals = ["token:other"]\n'
                     'actions = ["info"]\nsecrets = ["*"]\n')  # fmt: skip
    os.kill(daemon.pid, signal.SIGHUP)
    client = SetecClient(f"http://127.0.0.1:{port}", token=second)
    deadline = time.monotonic() + 5
    while True:
        try:
            assert client.info("private/db").active_version == 1
            break
        except DeniedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with pytest.raises(DeniedError):
        client.get("private/db")


# --- another local user, identified by the kernel (SO_PEERCRED) ----------------------------------


def as_uid(uid: int, socket_path: Path, path: str, body: dict) -> int:
    """Status of one request made by a child process running as ``uid``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to uid, ask, report the status, exit without cleanup
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            status = http(socket_path, path, body).status
            os.write(write_end, str(status).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        result = fh.read()
    os.waitpid(pid, 0)
    return int(result) if result else -1


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another uid needs root")
def test_other_unix_user_gets_only_what_rules_allow(legerd_factory, tmp_path) -> None:
    rules = write_rules(
        tmp_path,
        'socket_mode = "0666"\n[[allow]]\nprincipals = ["user:nobody"]\n'
        'actions = ["get", "info"]\nsecrets = ["shared/*"]\n',
    )
    daemon = legerd_factory("--rules", str(rules))
    owner = daemon.client()
    owner.put("shared/a", SecretValue("a"))
    owner.put("private/b", SecretValue("b"))
    nobody = 65534
    assert as_uid(nobody, daemon.socket, "/api/get", {"Name": "shared/a"}) == 200
    assert as_uid(nobody, daemon.socket, "/api/get", {"Name": "private/b"}) == 403
    assert as_uid(nobody, daemon.socket, "/api/get", {"Name": "private/none"}) == 403
    assert as_uid(nobody, daemon.socket, "/api/put", {"Name": "shared/a", "Value": b64("x")}) == 403
    log = (daemon.state_dir / "audit.log").read_text()
    assert '"principal":"uid:65534,user:nobody"' in log


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another uid needs root")
def test_rules_in_the_state_dir_apply_by_default_and_name_a_uid(legerd_factory, tmp_path) -> None:
    """Without --rules, legerd reads STATE_DIR/access.toml; a principal can be a bare uid."""
    from legerd.state import init_state

    state = tmp_path / "state-with-rules"
    init_state(state)
    (state / "access.toml").write_text(
        'socket_mode = "0666"\n[[allow]]\nprincipals = ["uid:65534"]\n'
        'actions = ["get"]\nsecrets = ["team/*"]\n'
    )
    daemon = legerd_factory(state_dir=state)
    daemon.client().put("team/a", SecretValue("a"))
    daemon.client().put("own/b", SecretValue("b"))
    assert as_uid(65534, daemon.socket, "/api/get", {"Name": "team/a"}) == 200
    assert as_uid(65534, daemon.socket, "/api/get", {"Name": "own/b"}) == 403
    assert as_uid(65534, daemon.socket, "/api/info", {"Name": "team/a"}) == 403  # get only


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another uid needs root")
def test_other_unix_user_without_rules_is_denied(legerd_factory) -> None:
    daemon = legerd_factory("--socket-mode", "0666")
    daemon.client().put("k", SecretValue("v"))
    assert as_uid(65534, daemon.socket, "/api/get", {"Name": "k"}) == 403
    assert as_uid(65534, daemon.socket, "/api/list", {}) == 200  # lists nothing it may not see


# --- Tailscale WhoIs (a stand-in for tailscaled's LocalAPI, speaking its documented JSON) --------


class WhoIsStandIn(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path) -> None:
        self.answers: dict[str, dict] = {}  # "ip:port" → WhoIsResponse
        self.default: dict | None = None
        self.asked: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                addr = parse_qs(url.query).get("addr", [""])[0]
                stand_in.asked.append(addr)
                answer = stand_in.answers.get(addr, stand_in.default)
                if url.path != "/localapi/v0/whois" or answer is None:
                    self.send_response(404)
                    self.end_headers()
                    self.wfile.write(b"no match for IP:port\n")
                    return
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def address_string(self) -> str:
                return "tailscaled-stand-in"

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(str(path), Handler)


def whois_response(login: str | None = None, tags: list[str] | None = None) -> dict:
    # The shape of tailscale's apitype.WhoIsResponse (Node is a tailcfg.Node).
    return {
        "Node": {
            "ID": 1234,
            "StableID": "nStable1234",
            "Name": "laptop.tail1234.ts.net.",
            "User": 5678,
            "Addresses": ["100.64.0.7/32"],
            **({"Tags": tags} if tags else {}),
        },
        "UserProfile": {
            "ID": 5678,
            "LoginName": login or "tagged-devices",
            "DisplayName": "Someone",
        },
        "CapMap": {},
    }


@pytest.fixture
def whois_server():
    path = Path(f"/tmp/legerd-ts-{os.getpid()}-{free_port()}.sock")
    server = WhoIsStandIn(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, path
    server.shutdown()
    server.server_close()
    path.unlink(missing_ok=True)


def test_tailscale_user_and_tag_from_whois(legerd_factory, tmp_path, whois_server) -> None:
    server, ts_socket = whois_server
    rules = write_rules(
        tmp_path,
        '[[allow]]\nprincipals = ["tailscale:alice@example.com"]\nactions = ["get"]\n'
        'secrets = ["alice/*"]\n'
        '[[allow]]\nprincipals = ["tag:prod"]\nactions = ["get", "info"]\nsecrets = ["prod/*"]\n',
    )
    port = free_port()
    daemon = legerd_factory(
        "--listen", f"127.0.0.1:{port}", "--rules", str(rules),
        "--tailscale-socket", str(ts_socket),
    )  # fmt: skip
    owner = daemon.client()
    owner.put("alice/key", SecretValue("a"))
    owner.put("prod/key", SecretValue("p"))
    api = Api(("127.0.0.1", port))

    server.default = whois_response(login="alice@example.com")
    assert api.get("alice/key").status == 200
    assert api.get("prod/key").status == 403
    assert server.asked[-1].startswith("127.0.0.1:")

    server.default = whois_response(tags=["tag:prod"])
    assert api.get("prod/key").status == 200
    assert api.get("alice/key").status == 403

    server.default = None  # tailscaled does not know the peer
    assert api.get("alice/key").status == 403
    log = (daemon.state_dir / "audit.log").read_text()
    assert '"principal":"tailscale:alice@example.com"' in log
    assert '"principal":"tag:prod"' in log


def test_unauthenticated_tcp_caller_is_audited(token_setup) -> None:
    """Audited without its body being read: so no claimed name, but the peer address."""
    daemon, _token, port = token_setup
    assert Api(("127.0.0.1", port)).get("private/db").status == 403
    last = json.loads((daemon.state_dir / "audit.log").read_text().splitlines()[-1])
    assert last["principal"] == "anonymous" and last["action"] == "get"
    assert last["secret"] is None and last["authorized"] is False
    assert last["peer"] == "127.0.0.1" and last["refused"] == "unauthenticated caller"
