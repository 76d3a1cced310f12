"""The podman plugin's hooks: ``leger driver …``, ``leger inject podman|driver``, the
``podman`` and ``driver`` injectors and the fast path of ``driver lookup``."""

from __future__ import annotations

import click

from leger_core import hookimpl
from leger_core.hookspecs import Register, RegisterFastCommand


@hookimpl
def leger_register_commands(cli: click.Group) -> None:
    from leger_plugin_podman.commands import register

    register(cli)


@hookimpl
def leger_register_injectors(register: Register) -> None:
    from leger_plugin_podman.injectors import DriverInjector, PodmanInjector

    register("podman", PodmanInjector)
    register("driver", DriverInjector)


@hookimpl
def leger_register_fast_commands(register: RegisterFastCommand) -> None:
    register("driver lookup", "leger_plugin_podman.fast:main")
