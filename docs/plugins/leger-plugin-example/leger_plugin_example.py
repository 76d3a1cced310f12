"""A complete tiny Leger plugin (see docs/plugins/tutorial.md).

It adds ``leger hello`` and registers a secret backend named ``memory`` that keeps values in
this process only: handy in tests, useless for real secrets.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

import leger_core
from leger_core.errors import NotFoundError
from leger_core.hookspecs import Register
from leger_core.models import SecretInfo, SecretValue


@leger_core.hookimpl
def leger_register_commands(cli: click.Group) -> None:
    @cli.command()
    @click.argument("name", default="world")
    def hello(name: str) -> None:
        """Say hello (from leger-plugin-example)."""
        click.echo(f"Hello, {name}!")


class MemoryBackend:
    """Values in a dict; versions count up when a value changes."""

    def __init__(self) -> None:
        self._versions: dict[str, list[SecretValue]] = {}

    def get(self, name: str, version: int = 0) -> SecretValue:
        versions = self._versions.get(name)
        if not versions or version > len(versions):
            raise NotFoundError(f"secret {name!r} not found")
        return versions[version - 1] if version else versions[-1]

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        # A real store answers all names in one round trip; a missing name is left out.
        return {n: self._versions[n][-1] for n in names if self._versions.get(n)}

    def put(self, name: str, value: SecretValue) -> int:
        versions = self._versions.setdefault(name, [])
        if not versions or versions[-1] != value:
            versions.append(value)
        return len(versions)

    def info(self, name: str) -> SecretInfo:
        if name not in self._versions:
            raise NotFoundError(f"secret {name!r} not found")
        count = len(self._versions[name])
        return SecretInfo(name, tuple(range(1, count + 1)), count)

    def list(self) -> list[SecretInfo]:
        return [self.info(name) for name in sorted(self._versions)]

    def delete(self, name: str) -> None:
        if self._versions.pop(name, None) is None:
            raise NotFoundError(f"secret {name!r} not found")


@leger_core.hookimpl
def leger_register_secret_backends(register: Register) -> None:
    register("memory", lambda leger: MemoryBackend())
