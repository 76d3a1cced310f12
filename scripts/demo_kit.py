"""Helpers for demo steps: a private home, commands echoed with their output, background
daemons stopped at the end (by the PIDs this demo started, nothing else)."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from leger_core.unixhttp import accepts
from leger_testkit.procs import stop
from leger_testkit.userenv import user_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix="leger-demo-"))
        self.started = time.monotonic()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.state: dict[str, Any] = {}  # what one step leaves for the next (URLs, sockets, …)
        self.cleanups: list[Any] = []  # in-process helpers (stand-ins) to stop at the end
        home = self.tmp / "home"
        runtime = self.tmp / "run"
        for d in (home, runtime):
            d.mkdir(mode=0o700)
        self.env: dict[str, str] = user_env(
            home,
            runtime=runtime,
            drop=(),  # all of the caller's environment is kept, LEGER* included
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            NO_COLOR="1",
        )

    def __enter__(self) -> Demo:
        print(f"Leger demo — private home in {self.tmp}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in reversed(self.processes):
            stop(proc, timeout=5)
        for cleanup in reversed(self.cleanups):
            cleanup()
        if self.keep:
            print(f"\nKept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if isinstance(exc, DemoFailed):
            print(f"\nDemo failed: {exc}", file=sys.stderr)
            sys.exit(1)

    def section(self, title: str) -> None:
        print(f"\n=== {title} ===")

    def say(self, text: str) -> None:
        print(f"# {text}")

    def sh(
        self,
        args: Sequence[str],
        *,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        expect: int = 0,
        show: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command as a user would, print it and its output; fail the demo on a surprise
        exit code."""
        print(f"$ {shlex.join(args)}")
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            list(args),
            input=data,
            env={**self.env, **(env or {})},
            capture_output=True,
            cwd=cwd or self.tmp,
        )
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        if show:
            for line in (out + err).rstrip().splitlines():
                print(f"  {line}")
        if proc.returncode != expect:
            raise DemoFailed(f"{shlex.join(args)} exited {proc.returncode}, expected {expect}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def background(
        self, args: Sequence[str], *, env: Mapping[str, str] | None = None, log: str
    ) -> subprocess.Popen[bytes]:
        """Start a daemon for the rest of the demo; its output goes to a log file."""
        print(f"$ {shlex.join(args)} &")
        log_path = self.tmp / log
        with open(log_path, "wb") as fh:
            proc = subprocess.Popen(
                list(args), env={**self.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT
            )
        self.processes.append(proc)
        return proc

    def wait_for(self, check: Any, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise DemoFailed(f"timed out waiting for {what}")

    def wait_healthy(self, url: str, what: str) -> None:
        """Wait until ``url``/health answers 200 (a server this demo started)."""
        import httpx

        def up() -> bool:
            try:
                return httpx.get(url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        self.wait_for(up, what, timeout=30)

    def start_legerd(self) -> tuple[Path, Path]:
        """legerd for the rest of the demo, at the private home's default socket and state
        dir; ``leger`` and ``legerd`` find it through LEGERD_SOCKET / LEGERD_STATE_DIR. Returns
        (socket, state dir)."""
        sock = Path(self.env["XDG_RUNTIME_DIR"]) / "legerd.sock"
        state = Path(self.env["XDG_STATE_HOME"]) / "legerd"
        self.background(
            [str(BIN / "legerd"), "serve", "--state-dir", str(state), "--socket", str(sock)],
            log="legerd.log",
        )
        self.wait_for(lambda: accepts(sock), "legerd's socket")
        self.state["legerd_socket"] = str(sock)
        self.state["legerd_state_dir"] = str(state)
        self.env["LEGERD_SOCKET"] = str(sock)
        self.env["LEGERD_STATE_DIR"] = str(state)
        return sock, state

    def done(self) -> None:
        print(f"\nDemo finished in {time.monotonic() - self.started:.1f}s.")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server this demo starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
