"""Against a real leger-server: half-sent requests are closed after the header/read timeout, and
one client holding many connections does not stop another's /health (issue 11 §4)."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

ATTACKER = "127.0.0.2"  # all of 127/8 reaches lo: a second client address


def connect(server, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping what it sends); fails
    when it is still open after ``limit``."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    pytest.fail(f"the server still holds the connection after {limit} s")


@contextlib.contextmanager
def sockets() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    try:
        yield held
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_request_whose_headers_trickle_in_is_closed_after_the_header_timeout(
    leger_server_factory, workers
):
    # With --workers 2 the limits reach the worker processes through the environment.
    server = leger_server_factory(extra_args=["--header-timeout", "1", "--workers", workers])
    with sockets() as held:
        sock = connect(server)
        held.append(sock)
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        # Slow-loris: a header line now and then, never the blank line that ends them. Each
        # byte arriving does not buy more time.
        for i in range(3):
            time.sleep(0.3)
            sock.sendall(b"X-Slow-%d: y\r\n" % i)
        closed_after(sock, 3.0)
        assert 0.9 <= time.monotonic() - start < 3.0
        # A connection that never sends a byte is closed too.
        idle = connect(server)
        held.append(idle)
        assert closed_after(idle, 3.0) >= 0.9
    assert httpx.get(server.url + "/health").status_code == 200


def test_a_stalled_request_body_is_closed_after_the_read_timeout(leger_server_factory):
    server = leger_server_factory(extra_args=["--read-timeout", "1", "--header-timeout", "30"])
    with sockets() as held:
        sock = connect(server)
        held.append(sock)
        sock.sendall(
            b"POST /api/auth/cli HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"user_id": '
        )
        assert 0.9 <= closed_after(sock, 4.0) < 4.0


def test_a_slow_but_moving_request_is_answered(leger_server_factory):
    """The read timeout is about silence, not about the body's total time."""
    server = leger_server_factory(extra_args=["--read-timeout", "1", "--header-timeout", "1"])
    body = b'{"user_id": "u-slow", "email": "e@x", "tailnet": "t", "device_id": "d"}'
    with sockets() as held:
        sock = connect(server)
        held.append(sock)
        sock.sendall(
            b"POST /api/auth/cli HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        )
        for i in range(0, len(body), 16):  # ~2.5 s in all, never 1 s quiet
            time.sleep(0.5)
            sock.sendall(body[i : i + 16])
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_one_peer_holding_connections_does_not_stop_another_clients_health(
    leger_server_factory,
):
    # Long timeouts, so only the per-peer cap stands between the flood and the descriptor limit.
    server = leger_server_factory(
        extra_args=["--header-timeout", "60", "--max-connections-per-peer", "20"]
    )
    # As on a small machine or container: 256 descriptors for the whole server process.
    resource.prlimit(server.process.pid, resource.RLIMIT_NOFILE, (256, 256))
    with sockets() as held:
        for _ in range(300):
            sock = connect(server, ATTACKER)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            held.append(sock)
        start = time.monotonic()
        resp = httpx.get(server.url + "/health", timeout=5)
        assert resp.status_code == 200 and time.monotonic() - start < 2
        # The attacker's extra connections were closed (after a 503, which a client that has
        # sent bytes the server never read may see as a reset), not held.
        closed_after(held[-1], 2.0)
    assert "open connections from one address" in server.log()


def test_connections_over_the_total_cap_are_refused_until_some_close(leger_server_factory):
    server = leger_server_factory(
        extra_args=["--max-connections", "10", "--max-connections-per-peer", "0"]
    )
    with sockets() as held:
        for _ in range(10):
            held.append(connect(server, ATTACKER))
        time.sleep(0.2)  # let the server accept them all
        extra = connect(server)
        extra.settimeout(5)
        assert extra.recv(4096).startswith(b"HTTP/1.1 503 ")
        extra.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail("/health did not answer after the connections closed")


def test_bad_limits_are_refused_at_start(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "leger_server.cli", "serve", "--identity", "dev",
         "--data-dir", str(tmp_path / "d"), "--header-timeout", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "--header-timeout" in result.stderr
    assert not (tmp_path / "d").exists()
