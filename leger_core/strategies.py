"""What a secret backend, an injector and a release source look like, and the registry that
holds them by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from leger_core.errors import DuplicateNameError, NotFoundError
from leger_core.models import InjectResult, SecretInfo, SecretValue


@runtime_checkable
class SecretBackend(Protocol):
    """Where secret values are read from and, where the store allows, written to.

    Errors are :mod:`leger_core.errors`' typed ones, which the CLI maps to exit codes:
    :class:`~leger_core.errors.NotFoundError` for an unknown name,
    :class:`~leger_core.errors.UnavailableError` when the store cannot be reached (a daemon
    down, a tool not installed), :class:`~leger_core.errors.DeniedError` when it refuses the
    caller, :class:`~leger_core.errors.UnsupportedError` for a write the store cannot do.
    No message ever holds a value. A backend holding a connection may add ``close()``.
    """

    def get(self, name: str, version: int = 0) -> SecretValue:
        """The value of ``name`` (``version`` 0 = the active one)."""
        ...

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        """The active values of ``names`` in one round trip where the store allows (setec:
        all requests in flight at once). A name the store does not have is left out of the
        answer; every other failure raises as :meth:`get` would."""
        ...

    def put(self, name: str, value: SecretValue) -> int:
        """Store ``value`` as the active value of ``name`` and return its version; the same
        value as the active one makes no new version. A read-only store raises
        :class:`~leger_core.errors.UnsupportedError`."""
        ...

    def info(self, name: str) -> SecretInfo: ...

    def list(self) -> list[SecretInfo]:
        """Every secret the caller may see (names and versions, no values), sorted by name."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name`` (:class:`~leger_core.errors.UnsupportedError` where read-only)."""
        ...


@runtime_checkable
class Injector(Protocol):
    """A way values reach a service's container."""

    def inject(self, service: str, secrets: Mapping[str, SecretValue]) -> InjectResult:
        """Deliver ``secrets`` (env var name → value) for ``service``; all or nothing."""
        ...

    def remove(self, service: str) -> None:
        """Undo :meth:`inject`; removing what is not there is not an error."""
        ...


@dataclass
class FetchedRelease:
    """A release's files, fetched into ``path`` and verified."""

    path: Path
    version: str  # a commit id, a release version, …
    files: dict[str, str]  # relative path → sha256
    metadata: dict[str, Any]


@runtime_checkable
class ReleaseSource(Protocol):
    """How a release's files are fetched."""

    def fetch(self, location: str, dest: Path, **options: Any) -> FetchedRelease: ...

    def latest_version(self, location: str, **options: Any) -> str:
        """The newest version available, without downloading files."""
        ...


@dataclass(frozen=True)
class Registration:
    name: str
    factory: Callable[..., Any]
    plugin: str  # the plugin that registered it, for messages and `leger plugins`


class Registry:
    """Strategies of one kind (``secret backend``, ``injector``, ``release source``) by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Registration] = {}

    def register(self, name: str, factory: Callable[..., Any], plugin: str) -> None:
        existing = self._items.get(name)
        if existing is not None:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered by both {existing.plugin!r} and {plugin!r}",
                hint="uninstall one of them, or limit plugins with LEGER_LOAD_PLUGINS",
            )
        self._items[name] = Registration(name, factory, plugin)

    def get(self, name: str) -> Registration:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none installed"
            raise NotFoundError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[Registration]:
        return iter(sorted(self._items.values(), key=lambda r: r.name))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
