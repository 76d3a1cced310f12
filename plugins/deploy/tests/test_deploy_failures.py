"""A failure at any step of an update leaves the previous files, state and backups exactly as
they were, and says what happened."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from leger_plugin_deploy import fsops
from leger_plugin_deploy.state import Store


@pytest.fixture
def installed(cli, repo, systemctl):
    """ai-stack installed, updated once (so a backup exists), then a newer commit waiting."""
    cli("deploy", "install", str(repo.path), "--yes")
    text = (
        repo.read("postgres.container").decode().replace("HealthInterval=30s", "HealthInterval=1m")
    )
    repo.commit("postgres health", postgres__container=text)
    cli("update", "--yes")
    text = repo.read("litellm.container").decode().replace("main-v1.55.8", "main-v1.56.0")
    repo.commit("litellm 1.56", litellm__container=text)
    systemctl.clear()
    return repo


def _assert_restored(machine, before, result, *words):
    assert machine() == before, "files, state or backups changed"
    assert "Rolled back" in result.output
    for word in words:
        assert word in result.output


def test_bad_checksum(cli, installed, machine, systemctl):
    manifest = json.loads(installed.read("manifest.json"))
    for entry in manifest["files"]:
        if entry["path"] == "litellm.container":
            entry["sha256"] = "0" * 64
    installed.commit("lie", manifest=False, manifest__json=json.dumps(manifest))
    before = machine()
    result = cli("update", "--yes", expect=7)
    assert machine() == before
    assert "litellm.container: sha256" in result.output and "does not match" in result.output
    assert systemctl.calls() == []


def test_invalid_quadlet(cli, installed, machine, systemctl):
    text = installed.read("litellm.container").decode().replace("Image=", "Imaeg=")
    installed.commit("typo", litellm__container=text)
    before = machine()
    result = cli("update", "--yes", expect=7)
    assert machine() == before
    assert "litellm.container:6: error: [Container] needs Image=" in result.output
    assert "litellm.container:8: warning: unknown key Imaeg= in [Container]" in result.output
    assert systemctl.calls() == []


@pytest.mark.parametrize("nth", [1, 4])
def test_write_error_while_writing_the_new_files(
    cli, installed, machine, systemctl, monkeypatch, nth
):
    real = fsops.write_file
    count = {"n": 0}

    def failing(path, data, mode=0o644):
        count["n"] += 1
        if count["n"] == nth + 8:  # after the 8-file backup: the nth file of the new tree
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, mode)

    monkeypatch.setattr(fsops, "write_file", failing)
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "No space left on device")
    assert systemctl.calls() == []


def test_write_error_while_backing_up(cli, installed, machine, systemctl, monkeypatch):
    real = fsops.write_file

    def failing(path, data, mode=0o644):
        if "backups" in str(path) and path.name == "openwebui.env":
            raise OSError(errno.EIO, "Input/output error", str(path))
        real(path, data, mode)

    monkeypatch.setattr(fsops, "write_file", failing)
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "Input/output error")


def test_write_error_when_recording_the_state(cli, installed, machine, systemctl, monkeypatch):
    def failing(self, dep):
        raise OSError(errno.EROFS, "Read-only file system", str(self.state_path(dep.name)))

    monkeypatch.setattr(Store, "save", failing)
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "Read-only file system")
    # the state is written before any unit starts (ExecStartPre= reads it): no unit ran the
    # new files, systemd is reloaded on the old ones
    assert systemctl.calls()[-2:] == [["daemon-reload"], ["daemon-reload"]]
    assert ["restart", "litellm.service"] not in systemctl.calls()


def test_reload_failure(cli, installed, machine, systemctl):
    systemctl.fail("daemon-reload")
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "daemon-reload` failed")
    # the reload after restoring failed too, and the message says so
    assert "but daemon-reload after restoring failed" in result.output


def test_restart_failure(cli, installed, machine, systemctl):
    systemctl.fail("restart litellm.service")
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "restart -- litellm.service` failed")


def test_unit_not_active(cli, installed, machine, systemctl):
    systemctl.fail("is-active litellm.service")
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "litellm.service is not active after the change")
    assert systemctl.calls() == [
        ["daemon-reload"],
        ["restart", "litellm.service"],
        ["is-active", "litellm.service"],
        ["daemon-reload"],
        ["restart", "litellm.service"],
    ]


def test_failure_of_a_fresh_install_leaves_nothing(cli, repo, systemctl, quadlets, deployments):
    systemctl.fail("is-active openwebui.service")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=1)
    assert "nothing of 'ai-stack' was installed" in result.output
    assert list(quadlets.iterdir()) == [] and list(deployments.iterdir()) == []
    assert ["stop", *sorted(c for c in systemctl.calls()[1][1:])] in systemctl.calls()


def test_failure_during_rollback_keeps_the_current_version(cli, installed, machine, systemctl):
    systemctl.fail("daemon-reload")
    before = machine()
    result = cli("deploy", "rollback", "ai-stack", "--yes", expect=1)
    _assert_restored(machine, before, result, "rollback of 'ai-stack' failed")


def test_a_crash_mid_update_is_undone_by_the_next_command(cli, installed, machine, systemctl):
    """SIGKILL while units restart (the stand-in kills its caller): the next command puts the
    previous files back from the journal and the pending backup."""
    before = machine()
    systemctl.fail("kill:restart")
    proc = subprocess.run(
        [sys.executable, "-m", "leger_core", "update", "--yes"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert machine() != before  # caught in the middle: new files, a journal, a pending backup
    systemctl.ok()
    result = cli("deploy", "list")
    assert "ai-stack" in result.output
    cli("deploy", "rollback", "nope", "--yes", expect=4)  # any changing command recovers first
    assert machine() == before


def test_failure_half_way_through_the_swap(cli, installed, machine, systemctl, monkeypatch):
    """The old tree is moved aside, then moving the new one in fails."""
    real = fsops.rename

    def failing(src, dst):
        if ".new-" in src.name:
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        real(src, dst)

    monkeypatch.setattr(fsops, "rename", failing)
    before = machine()
    result = cli("update", "--yes", expect=1)
    _assert_restored(machine, before, result, "Invalid cross-device link")


def test_a_source_that_cannot_be_reached_changes_nothing(cli, installed, machine, systemctl):
    """The download itself fails (the repository is gone): nothing was fetched, nothing moves."""
    installed.path.rename(installed.path.with_name("moved-away"))
    before = machine()
    result = cli("update", "ai-stack", "--yes", expect=None)
    assert result.exit_code != 0
    assert machine() == before, "files, state or backups changed"
    assert "ai-stack" in result.output and "git" in result.output.lower()
    assert systemctl.calls() == []


def test_update_name_updates_only_that_deployment(cli, installed, repo, tmp_path, systemctl):
    other = type(repo)(tmp_path / "searxng")  # conftest's Repo, for a second release
    other.path.mkdir()
    other.git("init", "-q", "-b", "main")
    searxng = (
        "[Container]\nImage=docker.io/searxng/searxng:2024.12.1\n"
        "[Install]\nWantedBy=default.target\n"
    )
    other.commit("searxng", searxng__container=searxng)
    cli("deploy", "install", str(other.path), "--name", "search", "--yes")
    other.commit("searxng bump", searxng__container=searxng.replace("2024.12.1", "2025.1.1"))
    systemctl.clear()
    result = cli("update", "search", "--yes")
    assert "search" in result.output and "ai-stack" not in result.output
    assert [c for c in systemctl.calls() if c[0] == "restart"] == [["restart", "searxng.service"]]
    state = {d["name"]: d for d in json.loads(cli("deploy", "list", "--json").output)}
    assert state["search"]["version"] == other.git("rev-parse", "HEAD").strip()
    # ai-stack has a newer commit waiting too, and was left alone
    assert state["ai-stack"]["version"] != installed.git("rev-parse", "HEAD").strip()
