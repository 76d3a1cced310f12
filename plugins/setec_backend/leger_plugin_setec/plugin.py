"""The hooks: secret backend ``setec`` and the ``leger local`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leger_core import hookimpl
from leger_core.hookspecs import Register, RegisterFastBackend

if TYPE_CHECKING:
    import click

    from leger_core.context import Leger
    from leger_core.status import StatusCheck


@hookimpl
def leger_register_secret_backends(register: Register) -> None:
    from leger_plugin_setec.backend import backend_factory

    register("setec", backend_factory)


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_plugin_setec.commands import local

    cli.add_command(local)


@hookimpl
def leger_status(leger: Leger) -> list[StatusCheck]:
    from leger_plugin_setec.status import legerd_status

    return [legerd_status(leger)]


# Config keys the client reads (never secrets: a token lives in a file or $LEGERD_TOKEN).
CONFIG_KEYS = ["legerd.socket", "legerd.url", "legerd.token_file"]


@hookimpl
def leger_register_fast_backends(register: RegisterFastBackend) -> None:
    # The bare client: its get_many is one round trip, and a container start reads each
    # value once, so the backend's version cache (and its module) would only cost imports.
    register("setec", "leger_plugin_setec.client:client_from_config", CONFIG_KEYS)
