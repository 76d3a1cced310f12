"""The README's first quick-start command, ``./dev demo``, runs the whole flow and succeeds.

The demo drives the real programs (legerd, leger-server, podman containers, git, the web UI);
a change that breaks any step of it fails here rather than in front of a newcomer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEPS = sorted((ROOT / "scripts" / "demo_steps").glob("[0-9]*.py"))


def _title(path: Path) -> str:
    found = re.search(r'^TITLE = "(.+)"$', path.read_text(), re.M)
    assert found, f"{path.name} has no TITLE"
    return found.group(1)


@pytest.mark.slow
@pytest.mark.podman
def test_the_demo_runs_every_step_and_cleans_up() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(STEPS) >= 6
    for step in STEPS:
        assert f"=== {_title(step)} ===" in proc.stdout, step.name
    assert re.search(r"^Demo finished in [0-9.]+s\.$", proc.stdout, re.M)
    home = re.search(r"private home in (\S+)", proc.stdout)
    assert home and not Path(home.group(1)).exists()  # nothing left behind
