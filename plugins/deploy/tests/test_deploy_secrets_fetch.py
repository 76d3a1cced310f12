"""A deployed service's secrets reach its env file: ``leger secrets fetch`` (the envfile
plugin, as systemd's ExecStartPre= runs it) asks this plugin which secrets the service needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leger_core.models import SecretValue

pytest.importorskip("leger_plugin_envfile")
LEGER = str(Path(sys.executable).parent / "leger")


def _fetch(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEGER, "secrets", "fetch", service], capture_output=True, text=True, env=env, timeout=60
    )


def test_secrets_fetch_writes_what_the_release_asks_for(cli, repo, legerd_daemon, home):
    with legerd_daemon.client() as client:
        client.put("openai_api_key", SecretValue("sk-test-openai"))
        client.put("webui_secret_key", SecretValue("webui-signing"))
    cli("deploy", "install", str(repo.path), "--yes")
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, **legerd_daemon.env, "XDG_RUNTIME_DIR": str(runtime)}
    proc = _fetch("openwebui", env)
    assert proc.returncode == 0, proc.stderr
    written = (runtime / "leger/openwebui.env").read_text()
    assert "OPENAI_API_KEY=sk-test-openai" in written
    assert "WEBUI_SECRET_KEY=webui-signing" in written

    proc = _fetch("postgres", env)  # Secret=postgres_password: not in legerd yet
    assert proc.returncode == 4, proc.stderr
    assert "postgres_password" in proc.stderr and "sk-test" not in proc.stderr
