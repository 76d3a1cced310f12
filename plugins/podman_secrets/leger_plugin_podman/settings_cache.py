"""The few config values ``leger driver lookup`` needs (where legerd is, its token file),
cached by the full CLI with a stamp of the config file so the fast path skips parsing TOML.
Standard library only."""

from __future__ import annotations

import json
import os
import sys

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLIENT_KEYS = ("legerd.socket", "legerd.url", "legerd.token_file")
ENV_KEYS = ("LEGER_LOAD_PLUGINS", "LEGER_CONFIG", "XDG_CONFIG_HOME", "HOME")
MAX_ENTRIES = 8


def cache_file() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "leger", "driver-settings.json")


def cache_key() -> str:
    env = "|".join(f"{k}={os.environ.get(k, '')}" for k in ENV_KEYS)
    return f"v1|{sys.prefix}|{os.getuid()}|{env}"


def stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class CachedConfig:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _read() -> dict[str, Any]:
    try:
        with open(cache_file(), "rb") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup() -> CachedConfig | None:
    entry = _read().get(cache_key())
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
        return None
    config = entry.get("config")
    if not isinstance(config, str) or stamp(config) != entry.get("stamp"):
        return None
    return CachedConfig(entry["values"])


def record(config_path: str, config: Any) -> None:
    """Remember ``config``'s client settings; never fails the command that calls it."""
    values = {k: config.get(k) for k in CLIENT_KEYS if config.get(k)}
    entry = {"config": config_path, "stamp": stamp(config_path), "values": values}
    data = _read()
    key = cache_key()
    if data.get(key) == entry:
        return
    data.pop(key, None)
    data[key] = entry
    while len(data) > MAX_ENTRIES:
        del data[next(iter(data))]
    path = cache_file()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass
