"""`leger status`: the whole machine on one screen, and what to do when something is wrong."""

from __future__ import annotations

import os
from pathlib import Path

from demo_kit import Demo

TITLE = "leger status: is this machine healthy, and what to do if not"


def run(demo: Demo) -> None:
    # The deploy step's stand-in systemctl (systemd is not PID 1 here) answers for the units.
    env = {
        "PATH": f"{demo.tmp / 'deploy-bin'}{os.pathsep}{demo.env['PATH']}",
        "LEGER_QUADLET_DIR": str(Path(demo.env["XDG_CONFIG_HOME"]) / "containers/systemd"),
    }
    demo.say("Every plugin reports its part; all is well, so the exit code is 0:")
    demo.sh(["leger", "status"], env=env)
    demo.say("A quadlet edited by hand is noticed, with the command that shows the change:")
    quadlet = Path(env["LEGER_QUADLET_DIR"]) / "ai-stack" / "litellm.container"
    original = quadlet.read_bytes()
    quadlet.write_bytes(original + b"\n# tuned by hand\n")
    demo.sh(["leger", "status"], env=env, expect=1)
    quadlet.write_bytes(original)
    demo.say("With legerd unreachable, status says how to start it (for scripts: --json):")
    missing = str(demo.tmp / "no-legerd.sock")
    demo.sh(["leger", "status", "--json"], env={**env, "LEGERD_SOCKET": missing}, expect=1)
