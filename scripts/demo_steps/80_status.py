"""`leger status`: the whole machine on one screen, and what to do when something is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

from demo_kit import Demo

TITLE = "leger status: is this machine healthy, and what to do if not"


def run(demo: Demo) -> None:
    # The deploy step's stand-in systemctl (systemd is not PID 1 here) answers for the units;
    # the pass step's store and GnuPG home hold that backend's entries.
    env = {
        "PATH": f"{demo.tmp / 'deploy-bin'}{os.pathsep}{demo.env['PATH']}",
        "LEGER_QUADLET_DIR": str(Path(demo.env["XDG_CONFIG_HOME"]) / "containers/systemd"),
        "GNUPGHOME": str(demo.tmp / "gnupg"),
        "PASSWORD_STORE_DIR": str(demo.tmp / "password-store"),
    }
    demo.say("Every plugin reports its part. The release deployed earlier names secrets that")
    demo.say("nobody has put in legerd yet, so its services need action (exit code 1):")
    demo.sh(["leger", "status"], env=env, expect=1)
    report = json.loads(
        demo.sh(["leger", "status", "--json"], env=env, expect=1, show=False).stdout
    )
    missing = sorted(
        {
            item.split(" (", 1)[0]
            for check in report["checks"]
            if check["section"] == "service"
            for item in check["facts"].get("missing", [])
        }
    )
    demo.say("Put what is missing (values on stdin, as always), and all is well (exit code 0):")
    for name in missing:
        demo.sh(["leger", "local", "put", "--activate", name], env=env, input=f"demo-{name}")
    demo.sh(["leger", "status"], env=env)
    demo.say("A quadlet edited by hand is noticed, with the command that shows the change:")
    quadlet = Path(env["LEGER_QUADLET_DIR"]) / "ai-stack" / "litellm.container"
    original = quadlet.read_bytes()
    quadlet.write_bytes(original + b"\n# tuned by hand\n")
    demo.sh(["leger", "status"], env=env, expect=1)
    quadlet.write_bytes(original)
    demo.say("With legerd unreachable, status says how to start it:")
    missing_socket = str(demo.tmp / "no-legerd.sock")
    demo.sh(["leger", "status"], env={**env, "LEGERD_SOCKET": missing_socket}, expect=1)
