"""Leger's strategies under real systemd 257 and podman 5's quadlet generator: a quadlet in
/etc/containers/systemd using exactly the lines Leger prints, legerd running as its service,
`systemctl start`, and the value checked inside the container by its hash (never printed)."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from sdmachine import IMAGE, LEGER, LEGERD, Machine

pytestmark = [pytest.mark.systemd, pytest.mark.slow]

SERVICE = "app"
SECRET = "team/app_token"
QUADLET = f"/etc/containers/systemd/{SERVICE}.container"
ENV_FILE = f"/run/leger/{SERVICE}.env"
# The container's main process: sh as PID 1 ignores SIGTERM unless it traps it (otherwise a
# stop waits the whole timeout). No `$` or `%` here: quadlet would want them doubled.
KEEP_RUNNING = "sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\""


def container_quadlet(extra: str, *, network: str = "none", exec_line: bool = True) -> str:
    return (
        "[Unit]\n"
        "Description=a service using Leger\n"
        "\n"
        "[Container]\n"
        f"Image={IMAGE}\n"
        f"ContainerName={SERVICE}\n"
        f"Network={network}\n" + (f"Exec={KEEP_RUNNING}\n" if exec_line else "") + "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
        "\n" + extra
    )


def legerd_service(machine: Machine) -> None:
    machine.exec([LEGERD, "install-units"])
    machine.systemctl("daemon-reload")
    machine.systemctl("enable", "--now", "legerd.service")


def configure_service(machine: Machine, value: str) -> None:
    machine.write(
        "/root/.config/leger/config.toml",
        f'[services.{SERVICE}]\nenv = {{ APP_TOKEN = "{SECRET}" }}\n',
    )
    put = machine.exec([LEGER, "local", "put", SECRET], input=value, check=False)
    assert put.returncode == 0, put.stderr


def hash_in_container(machine: Machine, var: str = "APP_TOKEN") -> str:
    out = machine.exec(
        ["podman", "exec", SERVICE, "sh", "-c", f'printf %s "${var}" | sha256sum']
    ).stdout
    return out.split()[0]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def envfile_quadlet(machine: Machine) -> str:
    snippet = machine.exec([LEGER, "quadlet", "snippet", SERVICE]).stdout
    machine.write(QUADLET, container_quadlet(snippet))
    machine.systemctl("daemon-reload")
    return snippet


def test_envfile_quadlet_starts_with_its_secret_and_cleans_up(machine: Machine) -> None:
    value = "sk-" + secrets.token_hex(16)
    legerd_service(machine)
    configure_service(machine, value)
    snippet = envfile_quadlet(machine)
    assert f"EnvironmentFile=%t/leger/{SERVICE}.env" in snippet
    # podman 5's own generator accepts the file as written.
    dry = machine.exec(["/usr/libexec/podman/quadlet", "-dryrun"], check=False)
    assert dry.returncode == 0, dry.stderr
    assert f"ExecStartPre={LEGER} secrets fetch {SERVICE} --output %t/leger/{SERVICE}.env" in (
        dry.stdout
    )
    machine.systemctl("start", f"{SERVICE}.service")
    assert hash_in_container(machine) == sha256(value)
    mode = machine.exec(["stat", "-c", "%a", ENV_FILE]).stdout.strip()
    assert mode == "600"
    machine.systemctl("stop", f"{SERVICE}.service")
    assert machine.sh(f"test -e {ENV_FILE}", check=False).returncode != 0  # ExecStopPost
    for where in (machine.journal(), machine.exec(["cat", QUADLET]).stdout):
        assert value not in where


def test_envfile_unit_and_legerd_started_together_from_cold(machine: Machine) -> None:
    """What a boot does: legerd and the unit started in one transaction, then a real reboot of
    the machine. The snippet's After=/Wants= and legerd's READY=1 make fetch wait for the
    socket. Without those lines the same start races legerd and loses."""
    value = "sk-" + secrets.token_hex(16)
    legerd_service(machine)
    configure_service(machine, value)
    snippet = envfile_quadlet(machine)
    machine.systemctl("enable", "legerd.service")
    machine.systemctl("stop", "legerd.service")
    machine.systemctl("start", "legerd.service", f"{SERVICE}.service")
    assert machine.systemctl("is-active", f"{SERVICE}.service", check=False).returncode == 0
    assert hash_in_container(machine) == sha256(value)

    # A real reboot: both enabled (the quadlet's [Install] WantedBy=multi-user.target).
    machine.reboot()
    assert machine.systemctl("is-active", "legerd", f"{SERVICE}.service").returncode == 0
    assert hash_in_container(machine) == sha256(value)
    boot = machine.journal("-u", "legerd", "-u", f"{SERVICE}.service")
    assert boot.index("Started legerd.service") < boot.index(f"Starting {SERVICE}.service")

    # Control: the same cold start without the ordering lines fails (fetch before listen).
    machine.systemctl("stop", f"{SERVICE}.service", "legerd.service")
    unordered = "\n".join(
        x for x in snippet.splitlines() if not x.startswith(("After=legerd", "Wants=legerd"))
    )
    machine.write(QUADLET, container_quadlet(unordered + "\n"))
    machine.systemctl("daemon-reload")
    machine.systemctl("start", "legerd.service", f"{SERVICE}.service", check=False)
    assert machine.systemctl("is-failed", f"{SERVICE}.service", check=False).returncode == 0
    assert "legerd is not running" in machine.journal("-u", f"{SERVICE}.service")


def inject(machine: Machine, strategy: str) -> str:
    """``leger inject STRATEGY app`` through podman 5's API socket; the lines it prints."""
    machine.systemctl("start", "podman.socket")
    proc = machine.exec([LEGER, "inject", strategy, SERVICE], check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    return out[out.index(f"# Add to {SERVICE}.container") :]


def secret_id(machine: Machine, name: str) -> str:
    return machine.exec(["podman", "secret", "inspect", "--format", "{{.ID}}", name]).stdout.strip()


def test_driver_quadlet_rotation_and_a_down_legerd(machine: Machine) -> None:
    value = "sk-" + secrets.token_hex(16)
    legerd_service(machine)
    configure_service(machine, value)
    # podman's shell driver pointed at this installation's `leger driver` (keeps the machine's
    # own containers.conf settings: the ulimits this host needs).
    machine.exec([LEGER, "driver", "install"])
    conf = machine.exec(["cat", "/etc/containers/containers.conf"]).stdout
    assert "default_ulimits" in conf and "driver lookup" in conf
    lines = inject(machine, "driver")
    assert "After=legerd.service" in lines and "Wants=legerd.service" in lines
    assert f"Secret={SERVICE}_app_token,type=env,target=APP_TOKEN" in lines
    machine.write(QUADLET, container_quadlet(lines))
    machine.systemctl("daemon-reload")
    machine.systemctl("start", f"{SERVICE}.service")
    assert hash_in_container(machine) == sha256(value)

    # Rotation in legerd reaches the restarted unit through the same podman secret.
    before = secret_id(machine, f"{SERVICE}_app_token")
    rotated = "sk-" + secrets.token_hex(16)
    machine.exec([LEGER, "local", "put", "--activate", SECRET], input=rotated)
    machine.systemctl("restart", f"{SERVICE}.service")
    assert hash_in_container(machine) == sha256(rotated)
    assert secret_id(machine, f"{SERVICE}_app_token") == before

    # Cold start of both together: After= + READY=1 make lookup wait for legerd.
    machine.systemctl("stop", f"{SERVICE}.service", "legerd.service")
    machine.systemctl("start", "legerd.service", f"{SERVICE}.service")
    assert hash_in_container(machine) == sha256(rotated)

    # legerd down (broken: Wants= would start a working one): the unit's start fails, and the
    # journal says why, not only podman's "no such secret".
    machine.systemctl("stop", f"{SERVICE}.service", "legerd.service")
    machine.write(
        "/run/systemd/system/legerd.service.d/broken.conf",
        "[Service]\nExecStart=\nExecStart=/bin/false\n",
    )
    machine.systemctl("daemon-reload")
    assert machine.systemctl("start", f"{SERVICE}.service", check=False).returncode != 0
    journal = machine.journal("-u", f"{SERVICE}.service")
    assert "legerd is not running" in journal, journal[-3000:]
    assert "will report this as 'no such secret' although the secret exists" in journal
    for where in (machine.journal(), machine.exec(["cat", QUADLET]).stdout, conf):
        assert value not in where and rotated not in where


def test_podman_file_driver_quadlet(machine: Machine) -> None:
    value = "sk-" + secrets.token_hex(16)
    legerd_service(machine)
    configure_service(machine, value)
    lines = inject(machine, "podman")
    assert f"Secret={SERVICE}_app_token,type=env,target=APP_TOKEN" in lines
    machine.write(QUADLET, container_quadlet("[Container]\n" + lines.split("\n", 1)[1]))
    machine.systemctl("daemon-reload")
    machine.systemctl("start", f"{SERVICE}.service")
    assert hash_in_container(machine) == sha256(value)
    assert value not in machine.journal()


def test_initscript_over_legerds_tcp_listener_with_a_token(machine: Machine) -> None:
    value = "sk-" + secrets.token_hex(16)
    legerd_service(machine)
    configure_service(machine, value)
    state = "/var/lib/legerd"
    token = machine.exec([LEGERD, "token", "add", "init", "--state-dir", state]).stdout.strip()
    machine.write(
        f"{state}/access.toml",
        '[[allow]]\nprincipals = ["token:init"]\nactions = ["get"]\nsecrets = ["team/*"]\n',
        mode="0600",
    )
    # legerd's TCP listener (loopback: the container shares the machine's network here).
    machine.write(
        "/etc/systemd/system/legerd.service.d/listen.conf",
        f"[Service]\nExecStart=\nExecStart={LEGERD} serve --state-dir {state} "
        "--socket /run/legerd/legerd.sock --listen 127.0.0.1:8080\n",
    )
    machine.systemctl("daemon-reload")
    machine.systemctl("restart", "legerd")
    machine.exec(["podman", "secret", "create", f"leger-token-{SERVICE}", "-"], input=token)
    out = machine.exec(
        [LEGER, "inject", "initscript", SERVICE, "--legerd-addr", "127.0.0.1:8080",
         "--command", KEEP_RUNNING]
    ).stdout  # fmt: skip
    lines = out[out.index("[Container]") :]
    machine.write(QUADLET, container_quadlet(lines, network="host", exec_line=False))
    machine.systemctl("daemon-reload")
    machine.systemctl("start", f"{SERVICE}.service")
    # The script exports the value to the command it execs (PID 1), not to `podman exec`.
    script = (
        'tr "\\0" "\\n" < /proc/1/environ | sed -n "s/^APP_TOKEN=//p" | tr -d "\\n" | sha256sum'
    )
    got = machine.exec(["podman", "exec", SERVICE, "sh", "-c", script]).stdout.split()[0]
    assert got == sha256(value)
    inspect = machine.exec(["podman", "inspect", SERVICE]).stdout
    assert value not in inspect and token not in inspect
    for where in (machine.journal(), machine.exec(["cat", QUADLET]).stdout):
        assert value not in where and token not in where
