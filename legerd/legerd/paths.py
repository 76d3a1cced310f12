"""Where legerd keeps its state and its socket, for root and for a user."""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    if os.getuid() == 0:
        return Path("/var/lib/legerd")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local/state")
    return Path(base) / "legerd"


def default_socket() -> Path:
    if os.getuid() == 0:
        return Path("/run/legerd/legerd.sock")
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(base) / "legerd.sock"
