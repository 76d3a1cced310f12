"""``leger-server install-unit``: the hardened unit for this installation, verified by
``systemd-analyze verify`` (no systemd needed), keys only in the env file. The unit running
under real systemd: tests/systemd/test_server_service.py."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from leger_core.sdunits import closed_to_others, exec_line
from leger_server.settings import keys_from_env
from leger_server.units import render

SERVER = Path(sys.executable).parent / "leger-server"
SHIPPED = Path(__file__).resolve().parents[1] / "systemd" / "leger-server.service"
CONTAINER = Path(__file__).resolve().parents[1] / "container"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SERVER), *args], capture_output=True, text=True)


def unit_lines(text: str) -> list[str]:
    return text.splitlines()


def exec_start(text: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (Debian package systemd)"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        env={"XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"},
    )


def test_shipped_unit_is_what_install_unit_writes_for_usr_local() -> None:
    """The repository's copy comes from the same code, so the two cannot drift apart."""
    want = render(command=["/usr/local/bin/leger-server"], protect_home_value="yes", tmp_binds=[])
    assert SHIPPED.read_text() == want


def test_unit_is_hardened_and_keeps_keys_out() -> None:
    lines = unit_lines(SHIPPED.read_text())
    for line in (
        "DynamicUser=yes",
        "StateDirectory=leger-server",
        "StateDirectoryMode=0700",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
        "EnvironmentFile=/etc/leger-server/leger-server.env",
    ):
        assert line in lines, line
    text = SHIPPED.read_text()
    assert "LEGER_SERVER_JWT_SECRET=" not in text and "LEGER_SERVER_ENCRYPTION_KEYS=" not in text
    argv = exec_start(text)
    assert argv[:2] == ["/usr/local/bin/leger-server", "serve"]
    assert argv[argv.index("--data-dir") + 1] == "/var/lib/leger-server"


def test_unit_runs_serve_with_options_it_knows() -> None:
    help_text = run_cli("serve", "--help").stdout
    for arg in exec_start(SHIPPED.read_text())[2:]:
        if arg.startswith("--"):
            assert arg in help_text, arg


def test_install_unit_writes_this_installations_path_and_verifies(tmp_path: Path) -> None:
    target = tmp_path / "units"
    env_file = tmp_path / "etc" / "leger-server.env"
    proc = run_cli("install-unit", "--dir", str(target), "--env-file", str(env_file))
    assert proc.returncode == 0, proc.stderr
    unit = target / "leger-server.service"
    assert f"Wrote {unit}" in proc.stdout
    # No env file yet: said, and nothing invented.
    assert f"{env_file} does not exist" in proc.stderr and not env_file.exists()
    text = unit.read_text()
    assert exec_start(text)[:2] == [str(SERVER), "serve"]
    assert f"EnvironmentFile={env_file}" in unit_lines(text)
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    result = verify(unit, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not [x for x in result.stderr.splitlines() if str(unit) in x or unit.name in x]


def test_install_unit_options_land_in_the_unit(tmp_path: Path) -> None:
    proc = run_cli(
        "install-unit",
        "--dry-run",
        "--identity",
        "tailscale-serve",
        "--host",
        "::1",
        "--port",
        "9443",
    )
    assert proc.returncode == 0, proc.stderr
    env_line = next(x for x in proc.stdout.splitlines() if x.startswith("Environment="))
    assert env_line.split("=", 1)[1].split() == [
        "LEGER_SERVER_HOST=::1",
        "LEGER_SERVER_PORT=9443",
        "LEGER_SERVER_IDENTITY=tailscale-serve",
    ]


def test_dry_run_prints_and_writes_nothing(tmp_path: Path) -> None:
    env_file = tmp_path / "k.env"
    proc = run_cli(
        "install-unit", "--dry-run", "--new-keys", "--dir", str(tmp_path / "u"),
        "--env-file", str(env_file),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"ExecStart={SERVER} serve" in proc.stdout
    assert not (tmp_path / "u").exists() and not env_file.exists()


def test_new_keys_writes_a_private_env_file_the_server_reads(tmp_path: Path) -> None:
    env_file = tmp_path / "etc" / "leger-server" / "leger-server.env"
    proc = run_cli(
        "install-unit", "--dir", str(tmp_path / "u"), "--env-file", str(env_file), "--new-keys"
    )
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o700
    values = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    keys = keys_from_env(values)
    assert keys is not None and keys.active_key == "k1"
    # The keys are in the file only: not printed, not in the unit.
    unit = (tmp_path / "u" / "leger-server.service").read_text()
    for value in values.values():
        assert value not in proc.stdout + proc.stderr and value not in unit

    # Run again: existing keys are never replaced (they are what decrypts the secrets).
    before = env_file.read_bytes()
    again = run_cli(
        "install-unit", "--dir", str(tmp_path / "u"), "--env-file", str(env_file), "--new-keys"
    )
    assert again.returncode == 0, again.stderr
    assert f"Kept the keys in {env_file}" in again.stdout
    assert env_file.read_bytes() == before


def test_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env_file = tmp_path / "k.env"
    proc = run_cli(
        "install-unit", "--dir", str(blocker / "sub"), "--env-file", str(env_file), "--new-keys"
    )
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
    assert not env_file.exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--host", "0.0.0.0 --identity dev"), ("--env-file", "relative.env"), ("--host", "$X")],
)
def test_values_that_would_break_the_unit_are_refused(
    option: str, value: str, tmp_path: Path
) -> None:
    proc = run_cli("install-unit", "--dir", str(tmp_path / "u"), option, value)
    assert proc.returncode != 0
    assert "cannot go into a unit file" in proc.stderr or "absolute path" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "u").exists()


def test_exec_line_escapes_what_systemd_would_expand() -> None:
    # Quotes stop neither: systemd expands specifiers and variables inside them too.
    assert exec_line(["/opt/a%b/$HOME/leger-server"]) == "'/opt/a%%b/$$HOME/leger-server'"
    assert exec_line(["/opt/my venv/bin/leger-server"]) == "'/opt/my venv/bin/leger-server'"


def test_an_installation_behind_a_closed_directory_is_named() -> None:
    """A DynamicUser service cannot start from a venv under a 0700 directory (like /root)."""
    # Not under pytest's tmp_path: that lies in a 0700 directory itself.
    top = Path(tempfile.mkdtemp(prefix="leger-closed-"))
    try:
        top.chmod(0o755)
        closed = top / "closed"
        script = closed / "venv" / "bin" / "leger-server"
        script.parent.mkdir(parents=True)
        script.write_text("")
        script.chmod(0o755)
        closed.chmod(0o700)
        assert closed_to_others([str(script)]) == [str(closed)]
        closed.chmod(0o755)
        assert closed_to_others([str(script)]) == []
        script.chmod(0o700)  # a script others cannot read
        assert closed_to_others([str(script)]) == [str(script)]
    finally:
        shutil.rmtree(top)


def test_a_home_installation_gets_protecthome_read_only() -> None:
    text = render(command=["/home/alice/venv/bin/leger-server"])
    assert "ProtectHome=read-only" in unit_lines(text)


@pytest.mark.parametrize("name", ["Containerfile", "leger-server.container"])
def test_container_files_keep_keys_out(name: str) -> None:
    text = (CONTAINER / name).read_text()
    assert "LEGER_SERVER_JWT_SECRET=" not in text
    assert "LEGER_SERVER_ENCRYPTION_KEYS=" not in text


def test_health_answers_for_a_serving_server(leger_server: Any) -> None:
    port = leger_server.url.rsplit(":", 1)[1]
    proc = run_cli("health", "--port", port)
    assert proc.returncode == 0, proc.stderr
    assert f"healthy at http://127.0.0.1:{port}/health" in proc.stdout
    # The unit's ExecStartPost= passes the listen address; 0.0.0.0 is asked on loopback.
    assert run_cli("health", "--host", "0.0.0.0", "--port", port).returncode == 0


def test_health_fails_clearly_when_nothing_answers() -> None:
    from leger_server.testing import free_port

    port = str(free_port())
    started = time.monotonic()
    proc = run_cli("health", "--port", port, "--wait", "1")
    took = time.monotonic() - started
    assert proc.returncode == 1
    assert f"not healthy at http://127.0.0.1:{port}/health" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert 0.9 <= took < 10  # it kept asking for the time given, then gave up


def test_health_url_for_each_listen_address() -> None:
    from leger_server.healthcheck import health_url

    assert health_url("0.0.0.0", 1) == "http://127.0.0.1:1/health"
    assert health_url("::", 2) == "http://[::1]:2/health"
    assert health_url("fd7a:115c:a1e0::1", 3) == "http://[fd7a:115c:a1e0::1]:3/health"
    assert health_url("100.64.0.1", 4) == "http://100.64.0.1:4/health"
