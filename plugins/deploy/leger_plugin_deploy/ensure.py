"""Before a release's units start: every podman secret its quadlets name exists.

A release's ``Secret=NAME,…`` lines are the contract: the podman secret is called NAME, exactly
as written. For each one that podman does not have, the value is read from the configured
backend (secret ``<prefix>NAME``, the same name ``leger secrets sync`` and ``local put`` use) and
the secret is created through the chosen strategy (config ``deploy.secrets_strategy``:
``podman``, the file driver, the default; ``driver``, a reference read by ``leger driver`` at
each start; or ``none``: no check, a unit whose secret is missing fails at its start). If any
value is missing nothing is created or installed and the error lists every missing secret and
how to provide it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leger_core.backends import format_reference, plan_for
from leger_core.errors import ConfigError, LegerError, NotFoundError
from leger_core.paths import secret_prefix
from leger_plugin_deploy.state import Deployment

STRATEGIES = ("podman", "driver", "none")


class SecretsMissing(LegerError):
    """Podman secrets a release names are neither in podman nor in the backend."""

    exit_code = 3


@dataclass(frozen=True)
class Needed:
    name: str  # the podman secret, as the quadlet's Secret= names it
    service: str
    env: str
    reference: str  # where its value is read: ``[backend:]<prefix>NAME``


def needed(dep: Deployment, prefix: str) -> list[Needed]:
    """The podman secrets ``dep``'s quadlets name (the first service naming each)."""
    out: dict[str, Needed] = {}
    for service, info in sorted(dep.services.items()):
        for item in info.get("secrets", []):
            if item.get("from") != "quadlet":
                continue
            name, env = item.get("name"), item.get("env")
            if isinstance(name, str) and isinstance(env, str) and name not in out:
                out[name] = Needed(name, service, env, prefix + name)
    return sorted(out.values(), key=lambda n: n.name)


def strategy(leger: Any) -> str:
    chosen = leger.config.get("deploy.secrets_strategy") or "podman"
    if chosen not in STRATEGIES:
        raise ConfigError(
            f"deploy.secrets_strategy in {leger.config.path} must be one of "
            f"{', '.join(STRATEGIES)}, not {chosen!r}"
        )
    return str(chosen)


def ensure_secrets(leger: Any, dep: Deployment, echo: Callable[[str], None]) -> list[str]:
    """Create the podman secrets ``dep`` names that podman lacks; return the names created.
    Raises :class:`SecretsMissing` (having created nothing) when a value is not available."""
    how = strategy(leger)
    wanted = needed(dep, secret_prefix(leger.config))
    if not wanted or how == "none":
        return []
    injector = leger.injector(how)
    if how == "driver":
        # as `leger inject driver` makes it: the backend named in its commands, the fast
        # path's settings recorded
        try:
            from leger_plugin_podman.commands import driver_injector
        except ImportError:
            raise ConfigError(
                "deploy.secrets_strategy 'driver' needs leger-plugin-podman",
                hint="pip install 'leger-plugin-deploy[podman]', or choose another strategy",
            ) from None
        injector = driver_injector(leger, None)
    store = injector.store
    absent = [n for n in wanted if store.inspect(n.name) is None]
    if not absent:
        return []
    found: dict[str, Any] = {}
    missing: list[Needed] = []
    with leger.backends() as open_backend:
        for item in absent:
            ((_, backend, name),) = plan_for(
                [(item.env, item.reference)], leger.backend_name(item.service)
            )
            try:
                if how == "driver":
                    open_backend(backend).info(name)  # the value stays in the backend
                    found[item.name] = format_reference(backend, name)
                else:
                    found[item.name] = open_backend(backend).get(name)
            except NotFoundError:
                missing.append(item)
    if missing:
        lines = "\n".join(
            f"  {m.name} (Secret= of {m.service}, env {m.env}): not in podman, and "
            f"{m.reference!r} is not in backend {leger.backend_name(m.service)!r}"
            for m in missing
        )
        raise SecretsMissing(
            f"the release names podman secrets that do not exist; nothing was changed:\n{lines}",
            hint="store each value with `leger local put NAME` (or `leger secrets sync`), or "
            "create it yourself: `podman secret create NAME -`; then run the command again",
        )
    created: list[str] = []
    for item in absent:
        if how == "driver":
            injector.create_named_ref(item.service, item.env, item.name, found[item.name])
        else:
            injector.create_named(item.service, item.env, item.name, found[item.name])
        created.append(item.name)
    echo(f"Created podman secrets ({how} strategy): {', '.join(created)}")
    return created
