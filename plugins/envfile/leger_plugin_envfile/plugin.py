"""The envfile plugin's hooks: ``leger secrets fetch|clean``, ``leger quadlet snippet``, the
``envfile`` injector and the fast path of ``secrets fetch``.
"""

from __future__ import annotations

import click

from leger_core import hookimpl
from leger_core.hookspecs import Register, RegisterFastCommand


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_plugin_envfile.commands import register

    register(cli)


@hookimpl
def leger_register_injectors(register: Register) -> None:
    from leger_plugin_envfile.injector import EnvFileInjector

    register("envfile", EnvFileInjector)


@hookimpl
def leger_register_fast_commands(register: RegisterFastCommand) -> None:
    register("secrets fetch", "leger_plugin_envfile.fast:main")
