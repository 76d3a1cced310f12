"""The saved login: account info in ``leger_core.paths.account_file()`` (server, user_uuid,
email, where the token is — never the token), the token in the OS keyring, or where no keyring
backend exists, in a 0600 file next to the account file.

``LEGER_TOKEN_STORE=file|keyring`` forces one (tests, headless machines with a keyring you do
not want used).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leger_core import paths
from leger_core.errors import DeniedError, LegerError
from leger_core.fsutil import atomic_write
from leger_plugin_cloud.client import LOGIN_HINT, CloudClient

KEYRING_SERVICE = "leger"
TOKEN_FILE = "cloud-token.json"


def token_file() -> Path:
    return paths.state_dir() / TOKEN_FILE


def _keyring_usable() -> Any | None:
    """The keyring backend when a real one exists, else None."""
    choice = os.environ.get("LEGER_TOKEN_STORE", "").lower()
    if choice == "file":
        return None
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    kr = keyring.get_keyring()
    if isinstance(kr, fail.Keyring) or getattr(kr, "priority", 0) <= 0:
        return None
    if type(kr).__module__.startswith("keyring.backends.chainer") and not getattr(
        kr, "backends", None
    ):
        return None
    return kr


def _keyring_name(kr: Any) -> str:
    name = getattr(kr, "name", None) or type(kr).__name__
    return str(name)


def save_token(server: str, token: str) -> tuple[str, str]:
    """Store ``token`` for ``server``; returns (store, human-readable location)."""
    kr = _keyring_usable()
    if kr is not None:
        try:
            kr.set_password(KEYRING_SERVICE, server, token)
        except Exception as exc:  # keyring raises many types; fall back to the file
            if os.environ.get("LEGER_TOKEN_STORE", "").lower() == "keyring":
                raise LegerError(f"the keyring refused the token: {type(exc).__name__}") from None
        else:
            return "keyring", f"the OS keyring ({_keyring_name(kr)})"
    if os.environ.get("LEGER_TOKEN_STORE", "").lower() == "keyring":
        raise LegerError("LEGER_TOKEN_STORE=keyring but no keyring backend is available")
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = _read_token_file(path)
    tokens[server] = token
    atomic_write(path, json.dumps(tokens).encode(), mode=0o600)
    return "file", str(path)


def _read_token_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def load_token(account: dict[str, Any]) -> str | None:
    server = str(account.get("server", ""))
    if account.get("token_store") == "keyring":
        kr = _keyring_usable()
        if kr is None:
            return None
        try:
            token = kr.get_password(KEYRING_SERVICE, server)
        except Exception:
            return None
        return str(token) if token else None
    return _read_token_file(token_file()).get(server)


def delete_token(account: dict[str, Any]) -> None:
    server = str(account.get("server", ""))
    if account.get("token_store") == "keyring":
        kr = _keyring_usable()
        if kr is not None:
            with contextlib.suppress(Exception):
                kr.delete_password(KEYRING_SERVICE, server)
        return
    path = token_file()
    tokens = _read_token_file(path)
    if server in tokens:
        del tokens[server]
        if tokens:
            atomic_write(path, json.dumps(tokens).encode(), mode=0o600)
        else:
            path.unlink(missing_ok=True)


def save_account(server: str, user: dict[str, Any], store: str, location: str) -> dict[str, Any]:
    account = {
        "server": server,
        "user_uuid": user["user_uuid"],
        "email": user.get("email"),
        "display_name": user.get("display_name"),
        "tailnet": user.get("tailnet"),
        "token_store": store,
        "token_location": location,
        "logged_in_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = paths.account_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, json.dumps(account, indent=2).encode(), mode=0o600)
    return account


def record_sync(backend: str) -> None:
    """Remember when the account was last synced, and into which backend, for
    ``leger status``; nothing about the secrets themselves."""
    account = paths.read_account()
    if not account:
        return
    account["last_sync"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
    }
    atomic_write(paths.account_file(), json.dumps(account, indent=2).encode(), mode=0o600)


def forget_account() -> dict[str, Any] | None:
    account = paths.read_account()
    if account is not None:
        delete_token(account)
    paths.account_file().unlink(missing_ok=True)
    return account


def require_account() -> dict[str, Any]:
    account = paths.read_account()
    if not account or not account.get("server"):
        raise DeniedError("not logged in to a leger-server", hint=LOGIN_HINT)
    return account


def current_client(leger: Any = None) -> CloudClient:
    """A :class:`CloudClient` for the saved login, or DeniedError telling how to log in."""
    account = require_account()
    token = load_token(account)
    if not token:
        raise DeniedError(
            f"no saved token for {account['server']} in {account.get('token_location')}",
            hint=LOGIN_HINT,
        )
    return CloudClient(str(account["server"]), token)
