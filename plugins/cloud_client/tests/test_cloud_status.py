"""The account's line in `leger status`: token valid, logged out, or the server away."""

from __future__ import annotations

import json

import pytest


def _account(leger_cli, expect):
    # The other plugins' lines (legerd, no deployments) are not this test's business: only the
    # account plugin and the core are loaded.
    out = leger_cli("status", "--json", env={"LEGER_LOAD_PLUGINS": "cloud"}, expect=expect)
    report = json.loads(out.stdout)
    return report, next(c for c in report["checks"] if c["section"] == "account")


def test_not_logged_in_is_fine(leger_cli):
    _, check = _account(leger_cli, expect=0)
    assert check["ok"] is True and check["summary"] == "not logged in (local only)"


def test_a_valid_token_and_the_last_sync(logged_in, leger_cli, legerd_daemon):
    _, check = _account(leger_cli, expect=0)
    assert check["ok"] is True
    assert check["facts"]["token"] == "valid" and check["facts"]["account"] == "alice@example.com"
    assert "never synced" in check["summary"]

    leger_cli("secrets", "sync", env={"LEGERD_SOCKET": str(legerd_daemon.socket)})
    _, check = _account(leger_cli, expect=0)
    assert "last synced just now into setec" in check["summary"]
    assert check["facts"]["last_sync"]["backend"] == "setec"


@pytest.mark.parametrize("everywhere", [False, True], ids=["this-token", "logout-all"])
def test_a_token_logged_out_elsewhere_needs_a_login(logged_in, leger_cli, everywhere):
    token = json.loads((leger_cli.state_dir / "cloud-token.json").read_text())[logged_in.url]
    api = logged_in.api(token)
    api.post("/api/auth/logout-all" if everywhere else "/api/auth/logout").raise_for_status()
    report, check = _account(leger_cli, expect=1)
    assert report["ok"] is False and check["facts"]["token"] == "revoked"
    assert "logged out by the server" in check["summary"]
    assert check["action"] == "leger auth login"
    assert token not in json.dumps(report)


def test_the_server_away_is_reported_quickly(logged_in, leger_cli):
    logged_in.stop()
    _, check = _account(leger_cli, expect=1)
    assert check["ok"] is False and check["facts"]["token"] == "unknown"
    assert "cannot reach leger-server" in check["summary"]
