"""A release's quadlets checked by podman's own generator (``quadlet -dryrun``), where podman
has one (4.4 and later), in addition to Leger's parser: what the generator refuses would
otherwise surface only as a unit missing after ``daemon-reload``."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from leger_core.errors import InvalidInputError
from leger_plugin_deploy import fsops

# Where distributions install it (Debian/Fedora, Arch); LEGER_QUADLET_GENERATOR names another,
# or "" to skip the check.
CANDIDATES = ("/usr/libexec/podman/quadlet", "/usr/lib/podman/quadlet")
TIMEOUT = 60.0


def generator() -> str | None:
    chosen = os.environ.get("LEGER_QUADLET_GENERATOR")
    if chosen is not None:
        return chosen or None
    return next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def check_with_generator(files: Mapping[str, bytes], *, user: bool) -> None:
    """Raise :class:`InvalidInputError` with the generator's messages if it refuses a file;
    nothing to do where podman has no generator."""
    exe = generator()
    if exe is None:
        return
    with tempfile.TemporaryDirectory(prefix="leger-quadlet-") as tmp:
        fsops.write_tree(Path(tmp) / "release", dict(files))
        env = {**os.environ, "QUADLET_UNIT_DIRS": str(Path(tmp) / "release")}
        cmd = [exe, "-dryrun", "-no-kmsg-log", *(["-user"] if user else [])]
        try:
            proc = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InvalidInputError(
                f"podman's quadlet generator ({exe}) did not run: {exc}"
            ) from None
    if proc.returncode == 0:
        return
    # Its refusals are the lines `converting "FILE": why`; the rest is progress logging.
    lines = [line.strip() for line in proc.stderr.splitlines() if 'converting "' in line]
    shown = "\n".join(f"  {line.split(': ', 1)[-1] if line.startswith('quadlet') else line}"
                      for line in lines or proc.stderr.strip().splitlines()[-5:])  # fmt: skip
    raise InvalidInputError(
        f"podman's quadlet generator refuses the release; nothing was changed:\n{shown}"
    )
