"""Before a release's units start: every podman secret its quadlets name exists.

A release's ``Secret=NAME,…`` lines are the contract: the podman secret is called NAME, exactly
as written. For each one that podman does not have, the value is read from the configured
backend (secret ``<prefix>NAME``, the same name ``leger secrets sync`` and ``local put`` use) and
the secret is created through the chosen strategy (config ``deploy.secrets_strategy``:
``podman``, the file driver, the default; ``driver``, a reference read by ``leger driver`` at
each start; or ``none``: no check, a unit whose secret is missing fails at its start). If any
value is missing nothing is created or installed and the error lists every missing secret and
how to provide it.

:meth:`ReleaseSecrets.check` answers the same questions without creating anything and without
reading a value (``--dry-run``). When the change fails after the secrets were made,
:meth:`ReleaseSecrets.undo` removes the ones this run created — never one that existed before,
and never one another service names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leger_core.backends import format_reference, plan_for
from leger_core.errors import ConfigError, LegerError, NotFoundError
from leger_core.paths import secret_prefix
from leger_plugin_deploy.state import Deployment

STRATEGIES = ("podman", "driver", "none")
Echo = Callable[[str], None]


class SecretsMissing(LegerError):
    """Podman secrets a release names are neither in podman nor in the backend."""

    exit_code = 3


@dataclass(frozen=True)
class Needed:
    name: str  # the podman secret, as the quadlet's Secret= names it
    service: str
    env: str
    reference: str  # where its value is read: ``[backend:]<prefix>NAME``


@dataclass
class SecretsCheck:
    """Which podman secrets a release names are there, would be created, or are missing."""

    strategy: str
    present: list[Needed] = field(default_factory=list)
    create: list[Needed] = field(default_factory=list)
    missing: list[Needed] = field(default_factory=list)
    backends: dict[str, str] = field(default_factory=dict)  # service → backend name

    def to_json(self) -> dict[str, Any]:
        def row(n: Needed) -> dict[str, str]:
            return {"name": n.name, "service": n.service, "env": n.env}

        return {
            "strategy": self.strategy,
            "present": sorted(n.name for n in self.present),
            "create": sorted(n.name for n in self.create),
            "missing": [
                {**row(n), "reference": n.reference, "backend": self.backends[n.service]}
                for n in self.missing
            ],
        }

    def error(self) -> SecretsMissing:
        lines = "\n".join(
            f"  {m.name} (Secret= of {m.service}, env {m.env}): not in podman, and "
            f"{m.reference!r} is not in backend {self.backends[m.service]!r}"
            for m in self.missing
        )
        return SecretsMissing(
            f"the release names podman secrets that do not exist; nothing was changed:\n{lines}",
            hint="store each value with `leger local put NAME` (or `leger secrets sync`), or "
            "create it yourself: `podman secret create NAME -`; then run the command again",
        )


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


class ReleaseSecrets:
    """The podman secrets of one release, for one install, update or rollback."""

    def __init__(self, leger: Any, dep: Deployment) -> None:
        self.leger = leger
        self.strategy = strategy(leger)
        self.wanted = [] if self.strategy == "none" else needed(dep, secret_prefix(leger.config))
        self.created: list[str] = []  # by this run, in podman now
        self._injector: Any = None

    @property
    def injector(self) -> Any:
        if self._injector is None:
            if self.strategy == "driver":
                # as `leger inject driver` makes it: the backend named in its commands, the
                # fast path's settings recorded
                try:
                    from leger_plugin_podman.commands import driver_injector
                except ImportError:
                    raise ConfigError(
                        "deploy.secrets_strategy 'driver' needs leger-plugin-podman",
                        hint="pip install 'leger-plugin-deploy[podman]', or choose another "
                        "strategy",
                    ) from None
                self._injector = driver_injector(self.leger, None)
            else:
                self._injector = self.leger.injector(self.strategy)
        return self._injector

    def check(self, values: dict[str, Any] | None = None) -> SecretsCheck:
        """Ask podman which secrets exist and the backends whether the others' values are
        there. With ``values``, what to create them with is read into it (the value for the
        podman strategy, a reference for the driver); without, no value is read at all."""
        result = SecretsCheck(self.strategy)
        if not self.wanted:
            return result
        store = self.injector.store
        absent: list[Needed] = []
        for item in self.wanted:
            (result.present if store.inspect(item.name) is not None else absent).append(item)
        if not absent:
            return result
        with self.leger.backends() as open_backend:
            for item in absent:
                chosen = self.leger.backend_name(item.service)
                result.backends[item.service] = chosen
                ((_, backend, name),) = plan_for([(item.env, item.reference)], chosen)
                try:
                    if values is None or self.strategy == "driver":
                        open_backend(backend).info(name)  # the value stays in the backend
                        if values is not None:
                            values[item.name] = format_reference(backend, name)
                    else:
                        values[item.name] = open_backend(backend).get(name)
                except NotFoundError:
                    result.missing.append(item)
                else:
                    result.create.append(item)
        return result

    def ensure(self, echo: Echo) -> list[str]:
        """Create the podman secrets the release names that podman lacks; return the names
        created. Raises :class:`SecretsMissing` (having created nothing) when a value is not
        available; if creating one fails, the ones created before it are removed."""
        if not self.wanted:
            return []
        values: dict[str, Any] = {}
        checked = self.check(values)
        if checked.missing:
            raise checked.error()
        injector = self.injector
        try:
            for item in checked.create:
                if self.strategy == "driver":
                    injector.create_named_ref(item.service, item.env, item.name, values[item.name])
                else:
                    injector.create_named(item.service, item.env, item.name, values[item.name])
                self.created.append(item.name)
        except BaseException:
            self.undo(echo)
            raise
        if self.created:
            echo(f"Created podman secrets ({self.strategy} strategy): {', '.join(self.created)}")
        return list(self.created)

    def undo(self, echo: Echo) -> list[str]:
        """Remove the podman secrets this run created, unless a service (of another
        deployment, or of this one as it is again after a rollback) names one; say what was
        removed and what was kept. Returns the names removed."""
        if not self.created:
            return []
        removed: list[str] = []
        try:
            users = self.injector.users_of(self.created)
        except LegerError as exc:
            echo(f"Kept the podman secrets it created ({', '.join(self.created)}): {exc}")
            return removed
        kept: list[str] = []
        for name in self.created:
            if users.get(name):
                kept.append(f"{name} (named by {', '.join(users[name])})")
                continue
            try:
                self.injector.store.remove(name)
            except LegerError as exc:
                kept.append(f"{name} (removing it failed: {exc})")
            else:
                removed.append(name)
        self.created = []
        if removed:
            echo(f"Removed the podman secrets it had created: {', '.join(removed)}")
        if kept:
            echo(f"Kept podman secrets it had created: {'; '.join(kept)}")
        return removed


def ensure_secrets(leger: Any, dep: Deployment, echo: Echo) -> list[str]:
    """Create the podman secrets ``dep`` names that podman lacks; return the names created."""
    return ReleaseSecrets(leger, dep).ensure(echo)
