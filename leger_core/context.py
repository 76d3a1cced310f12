"""The object every command and strategy factory receives: config, plugins and strategies."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from leger_core.config import Config
from leger_core.errors import NotFoundError
from leger_core.models import ServiceSecret
from leger_core.plugins import LegerPluginManager, call_register_hook
from leger_core.strategies import Injector, Registry, ReleaseSource, SecretBackend

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

    def secret_backend(self, name: str | None = None) -> SecretBackend:
        chosen = name or self.config.get("secrets.backend") or DEFAULT_SECRET_BACKEND
        backend: SecretBackend = self.secret_backends.get(chosen).factory(self)
        return backend

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
                merged.setdefault(item.env, item)
        if not known:
            names = ", ".join(self.service_names()) or "none configured"
            raise NotFoundError(f"unknown service {service!r}; known: {names}")
        return sorted(merged.values(), key=lambda s: s.env)
