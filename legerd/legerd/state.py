"""A state directory: creating it, locking it, and opening what is inside."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from legerd.errors import StateError
from legerd.keys import KeyFiles
from legerd.store import SecretStore


def is_initialised(state_dir: Path) -> bool:
    return (state_dir / "secrets.db").exists() or KeyFiles(state_dir).exists()


def init_state(state_dir: Path) -> bool:
    """Create keys and an empty database in ``state_dir``; False if it already holds them.

    Never overwrites: existing keys or an existing database are left alone (a missing
    database beside existing keys is only made by :func:`init_state` when nothing else is
    missing, so a half-finished first init can be completed)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    keys = KeyFiles(state_dir)
    db = state_dir / "secrets.db"
    if db.exists():
        return False
    if keys.exists():
        data_key, _ = keys.load_data_key()  # refuses a wrong/damaged key before writing
    else:
        data_key = keys.create()
    SecretStore.create_empty(state_dir, data_key)
    return True


class StateLock:
    """One legerd per state directory (an advisory lock the kernel drops when we die)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "legerd.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(
                f"another legerd is already serving {self.path.parent} (lock {self.path})"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
