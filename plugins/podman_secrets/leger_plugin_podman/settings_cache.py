"""What ``leger driver lookup`` needs to open secret backends without plugin discovery (each
backend's fast entry and its config values, and the default backend), cached by the full CLI
with a stamp of the config file so the fast path skips parsing TOML. Standard library only."""

from __future__ import annotations

import os
import sys

from leger_core.fastpath import file_stamp, read_cache, write_cache

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_KEYS = ("LEGER_LOAD_PLUGINS", "LEGER_CONFIG", "XDG_CONFIG_HOME", "HOME")
MAX_ENTRIES = 8


CACHE = "driver-settings.json"


def cache_key() -> str:
    env = "|".join(f"{k}={os.environ.get(k, '')}" for k in ENV_KEYS)
    return f"v2|{sys.prefix}|{os.getuid()}|{env}"


def lookup() -> tuple[dict[str, Any], str] | None:
    """(fast backend settings, default backend name), or None when not cached for sure."""
    entry = read_cache(CACHE).get(cache_key())
    if not isinstance(entry, dict) or not isinstance(entry.get("backends"), dict):
        return None
    config = entry.get("config")
    default = entry.get("default")
    if not isinstance(config, str) or file_stamp(config) != entry.get("stamp"):
        return None
    if not isinstance(default, str):
        return None
    return entry["backends"], default


def record(config_path: str, backends: dict[str, Any], default: str) -> None:
    """Remember how to open the backends; never fails the command that calls it."""
    entry = {
        "config": config_path,
        "stamp": file_stamp(config_path),
        "backends": backends,
        "default": default,
    }
    data = read_cache(CACHE)
    key = cache_key()
    if data.get(key) == entry:
        return
    data.pop(key, None)
    data[key] = entry
    write_cache(CACHE, data, keep=MAX_ENTRIES)
