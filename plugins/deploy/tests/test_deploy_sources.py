"""The manifest (pq-style) and bundle sources, and how a SOURCE argument is understood."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import pytest

from leger_core.errors import InvalidInputError
from leger_plugin_deploy.authoring import make_bundle, refresh_manifest_file
from leger_plugin_deploy.deployer import detect_source


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def static_site(repo):
    """The release served over HTTP from 127.0.0.1, like static hosting; records requests."""
    handler = type("Handler", (_Quiet,), {"requests": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(repo.path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/manifest.json", handler.requests
    server.shutdown()
    server.server_close()


def test_manifest_source_downloads_only_what_changed(cli, repo, static_site, quadlets, systemctl):
    url, requests = static_site
    cli("deploy", "install", url, "--allow-insecure", "--yes")
    assert sorted(requests) == sorted(
        ["/manifest.json"] + ["/" + p.name for p in (quadlets / "ai-stack").iterdir()]
    )
    assert (quadlets / "ai-stack/litellm.yaml").read_bytes() == repo.read("litellm.yaml")

    requests.clear()
    assert "up to date" in cli("update", "--yes").output
    assert requests == ["/manifest.json"]  # nothing new: no file downloaded

    text = repo.read("litellm.container").decode().replace("1.55.8", "1.56.0")
    (repo.path / "litellm.container").write_text(text)
    manifest = repo.read("manifest.json").decode().replace('"version": 1', '"version": 2')
    (repo.path / "manifest.json").write_text(manifest)
    refresh_manifest_file(repo.path)
    requests.clear()
    systemctl.clear()
    result = cli("update", "--yes")
    assert "Updated ai-stack from 1 to 2" in result.output
    assert requests == ["/manifest.json", "/manifest.json", "/litellm.container"]
    assert ["restart", "litellm.service"] in systemctl.calls()
    assert (quadlets / "ai-stack/litellm.container").read_text() == text


def test_manifest_source_refuses_a_file_that_does_not_match(cli, repo, static_site, quadlets):
    url, _ = static_site
    (repo.path / "openwebui.env").write_text("WEBUI_NAME=tampered\n")
    result = cli("deploy", "install", url, "--allow-insecure", "--yes", expect=7)
    assert "openwebui.env" in result.output and "does not match manifest.json" in result.output
    assert not (quadlets / "ai-stack").exists()


def test_manifest_source_from_a_local_folder(cli, repo, quadlets, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for p in repo.path.iterdir():
        if p.is_file():
            (plain / p.name).write_bytes(p.read_bytes())
    cli("deploy", "install", str(plain), "--yes")
    assert (quadlets / "ai-stack/postgres.container").exists()


def test_bundle_install_and_update(cli, repo, tmp_path, quadlets, systemctl):
    bundle = tmp_path / "ai-stack.tar.gz"
    assert make_bundle(repo.path, bundle) == 8
    cli("deploy", "install", str(bundle), "--yes")
    text = repo.read("postgres.container").decode().replace("16-alpine", "17-alpine")
    (repo.path / "postgres.container").write_text(text)
    manifest = repo.read("manifest.json").decode().replace('"version": 1', '"version": 2')
    (repo.path / "manifest.json").write_text(manifest)
    make_bundle(repo.path, bundle)
    systemctl.clear()
    assert "postgres.container" in cli("deploy", "diff", "ai-stack").output
    cli("update", "--yes")
    assert (quadlets / "ai-stack/postgres.container").read_text() == text
    assert ["restart", "postgres.service"] in systemctl.calls()


def test_bundle_command_writes_a_verified_bundle(cli, repo, tmp_path):
    out = tmp_path / "b.tar.gz"
    result = cli("deploy", "bundle", str(repo.path), "-o", str(out))
    assert "8 files" in result.output
    assert "valid" in cli("deploy", "validate", str(repo.path)).output


def test_validate_reports_errors(cli, tmp_path):
    (tmp_path / "x.container").write_text("[Container]\nExec=true\n")
    result = cli("deploy", "validate", str(tmp_path / "x.container"), expect=7)
    assert "x.container:1: error: [Container] needs Image=" in result.output


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("https://github.com/leger-labs/stack.git", "git"),
        ("ssh://git@example.com/stack.git", "git"),
        ("git@github.com:leger-labs/stack.git", "git"),
        ("file:///srv/stack", "git"),
        ("https://static.example/alice/v2/manifest.json", "manifest"),
        ("http://127.0.0.1:8000/", "manifest"),
        ("release.tar.gz", "bundle"),
        ("ai-stack", "bundle"),  # a release of the logged-in account
    ],
)
def test_detect_source(spec, kind):
    assert detect_source(spec)[0] == kind


def test_detect_source_of_local_paths(repo, tmp_path):
    assert detect_source(str(repo.path)) == ("git", str(repo.path))
    assert detect_source("ai-stack")[1] == "server:ai-stack"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError):
        detect_source(str(tmp_path / "empty"))


def test_git_sources_refuse_other_protocols(cli):
    result = cli("deploy", "install", "ext::sh -c evil", "--source", "git", "--yes", expect=7)
    assert "only https, ssh, file URLs" in result.output


def test_examples_manifest_is_current_and_valid(repo):
    before = repo.read("manifest.json")
    refresh_manifest_file(repo.path)
    assert repo.read("manifest.json") == before, "run `leger deploy manifest examples`"
    from leger_plugin_deploy.authoring import validate_path

    assert validate_path(Path(repo.path)) == []


def test_a_file_url_to_a_repository(cli, repo, quadlets):
    cli("deploy", "install", repo.path.as_uri(), "--yes")
    assert (quadlets / "ai-stack/openwebui.env").read_bytes() == repo.read("openwebui.env")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("../outside.env", "escapes the release"),
        ("/etc/containers/systemd/x.container", "absolute path"),
        ("run.sh", "neither a quadlet"),
    ],
)
def test_manifest_source_refuses_hostile_paths(cli, tmp_path, quadlets, path, words):
    import json

    from leger_plugin_deploy.manifest import sha256

    site = tmp_path / "site"
    site.mkdir()
    good = b"[Container]\nImage=docker.io/library/busybox\n"
    (site / "web.container").write_bytes(good)
    files = [
        {"path": "web.container", "sha256": sha256(good), "size": len(good)},
        {"path": path, "sha256": sha256(b"x"), "size": 1},
    ]
    (site / "manifest.json").write_text(json.dumps({"version": 1, "files": files}))
    result = cli("deploy", "install", str(site), "--yes", expect=7)
    assert words in result.output
    assert not quadlets.exists() or list(quadlets.iterdir()) == []


def test_manifest_source_refuses_too_many_files(cli, tmp_path):
    import json

    site = tmp_path / "site"
    site.mkdir()
    # 2,000 entries (a 10,000-entry manifest is already refused for its size, over 1 MiB)
    files = [{"path": f"f{i}.conf", "sha256": "0" * 64, "size": 0} for i in range(2000)]
    (site / "manifest.json").write_text(json.dumps({"version": 1, "files": files}))
    result = cli("deploy", "install", str(site), "--yes", expect=7)
    assert "more than 1000 files" in result.output


def test_a_bundle_rebuilt_without_a_new_version_is_still_new(cli, repo, tmp_path, quadlets):
    bundle = tmp_path / "ai-stack.tar.gz"
    make_bundle(repo.path, bundle)
    cli("deploy", "install", str(bundle), "--yes")
    assert "up to date" in cli("update", "--yes").output
    (repo.path / "openwebui.env").write_text("WEBUI_NAME=Renamed\n")
    make_bundle(repo.path, bundle)
    assert "Updated ai-stack" in cli("update", "--yes").output
    assert (quadlets / "ai-stack/openwebui.env").read_text() == "WEBUI_NAME=Renamed\n"


def test_plain_http_is_refused_without_allow_insecure(
    cli, static_site, quadlets, deployments, systemctl
):
    url, requests = static_site
    result = cli("deploy", "install", url, "--yes", expect=7)
    assert "plain http" in result.output and "--allow-insecure" in result.output
    assert requests == []  # refused before any request
    assert not quadlets.exists() and not deployments.exists() and systemctl.calls() == []


def test_allow_insecure_is_kept_for_updates_and_only_for_manifests(cli, repo, static_site):
    url, requests = static_site
    cli("deploy", "install", url, "--allow-insecure", "--yes")
    requests.clear()
    assert "up to date" in cli("update", "--yes").output
    assert requests == ["/manifest.json"]
    result = cli("deploy", "install", str(repo.path), "--allow-insecure", "--yes", expect=7)
    assert "only applies to manifest URLs" in result.output


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Redirects /manifest.json to ``target``, or drips bytes forever."""

    target = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/drip/manifest.json":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", f"/loop{len(self.path)}/manifest.json")
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", type(self).target)
        self.end_headers()


@pytest.fixture
def hostile_site(static_site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", static_site
    server.shutdown()
    server.server_close()


def test_a_redirect_to_another_host_is_refused(cli, hostile_site, quadlets):
    base, (good_url, requests) = hostile_site
    # 127.0.0.1:other-port is another origin: the same files, but not where the user pointed
    _Hostile.target = good_url
    result = cli(
        "deploy", "install", base + "/manifest.json", "--allow-insecure", "--yes", expect=7
    )
    assert "redirects to another scheme or host" in result.output
    assert requests == [] and not quadlets.exists()


def test_redirect_loops_are_bounded(cli, hostile_site, quadlets):
    base, _ = hostile_site
    result = cli("deploy", "install", base + "/loop/manifest.json", "--allow-insecure", "--yes",
                 expect=5)  # fmt: skip
    assert "more than 3 redirects" in result.output and not quadlets.exists()


def test_a_source_dripping_bytes_meets_the_total_time_limit(cli, hostile_site, monkeypatch):
    from leger_plugin_deploy.sources import manifest_url

    monkeypatch.setattr(manifest_url, "TOTAL_TIMEOUT", 1.0)
    base, _ = hostile_site
    started = time.monotonic()
    result = cli("deploy", "install", base + "/drip/manifest.json", "--allow-insecure", "--yes",
                 expect=5)  # fmt: skip
    assert "took too long" in result.output
    assert time.monotonic() - started < 5


def test_a_git_fetch_bringing_in_too_much_is_stopped(cli, repo, monkeypatch, home, quadlets):
    import os

    from leger_plugin_deploy.sources import git

    monkeypatch.setattr(git, "MAX_FETCH_BYTES", 1024 * 1024)
    repo.commit("big", big__conf=os.urandom(3 * 1024 * 1024).hex())  # ~6 MB, incompressible
    result = cli("deploy", "install", str(repo.path), "--yes", expect=7)
    assert "the git fetch brought in more than 1 MiB" in result.output
    assert not quadlets.exists()
    cache = home / ".cache/leger/git"
    assert not cache.exists() or list(cache.iterdir()) == []  # the partial fetch is gone


def test_a_git_fetch_has_a_time_limit(cli, repo, monkeypatch, tmp_path, quadlets):
    import os
    import shutil

    from leger_plugin_deploy.sources import git

    slow = tmp_path / "slow-bin"
    slow.mkdir()
    real = shutil.which("git")
    (slow / "git").write_text(
        f'#!/bin/sh\ncase " $* " in *" fetch "*) sleep 30;; esac\nexec {real} "$@"\n'
    )
    (slow / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(git, "TIMEOUT", 0.5)
    started = time.monotonic()
    result = cli("deploy", "install", str(repo.path), "--yes", expect=5)
    assert "git fetch took longer than" in result.output
    assert time.monotonic() - started < 5  # the sleeping helper was killed with git
    assert not quadlets.exists()
