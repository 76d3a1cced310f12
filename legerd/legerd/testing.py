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

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from leger_core.unixhttp import accepts


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
            if accepts(self.socket):
                return
            time.sleep(0.01)
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
