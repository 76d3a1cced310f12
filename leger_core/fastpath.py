"""The short road for commands that run on every container start.

``leger secrets fetch`` and ``leger driver lookup`` are run by systemd and podman each time a
container starts, so they must not pay for plugin discovery (scanning every installed
distribution) or click. Plugins declare such commands with ``leger_register_fast_commands``;
each normal run of ``leger`` caches that mapping here, keyed by interpreter prefix and
``LEGER_LOAD_PLUGINS``, and the next container start imports just the one function.

This module imports only the standard library's cheapest parts (``os``, ``sys`` and the C
JSON scanner of :mod:`leger_core.lightjson`): keep it that way.
"""

from __future__ import annotations

import os
import sys

from leger_core import lightjson

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    FastMain = Callable[[list[str]], int | None]


def cache_path(name: str) -> str:
    """``$XDG_CACHE_HOME/leger/NAME`` (platformdirs' answer, without importing it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "leger", name)


def cache_file() -> str:
    return cache_path("fast-commands.json")


def file_stamp(path: str) -> list[int] | None:
    """What tells a changed file from an unchanged one without reading it (None: missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class CachedConfig:
    """Config values recorded by the full CLI, read back with ``Config.get``'s signature so
    code shared with the full path (e.g. the setec client's settings) takes either."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def read_cache(name: str) -> dict[str, Any]:
    """A JSON cache file as a dict; missing, unreadable or malformed is an empty cache."""
    try:
        with open(cache_path(name), "rb") as fh:
            data = lightjson.loads(fh.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_cache(name: str, data: dict[str, Any], *, keep: int | None = None) -> None:
    """Replace a JSON cache file atomically (0600 in a 0700 dir). With ``keep``, only the
    newest ``keep`` entries stay (insertion order). Never fails the command that calls it:
    a cache that cannot be written is only a slower next start."""
    import json  # only the full CLI writes caches; the container-start path only reads them

    if keep is not None:
        while len(data) > keep:
            del data[next(iter(data))]
    path = cache_path(name)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        try:  # noqa: SIM105 (contextlib costs ~3 ms a container start)
            os.unlink(tmp)
        except OSError:
            pass


def cache_key() -> str:
    return f"{sys.prefix}|{os.environ.get('LEGER_LOAD_PLUGINS', '*')}"


def find(args: list[str]) -> FastMain | None:
    """The cached fast function for ``args``' first two words, or None (use the full CLI)."""
    if len(args) < 2 or args[0].startswith("-") or os.environ.get("LEGER_NO_FAST"):
        return None
    target = read_cache("fast-commands.json").get(cache_key(), {}).get(f"{args[0]} {args[1]}")
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
    data = read_cache("fast-commands.json")
    key = cache_key()
    if data.get(key) == mapping:
        return
    data[key] = mapping
    write_cache("fast-commands.json", data)
