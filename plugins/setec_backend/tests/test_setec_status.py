"""legerd's line in `leger status`: up with a count of secrets, or down with what to do."""

from __future__ import annotations

import json

from leger_core.models import SecretValue
from leger_plugin_setec import plugin


def _legerd_check(result):
    report = json.loads(result.output)
    return report, next(c for c in report["checks"] if c["section"] == "legerd")


def test_a_running_legerd_is_ok_with_its_secret_count(
    leger_invoke, leger_register, legerd_daemon, monkeypatch, leger_config
):
    leger_register(plugin, name="setec")
    monkeypatch.setenv("LEGERD_SOCKET", str(legerd_daemon.socket))
    legerd_daemon.client().put("app/a", SecretValue(b"sk-status-a"))
    legerd_daemon.client().put("app/b", SecretValue(b"sk-status-b"))
    result = leger_invoke(["status", "--json"])
    assert result.exit_code == 0, result.output
    _, check = _legerd_check(result)
    assert check["ok"] is True and check["name"] == str(legerd_daemon.socket)
    assert check["facts"] == {"up": True, "secrets": 2}
    assert "sk-status" not in result.output


def test_legerd_down_needs_action(
    leger_invoke, leger_register, tmp_path, monkeypatch, leger_config
):
    leger_register(plugin, name="setec")
    socket = tmp_path / "nobody-listens.sock"
    monkeypatch.setenv("LEGERD_SOCKET", str(socket))
    result = leger_invoke(["status", "--json"])
    assert result.exit_code == 1
    report, check = _legerd_check(result)
    assert report["ok"] is False and check["ok"] is False
    assert check["summary"] == "not answering"
    assert "legerd serve" in check["action"]
