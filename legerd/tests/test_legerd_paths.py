"""Where legerd lives by default: the system daemon's paths for root, XDG paths for a user."""

from __future__ import annotations

import os
from pathlib import Path

from legerd.paths import default_socket, default_state_dir


def test_root_uses_the_system_daemons_paths(monkeypatch) -> None:
    monkeypatch.setattr(os, "getuid", lambda: 0)
    monkeypatch.setenv("XDG_STATE_HOME", "/ignored")
    assert default_state_dir() == Path("/var/lib/legerd")
    assert default_socket() == Path("/run/legerd/legerd.sock")


def test_a_user_gets_xdg_state_and_runtime_dirs(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert default_state_dir() == tmp_path / "state/legerd"
    assert default_socket() == tmp_path / "run/legerd.sock"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home/.local/state/legerd"
    assert default_socket() == Path("/run/user/1000/legerd.sock")
