"""Typed errors. Each carries a message a user can act on and an exit code.

The CLI turns every :class:`LegerError` into one line on stderr and its exit code, in one
place (:func:`leger_core.cli.main`). Messages must never contain secret values.
"""

from __future__ import annotations

# Documented exit codes (docs/index.md#exit-codes). Keep this table and the docs in step:
# tests/test_docs.py checks that every code here is documented.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "error: something went wrong (the message says what)",
    2: "usage: bad arguments or options",
    3: "config: the configuration file is missing, unreadable or invalid",
    4: "not found: the named secret, service, release or plugin does not exist",
    5: "unavailable: a daemon or server could not be reached",
    6: "denied: not logged in, or not allowed",
    7: "invalid: input was refused (bad name, value, file or release); nothing changed",
    8: "conflict: the thing already exists or changed underneath",
    130: "interrupted",
}


class LegerError(Exception):
    """Base of every error meant for a user. ``str(err)`` is the whole message."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(LegerError):
    exit_code = 2


class UnsupportedError(UsageError):
    """The chosen strategy or backend cannot do this (e.g. a write to a read-only store)."""


class ConfigError(LegerError):
    exit_code = 3


class NotFoundError(LegerError):
    exit_code = 4


class UnavailableError(LegerError):
    exit_code = 5


class DeniedError(LegerError):
    exit_code = 6


class InvalidInputError(LegerError):
    exit_code = 7


class ConflictError(LegerError):
    exit_code = 8


class DuplicateNameError(ConflictError):
    """Two plugins registered the same strategy/backend name."""
