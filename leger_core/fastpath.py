"""The short road for commands that run on every container start.

``leger secrets fetch`` and ``leger driver lookup`` are run by systemd and podman each time a
container starts, so they must not pay for plugin discovery (scanning every installed
distribution) or click. Plugins declare such commands with ``leger_register_fast_commands``;
each normal run of ``leger`` caches that mapping here, keyed by interpreter prefix and
``LEGER_LOAD_PLUGINS``, and the next container start imports just the one function.

This module imports only the standard library's cheapest parts: keep it that way.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    FastMain = Callable[[list[str]], int | None]


def cache_file() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "leger", "fast-commands.json")


def cache_key() -> str:
    return f"{sys.prefix}|{os.environ.get('LEGER_LOAD_PLUGINS', '*')}"


def _read_cache() -> dict[str, Any]:
    try:
        with open(cache_file(), "rb") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find(args: list[str]) -> FastMain | None:
    """The cached fast function for ``args``' first two words, or None (use the full CLI)."""
    if len(args) < 2 or args[0].startswith("-") or os.environ.get("LEGER_NO_FAST"):
        return None
    target = _read_cache().get(cache_key(), {}).get(f"{args[0]} {args[1]}")
    if not isinstance(target, str) or ":" not in target:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
        function: FastMain = getattr(module, attr)
    except (ImportError, AttributeError):
        return None  # stale cache (plugin removed): the full CLI will rewrite it
    return function


def update_cache(mapping: dict[str, str]) -> None:
    """Record ``mapping`` (command words → ``module:function``) for this interpreter; writes
    only when it changed, and never fails the command that called it."""
    data = _read_cache()
    key = cache_key()
    if data.get(key) == mapping:
        return
    data[key] = mapping
    path = cache_file()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass
