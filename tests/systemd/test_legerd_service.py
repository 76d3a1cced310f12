"""legerd as a real service under systemd 257 (system scope, and a lingering user's
``systemd --user``): installed with ``legerd install-units``, started, answering on its socket
as soon as systemd calls it started (``Type=notify``), restarted after a crash, verified by the
machine's own ``systemd-analyze``."""

from __future__ import annotations

import pytest
from sdmachine import LEGER, LEGERD, USER, Machine

pytestmark = [pytest.mark.systemd, pytest.mark.slow]

SYSTEM_SOCKET = "/run/legerd/legerd.sock"


def main_pid(machine: Machine, user: str | None = None) -> int:
    out = machine.systemctl("show", "-P", "MainPID", "legerd.service", user=user).stdout
    return int(out.strip())


def install_system_legerd(machine: Machine) -> None:
    out = machine.exec([LEGERD, "install-units"]).stdout
    assert "Wrote /etc/systemd/system/legerd.service" in out
    machine.systemctl("daemon-reload")


def assert_answers(machine: Machine, socket: str, user: str | None = None) -> None:
    status = machine.exec([LEGERD, "status", "--socket", socket], user=user, check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"legerd: running on {socket}" in status.stdout


def kill_and_see_it_come_back(machine: Machine, socket: str, user: str | None = None) -> None:
    before = main_pid(machine, user)
    assert before > 0
    machine.sh(f"kill -9 {before}")  # the shell's kill: minbase has no /bin/kill
    # Restart=on-failure, RestartSec=1s: a new main process, active, answering.
    machine.wait_for(
        f'test "$(systemctl {"--user " if user else ""}show -P MainPID legerd)" -gt 0 && '
        f'test "$(systemctl {"--user " if user else ""}show -P MainPID legerd)" != {before} && '
        f"systemctl {'--user ' if user else ''}is-active -q legerd",
        timeout=30,
        user=user,
    )
    assert_answers(machine, socket, user)
    restarts = machine.systemctl("show", "-P", "NRestarts", "legerd.service", user=user).stdout
    assert int(restarts) >= 1


def test_system_unit_starts_answers_and_restarts_after_a_crash(machine: Machine) -> None:
    install_system_legerd(machine)
    verify = machine.exec(
        ["systemd-analyze", "verify", "/etc/systemd/system/legerd.service"], check=False
    )
    assert verify.returncode == 0, verify.stderr
    assert "legerd.service" not in verify.stderr, verify.stderr
    machine.systemctl("enable", "--now", "legerd.service")
    # Type=notify: `systemctl start` returned only after READY=1, so the socket answers now,
    # with no waiting (Type=exec returned before legerd listened).
    assert_answers(machine, SYSTEM_SOCKET)
    assert machine.systemctl("show", "-P", "Type", "legerd").stdout.strip() == "notify"
    # The venv of this checkout lives under /root here: the unit must not hide it.
    unit = machine.exec(["cat", "/etc/systemd/system/legerd.service"]).stdout
    assert f"ExecStart={LEGERD} serve" in unit
    kill_and_see_it_come_back(machine, SYSTEM_SOCKET)
    # leger (root) finds the system legerd at its default socket.
    put = machine.exec([LEGER, "local", "put", "team/probe"], input="v1", check=False)
    assert put.returncode == 0, put.stderr
    # A clean stop is not a failure (exit 0 on SIGTERM) and removes the socket.
    machine.systemctl("stop", "legerd")
    assert machine.systemctl("is-failed", "legerd", check=False).returncode != 0
    assert machine.sh(f"test -e {SYSTEM_SOCKET}", check=False).returncode != 0


def test_shipped_protecthome_yes_hides_a_venv_under_root(machine: Machine) -> None:
    """The bug install-units fixes: the unit as shipped (ProtectHome=yes), pointed at a venv
    whose interpreter is under /root, cannot even start it."""
    prefix = machine.exec([LEGERD.rsplit("/", 2)[0] + "/bin/python", "-c",
                           "import sys; print(sys.base_prefix)"]).stdout.strip()  # fmt: skip
    if not prefix.startswith(("/root/", "/home/")):
        pytest.skip(f"this Python lives in {prefix}, not under a home directory")
    text = machine.exec([LEGERD, "install-units", "--dry-run"]).stdout
    assert "ProtectHome=read-only" in text.splitlines()
    machine.write(
        "/etc/systemd/system/legerd.service",
        text.replace("ProtectHome=read-only", "ProtectHome=yes"),
    )
    machine.systemctl("daemon-reload")
    assert machine.systemctl("start", "legerd", check=False).returncode != 0


def test_user_unit_under_a_lingering_user(machine: Machine) -> None:
    # The bind-mounted interpreter is under /root here (pyenv); let the user reach it. A user's
    # own venv would be in their home.
    machine.exec(["chmod", "0711", "/root"])
    machine.exec(["loginctl", "enable-linger", USER])
    machine.wait_for(f"systemctl is-active -q user@$(id -u {USER}).service", timeout=30)
    machine.wait_for("test -S $XDG_RUNTIME_DIR/systemd/private", user=USER)
    out = machine.exec([LEGERD, "install-units", "--user"], user=USER).stdout
    unit = f"/home/{USER}/.config/systemd/user/legerd.service"
    assert f"Wrote {unit}" in out
    verify = machine.exec(["systemd-analyze", "--user", "verify", unit], user=USER, check=False)
    assert verify.returncode == 0, verify.stderr
    machine.systemctl("daemon-reload", user=USER)
    machine.systemctl("enable", "--now", "legerd.service", user=USER)
    socket = "/run/user/1000/legerd.sock"
    assert_answers(machine, socket, user=USER)
    owner = machine.exec(["stat", "-c", "%U %a", socket]).stdout.split()
    assert owner == [USER, "600"]
    kill_and_see_it_come_back(machine, socket, user=USER)
    # leger, as that user, finds it at $XDG_RUNTIME_DIR/legerd.sock without configuration.
    put = machine.exec([LEGER, "local", "put", "mine/probe"], input="v", user=USER, check=False)
    assert put.returncode == 0, put.stderr
