"""Releases of the logged-in leger-server account, installed by name (a real server)."""

from __future__ import annotations

import json

import pytest

leger_plugin_cloud = pytest.importorskip("leger_plugin_cloud")

from leger_plugin_deploy.authoring import make_bundle  # noqa: E402


@pytest.fixture
def account(cli, leger_register, leger_server, home, monkeypatch):
    """The CLI logged in (token in a 0600 file) to a real leger-server."""
    leger_register(leger_plugin_cloud, name="cloud")
    monkeypatch.setenv("LEGER_TOKEN_STORE", "file")
    cli("config", "set", "identity.user_id", "u-alice")
    cli("config", "set", "identity.email", "alice@example.com")
    cli("config", "set", "identity.tailnet", "example.ts.net")
    cli("config", "set", "identity.device_id", "dev-alice")
    cli("config", "set", "identity.hostname", "alice-laptop")
    cli("auth", "login", "--server", leger_server.url)
    return leger_server


def _bump(repo, old: str, new: str, version: int) -> None:
    text = repo.read("litellm.container").decode().replace(old, new)
    (repo.path / "litellm.container").write_text(text)
    manifest = json.loads(repo.read("manifest.json"))
    manifest["version"] = version
    (repo.path / "manifest.json").write_text(json.dumps(manifest))


def test_install_and_update_a_bundle_release_by_name(
    cli, account, repo, tmp_path, quadlets, systemctl
):
    bundle = tmp_path / "ai-stack.tar.gz"
    make_bundle(repo.path, bundle)
    cli("releases", "upload", str(bundle))
    result = cli("deploy", "install", "ai-stack", "--yes")
    assert "Installed ai-stack" in result.output
    # progress for the download (on stderr), then the summary
    assert "Downloading release ai-stack v1 (" in result.output
    assert "100% of " in result.output
    assert (quadlets / "ai-stack/litellm.container").read_bytes() == repo.read("litellm.container")
    listed = json.loads(cli("deploy", "list", "--json").output)
    assert listed[0]["source"]["location"] == "server:ai-stack"
    assert listed[0]["version"] == "1"

    unchanged = cli("update", "--yes").output
    assert "up to date (1)" in unchanged
    assert "Downloading" not in unchanged  # nothing new: no bundle was fetched

    _bump(repo, "main-v1.55.8", "main-v1.60.0", 2)
    make_bundle(repo.path, bundle)
    cli("releases", "upload", str(bundle))
    systemctl.clear()
    result = cli("update", "--yes")
    assert "Updated ai-stack from 1 to 2" in result.output
    assert "main-v1.60.0" in (quadlets / "ai-stack/litellm.container").read_text()
    assert ["restart", "litellm.service"] in systemctl.calls()


def test_a_git_release_of_the_account_installs_from_its_url(cli, account, repo, quadlets):
    cli("releases", "create", "stack-from-git", "--git-url", repo.path.as_uri(), "--branch", "main")
    cli("deploy", "install", "stack-from-git", "--name", "ai-git", "--yes")
    assert (quadlets / "ai-git/postgres.container").read_bytes() == repo.read("postgres.container")
    listed = json.loads(cli("deploy", "list", "--json").output)
    assert listed[0]["source"]["kind"] == "git"


def test_an_unknown_release_name(cli, account):
    result = cli("deploy", "install", "no-such-release", "--yes", expect=4)
    assert "no release named 'no-such-release'" in result.output


def test_not_logged_in(cli, leger_register, home):
    leger_register(leger_plugin_cloud, name="cloud")
    result = cli("deploy", "install", "ai-stack", "--yes", expect=6)
    assert "not logged in" in result.output


def test_a_bundle_version_number_installs_that_release(cli, account, repo, tmp_path, quadlets):
    bundle = tmp_path / "ai-stack.tar.gz"
    make_bundle(repo.path, bundle)
    cli("releases", "upload", str(bundle))
    cli("deploy", "install", "1", "--name", "pinned", "--yes")
    assert (quadlets / "pinned/postgres.container").exists()
