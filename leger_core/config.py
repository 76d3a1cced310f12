"""Leger's TOML configuration: where it lives, reading it, and changing single keys.

The path is, in order: ``--config``, ``$LEGER_CONFIG``, then ``config.toml`` in the
platformdirs user config dir (``~/.config/leger/config.toml`` on Linux).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leger_core.errors import ConfigError, InvalidInputError
from leger_core.fsutil import atomic_write

_KEY_PART = re.compile(r"[A-Za-z0-9_-]+")


def default_config_path() -> Path:
    import platformdirs  # imported here: only needed when no explicit path is given

    return Path(platformdirs.user_config_dir("leger")) / "config.toml"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("LEGER_CONFIG")
    if env:
        return Path(env)
    return default_config_path()


def _split_key(key: str) -> list[str]:
    parts = key.split(".")
    if not key or not all(_KEY_PART.fullmatch(p) for p in parts):
        raise InvalidInputError(
            f"invalid config key {key!r}: use dotted names of letters, digits, '_' and '-'"
        )
    return parts


class Config:
    """A loaded configuration file. A missing file is an empty configuration."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data if data is not None else {}

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Config:
        resolved = config_path(path)
        try:
            raw = resolved.read_bytes()
        except FileNotFoundError:
            return cls(resolved, {})
        except OSError as exc:
            raise ConfigError(f"cannot read config {resolved}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid TOML in {resolved}: {exc}") from None
        return cls(resolved, data)

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in _split_key(key):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, key: str) -> dict[str, Any]:
        value = self.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] in {self.path} must be a table")
        return value

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` and write the file atomically (0600: config may name secrets)."""
        import tomli_w

        parts = _split_key(key)
        # Work on a copy so a failed write leaves this object as it was.
        data = _deep_copy(self.data)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidInputError(f"cannot set {key!r}: {part!r} is not a table")
            node = child
        node[parts[-1]] = value
        text = tomli_w.dumps(data)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)
        self.data = data

    def unset(self, key: str) -> bool:
        import tomli_w

        parts = _split_key(key)
        data = _deep_copy(self.data)
        node: Any = data
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if not isinstance(node, dict) or parts[-1] not in node:
            return False
        del node[parts[-1]]
        atomic_write(self.path, tomli_w.dumps(data).encode("utf-8"), mode=0o600)
        self.data = data
        return True


def parse_value(text: str) -> Any:
    """Read a ``leger config set`` value as a TOML value when it is one (``true``, ``3``,
    ``["a"]``, ``"quoted"``), else as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}
