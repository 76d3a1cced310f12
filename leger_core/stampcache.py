"""A JSON cache in ``~/.cache/leger`` whose entries hold only while the files they came from are
unchanged: the full CLI records an answer with a stamp (inode, size, mtime, ctime) of each input
file, and the container-start fast path uses the answer only if every stamp still matches.

Entries are keyed by this installation (``sys.prefix``), the user and the environment variables
that choose the input files, so a shell, systemd and tests never see each other's answers.
Used by ``leger secrets fetch`` (envfile) and ``leger driver lookup`` (podman): standard
library only, like :mod:`leger_core.fastpath`.
"""

from __future__ import annotations

import os
import sys

from leger_core.fastpath import file_stamp, read_cache, write_cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: on the container-start path
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


def cache_key(version: int, env_keys: Sequence[str]) -> str:
    env = "|".join(f"{k}={os.environ.get(k, '')}" for k in env_keys)
    return f"v{version}|{sys.prefix}|{os.getuid()}|{env}"


def stamps(paths: Iterable[str]) -> dict[str, list[int] | None]:
    """What to record as an entry's ``inputs``; a missing file is stamped ``None``."""
    return {path: file_stamp(path) for path in paths}


def lookup(cache: str, key: str) -> dict[str, Any] | None:
    """The entry under ``key`` if every input it was made from is unchanged, else None."""
    entry = read_cache(cache).get(key)
    if not isinstance(entry, dict):
        return None
    inputs = entry.get("inputs")
    if not isinstance(inputs, dict):
        return None
    for path, recorded in inputs.items():
        if file_stamp(path) != recorded:
            return None
    return entry


def record(cache: str, key: str, entry: dict[str, Any], *, keep: int) -> None:
    """Store ``entry`` (with its ``inputs`` from :func:`stamps`) under ``key``, keeping the
    ``keep`` most recent keys. Never fails the command that calls it (see ``write_cache``)."""
    data = read_cache(cache)
    if data.get(key) == entry:
        return
    data.pop(key, None)
    data[key] = entry
    write_cache(cache, data, keep=keep)
