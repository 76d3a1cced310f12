"""SetecClient against a real legerd: typed errors, conditional gets, addresses, cheap import."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from leger_core.config import Config
from leger_core.errors import (
    ConflictError,
    DeniedError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from leger_core.models import SecretInfo, SecretValue
from leger_plugin_setec.backend import SetecBackend
from leger_plugin_setec.client import SetecClient, legerd_address


@pytest.fixture
def client(legerd_daemon):
    c = legerd_daemon.client()
    yield c
    c.close()


def test_importing_the_client_stays_cheap() -> None:
    code = (
        "import sys, json; import leger_plugin_setec.client; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    loaded = set(json.loads(out.stdout))
    heavy = {
        "httpx", "click", "pluggy", "http.client", "ssl", "email", "asyncio",
        "leger_core.cli", "leger_core.plugins", "leger_core.config", "importlib.metadata",
    }  # fmt: skip
    assert not heavy & loaded, heavy & loaded


def test_full_round_of_the_api(client: SetecClient) -> None:
    assert client.list() == []
    assert client.put("app/a", SecretValue("one")) == 1
    assert client.put("app/a", SecretValue("one")) == 1
    assert client.put("app/a", SecretValue("two")) == 2
    assert client.info("app/a") == SecretInfo("app/a", (1, 2), 1)
    client.activate("app/a", 2)
    assert client.get("app/a").reveal() == b"two"
    assert client.get("app/a", 1).reveal() == b"one"
    client.delete_version("app/a", 1)
    client.create_version("app/a", 7, SecretValue("seven"))
    assert client.info("app/a") == SecretInfo("app/a", (2, 7), 7)
    assert client.list() == [SecretInfo("app/a", (2, 7), 7)]
    client.delete("app/a")
    assert client.list() == []


def test_get_if_changed(client: SetecClient) -> None:
    client.put("k", SecretValue("v1"))
    assert client.get_if_changed("k", 1) is None
    client.put("k", SecretValue("v2"))
    client.activate("k", 2)
    changed = client.get_if_changed("k", 1)
    assert changed is not None and changed.reveal() == b"v2"
    assert client.get_versioned("k") == (SecretValue("v2"), 2)


def test_errors_are_typed(client: SetecClient) -> None:
    with pytest.raises(NotFoundError, match="'missing'"):
        client.get("missing")
    with pytest.raises(InvalidInputError):
        client.put("bad\nname", SecretValue("x"))  # a control character
    client.put("k", SecretValue("v"))
    with pytest.raises(ConflictError):
        client.create_version("k", 1, SecretValue("again"))
    with pytest.raises(DeniedError):
        client.put("_internal/x", SecretValue("x"))
    with pytest.raises(InvalidInputError):
        client.delete_version("k", 1)  # the active version


def test_no_value_in_errors_or_reprs(client: SetecClient) -> None:
    value = "never-in-a-message-9911"
    client.put("k", SecretValue(value))
    for call in (
        lambda: client.get("k", 5),
        lambda: client.create_version("k", 1, SecretValue(value)),
    ):
        with pytest.raises(Exception) as info:
            call()
        assert value not in str(info.value) and value not in repr(info.value)
    assert value not in repr(client)


def test_missing_socket_says_legerd_is_not_running(tmp_path: Path) -> None:
    path = tmp_path / "nope.sock"
    with pytest.raises(UnavailableError) as info:
        SetecClient(str(path)).list()
    message = str(info.value)
    assert f"legerd is not running at {path}" in message
    assert "legerd serve" in message
    assert info.value.exit_code == 5


def test_stale_socket_says_legerd_is_not_running(tmp_path: Path) -> None:
    path = Path(f"/tmp/legerd-stale-{os.getpid()}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))  # bound, never listening: ECONNREFUSED, like a crashed legerd
    try:
        with pytest.raises(UnavailableError, match="not running"):
            SetecClient(str(path)).get("x")
    finally:
        sock.close()
        path.unlink()


def test_unreachable_url_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UnavailableError):
        SetecClient(f"http://127.0.0.1:{port}").list()


def test_client_reconnects_after_legerd_restarts(legerd_daemon, client: SetecClient) -> None:
    client.put("k", SecretValue("v"))
    legerd_daemon.restart()
    assert client.get("k").reveal() == b"v"  # the kept-alive connection died; a new one is made


def test_client_reports_unavailable_while_stopped(legerd_daemon, client: SetecClient) -> None:
    client.put("k", SecretValue("v"))
    legerd_daemon.stop()
    with pytest.raises(UnavailableError, match="not running"):
        client.get("k")


def test_backend_cache_asks_only_if_changed(legerd_daemon, client: SetecClient) -> None:
    backend = SetecBackend(client)
    client.put("k", SecretValue("v1"))
    assert backend.get("k").reveal() == b"v1"
    assert backend.get("k").reveal() == b"v1"
    client.put("k", SecretValue("v2"))
    client.activate("k", 2)
    assert backend.get("k").reveal() == b"v2"
    gets = [
        json.loads(line)
        for line in (legerd_daemon.state_dir / "audit.log").read_text().splitlines()
        if '"action":"get"' in line
    ]
    # First an unconditional get, then "changed since 1?" twice: the 304 leaves no line (as in
    # setec: polling is not auditable access), the poll that hands out the new value does.
    assert [g["version"] for g in gets] == [0, 1]


def test_legerd_address_order(monkeypatch, tmp_path: Path) -> None:
    config = Config(tmp_path / "c.toml", {"legerd": {"socket": "/from/config.sock"}})
    monkeypatch.setenv("LEGERD_SOCKET", "/from/env.sock")
    assert legerd_address(config) == "/from/env.sock"
    monkeypatch.delenv("LEGERD_SOCKET")
    assert legerd_address(config) == "/from/config.sock"
    url_config = Config(tmp_path / "c.toml", {"legerd": {"url": "https://setec.example.ts.net"}})
    assert legerd_address(url_config) == "https://setec.example.ts.net"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    monkeypatch.setattr(os, "getuid", lambda: 1234)
    assert legerd_address(Config(tmp_path / "c.toml", {})) == "/run/user/1234/legerd.sock"
    monkeypatch.setattr(os, "getuid", lambda: 0)
    assert legerd_address(Config(tmp_path / "c.toml", {})) == "/run/legerd/legerd.sock"


def test_legerd_address_reads_the_config_file_when_not_given(monkeypatch, tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[legerd]\nsocket = "/configured.sock"\n')
    monkeypatch.delenv("LEGERD_SOCKET", raising=False)
    monkeypatch.setenv("LEGER_CONFIG", str(path))
    assert legerd_address() == "/configured.sock"


def test_unix_client_reads_chunked_answers(tmp_path: Path) -> None:
    """Go's net/http (a real setec server) sends larger bodies chunked."""
    import threading

    path = Path(f"/tmp/legerd-chunked-{os.getpid()}.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    body = json.dumps([{"Name": f"n{i}", "Versions": [1], "ActiveVersion": 1} for i in range(300)])
    chunks = [body[i : i + 1000].encode() for i in range(0, len(body), 1000)]
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    answer += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(answer)
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        infos = SetecClient(str(path)).list()
    finally:
        thread.join(5)
        server.close()
        path.unlink()
    assert len(infos) == 300 and infos[-1].name == "n299"


def test_get_many_returns_what_exists_and_leaves_out_what_does_not(client: SetecClient) -> None:
    client.put("app/a", SecretValue("one"))
    client.put("app/b", SecretValue(b"\x00two\n"))
    client.put("app/b", SecretValue("three"))  # a new inactive version: b stays "\0two\n"
    got = client.get_many(["app/b", "app/missing", "app/a"])
    assert list(got) == ["app/b", "app/a"]
    assert got["app/a"].reveal() == b"one" and got["app/b"].reveal() == b"\x00two\n"
    assert client.get_many([]) == {}
    assert client.get_many(["app/a"])["app/a"].reveal() == b"one"
    # the client's own connection still works afterwards
    assert client.get("app/a").reveal() == b"one"


def test_get_many_raises_for_a_refused_name_without_values(client: SetecClient) -> None:
    client.put("app/a", SecretValue("sk-secret-value"))
    with pytest.raises(InvalidInputError) as err:
        client.get_many(["app/a", "app/bad\nname"])
    assert repr("app/bad\nname") in str(err.value) and "sk-secret-value" not in str(err.value)


def test_get_many_has_every_request_in_flight_before_reading_an_answer() -> None:
    """A container start waits about one round trip however many secrets it needs: a server
    that answers only once all three requests have arrived must not make the client hang."""
    from leger_testkit.setec_wire import AnswersWhenAllArrived

    with AnswersWhenAllArrived(3) as server, SetecClient(str(server.socket), timeout=3) as c:
        got = c.get_many(["x/1", "x/2", "x/3"])
    assert sorted(server.names) == ["x/1", "x/2", "x/3"]
    assert {k: v.reveal() for k, v in got.items()} == {n: n.encode() for n in ["x/1", "x/2", "x/3"]}


def test_a_token_with_a_line_break_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """A token read from a file or LEGERD_TOKEN must not smuggle headers into the request."""
    token = "tok-secret-77\r\nX-Smuggled: yes"
    with pytest.raises(InvalidInputError) as err:
        SetecClient(str(tmp_path / "nothing-here.sock"), token=token).list()
    assert "tok-secret-77" not in str(err.value) and "LEGERD_TOKEN" in str(err.value)
