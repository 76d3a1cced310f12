"""Leger's core: hook specs, plugin manager, CLI, config and shared types.

Importing this package is cheap on purpose (the fast path imports it on every container
start); ``hookimpl`` loads pluggy only when a plugin asks for it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: this package is
if TYPE_CHECKING:  # imported on every container start (see leger_core.fastpath)
    from typing import Any

    import pluggy

    hookimpl: pluggy.HookimplMarker

__version__ = "0.1.0"

# What plugins may use: ``hookimpl``, ``__version__`` and these modules (imported by their own
# name, e.g. ``from leger_core.errors import NotFoundError``; listing them here loads nothing).
# Everything else (``builtins``, ``entry``, ``plugins``) is private and may change.
# tests/test_packaging.py checks that the repository's plugins import only these.
__all__ = [
    "__version__",
    "backends",
    "cli",
    "config",
    "context",
    "errors",
    "fastpath",
    "fsutil",
    "hookimpl",
    "hookspecs",
    "lightjson",
    "models",
    "names",
    "paths",
    "sdunits",
    "setec_api",
    "stampcache",
    "status",
    "strategies",
    "tailscale_whois",
    "targuard",
    "testing",
    "unixhttp",
    "values",
]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker("leger")
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'leger_core' has no attribute {name!r}")
