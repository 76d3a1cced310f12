"""`leger local list|info|get|put|activate|delete` against a real legerd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leger_core.models import SecretValue
from leger_plugin_setec import plugin

LEGER = Path(sys.executable).parent / "leger"


@pytest.fixture
def local(leger_invoke, leger_register, legerd_daemon, monkeypatch):
    leger_register(plugin, name="setec")
    monkeypatch.setenv("LEGERD_SOCKET", str(legerd_daemon.socket))

    def run(*args: str, input: bytes | str | None = None):
        return leger_invoke(["local", *args], input=input)

    return run


def test_put_reads_stdin_and_first_version_is_active(local, legerd_daemon) -> None:
    result = local("put", "app/key", input="sk-from-stdin")
    assert result.exit_code == 0, result.output
    assert "version 1 (active)" in result.output
    assert legerd_daemon.client().get("app/key").reveal() == b"sk-from-stdin"


def test_put_reads_a_file_exactly(local, legerd_daemon, tmp_path) -> None:
    value = tmp_path / "value"
    value.write_bytes(b"line1\nline2\n")
    assert local("put", "app/key", "--file", str(value)).exit_code == 0
    assert legerd_daemon.client().get("app/key").reveal() == b"line1\nline2\n"


def test_put_never_takes_the_value_as_an_argument(local, legerd_daemon) -> None:
    result = local("put", "app/key", "sk-on-the-command-line")
    assert result.exit_code == 2
    assert legerd_daemon.client().list() == []


def test_put_empty_value_is_refused(local, legerd_daemon) -> None:
    result = local("put", "app/key", input="")
    assert result.exit_code == 7
    assert legerd_daemon.client().list() == []


def test_changed_value_is_inactive_until_activated(local) -> None:
    local("put", "k", input="v1")
    result = local("put", "k", input="v2")
    assert "version 2 (inactive; active is 1)" in result.output
    assert "leger local activate k 2" in result.output
    assert local("get", "k").stdout_bytes == b"v1"
    assert local("activate", "k", "2").exit_code == 0
    assert local("get", "k").stdout_bytes == b"v2"
    assert local("get", "k", "--version", "1").stdout_bytes == b"v1"


def test_put_activate_flag(local) -> None:
    local("put", "k", input="v1")
    assert "version 2 (active)" in local("put", "k", "--activate", input="v2").output


def test_get_writes_exact_bytes(local, legerd_daemon) -> None:
    legerd_daemon.client().put("bin", SecretValue(b"\x00\xffno-newline"))
    assert local("get", "bin").stdout_bytes == b"\x00\xffno-newline"


def test_list_and_info_json_hold_no_values(local) -> None:
    local("put", "b", input="value-b")
    local("put", "a", input="value-a")
    listed = json.loads(local("list", "--json").output)
    assert listed == [
        {"name": "a", "versions": [1], "active_version": 1},
        {"name": "b", "versions": [1], "active_version": 1},
    ]
    assert json.loads(local("info", "a", "--json").output)["active_version"] == 1
    human = local("list").output
    assert "a  active 1  versions 1" in human and "value-" not in human


def test_empty_list(local) -> None:
    assert local("list").output.strip() == "no secrets"
    assert json.loads(local("list", "--json").output) == []


def test_delete_version_and_secret(local, legerd_daemon) -> None:
    local("put", "k", input="v1")
    local("put", "k", input="v2")
    assert local("delete", "k", "--version", "1").exit_code == 7  # the active one
    assert local("delete", "k", "--version", "2").exit_code == 0
    assert legerd_daemon.client().info("k").versions == (1,)
    assert local("delete", "k").exit_code == 0
    assert local("get", "k").exit_code == 4


def test_missing_secret_exit_4(local) -> None:
    result = local("get", "nope")
    assert result.exit_code == 4
    assert "not found" in result.output


def test_legerd_not_running_exit_5(local, legerd_daemon) -> None:
    legerd_daemon.stop()
    result = local("list")
    assert result.exit_code == 5
    assert "legerd is not running at" in result.output


def test_installed_leger_has_local_and_the_setec_backend(legerd_daemon, tmp_path) -> None:
    env = {**os.environ, **legerd_daemon.env, "LEGER_CONFIG": str(tmp_path / "c.toml"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    put = subprocess.run(
        [str(LEGER), "local", "put", "x"], input=b"v", env=env, capture_output=True
    )
    assert put.returncode == 0, put.stderr
    got = subprocess.run([str(LEGER), "local", "get", "x"], env=env, capture_output=True)
    assert got.stdout == b"v"
    plugins = subprocess.run([str(LEGER), "plugins"], env=env, capture_output=True, text=True)
    assert "secret backends: setec" in plugins.stdout
