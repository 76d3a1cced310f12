"""legerd's pytest plugin (entry point ``pytest11``, name ``legerd``).

Fixture ``legerd_daemon``: a REAL ``legerd serve`` subprocess on a fresh state directory and
socket, for one test. It yields a :class:`LegerdDaemon`::

    def test_fetch(legerd_daemon):
        legerd_daemon.client().put("app/key", SecretValue("v"))
        subprocess.run(["leger", ...], env={**os.environ, **legerd_daemon.env})
        legerd_daemon.kill()       # SIGKILL, like a crash
        legerd_daemon.start()      # same state dir and socket
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


class LegerdDaemon:
    """A legerd process the test controls. ``socket`` lives in a short /tmp directory (Unix
    socket paths are limited to 107 bytes; pytest's tmp_path can be longer)."""

    def __init__(self, state_dir: Path, socket_path: Path, extra_args: Sequence[str] = ()) -> None:
        self.state_dir = state_dir
        self.socket = socket_path
        self.extra_args = list(extra_args)
        self.log_path = socket_path.parent / "legerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a program needs to find this legerd (merge into os.environ)."""
        return {"LEGERD_SOCKET": str(self.socket), "LEGERD_STATE_DIR": str(self.state_dir)}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-P", "-m", "legerd", "serve",
            "--state-dir", str(self.state_dir), "--socket", str(self.socket), *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 15.0, *, wait: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("legerd is already running")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.socket.parent,
            )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"legerd exited with {self.proc.returncode} before serving:\n{self.output()}"
                )
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.socket))
                return
            except OSError:
                time.sleep(0.01)
            finally:
                probe.close()
        raise RuntimeError(f"legerd did not start within {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it was not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float = 15.0) -> None:
        self.stop()
        self.start(timeout)

    def output(self) -> str:
        """Everything legerd wrote to stdout and stderr, over every start."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def client(self, **kwargs: Any) -> Any:
        """A ``leger_plugin_setec.client.SetecClient`` for this legerd."""
        from leger_plugin_setec.client import SetecClient

        return SetecClient(str(self.socket), **kwargs)


def short_tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="legerd-", dir="/tmp"))


@pytest.fixture
def legerd_daemon(tmp_path: Path) -> Iterator[LegerdDaemon]:
    run_dir = short_tmpdir()
    daemon = LegerdDaemon(tmp_path / "legerd-state", run_dir / "legerd.sock")
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def legerd_factory(tmp_path: Path) -> Iterator[Any]:
    """``legerd_factory(*extra_args, start=True)`` → another :class:`LegerdDaemon` (access
    rules, a TCP listener, …); every one is stopped at the end of the test."""
    made: list[tuple[LegerdDaemon, Path]] = []

    def make(*extra_args: str, start: bool = True, state_dir: Path | None = None) -> LegerdDaemon:
        run_dir = short_tmpdir()
        os.chmod(run_dir, 0o755)
        state = state_dir or tmp_path / f"legerd-state-{len(made)}"
        daemon = LegerdDaemon(state, run_dir / "legerd.sock", extra_args)
        made.append((daemon, run_dir))
        if start:
            daemon.start()
        return daemon

    yield make
    for daemon, run_dir in made:
        daemon.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


# --- raw HTTP: exactly what a setec client sends and sees -----------------------------------

SETEC_HEADERS = {"Content-Type": "application/json", "Sec-X-Tailscale-No-Browsers": "setec"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    address: Path | tuple[str, int],
    path: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Answer:
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    hdrs = SETEC_HEADERS if headers is None else headers
    family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(address) if isinstance(address, Path) else address)
    lines = [f"{method} {path} HTTP/1.1", "Host: legerd", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    lines.append(f"Content-Length: {len(data)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    sock.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        parsed[k.strip().lower()] = v.strip()
    return Answer(int(status_line.split()[1]), parsed, rest)


def b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


class Api:
    """``api.put("name", "value")`` etc. over the raw socket; returns :class:`Answer`."""

    def __init__(self, address: Path | tuple[str, int], headers: dict[str, str] | None = None):
        self.address = address
        self.headers = headers

    def call(self, method: str, body: dict[str, Any]) -> Answer:
        return http(self.address, f"/api/{method}", body, headers=self.headers)

    def put(self, name: str, value: bytes | str) -> Answer:
        return self.call("put", {"Name": name, "Value": b64(value)})

    def get(self, name: str, version: int = 0, **extra: Any) -> Answer:
        return self.call("get", {"Name": name, "Version": version, **extra})


class AnswersWhenAllArrived:
    """A setec ``/api/get`` stand-in on a Unix socket that answers nothing until ``expected``
    requests have arrived, each on its own connection, then answers each with its name as the
    value. A client that waits for one answer before sending the next request hangs on it (and
    times out): what proves that N secrets cost one round trip, not N.

    ``with AnswersWhenAllArrived(3) as server: ...``; ``server.socket``; ``server.names``."""

    def __init__(self, expected: int) -> None:
        import threading

        self.expected = expected
        self.socket = short_tmpdir() / "setec.sock"
        self.names: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.socket))
        self._server.listen(expected)
        self._server.settimeout(5)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> AnswersWhenAllArrived:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(5)
        self._server.close()
        shutil.rmtree(self.socket.parent, ignore_errors=True)

    def _serve(self) -> None:
        conns = []
        try:
            for _ in range(self.expected):
                conn, _ = self._server.accept()
                conns.append(conn)
                request = conn.recv(65536)
                self.names.append(json.loads(request.partition(b"\r\n\r\n")[2])["Name"])
            for conn, name in zip(conns, self.names, strict=True):
                body = json.dumps({"Value": b64(name), "Version": 1}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
        except OSError:
            pass  # the client gave up (timed out): the test fails on its side
        finally:
            for conn in conns:
                conn.close()
