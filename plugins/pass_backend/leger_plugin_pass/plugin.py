"""The hooks: secret backend ``pass``, its fast entry for container starts, and its line in
``leger status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leger_core import hookimpl
from leger_core.hookspecs import Register, RegisterFastBackend

if TYPE_CHECKING:
    from leger_core.context import Leger
    from leger_core.status import StatusCheck

CONFIG_KEYS = ["pass.store_dir", "pass.command", "pass.gpg"]


@hookimpl
def leger_register_secret_backends(register: Register) -> None:
    from leger_plugin_pass.backend import backend_factory

    register("pass", backend_factory)


@hookimpl
def leger_register_fast_backends(register: RegisterFastBackend) -> None:
    register("pass", "leger_plugin_pass.backend:open_backend", CONFIG_KEYS)


@hookimpl
def leger_status(leger: Leger) -> list[StatusCheck]:
    from leger_plugin_pass.status import pass_status

    return [pass_status(leger)]
