"""Where Leger keeps things (XDG, via platformdirs), in one place so plugins agree.

``leger secrets fetch`` imports this module on every container start, so it imports only ``os``
at load time; ``pathlib`` and ``json`` (milliseconds each) wait until a function needs them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: on the container-start path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from leger_core.config import Config


def state_dir() -> Path:
    """``$XDG_STATE_HOME/leger`` (``~/.local/state/leger``): deployments, account info."""
    from pathlib import Path

    import platformdirs

    return Path(platformdirs.user_state_dir("leger"))


def cache_dir() -> Path:
    from pathlib import Path

    import platformdirs

    return Path(platformdirs.user_cache_dir("leger"))


def runtime_base() -> str:
    """``$XDG_RUNTIME_DIR``, else ``/run/user/UID`` (what systemd sets it to): the user's
    tmpfs, where sockets (podman's, legerd's) and files holding secrets go."""
    return os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"


def runtime_path() -> str:
    """``$XDG_RUNTIME_DIR/leger`` (tmpfs), else ``/run/user/UID/leger``: files holding secrets."""
    return os.path.join(runtime_base(), "leger")


def leger_executable() -> str:
    """The absolute path of this installation's ``leger`` (systemd and podman's shell driver
    want absolute paths): the console script beside the interpreter, else ``/usr/bin/leger``."""
    import sys  # built in: costs nothing

    beside = os.path.join(os.path.dirname(sys.executable), "leger")
    return beside if os.access(beside, os.X_OK) else "/usr/bin/leger"


def account_prefix(user_uuid: str) -> str:
    """``leger/<user_uuid>/``: where ``leger secrets sync`` puts an account's secrets in the
    local backend, and where services' secret names are looked up."""
    return f"leger/{user_uuid}/"


def secret_prefix(config: Config) -> str:
    """Where account secrets live in the local backend: config ``secrets.prefix`` if set, else
    :func:`account_prefix` of the logged-in account, else nothing."""
    prefix = config.get("secrets.prefix")
    if prefix is None:
        account = read_account()
        user = account.get("user_uuid") if account else None
        return account_prefix(user) if isinstance(user, str) and user else ""
    if not isinstance(prefix, str):
        from leger_core.errors import ConfigError

        raise ConfigError(f"secrets.prefix in {config.path} must be a string")
    return prefix


def account_file() -> Path:
    """The logged-in account (server URL, user_uuid, email; never the token), written by
    ``leger auth login``."""
    return state_dir() / "account.json"


def read_account() -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(account_file().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
