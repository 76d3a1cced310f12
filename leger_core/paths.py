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


def state_dir() -> Path:
    """``$XDG_STATE_HOME/leger`` (``~/.local/state/leger``): deployments, account info."""
    from pathlib import Path

    import platformdirs

    return Path(platformdirs.user_state_dir("leger"))


def cache_dir() -> Path:
    from pathlib import Path

    import platformdirs

    return Path(platformdirs.user_cache_dir("leger"))


def runtime_path() -> str:
    """``$XDG_RUNTIME_DIR/leger`` (tmpfs), else ``/run/user/UID/leger``: files holding secrets."""
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.join(base, "leger")


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
