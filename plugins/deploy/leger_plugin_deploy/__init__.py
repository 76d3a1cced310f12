"""Deploy and update quadlet releases: ``leger deploy …`` and ``leger update``.

Release sources ``git``, ``bundle`` and ``manifest``; services' secrets from installed
releases (their quadlets' ``Secret=`` lines and ``manifest.json``). Heavy modules are imported
only when a command or source is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leger_core import hookimpl
from leger_core.hookspecs import Register

if TYPE_CHECKING:
    import click

    from leger_core.config import Config
    from leger_core.context import Leger
    from leger_core.models import ServiceSecret
    from leger_core.status import StatusCheck


def _git(leger: Any) -> Any:
    from leger_plugin_deploy.sources.git import GitReleaseSource

    return GitReleaseSource(leger)


def _bundle(leger: Any) -> Any:
    from leger_plugin_deploy.sources.bundle import BundleReleaseSource

    return BundleReleaseSource(leger)


def _manifest(leger: Any) -> Any:
    from leger_plugin_deploy.sources.manifest_url import ManifestReleaseSource

    return ManifestReleaseSource(leger)


@hookimpl
def leger_register_release_sources(register: Register) -> None:
    register("git", _git)
    register("bundle", _bundle)
    register("manifest", _manifest)


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_core.cli import subgroup
    from leger_plugin_deploy import cli as commands

    group = subgroup(cli, "deploy", commands.deploy_group.help or "")
    for command in commands.deploy_group.commands.values():
        group.add_command(command)
    cli.add_command(commands.update_command)


@hookimpl
def leger_service_secrets(service: str, config: Config) -> list[ServiceSecret] | None:
    from leger_plugin_deploy.secrets import service_secrets

    return service_secrets(service, config)


@hookimpl
def leger_service_names(config: Config) -> list[str] | None:
    from leger_plugin_deploy.secrets import service_names

    return service_names()


@hookimpl
def leger_status(leger: Leger) -> list[StatusCheck]:
    from leger_plugin_deploy.status import deployment_checks

    return deployment_checks(leger)


@hookimpl
def leger_service_secrets_inputs(config: Config) -> list[str]:
    """The files :func:`leger_service_secrets` reads, so ``leger secrets fetch`` can cache its
    answer until one changes (see leger_plugin_envfile.plans): the deployments folder (a new
    deployment) and each deployment's state file (replaced on every change)."""
    from leger_plugin_deploy.state import Store

    store = Store()
    return [str(store.root), *(str(store.state_path(n)) for n in store.names())]
