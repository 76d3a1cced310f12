"""EnvironmentFile delivery: ``leger secrets fetch SERVICE`` writes a 0600 env file.

Behaviour lands in a later change; until then each registered name says so plainly."""

from __future__ import annotations

from typing import Any

from leger_core import hookimpl
from leger_core.errors import NotImplementedYetError


def _not_yet(kind: str, name: str) -> Any:
    def factory(leger: Any) -> Any:
        raise NotImplementedYetError(f"the {kind} {name!r} is registered but not built yet")

    return factory


@hookimpl
def leger_register_injectors(register: Any) -> None:
    register("envfile", _not_yet("injector", "envfile"))
