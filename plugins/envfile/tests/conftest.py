"""A private home for ``leger`` run as a real process, next to a real legerd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

BIN = Path(sys.executable).parent
PLUGINS = "envfile,setec,podman,initscript"


class LegerHome:
    def __init__(self, root: Path, legerd_env: dict[str, str]) -> None:
        self.root = root
        root.mkdir()
        self.runtime = root / "run"
        self.runtime.mkdir(mode=0o700)
        self.config = root / "config.toml"
        self.env = {
            **os.environ,
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "home/.config"),
            "XDG_CACHE_HOME": str(root / "home/.cache"),
            "XDG_STATE_HOME": str(root / "home/.local/state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "LEGER_CONFIG": str(self.config),
            "LEGER_LOAD_PLUGINS": PLUGINS,
            **legerd_env,
        }
        self.env.pop("LEGER_NO_FAST", None)

    def write_config(self, data: dict[str, object]) -> None:
        self.config.write_text(tomli_w.dumps(data))

    def env_file(self, service: str) -> Path:
        return self.runtime / "leger" / f"{service}.env"

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "leger"), *args],
            env={**self.env, **(env or {})},
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def leger_home(tmp_path: Path, legerd_daemon) -> LegerHome:
    home = LegerHome(tmp_path / "leger-home", legerd_daemon.env)
    return home


@pytest.fixture
def secrets_in_legerd(legerd_daemon):
    from leger_core.models import SecretValue

    def put(name: str, value: str | bytes) -> None:
        with legerd_daemon.client() as client:
            version = client.put(name, SecretValue(value))
            client.activate(name, version)

    return put
