"""The token in a real Secret Service (gnome-keyring on a private D-Bus session bus), and the
CLI saying where it went."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.keyring


@pytest.fixture
def secret_service(tmp_path: Path, cloud_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """dbus-daemon + gnome-keyring-daemon (secrets component, unlocked), both stopped by PID."""
    if not shutil.which("dbus-daemon") or not shutil.which("gnome-keyring-daemon"):
        pytest.fail("needs gnome-keyring and dbus (apt-get install gnome-keyring dbus-x11)")
    runtime = Path(cloud_env["XDG_RUNTIME_DIR"])
    bus = runtime / "bus"
    env = {**cloud_env}
    dbus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={bus}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    keyring_daemon = None
    try:
        assert dbus.stdout is not None
        address = dbus.stdout.readline().decode().strip()
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyring_daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"test-password")
        keyring_daemon.stdin.close()
        env.pop("LEGER_TOKEN_STORE")
        _wait_for_secret_service(env)
        yield env
    finally:
        for proc in (keyring_daemon, dbus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_for_secret_service(env: dict[str, str]) -> None:
    import sys

    probe = (
        "import keyring, sys; kr = keyring.get_keyring(); "
        "sys.exit(0 if 'SecretService' in type(kr).__module__ else 1)"
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if subprocess.run([sys.executable, "-c", probe], env=env).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("the Secret Service did not come up")


def test_token_goes_to_the_keyring_and_nowhere_on_disk(leger_server, leger_cli, secret_service):
    leger_cli.env = secret_service
    out = leger_cli("auth", "login", "--server", leger_server.url).stdout
    assert "Token stored in the OS keyring" in out
    account = json.loads((leger_cli.state_dir / "account.json").read_text())
    assert account["token_store"] == "keyring"
    assert not (leger_cli.state_dir / "cloud-token.json").exists()
    # The token works from the keyring: a later command finds it there.
    leger_cli("secrets", "set", "k", input="v")
    assert leger_cli("secrets", "get", "k").stdout == "v\n"
    # Logging out removes it from the keyring.
    leger_cli("auth", "logout")
    leger_cli("secrets", "list", env=secret_service, expect=6)


def test_without_a_keyring_the_cli_says_it_uses_a_file(leger_server, leger_cli, cloud_env):
    env = {k: v for k, v in cloud_env.items() if k != "LEGER_TOKEN_STORE"}
    env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    leger_cli.env = env
    out = leger_cli("auth", "login", "--server", leger_server.url).stdout
    assert "no OS keyring is available" in out
    assert (leger_cli.state_dir / "cloud-token.json").exists()
