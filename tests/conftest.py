from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIRST_PARTY = {
    "setec": "leger-plugin-setec",
    "podman": "leger-plugin-podman",
    "envfile": "leger-plugin-envfile",
    "initscript": "leger-plugin-initscript",
    "cloud": "leger-plugin-cloud",
    "deploy": "leger-plugin-deploy",
}


@pytest.fixture
def first_party() -> dict[str, str]:
    """First-party plugins: entry point name → distribution."""
    return dict(FIRST_PARTY)


@pytest.fixture
def run_leger(tmp_path: Path):
    """Run the installed ``leger`` console script in a private home, as a user would."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def environ(env: dict[str, str] | None = None) -> dict[str, str]:
        full_env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".state"),
        }
        full_env.pop("LEGER_CONFIG", None)
        full_env.pop("LEGER_LOAD_PLUGINS", None)
        full_env.update(env or {})
        return full_env

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        return subprocess.run(
            [str(BIN / "leger"), *args],
            env=environ(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )

    run.home = home  # type: ignore[attr-defined]
    run.environ = environ  # type: ignore[attr-defined]
    return run
