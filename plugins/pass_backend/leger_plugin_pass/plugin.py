"""The hooks: secret backend ``pass`` and its fast entry for container starts."""

from __future__ import annotations

from leger_core import hookimpl
from leger_core.hookspecs import Register, RegisterFastBackend

CONFIG_KEYS = ["pass.store_dir", "pass.command", "pass.gpg"]


@hookimpl
def leger_register_secret_backends(register: Register) -> None:
    from leger_plugin_pass.backend import backend_factory

    register("pass", backend_factory)


@hookimpl
def leger_register_fast_backends(register: RegisterFastBackend) -> None:
    register("pass", "leger_plugin_pass.backend:open_backend", CONFIG_KEYS)
