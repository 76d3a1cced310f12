"""systemd, reached only through ``systemctl`` on PATH (``--user`` unless root).

Tests and the demo put a stand-in ``systemctl`` first on PATH; nothing here talks to systemd
any other way, so the stand-in sees every call.

Unit names come from release files, so every call puts ``--`` before them: a name starting with
``-`` is then a unit name to systemctl, never an option.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from leger_core.errors import LegerError, UnavailableError

TIMEOUT = 600.0  # a restart may pull a new image first


class SystemdError(LegerError):
    """A systemctl call failed."""


@dataclass
class Systemctl:
    user: bool
    executable: str | None = None

    def _exe(self) -> str:
        exe = self.executable or shutil.which("systemctl")
        if exe is None:
            raise UnavailableError("systemctl was not found on PATH; is systemd installed?")
        return exe

    def command(self, *args: str) -> list[str]:
        return [self._exe(), *(["--user"] if self.user else []), *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = self.command(*args)
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise SystemdError(f"`{' '.join(cmd[1:])}` did not finish in {TIMEOUT:.0f}s") from None
        except OSError as exc:
            raise UnavailableError(f"cannot run systemctl: {exc.strerror}") from None

    def check(self, *args: str) -> None:
        proc = self.run(*args)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            why = f": {detail[-1]}" if detail else ""
            raise SystemdError(f"`systemctl {' '.join(args)}` failed (exit {proc.returncode}){why}")

    def daemon_reload(self) -> None:
        self.check("daemon-reload")

    def restart(self, units: Sequence[str]) -> None:
        if units:
            self.check("restart", "--", *units)

    def start(self, units: Sequence[str]) -> None:
        if units:
            self.check("start", "--", *units)

    def stop(self, units: Sequence[str]) -> None:
        if units:
            self.check("stop", "--", *units)

    def is_active(self, unit: str) -> tuple[bool, str]:
        proc = self.run("is-active", "--", unit)
        state = (proc.stdout.strip().splitlines() or ["unknown"])[-1]
        return proc.returncode == 0, state

    def states(self, units: Sequence[str]) -> dict[str, str]:
        """unit → its active state, or ``unknown`` when systemctl cannot say."""
        out: dict[str, str] = {}
        for unit in units:
            try:
                out[unit] = self.is_active(unit)[1]
            except LegerError:
                out[unit] = "unknown"
        return out
