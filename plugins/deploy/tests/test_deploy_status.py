"""`leger status` reports each deployment: version, files changed by hand, systemd's view."""

from __future__ import annotations

import json


def _status(cli, expect):
    # Only the deploy plugin is loaded here, so the example release's services name a secret
    # backend that is not installed: their lines fail whatever the deployment's state.
    return json.loads(cli("status", "--json", expect=expect).output)


def _deployment(report, name="ai-stack"):
    return next(c for c in report["checks"] if c["section"] == "deployment" and c["name"] == name)


def test_an_installed_deployment_with_active_units_is_ok(cli, repo):
    cli("deploy", "install", str(repo.path), "--yes")
    report = _status(cli, expect=None)
    check = _deployment(report)
    assert check["ok"] is True and check["action"] is None
    assert set(check["facts"]["units"].values()) == {"active"}
    assert check["facts"]["version"] == repo.git("rev-parse", "HEAD").strip()
    assert check["facts"]["changed_files"] == []


def test_a_file_changed_by_hand_needs_action(cli, repo, quadlets):
    cli("deploy", "install", str(repo.path), "--yes")
    edited = quadlets / "ai-stack" / "litellm.container"
    edited.write_text(edited.read_text() + "\n# tuned by hand\n")
    report = _status(cli, expect=1)
    check = _deployment(report)
    assert report["ok"] is False and check["ok"] is False
    assert check["facts"]["changed_files"] == ["litellm.container"]
    assert "leger deploy diff ai-stack" in check["action"]


def test_a_failed_unit_needs_action_and_exit_is_non_zero(cli, repo, systemctl):
    cli("deploy", "install", str(repo.path), "--yes")
    systemctl.fail("is-active litellm.service")
    result = cli("status", expect=1)
    line = next(x for x in result.output.splitlines() if x.startswith("deployment"))
    assert "FAIL" in line and "litellm.service (failed)" in line
    assert "leger deploy rollback ai-stack" in result.output


def test_no_deployment_no_deployment_line(cli):
    report = _status(cli, expect=0)
    assert not [c for c in report["checks"] if c["section"] == "deployment"]
