"""Manifest health checks: after systemd calls the units active, each changed service's check
(an HTTP URL or a command) must pass before its deadline, or the change is rolled back."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from leger_plugin_deploy.state import Store


def _with_health(repo, service: str, health: dict | None) -> str:
    manifest = json.loads(repo.read("manifest.json"))
    for entry in manifest["services"]:
        entry.pop("health", None)
        if entry["name"] == service and health is not None:
            entry["health"] = health
    return json.dumps(manifest, indent=2)


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    """A local HTTP server answering GET with the status code last in ``codes``."""
    codes = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(codes[-1])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/health", codes
    httpd.shutdown()
    httpd.server_close()


def _update_litellm(repo, health: dict, tag: str) -> None:
    text = repo.read("litellm.container").decode().replace("main-v1.55.8", tag)
    repo.commit(
        "litellm " + tag,
        litellm__container=text,
        manifest__json=_with_health(repo, "litellm", health),
    )


def test_a_passing_http_check_lets_the_update_through(cli, repo, systemctl, server):
    url, _ = server
    cli("deploy", "install", str(repo.path), "--yes")
    _update_litellm(repo, {"url": url, "timeout": 5}, "main-v1.56.0")
    result = cli("update", "--yes")
    assert f"litellm: healthy ({url})" in result.output
    assert Store().get("ai-stack").version == repo.git("rev-parse", "HEAD").strip()


def test_a_failing_http_check_rolls_the_update_back(cli, repo, systemctl, server, quadlets):
    url, codes = server
    cli("deploy", "install", str(repo.path), "--yes")
    before = (quadlets / "ai-stack" / "litellm.container").read_text()
    codes.append(503)
    _update_litellm(repo, {"url": url, "timeout": 1}, "main-v1.56.0")
    result = cli("update", "--yes", expect=1)
    assert "litellm is not healthy after 1 s (HTTP 503" in result.output
    assert "Rolled back" in result.output
    assert (quadlets / "ai-stack" / "litellm.container").read_text() == before
    assert systemctl.calls()[-1] == ["restart", "litellm.service"]  # on the old files


def test_a_failing_command_check_rolls_back(cli, repo, systemctl, quadlets):
    cli("deploy", "install", str(repo.path), "--yes")
    before = Store().get("ai-stack").version
    _update_litellm(repo, {"command": ["false"], "timeout": 1}, "main-v1.56.0")
    result = cli("update", "--yes", expect=1)
    assert "litellm is not healthy after 1 s (exit 1" in result.output
    assert Store().get("ai-stack").version == before


def test_a_malformed_health_entry_is_refused_before_anything_changes(cli, repo, systemctl):
    cli("deploy", "install", str(repo.path), "--yes")
    systemctl.clear()
    _update_litellm(repo, {"url": "file:///etc/passwd"}, "main-v1.56.0")
    result = cli("update", "--yes", expect=7)
    assert "health.url must be an http:// or https:// URL" in result.output
    assert systemctl.calls() == []
