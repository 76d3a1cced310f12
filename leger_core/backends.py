"""Secret references and reading values through backends, shared by every strategy.

A service's secret is named by a *reference*: ``[BACKEND:]NAME``. ``pass:ai/openai`` is
``ai/openai`` in the ``pass`` backend; ``leger/u1/openai`` (no backend part) is read from the
service's backend (``--backend``, else ``[services.X] backend``, else ``[secrets] backend``,
else ``setec``). The part before the first ``:`` is a backend name when it fits
:data:`BACKEND_NAME` (lowercase letter first, then lowercase letters, digits, ``_``, ``-``;
no ``/``), so a default-backend name with such a ``:`` part is written with its backend
(``setec:a:b``). What follows is the backend's own name, handed over verbatim (``pass`` reads
``NAME#whole`` as the whole entry).

This module is on the container-start path (``leger secrets fetch``, ``leger driver
lookup``): standard library's cheapest parts only, like :mod:`leger_core.fastpath`.
"""

from __future__ import annotations

from leger_core.errors import NotFoundError
from leger_core.names import BACKEND_NAME as BACKEND_NAME  # re-exported: where it lived
from leger_core.names import check_secret_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from leger_core.values import SecretValue

    # (env var, backend name, the backend's own secret name), in the service's order
    Plan = list[tuple[str, str, str]]

DEFAULT_BACKEND = "setec"


def parse_reference(reference: str) -> tuple[str | None, str]:
    """``"pass:ai/openai"`` → ``("pass", "ai/openai")``; ``"leger/u/x"`` → ``(None, ...)``."""
    head, sep, rest = reference.partition(":")
    if sep and rest and BACKEND_NAME.fullmatch(head):
        return head, rest
    return None, reference


def check_reference(reference: str, env: str | None = None) -> tuple[str | None, str]:
    """:func:`parse_reference`, its NAME held to :data:`leger_core.names.SECRET_NAME` (with a
    backend's ``#OPTION``): :class:`InvalidInputError` naming ``env`` otherwise."""
    backend, name = parse_reference(reference)
    check_secret_name(name, env)
    return backend, name


def format_reference(backend: str, name: str) -> str:
    return f"{backend}:{name}"


def plan_for(references: Iterable[tuple[str, str]], default_backend: str) -> Plan:
    """(env, reference) pairs → (env, backend, name) with ``default_backend`` filled in; a
    NAME that is not a secret name is refused here, before any backend is asked."""
    plan: Plan = []
    for env, reference in references:
        backend, name = check_reference(reference, env)
        plan.append((env, backend or default_backend, name))
    return plan


def read_plan(
    plan: Sequence[tuple[str, str, str]], open_backend: Callable[[str], Any]
) -> dict[str, SecretValue]:
    """Every value of ``plan`` (env → value), one ``get_many`` per backend.

    ``open_backend(name)`` returns a backend (opened once per name here). A missing secret is
    a :class:`NotFoundError` that names the env var, backend and secret, never a value."""
    by_backend: dict[str, list[str]] = {}
    for _, backend, name in plan:
        names = by_backend.setdefault(backend, [])
        if name not in names:
            names.append(name)
    found: dict[tuple[str, str], SecretValue] = {}
    for backend_name, names in by_backend.items():
        backend = open_backend(backend_name)
        for name, value in backend.get_many(names).items():
            found[(backend_name, name)] = value
    values: dict[str, SecretValue] = {}
    for env, backend_name, name in plan:
        value = found.get((backend_name, name))
        if value is None:
            raise NotFoundError(
                f"secret {name!r} ({env}) not found in backend {backend_name!r}",
                hint="add it to that store, or name another backend for it",
            )
        values[env] = value
    return values


def close_backend(backend: object) -> None:
    """Close what a backend holds open (a socket), if it has anything to close."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()


class FastBackends:
    """Backends opened from fast entries (see ``leger_register_fast_backends``) on the
    container-start path. ``settings`` is what the full CLI recorded: backend name →
    ``{"target": "module:function", "config": {key: value}}``; ``open`` returns None for a
    backend without a fast entry, and the caller then leaves the work to the full CLI."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.opened: dict[str, Any] = {}

    def available(self, names: Iterable[str]) -> bool:
        return all(_target(self.settings.get(n)) is not None for n in names)

    def open(self, name: str) -> Any:
        if name in self.opened:
            return self.opened[name]
        target = _target(self.settings.get(name))
        if target is None:
            raise NotFoundError(f"secret backend {name!r} has no fast entry")
        from leger_core.fastpath import CachedConfig

        module_name, _, attr = target.partition(":")
        module = __import__(module_name, fromlist=[attr])
        config = self.settings[name].get("config")
        backend = getattr(module, attr)(CachedConfig(config if isinstance(config, dict) else {}))
        self.opened[name] = backend
        return backend

    def close(self) -> None:
        for backend in self.opened.values():
            close_backend(backend)
        self.opened.clear()


def _target(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    target = entry.get("target")
    return target if isinstance(target, str) and ":" in target else None
