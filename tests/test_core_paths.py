"""leger_core.paths: the one place every plugin and legerd learn where things are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from leger_core.config import Config
from leger_core.errors import ConfigError
from leger_core.paths import (
    account_prefix,
    leger_executable,
    runtime_base,
    runtime_path,
    secret_prefix,
)


def test_runtime_base_is_xdg_runtime_dir_else_run_user_uid(monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp/rt")
    assert runtime_base() == "/tmp/rt"
    assert runtime_path() == "/tmp/rt/leger"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert runtime_base() == f"/run/user/{os.getuid()}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")  # set but empty counts as unset
    assert runtime_base() == f"/run/user/{os.getuid()}"


def test_every_socket_default_follows_the_one_runtime_dir(monkeypatch):
    """legerd's socket as legerd and the setec client see it, and podman's, share one rule."""
    monkeypatch.setattr(os, "getuid", lambda: 1000)  # root uses /run/legerd and /run/podman
    from leger_plugin_podman.store import podman_url
    from leger_plugin_setec.client import default_socket as client_socket
    from legerd.paths import default_socket as legerd_socket

    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    for value in ("/tmp/rt", None):
        if value:
            monkeypatch.setenv("XDG_RUNTIME_DIR", value)
        else:
            monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        base = runtime_base()
        assert base == (value or "/run/user/1000")
        assert str(legerd_socket()) == client_socket() == f"{base}/legerd.sock"
        assert podman_url() == f"unix://{base}/podman/podman.sock"


def test_secret_prefix_is_config_else_the_logged_in_accounts(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = Config(tmp_path / "config.toml")
    assert secret_prefix(config) == ""  # nobody logged in
    from leger_core import paths

    paths.state_dir().mkdir(parents=True, exist_ok=True)
    paths.account_file().write_text('{"user_uuid": "u-1"}')
    assert secret_prefix(config) == account_prefix("u-1") == "leger/u-1/"
    from leger_plugin_cloud import sync

    assert sync.account_prefix is account_prefix  # sync writes where lookups read
    config.set("secrets.prefix", "team/")
    assert secret_prefix(config) == "team/"
    config.set("secrets.prefix", 3)
    with pytest.raises(ConfigError, match="must be a string"):
        secret_prefix(config)


def test_leger_executable_is_the_script_beside_the_interpreter():
    beside = Path(sys.executable).parent / "leger"
    assert leger_executable() == (str(beside) if os.access(beside, os.X_OK) else "/usr/bin/leger")
    from leger_plugin_envfile import snippet
    from leger_plugin_podman import injectors

    assert snippet.leger_executable is injectors.leger_executable is leger_executable
