"""Bearer tokens for TCP callers, kept hashed in ``STATE_DIR/tokens`` (``NAME sha256:HEX``
lines). A token is shown once, when made; legerd stores and compares only its hash."""

from __future__ import annotations

import re
from pathlib import Path

from leger_core.fsutil import atomic_write
from legerd.access import hash_token, new_token
from legerd.errors import StateError

TOKEN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def tokens_path(state_dir: Path) -> Path:
    return state_dir / "tokens"


def read_tokens(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    tokens: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, digest = line.partition(" ")
        if not TOKEN_NAME.fullmatch(name) or not digest.startswith("sha256:"):
            raise StateError(f"{path}:{n}: expected 'NAME sha256:HEX'")
        tokens[name] = digest.strip()
    return tokens


def _write(path: Path, tokens: dict[str, str]) -> None:
    text = "".join(f"{name} {digest}\n" for name, digest in sorted(tokens.items()))
    atomic_write(path, text.encode(), mode=0o600)


def add_token(state_dir: Path, name: str) -> str:
    """Make a token called ``name`` and return it (the only time it is ever visible)."""
    if not TOKEN_NAME.fullmatch(name):
        raise StateError("token names use letters, digits, _ . - (at most 64)")
    path = tokens_path(state_dir)
    tokens = read_tokens(path)
    if name in tokens:
        raise StateError(f"a token called {name!r} exists; remove it first")
    token = new_token()
    tokens[name] = hash_token(token)
    _write(path, tokens)
    return token


def remove_token(state_dir: Path, name: str) -> bool:
    path = tokens_path(state_dir)
    tokens = read_tokens(path)
    if tokens.pop(name, None) is None:
        return False
    _write(path, tokens)
    return True
