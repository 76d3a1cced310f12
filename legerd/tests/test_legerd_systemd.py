"""The systemd units pass `systemd-analyze verify` (no errors and no warnings)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
LEGERD = Path(sys.executable).parent / "legerd"


def installed_copy(unit: Path, dest_dir: Path) -> Path:
    """The unit as an installer would write it: ExecStart pointing at this legerd."""
    dest_dir.mkdir(parents=True)
    dest = dest_dir / unit.name
    dest.write_text(unit.read_text().replace("/usr/local/bin/legerd", str(LEGERD)))
    return dest


def exec_start(unit: Path) -> list[str]:
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize(
    ("unit", "user"), [(UNITS / "legerd.service", False), (UNITS / "user/legerd.service", True)]
)
def test_unit_verifies_cleanly(unit: Path, user: bool, tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (Debian package systemd)"
    copy = installed_copy(unit, tmp_path / "units")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    args = ["systemd-analyze", *(["--user"] if user else []), "verify", str(copy)]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={"XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if copy.name in line or str(copy) in line]
    assert not ours, ours


@pytest.mark.parametrize("unit", [UNITS / "legerd.service", UNITS / "user/legerd.service"])
def test_unit_runs_legerd_serve_with_options_it_knows(unit: Path) -> None:
    argv = exec_start(unit)
    assert argv[0] == "/usr/local/bin/legerd" and argv[1] == "serve"
    help_text = subprocess.run(
        [str(LEGERD), "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for arg in argv[2:]:
        if arg.startswith("--"):
            assert arg in help_text, arg


def test_system_unit_keeps_state_private() -> None:
    text = (UNITS / "legerd.service").read_text()
    for line in ("StateDirectoryMode=0700", "UMask=0077", "ProtectSystem=strict", "ExecReload="):
        assert line in text


@pytest.mark.parametrize("user", [False, True])
def test_shipped_units_are_what_install_units_writes_for_usr_local(user: bool) -> None:
    """The repository's copies are rendered by the same code as `legerd install-units`, so they
    cannot drift apart; only the path differs for another installation."""
    from legerd.units import render

    shipped = UNITS / ("user/legerd.service" if user else "legerd.service")
    want = render(user=user, command=["/usr/local/bin/legerd"], protect_home="yes", tmp_binds=[])
    assert shipped.read_text() == want


@pytest.mark.parametrize("unit", [UNITS / "legerd.service", UNITS / "user/legerd.service"])
def test_units_wait_for_readiness(unit: Path) -> None:
    """Type=exec called legerd started before it listened: units after it raced the socket."""
    lines = unit.read_text().splitlines()
    assert "Type=notify" in lines and "Type=exec" not in lines


def run_legerd_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LEGERD), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


@pytest.mark.parametrize("user", [False, True])
def test_install_units_writes_this_installations_path_and_verifies(
    user: bool, tmp_path: Path
) -> None:
    target = tmp_path / "units"
    proc = run_legerd_cli("install-units", *(["--user"] if user else []), "--dir", str(target))
    assert proc.returncode == 0, proc.stderr
    unit = target / "legerd.service"
    assert f"Wrote {unit}" in proc.stdout
    argv = exec_start(unit)
    assert argv[0] == str(LEGERD) and argv[1] == "serve"
    assert "/usr/local/bin" not in unit.read_text()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    verify = subprocess.run(
        ["systemd-analyze", *(["--user"] if user else []), "verify", str(unit)],
        capture_output=True,
        text=True,
        env={"XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"},
    )
    assert verify.returncode == 0, verify.stderr
    assert not [x for x in verify.stderr.splitlines() if str(unit) in x]


def test_install_units_dry_run_prints_and_writes_nothing(tmp_path: Path) -> None:
    proc = run_legerd_cli("install-units", "--dry-run", "--dir", str(tmp_path / "units"))
    assert proc.returncode == 0, proc.stderr
    assert f"ExecStart={LEGERD} serve" in proc.stdout
    assert not (tmp_path / "units").exists()


def test_install_units_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_legerd_cli("install-units", "--dir", str(blocker / "sub"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("legerd: ") and "Traceback" not in proc.stderr
    assert f"cannot write {blocker / 'sub' / 'legerd.service'}: " in proc.stderr


def test_a_home_installation_gets_protecthome_read_only() -> None:
    """ProtectHome=yes hides /root and /home: a venv there could not even start."""
    from legerd.units import render, under_home

    assert under_home(["/home/alice/venv/bin/legerd"]) and under_home(["/root/.venv/bin/x"])
    assert not under_home(["/opt/leger/bin/legerd", "/usr/lib/python3"])
    text = render(user=False, command=["/home/alice/venv/bin/legerd"])
    assert "ProtectHome=read-only" in text.splitlines()
    text = render(user=False, command=["/opt/leger/bin/legerd"], protect_home=None)
    want = "read-only" if under_home(sys.path) else "yes"
    assert f"ProtectHome={want}" in text.splitlines()


def test_an_installation_under_tmp_is_bound_into_the_private_tmp(monkeypatch) -> None:
    """PrivateTmp=yes gives the service an empty /tmp: a venv or checkout there (a clone in
    /tmp, as CI makes) could not even start (systemd: 203/EXEC) unless bound back in."""
    from legerd.units import render

    # The running interpreter's own paths count too (they are what the service imports):
    # pin them outside /tmp so only the command decides here.
    monkeypatch.setattr(sys, "path", ["/usr/lib/python3.11"])
    monkeypatch.setattr(sys, "prefix", "/usr")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    lines = render(user=False, command=["/tmp/ci/checkout/.venv/bin/legerd"]).splitlines()
    assert "PrivateTmp=yes" in lines and "BindReadOnlyPaths=/tmp/ci" in lines
    lines = render(user=False, command=["/var/tmp/leger/bin/legerd"]).splitlines()
    assert "BindReadOnlyPaths=/var/tmp/leger" in lines
    lines = render(user=False, command=["/opt/leger/bin/legerd"]).splitlines()
    assert "PrivateTmp=yes" in lines
    assert not [line for line in lines if line.startswith("BindReadOnlyPaths=")]


def test_legerd_says_ready_to_notify_socket_once_it_listens(tmp_path: Path) -> None:
    """The sd_notify side of Type=notify, without systemd: a datagram socket stands where
    systemd's would be; READY=1 arrives only when the Unix socket accepts connections."""
    import socket as socketmod

    from legerd.testing import short_tmpdir

    short = short_tmpdir()
    try:
        notify_path = short / "notify"
        listener = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_DGRAM)
        listener.bind(str(notify_path))
        listener.settimeout(20)
        sock_path = short / "legerd.sock"
        proc = subprocess.Popen(
            [
                str(LEGERD),
                "serve",
                "--state-dir",
                str(tmp_path / "state"),
                "--socket",
                str(sock_path),
            ],
            env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            message = listener.recv(4096).decode()
            assert "READY=1" in message.splitlines()
            probe = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
            probe.connect(str(sock_path))  # listening when READY=1 was sent
            probe.close()
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
        assert "STOPPING=1" in listener.recv(4096).decode()
        listener.close()
    finally:
        shutil.rmtree(short, ignore_errors=True)
