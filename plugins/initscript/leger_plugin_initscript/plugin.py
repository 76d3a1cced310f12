"""The initscript plugin's hooks: ``leger inject initscript`` and the ``initscript`` injector."""

from __future__ import annotations

import click

from leger_core import hookimpl
from leger_core.hookspecs import Register


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_plugin_initscript.commands import register

    register(cli)


@hookimpl
def leger_register_injectors(register: Register) -> None:
    from leger_plugin_initscript.injector import InitScriptInjector

    register("initscript", InitScriptInjector)
