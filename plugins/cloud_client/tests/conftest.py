"""Fixtures for the cloud client: a private home for the ``leger`` CLI (run as a real
subprocess, the way a user runs it) and a logged-in account on a real leger-server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from leger_testkit.userenv import user_env

BIN = Path(sys.executable).parent


class Cli:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        expect: int | None = 0,
    ) -> subprocess.CompletedProcess[str]:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [str(BIN / "leger"), *args],
            input=data,
            env={**self.env, **(env or {})},
            capture_output=True,
            cwd=self.cwd,
            timeout=60,
        )
        result = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if expect is not None and proc.returncode != expect:
            raise AssertionError(
                f"leger {' '.join(args)} exited {proc.returncode} (expected {expect})\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    @property
    def state_dir(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"]) / "leger"


@pytest.fixture
def cloud_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    for d in (home, runtime):
        d.mkdir(mode=0o700)
    config = home / ".config" / "leger" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        '[identity]\nuser_id = "u-alice"\nemail = "alice@example.com"\n'
        'tailnet = "example.ts.net"\ndevice_id = "dev-alice"\nhostname = "alice-laptop"\n'
    )
    return user_env(
        home,
        runtime=runtime,
        drop=("LEGER", "DBUS"),
        LEGER_CONFIG=str(config),
        LEGER_TOKEN_STORE="file",
        PATH=f"{BIN}{os.pathsep}/usr/bin:/bin",
    )


@pytest.fixture
def leger_cli(cloud_env: dict[str, str], tmp_path: Path) -> Cli:
    return Cli(cloud_env, tmp_path)


@pytest.fixture
def logged_in(leger_server: Any, leger_cli: Cli) -> Callable[[], Any]:
    """Log the CLI in to the ``leger_server`` fixture; returns the server."""
    leger_cli("auth", "login", "--server", leger_server.url)
    return leger_server
