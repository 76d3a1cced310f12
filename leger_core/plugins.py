"""The plugin manager: hook specs, default plugins and plugins found through entry points.

Discovery is explicit and switchable:

* ``LEGER_LOAD_PLUGINS`` unset: every entry point of group ``leger`` is loaded.
* ``LEGER_LOAD_PLUGINS=a,b``: only those (entry point name or distribution name).
* ``LEGER_LOAD_PLUGINS=`` (empty): none; only the core's default plugins.
* ``LEGER_TRACE_PLUGINS=1``: every hook call and result is written to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from leger_core import hookspecs
from leger_core.errors import LegerError

# Built-in behaviour is registered exactly like an external plugin (pytest, datasette).
DEFAULT_PLUGINS = (
    "leger_core.builtins.core_commands",
    "leger_core.builtins.config_services",
    "leger_core.builtins.static_identity",
    "leger_core.builtins.status_command",
    "leger_core.builtins.service_status",
)


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str] = field(default_factory=list)
    default: bool = False


class LegerPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__("leger")
        self.add_hookspecs(hookspecs)
        self.distributions: dict[str, tuple[str, str]] = {}
        self.defaults: set[str] = set()

    def plugin_infos(self, include_defaults: bool = False) -> list[PluginInfo]:
        infos = []
        for plugin in self.get_plugins():
            name = self.get_name(plugin) or repr(plugin)
            is_default = name in self.defaults
            if is_default and not include_defaults:
                continue
            dist = self.distributions.get(name)
            hooks = sorted(caller.name for caller in self.get_hookcallers(plugin) or [])
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist[0] if dist else None,
                    version=dist[1] if dist else None,
                    hooks=hooks,
                    default=is_default,
                )
            )
        return sorted(infos, key=lambda i: (i.default, i.name))


def _wanted() -> set[str] | None:
    raw = os.environ.get("LEGER_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_entrypoint_plugins(pm: LegerPluginManager) -> None:
    wanted = _wanted()
    if wanted is not None and not wanted:
        return
    for ep in metadata.entry_points(group="leger"):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        if wanted is not None and ep.name not in wanted and dist_name not in wanted:
            continue
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            print(f"leger: warning: could not load plugin {ep.name!r}: {exc}", file=sys.stderr)
            continue
        pm.register(plugin, name=ep.name)
        if dist is not None:
            pm.distributions[ep.name] = (dist_name or ep.name, dist.version)


def get_plugin_manager(*, load_entrypoints: bool = True) -> LegerPluginManager:
    """A manager with the default plugins and, unless told not to, the installed ones."""
    pm = LegerPluginManager()
    for module_name in DEFAULT_PLUGINS:
        module: ModuleType = importlib.import_module(module_name)
        short = "leger." + module_name.rsplit(".", 1)[-1]
        pm.register(module, name=short)
        pm.defaults.add(short)
    if load_entrypoints:
        load_entrypoint_plugins(pm)
    if os.environ.get("LEGER_TRACE_PLUGINS"):
        enable_tracing(pm)
    return pm


def enable_tracing(pm: pluggy.PluginManager) -> None:
    """Write each hook call, and what it returned, to stderr (like DATASETTE_TRACE_PLUGINS)."""

    def before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        plugins = ", ".join(impl.plugin_name for impl in hook_impls)
        print(f"leger: trace: {hook_name}({', '.join(kwargs)}) -> [{plugins}]", file=sys.stderr)

    def after(
        outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        exc = outcome.exception
        # Results are configs, names and SecretValues, whose repr never shows a value.
        status = f"raised {type(exc).__name__}" if exc else f"-> {_short(outcome.get_result())}"
        print(f"leger: trace: {hook_name} {status}", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_register_hook(pm: pluggy.PluginManager, hook_name: str, registry: Any) -> None:
    """Call a ``leger_register_*`` hook one implementation at a time, so each registration
    knows which plugin made it (needed to name both sides of a duplicate)."""
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # pluggy order: tryfirst … trylast
        plugin_name = impl.plugin_name

        def register(name: str, factory: Any, _plugin: str = plugin_name) -> None:
            if os.environ.get("LEGER_TRACE_PLUGINS"):
                print(f"leger: trace: {hook_name}: {_plugin} registers {name!r}", file=sys.stderr)
            registry.register(name, factory, _plugin)

        try:
            impl.function(register=register)
        except LegerError:
            raise
        except Exception as exc:
            raise LegerError(f"plugin {plugin_name!r} failed in {hook_name}: {exc}") from exc
