"""The systemd units pass `systemd-analyze verify` (no errors and no warnings)."""

from __future__ import annotations

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
