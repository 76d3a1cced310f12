"""A static identity from config, for development and tests: ``[identity]`` with ``user_id``,
``email``, ``tailnet``, ``device_id`` and ``hostname``. Runs last, after real providers."""

from __future__ import annotations

import socket
from typing import Any

from leger_core import hookimpl
from leger_core.config import Config
from leger_core.errors import ConfigError

FIELDS = ("user_id", "email", "tailnet", "device_id", "hostname")


@hookimpl(trylast=True)
def leger_identity(config: Config) -> dict[str, Any] | None:
    table = config.section("identity")
    if not table:
        return None
    missing = [f for f in ("user_id", "email", "tailnet", "device_id") if not table.get(f)]
    if missing:
        raise ConfigError(f"[identity] in {config.path} is missing {', '.join(missing)}")
    identity = {f: str(table[f]) for f in FIELDS if table.get(f)}
    identity.setdefault("hostname", socket.gethostname())
    identity["source"] = "config"
    return identity
