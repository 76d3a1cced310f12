"""``leger secrets sync``: the account's secrets into a real legerd, idempotently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.models import InjectResult, SecretValue
from leger_plugin_cloud.sync import SyncReport, inject_podman
from leger_plugin_setec.backend import SetecBackend


def _sync(leger_cli, legerd_daemon) -> dict[str, Any]:
    out = leger_cli("secrets", "sync", "--json", env=legerd_daemon.env).stdout
    return json.loads(out)


def test_sync_adds_updates_keeps_and_removes(logged_in, leger_cli, legerd_daemon):
    leger_cli("secrets", "set", "openai_api_key", input="sk-1")
    leger_cli("secrets", "set", "groq_api_key", input="gsk-1")
    report = _sync(leger_cli, legerd_daemon)
    assert report["added"] == ["groq_api_key", "openai_api_key"]
    prefix = report["prefix"]
    account = json.loads((leger_cli.state_dir / "account.json").read_text())
    assert prefix == f"leger/{account['user_uuid']}/"
    setec = legerd_daemon.client()
    assert setec.get(prefix + "openai_api_key").reveal() == b"sk-1"

    # Nothing changed: no new versions.
    before = setec.info(prefix + "openai_api_key").versions
    report = _sync(leger_cli, legerd_daemon)
    assert report["unchanged"] == ["groq_api_key", "openai_api_key"]
    assert report["added"] == report["updated"] == report["removed"] == []
    assert setec.info(prefix + "openai_api_key").versions == before

    # A changed value becomes the active version; a deleted one leaves legerd.
    leger_cli("secrets", "set", "openai_api_key", input="sk-2")
    leger_cli("secrets", "rm", "groq_api_key")
    report = _sync(leger_cli, legerd_daemon)
    assert report["updated"] == ["openai_api_key"]
    assert report["removed"] == ["groq_api_key"]
    assert setec.get(prefix + "openai_api_key").reveal() == b"sk-2"
    assert [i.name for i in setec.list() if i.name.startswith(prefix)] == [
        prefix + "openai_api_key"
    ]


def test_sync_leaves_other_names_in_legerd_alone(logged_in, leger_cli, legerd_daemon):
    setec = legerd_daemon.client()
    setec.put("team/shared", SecretValue("keep-me"))
    leger_cli("secrets", "set", "k", input="never-printed-9911")
    out = leger_cli("secrets", "sync", env=legerd_daemon.env).stdout
    assert "1 added" in out and "never-printed-9911" not in out
    assert setec.get("team/shared").reveal() == b"keep-me"


def test_sync_without_legerd_is_unavailable(logged_in, leger_cli, tmp_path):
    result = leger_cli(
        "secrets", "sync", env={"LEGERD_SOCKET": str(tmp_path / "none.sock")}, expect=5
    )
    assert "legerd" in result.stderr


class _RecordingPodman:
    """Stands in for the podman injector (another plugin); records what it was given."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, bytes]] = {}

    def inject(self, service: str, secrets: dict[str, SecretValue]) -> InjectResult:
        self.calls[service] = {k: v.reveal() for k, v in secrets.items()}
        return InjectResult(service, "podman", "podman secrets", sorted(secrets))

    def remove(self, service: str) -> None:
        self.calls.pop(service, None)


def test_podman_refresh_uses_each_service_secrets(
    leger_pm, leger_register, leger_config, legerd_daemon, tmp_path: Path
):
    recorder = _RecordingPodman()

    class Plugin:
        @hookimpl
        def leger_register_injectors(self, register):
            register("podman", lambda leger: recorder)

    leger_register(Plugin(), name="podman-stand-in")
    leger_config.write(
        {
            "secrets": {"prefix": "leger/u/"},
            "services": {"openwebui": {"secrets": ["openai_api_key"]}, "other": {"secrets": []}},
        }
    )
    setec = legerd_daemon.client()
    setec.put("leger/u/openai_api_key", SecretValue("sk-x"))
    report = SyncReport(prefix="leger/u/")
    inject_podman(Leger(leger_pm), SetecBackend(setec), report)
    assert recorder.calls == {"openwebui": {"OPENAI_API_KEY": b"sk-x"}}
    assert report.injected[0]["service"] == "openwebui"
    assert report.failed == {}


def test_podman_refresh_reports_a_missing_secret(
    leger_pm, leger_register, leger_config, legerd_daemon
):
    recorder = _RecordingPodman()

    class Plugin:
        @hookimpl
        def leger_register_injectors(self, register):
            register("podman", lambda leger: recorder)

    leger_register(Plugin(), name="podman-stand-in")
    leger_config.write({"secrets": {"prefix": "leger/u/"}, "services": {"app": {"secrets": ["x"]}}})
    report = SyncReport(prefix="leger/u/")
    inject_podman(Leger(leger_pm), SetecBackend(legerd_daemon.client()), report)
    assert "app" in report.failed and recorder.calls == {}
