"""The few config values ``leger driver lookup`` needs (where legerd is, its token file),
cached by the full CLI with a stamp of the config file so the fast path skips parsing TOML.
Standard library only."""

from __future__ import annotations

import os
import sys

from leger_core.fastpath import CachedConfig, file_stamp, read_cache, write_cache

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLIENT_KEYS = ("legerd.socket", "legerd.url", "legerd.token_file")
ENV_KEYS = ("LEGER_LOAD_PLUGINS", "LEGER_CONFIG", "XDG_CONFIG_HOME", "HOME")
MAX_ENTRIES = 8


CACHE = "driver-settings.json"


def cache_key() -> str:
    env = "|".join(f"{k}={os.environ.get(k, '')}" for k in ENV_KEYS)
    return f"v1|{sys.prefix}|{os.getuid()}|{env}"


def lookup() -> CachedConfig | None:
    entry = read_cache(CACHE).get(cache_key())
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
        return None
    config = entry.get("config")
    if not isinstance(config, str) or file_stamp(config) != entry.get("stamp"):
        return None
    return CachedConfig(entry["values"])


def record(config_path: str, config: Any) -> None:
    """Remember ``config``'s client settings; never fails the command that calls it."""
    values = {k: config.get(k) for k in CLIENT_KEYS if config.get(k)}
    entry = {"config": config_path, "stamp": file_stamp(config_path), "values": values}
    data = read_cache(CACHE)
    key = cache_key()
    if data.get(key) == entry:
        return
    data.pop(key, None)
    data[key] = entry
    write_cache(CACHE, data, keep=MAX_ENTRIES)
