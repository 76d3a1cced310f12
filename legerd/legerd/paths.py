"""Where legerd keeps its state and its socket, for root and for a user."""

from __future__ import annotations

import os
from pathlib import Path

from leger_core.paths import runtime_base


def default_state_dir() -> Path:
    if os.getuid() == 0:
        return Path("/var/lib/legerd")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local/state")
    return Path(base) / "legerd"


def default_socket() -> Path:
    if os.getuid() == 0:
        return Path("/run/legerd/legerd.sock")
    return Path(runtime_base()) / "legerd.sock"
