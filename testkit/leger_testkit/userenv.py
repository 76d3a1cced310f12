"""The environment of a fresh user for ``leger`` and friends run as real processes."""

from __future__ import annotations

import os
from pathlib import Path


def user_env(
    home: Path,
    *,
    runtime: Path | None = None,
    drop: tuple[str, ...] = ("LEGER",),
    **extra: str,
) -> dict[str, str]:
    """This process's environment for a user whose files all live under ``home``: the XDG base
    directories below it (and ``XDG_RUNTIME_DIR=runtime`` when given), without the variables
    whose names start with one of ``drop`` (by default every ``LEGER*`` setting of the machine
    running the tests, so a developer's own config or legerd never leaks in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
    )
    if runtime is not None:
        env["XDG_RUNTIME_DIR"] = str(runtime)
    env.update(extra)
    return env
