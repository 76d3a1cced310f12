"""The object every command and strategy factory receives: config, plugins and strategies."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leger_core.backends import close_backend, plan_for, read_plan
from leger_core.config import Config, config_path
from leger_core.errors import ConfigError, NotFoundError, UsageError
from leger_core.models import SecretValue, ServiceSecret
from leger_core.names import BACKEND_NAME
from leger_core.plugins import LegerPluginManager, call_register_hook
from leger_core.strategies import Injector, Registry, ReleaseSource, SecretBackend

if TYPE_CHECKING:
    from leger_core.backends import Plan

DEFAULT_SECRET_BACKEND = "setec"


class Leger:
    """Lazily built registries so a command only pays for what it uses."""

    def __init__(
        self,
        pm: LegerPluginManager,
        config: Config | None = None,
        *,
        config_path: str | None = None,
    ) -> None:
        self.pm = pm
        self._config = config
        self._config_path = config_path

    @property
    def config_path(self) -> Path:
        """The configuration file in use: ``--config``, else ``$LEGER_CONFIG``, else the
        user's (it may not exist). Known without reading it, so it works on a broken file."""
        return config_path(self._config_path)

    @property
    def config_from_option(self) -> bool:
        """Whether ``--config`` chose the file. The container-start fast paths never see that
        option, so what they cache must not come from such a run."""
        return bool(self._config_path)

    @property
    def config(self) -> Config:
        # Loaded on first use so `leger config path` works even when the file is broken.
        if self._config is None:
            self._config = Config.load(self._config_path)
        return self._config

    def _registry(self, kind: str, hook: str) -> Registry:
        registry = Registry(kind)
        call_register_hook(self.pm, hook, registry)
        return registry

    @cached_property
    def secret_backends(self) -> Registry:
        return self._registry("secret backend", "leger_register_secret_backends")

    @cached_property
    def injectors(self) -> Registry:
        return self._registry("injector", "leger_register_injectors")

    @cached_property
    def release_sources(self) -> Registry:
        return self._registry("release source", "leger_register_release_sources")

    def backend_name(self, service: str | None = None, override: str | None = None) -> str:
        """The backend a reference without one is read from: ``override`` (``--backend``),
        else ``[services.SERVICE] backend``, else ``[secrets] backend``, else ``setec``."""
        chosen: Any = override
        where = "--backend"
        if not chosen and service is not None:
            table = self.config.section("services").get(service)
            chosen = table.get("backend") if isinstance(table, dict) else None
            where = f"services.{service}.backend in {self.config.path}"
        if not chosen:
            chosen = self.config.get("secrets.backend")
            where = f"secrets.backend in {self.config.path}"
        if not chosen:
            return DEFAULT_SECRET_BACKEND
        if not isinstance(chosen, str) or not BACKEND_NAME.fullmatch(chosen):
            error = UsageError if chosen == override else ConfigError
            raise error(f"{where}: {chosen!r} is not a secret backend name")
        return chosen

    def secret_backend(self, name: str | None = None) -> SecretBackend:
        chosen = name or self.backend_name()
        backend: SecretBackend = self.secret_backends.get(chosen).factory(self)
        return backend

    def secret_plan(self, service: str, override: str | None = None) -> Plan:
        """``service``'s secrets as (env, backend, name), every reference resolved to its
        backend (see :mod:`leger_core.backends`); an unknown backend is an error now."""
        plan = plan_for(
            ((s.env, s.secret) for s in self.service_secrets(service)),
            self.backend_name(service, override),
        )
        for backend in dict.fromkeys(b for _, b, _ in plan):
            self.secret_backends.get(backend)
        return plan

    @contextmanager
    def backends(self) -> Iterator[Callable[[str], SecretBackend]]:
        """``open(name)`` for the length of a ``with``: each backend made once, closed after."""
        opened: dict[str, SecretBackend] = {}

        def open_backend(name: str) -> SecretBackend:
            if name not in opened:
                opened[name] = self.secret_backend(name)
            return opened[name]

        try:
            yield open_backend
        finally:
            for backend in opened.values():
                close_backend(backend)

    def read_values(self, plan: Sequence[tuple[str, str, str]]) -> dict[str, SecretValue]:
        """The values of ``plan`` (env → value), one ``get_many`` per backend."""
        with self.backends() as open_backend:
            return read_plan(plan, open_backend)

    def fast_backend_settings(self) -> dict[str, Any]:
        """What the container-start path needs to open each backend that has a fast entry:
        name → ``{"target": "module:function", "config": {key: value}}`` (never a secret:
        config holds names and paths, tokens live in files)."""
        settings: dict[str, Any] = {}

        def register(name: str, target: str, config_keys: Sequence[str] = ()) -> None:
            config = {k: self.config.get(k) for k in config_keys if self.config.get(k)}
            settings[name] = {"target": target, "config": config}

        self.pm.hook.leger_register_fast_backends(register=register)
        return settings

    def injector(self, name: str) -> Injector:
        injector: Injector = self.injectors.get(name).factory(self)
        return injector

    def release_source(self, name: str) -> ReleaseSource:
        source: ReleaseSource = self.release_sources.get(name).factory(self)
        return source

    def identity(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.pm.hook.leger_identity(config=self.config)
        return result

    def service_names(self) -> list[str]:
        names: set[str] = set()
        for result in self.pm.hook.leger_service_names(config=self.config):
            names.update(result or [])
        return sorted(names)

    def service_secrets(self, service: str) -> list[ServiceSecret]:
        """The merged requirements of ``service``; the first answer for an env var wins."""
        merged: dict[str, ServiceSecret] = {}
        known = False
        for result in self.pm.hook.leger_service_secrets(service=service, config=self.config):
            if result is None:
                continue
            known = True
            for item in result:
                first = merged.setdefault(item.env, item)
                if first.podman_name is None and item.podman_name is not None:
                    # the value may come from config, the podman name is the release's
                    merged[item.env] = replace(first, podman_name=item.podman_name)
        if not known:
            names = ", ".join(self.service_names()) or "none configured"
            raise NotFoundError(f"unknown service {service!r}; known: {names}")
        return sorted(merged.values(), key=lambda s: s.env)
