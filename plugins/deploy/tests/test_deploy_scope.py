"""Where a deployment goes and which systemd it talks to: podman's quadlet directory and
``systemctl --user`` for a user, ``/etc/containers/systemd`` and the system manager for root,
each overridable by the environment or config."""

from __future__ import annotations

import json
import os

import pytest

from leger_core.config import Config
from leger_core.errors import ConfigError
from leger_plugin_deploy.state import quadlet_dir, user_scope


def _config(tmp_path, deploy: dict | None = None) -> Config:
    return Config(tmp_path / "config.toml", {"deploy": deploy} if deploy else {})


def test_quadlet_dir_is_podmans_own_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("LEGER_QUADLET_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert quadlet_dir(_config(tmp_path)) == tmp_path / "cfg/containers/systemd"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert str(quadlet_dir(_config(tmp_path))) == "/etc/containers/systemd"
    # config, then the environment, win over the default
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    configured = _config(tmp_path, {"quadlet_dir": "~/my-quadlets"})
    assert quadlet_dir(configured) == tmp_path / "home/my-quadlets"
    monkeypatch.setenv("LEGER_QUADLET_DIR", str(tmp_path / "from-env"))
    assert quadlet_dir(configured) == tmp_path / "from-env"


def test_a_quadlet_dir_that_is_not_a_path_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LEGER_QUADLET_DIR", raising=False)
    with pytest.raises(ConfigError, match="quadlet_dir"):
        quadlet_dir(_config(tmp_path, {"quadlet_dir": 5}))


def test_systemd_scope_is_the_users_unless_root_or_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("LEGER_SYSTEMD_SCOPE", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert user_scope(_config(tmp_path)) is True
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert user_scope(_config(tmp_path)) is False
    assert user_scope(_config(tmp_path, {"systemd_scope": "user"})) is True
    monkeypatch.setenv("LEGER_SYSTEMD_SCOPE", "system")
    assert user_scope(_config(tmp_path, {"systemd_scope": "user"})) is False
    monkeypatch.setenv("LEGER_SYSTEMD_SCOPE", "both")
    with pytest.raises(ConfigError, match="systemd_scope"):
        user_scope(_config(tmp_path))


@pytest.mark.parametrize(("scope", "with_user"), [("user", True), ("system", False)])
def test_every_systemctl_call_carries_the_scope(cli, repo, systemctl, monkeypatch, scope,
                                                with_user):  # fmt: skip
    monkeypatch.setenv("LEGER_SYSTEMD_SCOPE", scope)
    cli("deploy", "install", str(repo.path), "--yes")
    raw = [json.loads(line) for line in systemctl.log.read_text().splitlines()]
    assert raw and all(("--user" in call) is with_user for call in raw)
    assert raw[0] == (["--user"] if with_user else []) + ["daemon-reload"]
