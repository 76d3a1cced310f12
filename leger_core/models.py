"""Value types shared by the core and plugins."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
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
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        # Hash of a constant: equal values must hash equal, and hashing the value would make
        # it guessable from timing/dict behaviour. Secrets are rarely dict keys anyway.
        return 0

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("SecretValue cannot be pickled")


@dataclass(frozen=True)
class SecretInfo:
    """What a backend knows about a secret without its value (setec's SecretInfo)."""

    name: str
    versions: tuple[int, ...]
    active_version: int


@dataclass(frozen=True)
class ServiceSecret:
    """One secret a service needs: which env var it becomes and the backend name it is read from."""

    env: str
    secret: str
    source: str = "config"  # where this requirement came from: config, manifest, quadlet, …


@dataclass
class InjectResult:
    """What an injector did, for humans and ``--json``. Never holds values."""

    service: str
    strategy: str
    location: str
    names: list[str] = field(default_factory=list)
    changed: bool = True
    extra: dict[str, str] = field(default_factory=dict)
