"""``leger auth``, ``leger secrets`` and ``leger releases`` against a real leger-server."""

from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

from leger_server.testing import make_bundle


def test_login_saves_account_without_token_and_a_0600_token_file(leger_server, leger_cli):
    out = leger_cli("auth", "login", "--server", leger_server.url).stdout
    assert "Logged in to" in out and "alice@example.com" in out
    assert "no OS keyring" in out
    account_text = (leger_cli.state_dir / "account.json").read_text()
    account = json.loads(account_text)
    assert account["server"] == leger_server.url
    assert account["token_store"] == "file"
    assert len(account["user_uuid"]) == 36
    token_file = leger_cli.state_dir / "cloud-token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = json.loads(token_file.read_text())[leger_server.url]
    assert token not in account_text
    status = json.loads(leger_cli("auth", "status", "--json").stdout)
    assert status["valid"] is True and "token" not in status


def test_logout_forgets_token_and_account(logged_in, leger_cli):
    import json

    import httpx

    token = json.loads((leger_cli.state_dir / "cloud-token.json").read_text())
    token = next(iter(token.values())) if isinstance(token, dict) else token
    assert "Logged out" in leger_cli("auth", "logout").stdout
    assert not (leger_cli.state_dir / "account.json").exists()
    assert not (leger_cli.state_dir / "cloud-token.json").exists()
    err = leger_cli("secrets", "list", expect=6).stderr
    assert "leger auth login" in err
    # ...and the server was told: a copy of the token is refused from now on.
    resp = httpx.get(logged_in.url + "/api/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_revoked"


def test_logout_with_the_server_down_still_forgets_and_says_so(leger_server, leger_cli):
    leger_cli("auth", "login", "--server", leger_server.url)
    leger_server.stop()
    result = leger_cli("auth", "logout")
    assert "Logged out" in result.stdout and not (leger_cli.state_dir / "account.json").exists()
    assert "the server was not told" in result.stderr and "stays valid" in result.stderr


def test_login_without_identity_is_a_config_error(leger_server, leger_cli, tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = leger_cli(
        "auth", "login", "--server", leger_server.url, env={"LEGER_CONFIG": str(empty)}, expect=3
    )
    assert "no identity" in result.stderr


def test_login_to_a_dead_server_is_unavailable(leger_cli):
    result = leger_cli("auth", "login", "--server", "http://127.0.0.1:9", expect=5)
    assert "cannot reach leger-server" in result.stderr


def test_secrets_set_get_list_rm(logged_in, leger_cli):
    assert (
        "Stored api_key (version 1)"
        in leger_cli("secrets", "set", "api_key", input="sk-one\n").stdout
    )
    assert leger_cli("secrets", "get", "api_key").stdout == "sk-one\n"
    assert "unchanged" in leger_cli("secrets", "set", "api_key", input="sk-one").stdout
    leger_cli("secrets", "set", "api_key", input="sk-two")
    listed = json.loads(leger_cli("secrets", "list", "--json").stdout)
    assert [(s["name"], s["version"]) for s in listed] == [("api_key", 2)]
    assert "sk-two" not in json.dumps(listed)
    leger_cli("secrets", "rm", "api_key")
    assert "not found" in leger_cli("secrets", "get", "api_key", expect=4).stderr


def test_secrets_set_reads_a_file_never_an_argument(logged_in, leger_cli, tmp_path):
    value_file = tmp_path / "v.txt"
    value_file.write_text("from-file\n")
    leger_cli("secrets", "set", "k", "--file", str(value_file))
    assert leger_cli("secrets", "get", "k").stdout == "from-file\n"
    leger_cli("secrets", "set", "k", "a-value-in-argv", expect=2)


def test_bad_secret_name_is_invalid_input(logged_in, leger_cli):
    assert leger_cli("secrets", "set", "bad name!", input="x", expect=7).returncode == 7


def test_releases_create_list_show(logged_in, leger_cli):
    leger_cli(
        "releases", "create", "my-openwebui", "--git-url", "https://github.com/alice/quadlets"
    )
    listed = json.loads(leger_cli("releases", "list", "--json").stdout)
    assert listed[0]["name"] == "my-openwebui" and listed[0]["kind"] == "git"
    shown = json.loads(leger_cli("releases", "show", listed[0]["id"], "--json").stdout)
    assert shown["git_branch"] == "main"
    leger_cli("releases", "create", "x", "--git-url", "not a url", expect=7)
    dup = leger_cli("releases", "create", "my-openwebui", "--git-url", "https://h/r", expect=8)
    assert "exists" in dup.stderr


def test_releases_upload_and_download_are_identical(logged_in, leger_cli, tmp_path):
    data = make_bundle({"openwebui.container": b"[Container]\nImage=busybox\n"})
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(data)
    up = json.loads(leger_cli("releases", "upload", str(bundle), "--json").stdout)
    assert up["version"] == 1 and up["files"] == ["openwebui.container"]
    out = tmp_path / "out"
    out.mkdir()
    got = json.loads(leger_cli("releases", "download", "latest", "-o", str(out), "--json").stdout)
    assert Path(got["path"]).read_bytes() == data
    with tarfile.open(got["path"]) as tar:
        assert "manifest.json" in tar.getnames()


def test_refused_bundle_is_invalid_input(logged_in, leger_cli, tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not gzip at all")
    err = leger_cli("releases", "upload", str(bad), expect=7).stderr
    assert "not a valid .tar.gz" in err
    assert json.loads(leger_cli("releases", "list", "--json").stdout) == []


def test_transfers_show_a_progress_bar_on_a_terminal(logged_in, leger_cli, tmp_path):
    import os
    import shlex
    import shutil
    import subprocess

    script = shutil.which("script")
    assert script, "util-linux's script(1) runs the CLI on a pseudo-terminal"
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(make_bundle({"big.bin": os.urandom(2 * 1024 * 1024)}))
    leger = str(Path(leger_cli.env["PATH"].split(os.pathsep)[0]) / "leger")
    for args in (
        ["releases", "upload", str(bundle)],
        ["releases", "download", "1", "-o", str(tmp_path)],
    ):
        proc = subprocess.run(
            [script, "-qec", shlex.join([leger, *args]), "/dev/null"],
            env=leger_cli.env,
            capture_output=True,
            timeout=60,
        )
        out = proc.stdout.decode(errors="replace")
        assert proc.returncode == 0, out
        assert "100%" in out and ("Uploading" in out or "Downloading" in out)


def test_logout_all_cuts_off_every_token_of_the_account(logged_in, leger_cli):
    import httpx

    stolen = logged_in.login("u-alice", "alice@example.com")  # a copy someone else holds
    assert httpx.get(logged_in.url + "/api/me", headers={"Authorization": f"Bearer {stolen}"})
    out = leger_cli("auth", "logout", "--all").stdout
    assert "everywhere" in out and not (leger_cli.state_dir / "account.json").exists()
    resp = httpx.get(logged_in.url + "/api/me", headers={"Authorization": f"Bearer {stolen}"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_revoked"
    # The owner logs in again as before.
    leger_cli("auth", "login", "--server", logged_in.url)
    assert json.loads(leger_cli("auth", "status", "--json").stdout)["valid"] is True


def test_logout_all_when_not_logged_in_is_a_usage_error(leger_cli):
    result = leger_cli("auth", "logout", "--all", expect=2)
    assert "log in first" in result.stderr


def test_login_browser_without_a_browser_prints_the_link_and_code(leger_server, leger_cli):
    import re

    import httpx

    # BROWSER names a command that fails: Python's webbrowser then reports no browser.
    result = leger_cli(
        "auth", "login", "--server", leger_server.url, "--browser", env={"BROWSER": "false"}
    )
    code = re.search(r"One-time code: ([A-Z0-9]{4}-[A-Z0-9]{4})", result.stdout).group(1)
    assert "No browser can be opened here" in result.stdout
    assert f"{leger_server.url}/login/code?code={code}" in result.stdout
    assert f"{leger_server.url}/login and enter the code" in result.stdout
    token = json.loads((leger_cli.state_dir / "cloud-token.json").read_text())
    assert next(iter(token.values())) not in result.stdout + result.stderr
    # The code typed on /login leads to the confirmation page, then a session.
    with httpx.Client(base_url=leger_server.url) as browser:
        page = browser.get("/login/code", params={"code": code.lower().replace("-", " ")})
        assert "Log in as alice@example.com" in page.text
        resp = browser.post("/login/code", data={"code": code},
                            headers={"Sec-Fetch-Site": "same-origin"})  # fmt: skip
        assert resp.status_code == 303 and "leger_session" in browser.cookies
