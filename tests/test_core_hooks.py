"""Each strategy hook registers by name and is chosen by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.errors import NotFoundError
from leger_core.models import SecretValue
from leger_core.strategies import FetchedRelease


class _Backend:
    def __init__(self, leger):
        self.leger = leger

    def get(self, name, version=0):
        return SecretValue("v")


class _Source:
    def __init__(self, leger):
        pass

    def fetch(self, location, dest, **options):
        return FetchedRelease(path=Path(dest), version="1", files={}, metadata={})

    def latest_version(self, location, **options):
        return "1"


class Strategies:
    @hookimpl
    def leger_register_secret_backends(self, register):
        register("test-backend", _Backend)

    @hookimpl
    def leger_register_release_sources(self, register):
        register("test-source", _Source)

    @hookimpl
    def leger_service_names(self, config):
        return ["from-plugin"]

    @hookimpl
    def leger_identity(self, config):
        return {"user_id": "plugin-user", "source": "plugin"}


def test_secret_backend_is_chosen_by_config_name(leger_pm, leger_register, leger_config):
    leger_register(Strategies(), name="strategies")
    leger = Leger(leger_pm, leger_config.write({"secrets": {"backend": "test-backend"}}))
    backend = leger.secret_backend()
    assert isinstance(backend, _Backend) and backend.leger is leger
    with pytest.raises(NotFoundError, match="unknown secret backend 'setec'; known: test-backend"):
        leger.secret_backend("setec")


def test_release_source_is_chosen_by_name(leger_pm, leger_register, tmp_path):
    leger_register(Strategies(), name="strategies")
    source = Leger(leger_pm).release_source("test-source")
    assert source.fetch("loc", tmp_path).path == tmp_path


def test_service_names_merge_plugins_and_config(leger_pm, leger_register, leger_config):
    leger_register(Strategies(), name="strategies")
    leger = Leger(leger_pm, leger_config.write({"services": {"web": {}}}))
    assert leger.service_names() == ["from-plugin", "web"]


def test_a_plugins_identity_wins_over_the_config_fallback(leger_pm, leger_register, leger_config):
    leger_register(Strategies(), name="strategies")
    config = {"identity": {"user_id": "u", "email": "e", "tailnet": "t", "device_id": "d"}}
    leger = Leger(leger_pm, leger_config.write(config))
    assert leger.identity() == {"user_id": "plugin-user", "source": "plugin"}


class DeclaresInputs:
    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def leger_service_secrets(self, service, config):
        return None

    @hookimpl
    def leger_service_secrets_inputs(self, config):
        return [str(self.path)]


class DeclaresNothing:
    @hookimpl
    def leger_service_secrets(self, service, config):
        return None


def test_service_secrets_inputs_make_the_fetch_cache_watch_the_providers_files(
    leger_pm, leger_register, leger_config, tmp_path
):
    from leger_plugin_envfile.commands import _cache_inputs

    manifest = tmp_path / "services.toml"
    leger_register(DeclaresInputs(manifest), name="declares")
    leger_pm.check_pending()  # a declared hook: a misspelt argument fails at registration
    leger = Leger(leger_pm, leger_config.write({}))
    inputs = _cache_inputs(leger)
    assert inputs is not None and str(manifest) in inputs
    # A provider that cannot say what it reads: its answers are never cached (never stale).
    leger_register(DeclaresNothing(), name="silent")
    assert _cache_inputs(Leger(leger_pm, leger_config.write({}))) is None
