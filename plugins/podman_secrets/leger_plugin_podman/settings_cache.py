"""What ``leger driver lookup`` needs to open secret backends without plugin discovery (each
backend's fast entry and its config values, and the default backend), cached by the full CLI
with a stamp of the config file (:mod:`leger_core.stampcache`) so the fast path skips parsing
TOML. Standard library only."""

from __future__ import annotations

from leger_core import stampcache

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# v3: the config's stamp is kept as stampcache's "inputs" (v2 had "config" and "stamp").
VERSION = 3
ENV_KEYS = ("LEGER_LOAD_PLUGINS", "LEGER_CONFIG", "XDG_CONFIG_HOME", "HOME")
MAX_ENTRIES = 8


CACHE = "driver-settings.json"


def cache_key() -> str:
    return stampcache.cache_key(VERSION, ENV_KEYS)


def lookup() -> tuple[dict[str, Any], str] | None:
    """(fast backend settings, default backend name), or None when not cached for sure."""
    entry = stampcache.lookup(CACHE, cache_key())
    if entry is None or not isinstance(entry.get("backends"), dict):
        return None
    default = entry.get("default")
    if not isinstance(default, str):
        return None
    return entry["backends"], default


def record(config_path: str, backends: dict[str, Any], default: str) -> None:
    """Remember how to open the backends; never fails the command that calls it."""
    entry = {"inputs": stampcache.stamps([config_path]), "backends": backends, "default": default}
    stampcache.record(CACHE, cache_key(), entry, keep=MAX_ENTRIES)
