"""Leger installed the way a user installs it, into the machine's own Python 3.13 (a venv in
/opt, wheels only, no index), with nothing of the checkout mounted: legerd's unit written by
that installation's `legerd install-units` runs it, and an envfile quadlet gets its secret."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

import pytest
import sdmachine
from sdmachine import IMAGE, Machine

pytestmark = [pytest.mark.systemd, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENV = "/opt/leger"
LEGER = f"{VENV}/bin/leger"
LEGERD = f"{VENV}/bin/legerd"


def test_wheels_in_the_machines_python_313(bare_machine: Machine) -> None:
    started = time.monotonic()
    wheels = sdmachine.wheelhouse(ROOT)
    built = time.monotonic() - started
    m = bare_machine
    m.copy_in(wheels, "/tmp/wheels")
    m.exec(["python3", "-m", "venv", VENV])
    m.exec(
        [f"{VENV}/bin/pip", "install", "-q", "--no-index", "--find-links", "/tmp/wheels",
         *sdmachine.DISTRIBUTIONS],
        timeout=600,
    )  # fmt: skip
    version = m.exec([f"{VENV}/bin/python", "-c", "import sys; print(sys.version_info[:2])"])
    assert version.stdout.strip() == "(3, 13)"
    assert m.sh(f"test -e {ROOT}", check=False).returncode != 0  # nothing of the host's

    m.exec([LEGERD, "install-units"])
    unit = m.exec(["cat", "/etc/systemd/system/legerd.service"]).stdout
    assert f"ExecStart={LEGERD} serve" in unit and "ProtectHome=yes" in unit.splitlines()
    m.systemctl("daemon-reload")
    m.systemctl("enable", "--now", "legerd")

    value = "sk-" + secrets.token_hex(16)
    m.write("/root/.config/leger/config.toml", '[services.app]\nenv = { T = "team/t" }\n')
    m.exec([LEGER, "local", "put", "team/t"], input=value)
    snippet = m.exec([LEGER, "quadlet", "snippet", "app"]).stdout
    assert f"ExecStartPre={LEGER} secrets fetch app" in snippet
    m.write(
        "/etc/containers/systemd/app.container",
        f"[Container]\nImage={IMAGE}\nContainerName=app\nNetwork=none\n"
        "Exec=sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\"\n\n" + snippet,
    )
    m.systemctl("daemon-reload")
    m.systemctl("start", "legerd.service", "app.service")
    out = m.exec(["podman", "exec", "app", "sh", "-c", 'printf %s "$T" | sha256sum']).stdout
    assert out.split()[0] == hashlib.sha256(value.encode()).hexdigest()
    assert value not in m.journal()
    print(f"wheelhouse {built:.1f} s")
