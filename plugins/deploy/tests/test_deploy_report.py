"""What runs where: ``leger deploy install|update|rollback|remove`` report the deployment to
the logged-in account (a real leger-server); a local path never leaves the machine, the
report can be turned off, and a server that cannot be reached does not fail the deploy."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

leger_plugin_cloud = pytest.importorskip("leger_plugin_cloud")

from leger_plugin_deploy.report import public_source  # noqa: E402


@pytest.fixture
def account(cli, leger_register, leger_server, home, monkeypatch):
    """The CLI logged in (token in a 0600 file) to a real leger-server as alice's laptop."""
    leger_register(leger_plugin_cloud, name="cloud")
    monkeypatch.setenv("LEGER_TOKEN_STORE", "file")
    for key, value in (
        ("user_id", "u-alice"),
        ("email", "alice@example.com"),
        ("tailnet", "example.ts.net"),
        ("device_id", "dev-alice"),
        ("hostname", "alice-laptop"),
    ):
        cli("config", "set", f"identity.{key}", value)
    cli("auth", "login", "--server", leger_server.url)
    return leger_server


def reported(server: Any) -> list[dict[str, Any]]:
    """The account's deployments as the API lists them (raw text checked by the caller too)."""
    token = server.login("u-alice", device_id="dev-other", hostname="elsewhere")
    with server.api(token) as api:
        resp = api.get("/api/deployments")
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["data"]["deployments"]
    return items


def test_install_of_a_git_release_is_reported_without_its_path(
    cli, account, repo, systemctl, tmp_path
):
    cli("releases", "create", "stack-from-git", "--git-url", repo.path.as_uri(), "--branch", "main")
    head = repo.git("rev-parse", "HEAD").strip()
    result = cli("deploy", "install", "stack-from-git", "--name", "ai-git", "--yes")
    assert "note:" not in result.output
    [dep] = reported(account)
    assert (dep["name"], dep["event"], dep["version"]) == ("ai-git", "install", head)
    assert dep["release_name"] == "stack-from-git"
    assert (dep["device_id"], dep["hostname"]) == ("dev-alice", "alice-laptop")
    assert dep["source_kind"] == "git" and dep["source"] == "local git repository"
    assert dep["units"] and set(dep["units"].values()) == {"active"}
    assert dep["units_not_active"] == []
    token = account.login("u-alice")
    with account.api(token) as api:
        text = api.get("/api/deployments").text
    assert str(tmp_path) not in text and "file:" not in text

    # An update: the new version, still from the account's release.
    new_head = repo.commit(
        "bump", litellm__container=repo.read("litellm.container").decode() + "\n# v2\n"
    )
    cli("update", "ai-git", "--yes")
    [dep] = reported(account)
    assert (dep["event"], dep["version"]) == ("update", new_head)
    assert dep["release_name"] == "stack-from-git"  # kept across the update

    cli("deploy", "rollback", "ai-git", "--yes")
    [dep] = reported(account)
    assert (dep["event"], dep["version"]) == ("rollback", head)

    cli("deploy", "remove", "ai-git", "--yes")
    [dep] = reported(account)
    assert (dep["event"], dep["units"]) == ("remove", {})


def test_a_failed_unit_is_reported_as_not_active(cli, account, repo, systemctl):
    cli("deploy", "install", str(repo.path), "--name", "stack", "--yes")
    systemctl.fail("is-active litellm.service")
    cli("update", "stack", "--yes")  # nothing new: a check-in with the units' states now
    [dep] = reported(account)
    assert dep["event"] == "check"
    assert dep["units"]["litellm.service"] == "failed"
    assert dep["units_not_active"] == ["litellm.service"]
    assert dep["release_name"] is None and dep["source"] == "local git repository"
    where = cli("releases", "where").output
    assert "alice-laptop  stack  " in where and "litellm.service failed" in where


def test_reporting_can_be_turned_off(cli, account, repo):
    cli("config", "set", "deploy.report", "false")
    cli("deploy", "install", str(repo.path), "--name", "stack", "--yes")
    assert reported(account) == []


def test_an_unreachable_server_does_not_fail_the_deploy(cli, account, repo, quadlets):
    account.stop()  # the server this test started, by its PID
    started = time.monotonic()
    result = cli("deploy", "install", str(repo.path), "--name", "stack", "--yes")
    assert time.monotonic() - started < 20
    assert "Installed stack" in result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "stack was not reported" in notes[0]
    assert (quadlets / "stack/litellm.container").is_file()
    listed = json.loads(cli("deploy", "list", "--json").output)
    assert [d["name"] for d in listed] == ["stack"]


def test_not_logged_in_is_silently_skipped(cli, leger_register, repo):
    leger_register(leger_plugin_cloud, name="cloud")
    result = cli("deploy", "install", str(repo.path), "--name", "stack", "--yes")
    assert "Installed stack" in result.output and "note:" not in result.output


@pytest.mark.parametrize(
    ("source", "public"),
    [
        ({"kind": "git", "location": "/home/alice/stack"}, "local git repository"),
        ({"kind": "git", "location": "file:///home/alice/stack"}, "local git repository"),
        (
            {"kind": "git", "location": "https://alice:ghp_secret@github.com/a/s.git"},
            "https://github.com/a/s.git",
        ),
        ({"kind": "git", "location": "git@github.com:a/s.git"}, "github.com:a/s.git"),
        (
            {"kind": "manifest", "location": "https://h.example/m/manifest.json?token=abc#x"},
            "https://h.example/m/manifest.json",
        ),
        ({"kind": "manifest", "location": "/srv/release"}, "local manifest folder"),
        ({"kind": "bundle", "location": "/tmp/a.tar.gz"}, "local bundle file"),
        (
            {"kind": "bundle", "location": "server:ai-stack"},
            "release ai-stack of your leger account",
        ),
    ],
)
def test_public_source_has_no_path_and_no_credentials(source, public):
    assert public_source(source) == public
