"""The values on the path of every container start: ``SecretValue`` and ``SecretInfo``.

``leger secrets fetch`` and ``leger driver lookup`` import this module, so these are plain
classes: importing ``dataclasses`` (which pulls in ``inspect``, ``ast`` and ``dis``), ``typing``
and ``hmac`` at import time costs more than the fetch itself. Import them from
``leger_core.models`` anywhere else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any


class SecretValue:
    """A secret's bytes. ``repr``/``str``/formatting never show them; call :meth:`reveal`.

    Keeping the value behind a method makes every place that exposes it greppable and stops
    accidental leaks through logging, tracebacks (``repr`` of locals) and f-strings.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes | str) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes):
            raise TypeError("SecretValue takes bytes or str")
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def reveal_text(self) -> str:
        """The value as UTF-8 text; raises ValueError (without the value) if it is not."""
        try:
            return self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("secret value is not valid UTF-8 text") from None

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "SecretValue('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        import hmac  # only here: see the module docstring

        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        # Hash of a constant: equal values must hash equal, and hashing the value would make
        # it guessable from timing/dict behaviour. Secrets are rarely dict keys anyway.
        return 0

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("SecretValue cannot be pickled")


class SecretInfo:
    """What a backend knows about a secret without its value (setec's SecretInfo)."""

    __slots__ = ("active_version", "name", "versions")

    def __init__(self, name: str, versions: tuple[int, ...], active_version: int) -> None:
        self.name = name
        self.versions = tuple(versions)
        self.active_version = active_version

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": list(self.versions),
            "active_version": self.active_version,
        }

    def _key(self) -> tuple[str, tuple[int, ...], int]:
        return (self.name, self.versions, self.active_version)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretInfo) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"SecretInfo(name={self.name!r}, versions={self.versions!r}, "
            f"active_version={self.active_version!r})"
        )
