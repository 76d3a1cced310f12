"""A cache of what ``leger secrets fetch SERVICE`` needs: the service's secrets (env var, backend,
name) and how to open each backend's fast entry, so the fast path reads one small JSON file
instead of parsing TOML and loading plugins.

The full CLI is always the source of truth: it resolves a service through the
``leger_service_secrets`` hook and records the answer here together with a stamp (inode, size,
mtime, ctime) of every file the answer came from — the config file, the account file, and what
other providers declare. The fast path uses an entry only when every stamp still matches and the
environment that chose those files is the same; otherwise it falls back to the full CLI, which
refreshes the entry. A provider that cannot say which files it reads makes its services
uncacheable (always the full CLI) rather than risk a stale answer.

A provider declares its inputs with the ``leger_service_secrets_inputs`` hook::

    @leger_core.hookimpl
    def leger_service_secrets_inputs(config) -> list[str]:  # paths whose change may change
        return [str(manifest_path)]                          # the answer; missing files are ok

Standard library only (plus leger_core's cheap modules): this is read on every container start.
"""

from __future__ import annotations

from leger_core import stampcache

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

VERSION = 2
# What chooses the files an answer comes from (plugins, config path, account file). Where
# legerd is and its token are resolved at run time from the cached config values, exactly as
# leger_plugin_setec does, so $LEGERD_SOCKET and $LEGERD_TOKEN need no entry of their own
# (nor $PASSWORD_STORE_DIR for pass).
ENV_KEYS = ("LEGER_LOAD_PLUGINS", "LEGER_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME")
MAX_ENTRIES = 8
# The core's own config reader; its inputs (config and account file) are always stamped.
CONFIG_PROVIDER = "leger.config_services"

Plan = list[tuple[str, str, str]]  # (env var, backend, secret name), in the service's order


CACHE = "service-plans.json"


def cache_key() -> str:
    return stampcache.cache_key(VERSION, ENV_KEYS)


def lookup(service: str) -> tuple[Plan, dict[str, Any]] | None:
    """(plan, fast backend settings) for ``service`` if the cache holds a current answer."""
    entry = stampcache.lookup(CACHE, cache_key())
    if entry is None:
        return None
    plan = entry.get("services", {}).get(service)
    backends = entry.get("backends")
    if not isinstance(plan, list) or not isinstance(backends, dict):
        return None
    if not all(isinstance(item, list) and len(item) == 3 for item in plan):
        return None
    return [(str(env), str(b), str(name)) for env, b, name in plan], backends


def record(service: str, plan: Plan, backends: dict[str, Any], inputs: Iterable[str]) -> None:
    """Remember ``plan`` for ``service``, beside the other services answered from the same
    inputs. Never fails the command that calls it."""
    stamps = stampcache.stamps(inputs)
    key = cache_key()
    current = stampcache.lookup(CACHE, key)
    if current is None or current.get("inputs") != stamps or current.get("backends") != backends:
        entry: dict[str, Any] = {"inputs": stamps, "backends": backends, "services": {}}
    else:
        entry = {**current, "services": dict(current.get("services") or {})}
    entry["services"][service] = [list(item) for item in plan]
    # Other environments (a shell, systemd, tests) have entries too: keep a few.
    stampcache.record(CACHE, key, entry, keep=MAX_ENTRIES)
