"""systemd, reached only through ``systemctl`` on PATH (``--user`` unless root).

Tests and the demo put a stand-in ``systemctl`` first on PATH; nothing here talks to systemd
any other way, so the stand-in sees every call.

Unit names come from release files, so every call puts ``--`` before them: a name starting with
``-`` is then a unit name to systemctl, never an option.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


def unit_search_path(user: bool) -> list[Path]:
    """The directories systemd loads unit files from (systemd.unit(5)), without the generator
    directories where quadlet's own output lands: a unit file found here is not Leger's.

    ``$LEGER_SYSTEMD_UNIT_PATH`` (``:``-separated) replaces the list, for tests and for
    systems that add their own directories."""
    override = os.environ.get("LEGER_SYSTEMD_UNIT_PATH")
    if override is not None:
        return [Path(p) for p in override.split(":") if p]
    if not user:
        return [
            Path(p)
            for p in (
                "/etc/systemd/system.control", "/run/systemd/system.control",
                "/run/systemd/transient", "/etc/systemd/system", "/run/systemd/system",
                "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
            )
        ]  # fmt: skip
    home = Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local/share")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    config_dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    data_dirs = (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    dirs = [config / "systemd/user.control", config / "systemd/user"]
    if runtime:
        dirs += [Path(runtime, "systemd/user.control"), Path(runtime, "systemd/transient")]
        dirs.append(Path(runtime, "systemd/user"))
    dirs += [Path(d, "systemd/user") for d in config_dirs if d]
    dirs += [Path("/etc/systemd/user"), Path("/run/systemd/user"), data / "systemd/user"]
    dirs += [Path(d, "systemd/user") for d in data_dirs if d]
    dirs += [Path("/usr/local/lib/systemd/user"), Path("/usr/lib/systemd/user")]
    return dirs
