"""The leger-server client: ``leger auth``, ``leger secrets list|get|set|rm|sync``,
``leger releases``, the ``cloud`` secret backend and the Tailscale identity provider.

Commands and clients are imported only when used, so loading this plugin stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leger_core import hookimpl
from leger_core.hookspecs import Register

if TYPE_CHECKING:
    import click

    from leger_core.config import Config
    from leger_core.context import Leger
    from leger_core.status import StatusCheck


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_core.cli import subgroup
    from leger_plugin_cloud import commands_secrets
    from leger_plugin_cloud.commands_auth import auth_group
    from leger_plugin_cloud.commands_releases import releases_group

    cli.add_command(auth_group)
    cli.add_command(releases_group)
    secrets = subgroup(cli, "secrets", "Secrets: your account's (cloud) and this machine's.")
    commands_secrets.register(secrets)


@hookimpl
def leger_register_secret_backends(register: Register) -> None:
    from leger_plugin_cloud.backend import backend_factory

    register("cloud", backend_factory)


@hookimpl
def leger_identity(config: Config) -> dict[str, Any] | None:
    from leger_plugin_cloud.tailscale import tailscale_identity

    return tailscale_identity(config)


@hookimpl
def leger_status(leger: Leger) -> list[StatusCheck]:
    from leger_plugin_cloud.status import account_status

    return [account_status()]


@hookimpl
def leger_deployment_changed(leger: Any, event: dict[str, Any]) -> str | None:
    from leger_plugin_cloud.deployments import report

    return report(event)
