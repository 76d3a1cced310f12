"""The hooks: secret backend ``setec`` and the ``leger local`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leger_core import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def leger_register_secret_backends(register: Any) -> None:
    from leger_plugin_setec.backend import backend_factory

    register("setec", backend_factory)


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_plugin_setec.commands import local

    cli.add_command(local)


@hookimpl
def leger_register_fast_backends(register: Any) -> None:
    from leger_plugin_setec.backend import CONFIG_KEYS

    register("setec", "leger_plugin_setec.backend:open_backend", CONFIG_KEYS)
