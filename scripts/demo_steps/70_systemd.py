"""Under real systemd: legerd as a Type=notify service and a quadlet using the envfile snippet,
started together from cold in the test machine (Debian 13, systemd 257, podman 5)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import secrets
import shlex
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from demo_kit import ROOT, Demo, DemoFailed

TITLE = "Under real systemd: legerd as a service, a quadlet started with its secret"

SERVICE = "app"


def _sdmachine() -> ModuleType:
    path = ROOT / "tests" / "systemd" / "sdmachine.py"
    spec = importlib.util.spec_from_file_location("sdmachine", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["sdmachine"] = module
    spec.loader.exec_module(module)
    return module


def _run(machine: Any, argv: list[str], *, input: str | None = None, show: bool = True) -> str:
    print(f"[machine] $ {shlex.join(argv)}")
    proc = machine.exec(argv, input=input, check=False)
    if show:
        for line in (proc.stdout + proc.stderr).rstrip().splitlines():
            print(f"  {line}")
    if proc.returncode != 0:
        raise DemoFailed(f"{shlex.join(argv)} exited {proc.returncode} in the systemd machine")
    out: str = proc.stdout
    return out


@contextlib.contextmanager
def leger_machine(demo: Demo, *, tell: bool = True) -> Iterator[tuple[ModuleType, Any] | None]:
    """The systemd machine booted with this checkout's Leger in it (the checkout bound in, or
    its wheels installed at this venv's path), as ``(sdmachine, machine)``; None, said, where
    it cannot run. Torn down at the end, with the time it took. Steps 70 and 75 share it;
    ``tell`` says how it got there (the first run's build, the boot, the install)."""
    sd = _sdmachine()
    reason = sd.missing_tools()
    if reason:
        demo.say(f"Skipped: the systemd machine cannot run here ({reason}).")
        yield None
        return
    cache = sd.cache_root() / f"{sd.SUITE}-{sd.rootfs_key()}"
    if tell and not cache.is_dir():
        demo.say(f"First run: building the Debian 13 machine once into {cache} (about 2 minutes).")
    rootfs = sd.ensure_rootfs(quiet=True)
    try:
        binds = sd.checkout_binds(ROOT)
    except sd.MachineError:
        binds = None
    started = time.monotonic()
    with sd.Machine(rootfs, binds=binds or []) as machine:
        if tell:
            demo.say(
                f"Booted {machine.name}: systemd 257 as PID 1 in a podman container "
                f"({machine.boot_seconds:.1f} s)."
            )
        if binds is None:
            if tell:
                demo.say("Installing Leger's wheels into the machine's Python at this venv's path.")
            machine.install_venv(sys.prefix, sd.wheelhouse(ROOT))
        yield sd, machine
    demo.say(f"Machine torn down; this step took {time.monotonic() - started:.1f} s.")


def run(demo: Demo) -> None:
    with leger_machine(demo) as booted:
        if booted is not None:
            _show(demo, *booted)


def _show(demo: Demo, sd: ModuleType, machine: Any) -> None:
    leger, legerd = sd.LEGER, sd.LEGERD
    _run(machine, [legerd, "install-units"])
    _run(machine, ["systemctl", "daemon-reload"])
    _run(machine, ["systemctl", "enable", "--now", "legerd"])
    _run(machine, ["systemctl", "show", "-P", "Type", "legerd"])
    value = "sk-demo-" + secrets.token_hex(8)
    machine.write(
        "/root/.config/leger/config.toml",
        f'[services.{SERVICE}]\nenv = {{ APP_TOKEN = "team/app_token" }}\n',
    )
    _run(machine, [leger, "local", "put", "team/app_token"], input=value)
    snippet = _run(machine, [leger, "quadlet", "snippet", SERVICE])
    quadlet = (
        f"[Container]\nImage={sd.IMAGE}\nContainerName={SERVICE}\nNetwork=none\n"
        "Exec=sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\"\n\n" + snippet
    )
    demo.say(f"/etc/containers/systemd/{SERVICE}.container = the image lines + that snippet")
    machine.write(f"/etc/containers/systemd/{SERVICE}.container", quadlet)
    _run(machine, ["systemctl", "daemon-reload"])
    demo.say("As at boot: legerd stopped, then legerd and the unit started in one go.")
    _run(machine, ["systemctl", "stop", "legerd"])
    _run(machine, ["systemctl", "start", "legerd.service", f"{SERVICE}.service"])
    script = 'printf %s "$APP_TOKEN" | sha256sum'
    inside = _run(machine, ["podman", "exec", SERVICE, "sh", "-c", script], show=False)
    if inside.split()[0] != hashlib.sha256(value.encode()).hexdigest():
        raise DemoFailed("the container did not get the value legerd holds")
    demo.say("The container's APP_TOKEN has the SHA-256 of the value in legerd.")
    _run(machine, ["systemctl", "stop", f"{SERVICE}.service"])
    _run(machine, ["ls", "/run/leger/"])
    demo.say("ExecStopPost= removed the env file.")
    if value in machine.journal():
        raise DemoFailed("the value reached the machine's journal")
